"""``taskora dispatch`` without typer: a second reader of the same command line, for shell loops
where every call is a fresh process and typer alone costs several times Python's own start.

It only reads argv. It takes a command line only when it can tell, flag by flag, what typer
would make of it: the plain forms (``--data X``, ``--data=X``, ``-d X``, flags on their own,
each at most once, one TASK) with values typer accepts as they are. Anything else (``--help``,
an unknown or repeated flag, a value that looks like a flag, a priority out of range, a
directory as --config) goes to typer, which says what is wrong exactly as before. What the
command then does is one function, :func:`.dispatch_job.run_dispatch`, whichever reader ran.
tests/cli/test_fast_path.py checks both readers agree on every case it lists.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
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

_PRIORITY = re.compile(r"0|[1-9][0-9]{0,2}")


def fast_command(args: Sequence[str]) -> Callable[[], None] | None:
    """What to run for the command line ``args`` (argv without the program) without typer;
    None when typer should read it."""
    params = parse_dispatch(args)
    if params is None:
        return None

    def run() -> None:
        from .common import remember_app
        from .dispatch_job import run_dispatch

        remember_app(params.pop("app_ref", None))
        run_dispatch(**params)

    return run


def parse_dispatch(args: Sequence[str]) -> dict[str, Any] | None:
    """The parameters of ``taskora [--app X] dispatch ...`` as typer would pass them (those
    left out take their defaults), or None when this reader leaves the line to typer."""
    words = list(args)
    params: dict[str, Any] = {}
    while words and (words[0] == "--app" or words[0].startswith("--app=")):
        if not _take_option(words, params):
            return None
    if not words or words.pop(0) != "dispatch":
        return None
    while words:
        if words[0].startswith("-") and words[0] != "-":
            if not _take_option(words, params):
                return None
        elif "task" in params or words[0] == "-":
            return None  # an extra argument, or "-": typer's error or reading
        else:
            params["task"] = words.pop(0)
    if "task" not in params:
        return None
    return _converted(params)


def _take_option(words: list[str], params: dict[str, Any]) -> bool:
    """Move the option at the head of ``words`` (and its value) into ``params``; False when
    typer should read it."""
    word = words.pop(0)
    name, equals, inline = word.partition("=") if word.startswith("--") else (word, "", "")
    key = FLAGS.get(name) if not equals else None
    value: Any = True
    if key is None:
        key = VALUE_OPTIONS.get(name)
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
        if not _PRIORITY.fullmatch(params["priority"]) or int(params["priority"]) > 255:
            return None
        params["priority"] = int(params["priority"])
    if "config" in params:
        path = params["config"]
        unreadable = os.path.exists(path) and not os.access(path, os.R_OK)
        if not path or os.path.isdir(path) or unreadable:
            return None
        params["config"] = Path(path)
    return params
