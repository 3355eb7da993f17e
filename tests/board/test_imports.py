"""The board's web stack loads only with the board: ``import taskora_cli`` and every other
command start as fast as before."""

from __future__ import annotations

import subprocess
import sys


def test_the_cli_and_the_library_load_no_web_stack() -> None:
    code = (
        "import sys, taskora_cli, taskora_cli.cli; taskora_cli.cli.build_command(); "
        "web = ('starlette', 'uvicorn', 'prometheus_client', 'httpx'); "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in web); "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
