"""The names that become parts of Redis keys and CLI arguments: what each may hold."""

from __future__ import annotations

from .errors import UsageError


def check_task_name(name: object) -> str:
    """A task name as keys can hold it: non-empty, without spaces, ':' or braces."""
    if not isinstance(name, str) or not name or any(c in name for c in "{}\n\r :"):
        raise UsageError(f"task name {name!r} must be non-empty, without spaces, ':' or braces")
    return name


def check_queue_name(name: object) -> str:
    """A queue name as tasks may use it (``--queue NAME=N`` parses it, so no ':' or '=')."""
    if not isinstance(name, str) or not name or any(c in name for c in "{}\n\r :="):
        raise UsageError(f"a queue name has no spaces, ':', '=' or braces, got {name!r}")
    return name
