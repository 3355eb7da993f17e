"""The shell completion scripts shipped in ``completions/``, generated from the CLI.

Regenerate with ``python -m taskora_cli.cli.completions completions/``; a test checks the files
match. ``taskora --install-completion`` installs the same script for the current shell.
"""

from __future__ import annotations

import sys
from pathlib import Path

SHELLS = {"bash": "taskora.bash", "zsh": "taskora.zsh", "fish": "taskora.fish"}


def script(shell: str) -> str:
    """The completion script for ``shell`` (bash, zsh or fish)."""
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name="taskora", complete_var="_TASKORA_COMPLETE", shell=shell)


def write_all(folder: Path) -> list[Path]:
    """Write every shell's script into ``folder``; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for shell, name in SHELLS.items():
        path = folder / name
        path.write_text(script(shell) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "completions")):
        print(path)
