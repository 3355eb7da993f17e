"""The typer option types every command shares (typer-free helpers are in common.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Config file (default: $TASKORA_CONFIG, ./taskora.toml, or [tool.taskora] in "
        "./pyproject.toml).",
        dir_okay=False,
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

WideOption = Annotated[
    bool,
    typer.Option(
        "--wide", help="Print every cell whole (default: cut to the terminal width; 80 when "
        "piped, $COLUMNS if set).",
    ),
]  # fmt: skip
