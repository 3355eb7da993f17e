"""``python -m taskora_cli``: the ``taskora`` command (how worker processes are started)."""

from .cli import main

main()
