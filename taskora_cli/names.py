"""The names that become parts of Redis keys and CLI arguments: what each may hold."""

from __future__ import annotations

from .errors import UsageError


def check_task_name(name: object) -> str:
    """A task name as keys can hold it: non-empty, without spaces, ':' or braces."""
    if not isinstance(name, str) or not name or any(c in name for c in "{}\n\r :"):
        raise UsageError(f"task name {name!r} must be non-empty, without spaces, ':' or braces")
    return name


def is_key_prefix(value: object) -> bool:
    """Whether ``value`` can be the key prefix: braces would open a second hash tag inside
    every key (and break one slot per script), whitespace would not survive the CLI."""
    return isinstance(value, str) and not any(c in value for c in "{} \t\n\r")


def check_prefix(prefix: object, where: str = "prefix") -> str:
    """``prefix`` if it can be the key prefix (see :func:`is_key_prefix`)."""
    if not is_key_prefix(prefix):
        raise UsageError(f"{where} must be a string without braces or whitespace, got {prefix!r}")
    assert isinstance(prefix, str)
    return prefix


def check_queue_name(name: object) -> str:
    """A queue name as tasks may use it (``--queue NAME=N`` parses it, so no ':' or '=')."""
    if not isinstance(name, str) or not name or any(c in name for c in "{}\n\r :="):
        raise UsageError(f"a queue name has no spaces, ':', '=' or braces, got {name!r}")
    return name
