"""``--app MODULE:ATTR``: before the command (``taskora --app X work``, as celery's ``-A``) or
after it, beside ``--config`` (``taskora work --app X``), on every command that loads the app.

Added here, once, to every command that takes ``--config`` (but ``server``, which never loads
an app), instead of a parameter in each of ~30 command signatures.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Annotated, Any

import typer

from .common import remember_app

AppOption = Annotated[
    str | None,
    typer.Option(
        "--app",
        metavar="MODULE:ATTR",
        help="Your Taskora app, e.g. myapp.tasks:app (default: $TASKORA_APP, `app` in the "
        "config, else the app the task modules define).",
        show_default=False,
    ),
]

NO_APP_GROUPS = ("server",)
"""Command groups that manage the embedded server and never load an app."""


def with_app_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with one more option, ``--app``, that it never sees: ``load()`` applies it."""
    signature = inspect.signature(fn, eval_str=True)
    hints = typing.get_type_hints(fn, include_extras=True)
    extra = inspect.Parameter(
        "app_ref", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=AppOption
    )

    @functools.wraps(fn)
    def command(*args: Any, app_ref: str | None = None, **kwargs: Any) -> Any:
        remember_app(app_ref)
        return fn(*args, **kwargs)

    # Typer reads the options from the signature and the type hints.
    command.__annotations__ = {**hints, "app_ref": AppOption}
    params = [*signature.parameters.values(), extra]
    command.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    return command


def add_app_option(app: typer.Typer) -> None:
    """Give every command of ``app`` (and of its groups) that takes ``--config`` an ``--app``."""
    commands = list(app.registered_commands)
    for group in app.registered_groups:
        if group.name not in NO_APP_GROUPS and group.typer_instance is not None:
            commands += group.typer_instance.registered_commands
    for info in commands:
        if info.callback is None:
            continue
        params = inspect.signature(info.callback).parameters
        if "config" in params and "app_ref" not in params:  # a group's commands are shared:
            info.callback = with_app_option(info.callback)  # given --app by an earlier build
