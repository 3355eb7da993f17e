"""The one-shot commands a shell loop runs most (``dispatch``, ``jobs show``, ``stats``,
``queues pause|resume``) without typer: a second reader of the same command line, for scripts
where every call is a fresh process and typer (with the pydantic it loads) costs several times
Python's own start.

It only reads argv. It takes a command line only when it can tell, flag by flag, what typer
would make of it: the plain forms (``--data X``, ``--data=X``, ``-d X``, flags on their own,
each at most once, the command's arguments) with values typer accepts as they are. Anything
else (``--help``, an unknown or repeated flag, a value that looks like a flag, a missing or
extra argument, a priority out of range, a directory as --config) goes to typer, which says
what is wrong exactly as before. What a command then does is one function, in a module free of
typer that typer's command calls too (:data:`COMMANDS` names it), whichever reader ran.
tests/cli/test_fast_path.py checks both readers agree on every case it lists.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

VALUE_OPTIONS = {
    "--data": "data",
    "-d": "data",
    "--delay": "delay",
    "--at": "at",
    "--id": "job_id",
    "--ttl": "ttl",
    "--on-expire": "on_expire",
    "--priority": "priority",
    "--debounce": "debounce",
    "--throttle": "throttle",
    "--dedup": "dedup",
    "--dedup-while": "dedup_while",
    "--concurrency-key": "concurrency_key",
    "--timeout": "timeout",
    "--ndjson": "ndjson",
    "--config": "config",
    "--app": "app_ref",
}
"""The options of ``taskora dispatch`` that take a value, by flag: its parameter."""

FLAGS = {
    "--allow-reject": "allow_reject",
    "--wait": "wait",
    "-w": "wait",
    "--raw": "raw",
    "--skip-validation": "skip_validation",
    "--json": "as_json",
}
"""Its on/off flags, by flag: its parameter."""


LOADS_APP = {"--config": "config", "--app": "app_ref"}
"""The options every command that loads the app takes (typer's ConfigOption and --app)."""


class Command:
    """One command the fast path reads: its words, parameters and the function that runs it.

    Args:
        words: the command's words (``("jobs", "show")``).
        run: ``module:function`` in this package: what the command does, typer-free.
        arguments: its positional parameters, in order.
        values: its options that take a value, by flag: the parameter.
        flags: its on/off flags, by flag: the parameter.
        fixed: parameters its words imply (``queues pause``: ``paused=True``).
    """

    __slots__ = ("arguments", "fixed", "flags", "run", "values", "words")

    def __init__(
        self,
        words: tuple[str, ...],
        run: str,
        *,
        arguments: tuple[str, ...] = (),
        values: Mapping[str, str] = LOADS_APP,
        flags: Mapping[str, str] | None = None,
        fixed: Mapping[str, Any] | None = None,
    ) -> None:
        self.words = words
        self.run = run
        self.arguments = arguments
        self.values = values
        self.flags = flags or {}
        self.fixed = fixed or {}

    def function(self) -> Callable[..., None]:
        """The function that runs the command (its module imported now)."""
        module, _, name = self.run.partition(":")
        found: Callable[..., None] = getattr(
            importlib.import_module(f".{module}", __package__), name
        )
        return found


_SWITCH_FLAGS = {"--force": "force", "--json": "as_json"}

COMMANDS = (
    Command(("dispatch",), "dispatch_job:run_dispatch", arguments=("task",),
            values=VALUE_OPTIONS, flags=FLAGS),
    Command(("jobs", "show"), "job_show:run_show", arguments=("job_id",),
            values={**LOADS_APP, "--task": "task", "-t": "task"}, flags={"--json": "as_json"}),
    Command(("stats",), "stats_report:run_stats", values={**LOADS_APP, "--interval": "interval"},
            flags={"--watch": "watch", "--json": "as_json", "--wide": "wide"}),
    Command(("queues", "pause"), "queue_switch:switch", arguments=("name",), flags=_SWITCH_FLAGS,
            fixed={"paused": True}),
    Command(("queues", "resume"), "queue_switch:switch", arguments=("name",),
            flags=_SWITCH_FLAGS, fixed={"paused": False}),
)  # fmt: skip
"""The commands the fast path reads; their other options and forms are typer's."""

_PRIORITY = r"0|[1-9][0-9]{0,2}"  # compiled on first use (re caches it)


def fast_command(args: Sequence[str]) -> Callable[[], None] | None:
    """What to run for the command line ``args`` (argv without the program) without typer;
    None when typer should read it."""
    found = parse(args)
    if found is None:
        return None
    command, params = found

    def run() -> None:
        from .common import remember_app

        remember_app(params.pop("app_ref", None))
        command.function()(**command.fixed, **params)

    return run


def parse_dispatch(args: Sequence[str]) -> dict[str, Any] | None:
    """The parameters of ``taskora [--app X] dispatch ...`` as typer would pass them (those
    left out take their defaults), or None when this reader leaves the line to typer."""
    found = parse(args)
    return found[1] if found is not None and found[0].words == ("dispatch",) else None


def parse(args: Sequence[str]) -> tuple[Command, dict[str, Any]] | None:
    """The command of ``taskora [--app X] COMMAND ...`` and its parameters as typer would pass
    them (those left out take their defaults; ``fixed`` not included), or None when this reader
    leaves the line to typer."""
    words = list(args)
    params: dict[str, Any] = {}
    while words and (words[0] == "--app" or words[0].startswith("--app=")):
        if not _take_option(words, params, LOADS_APP, {}):
            return None
    command = next((c for c in COMMANDS if tuple(words[: len(c.words)]) == c.words), None)
    if command is None:
        return None
    del words[: len(command.words)]
    given: list[str] = []
    while words:
        if words[0].startswith("-") and words[0] != "-":
            if not _take_option(words, params, command.values, command.flags):
                return None
        elif len(given) == len(command.arguments) or words[0] == "-":
            return None  # an extra argument, or "-": typer's error or reading
        else:
            given.append(words.pop(0))
    if len(given) < len(command.arguments):
        return None  # a missing argument: typer says so
    params.update(zip(command.arguments, given, strict=True))
    converted = _converted(params)
    return None if converted is None else (command, converted)


def _take_option(
    words: list[str], params: dict[str, Any], values: Mapping[str, str], flags: Mapping[str, str]
) -> bool:
    """Move the option at the head of ``words`` (and its value) into ``params``, by the
    command's ``values`` and ``flags`` tables; False when typer should read it."""
    word = words.pop(0)
    name, equals, inline = word.partition("=") if word.startswith("--") else (word, "", "")
    key = flags.get(name) if not equals else None
    value: Any = True
    if key is None:
        key = values.get(name)
        if key is None:
            return False
        if equals:
            value = inline
        elif words and (not words[0].startswith("-") or words[0] == "-"):
            value = words.pop(0)
        else:
            return False  # a missing value, or one that looks like a flag
    if key in params:
        return False  # given twice
    params[key] = value
    return True


def _converted(params: dict[str, Any]) -> dict[str, Any] | None:
    """``params`` with typer's types (priority an int, config a Path), or None if typer
    would refuse a value (it says why)."""
    if "priority" in params:
        if not re.fullmatch(_PRIORITY, params["priority"]) or int(params["priority"]) > 255:
            return None
        params["priority"] = int(params["priority"])
    if "config" in params:
        path = params["config"]
        unreadable = os.path.exists(path) and not os.access(path, os.R_OK)
        if not path or os.path.isdir(path) or unreadable:
            return None
        params["config"] = Path(path)
    return params
