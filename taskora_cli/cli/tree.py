"""The typer command tree of ``taskora``: whole (for ``--help``, completion and any command line
whose command it cannot tell), or with only the command a command line runs, so a one-shot
command imports its own module and not the other fifteen."""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from typing import Any

import typer

from .app_option import AppOption, add_app_option
from .common import EXIT_CODES_HELP, remember_app
from .fast_completion import COMPLETION_VARIABLE

COMMANDS: dict[str, tuple[str, str | None]] = {
    "work": ("work", "work"),
    "dispatch": ("dispatch", "dispatch"),
    "init": ("init", "init"),
    "config": ("config", "show_config"),
    "doctor": ("doctor", "doctor"),
    "server": ("server", None),
    "dlq": ("dlq", None),
    "stats": ("stats", "stats"),
    "jobs": ("jobs", None),
    "tasks": ("tasks", None),
    "workers": ("workers", None),
    "queues": ("queues", None),
    "events": ("events", "events"),
    "schedules": ("schedules", None),
    "workflows": ("workflows", None),
    "top": ("top", "top"),
    "board": ("board", "board"),
    "gateway": ("gateway", "gateway"),
}
"""Each command word, in --help order: (its module in taskora_cli.cli, the function of a
command; None for a group, the module's ``app``)."""


def _global_options(app_ref: AppOption = None) -> None:
    remember_app(app_ref)  # `taskora --app X COMMAND`, as celery's -A


def build_app(only: str | None = None) -> typer.Typer:
    """The ``taskora`` Typer app: every command, or ``only`` that one (a key of COMMANDS)."""
    app = typer.Typer(
        name="taskora",
        help="A command-line-first job runner for Python on Redis.\n\n"
        "With no server URL configured, taskora starts (or reuses) an embedded Valkey server in "
        "./.taskora.\n\n" + EXIT_CODES_HELP,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_global_options)
    for name in COMMANDS if only is None else [only]:
        module_name, function = COMMANDS[name]
        module = importlib.import_module(f"{__package__}.{module_name}")
        if function is None:
            app.add_typer(module.app, name=name)
        else:
            app.command(name=name, epilog=_epilog(name, module))(getattr(module, function))
    add_app_option(app)  # `taskora COMMAND --app X`, beside --config
    return app


def _epilog(name: str, module: Any) -> str | None:
    if name == "doctor":
        return str(module.EXIT_HELP)
    return EXIT_CODES_HELP if name in ("work", "dispatch", "board") else None


def command_word(args: Sequence[str]) -> str | None:
    """The command a command line runs, if its tree can be built alone: None for a bare
    ``taskora``, top-level flags other than ``--app``, a word no command has, and completion."""
    if COMPLETION_VARIABLE in os.environ:
        return None
    words = iter(args)
    for word in words:
        if word == "--app":
            next(words, None)
        elif not word.startswith("--app="):
            return word if word in COMMANDS else None
    return None


def build_command(args: Sequence[str] | None = None) -> Any:
    """The click command behind ``taskora``, every --help page with its Examples: the whole
    tree, or (given the command line's ``args``) only what they run when that can be told."""
    from .examples import attach_examples

    command = typer.main.get_command(build_app(None if args is None else command_word(args)))
    attach_examples(command)
    return command
