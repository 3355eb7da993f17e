"""Parse ``taskora dispatch``'s flow-control flags into the library's dispatch options.

Each flag is one compact word (``--throttle stripe=100/1m``); a malformed one stops the command
with exit code 2 and one line naming the flag and the form it wants.
"""

from __future__ import annotations

from typing import Any

from ..durations import to_ms
from ..errors import UsageError
from .common import USAGE, fail


def _split(flag: str, value: str, form: str) -> tuple[str, str]:
    key, sep, rest = value.rpartition("=")
    if not sep or not key or not rest:
        fail(USAGE, f"{flag} {value!r}: expected {form}")
    return key, rest


def _duration(flag: str, text: str, form: str) -> str:
    try:
        if to_ms(text) <= 0:
            raise UsageError("not positive")
    except UsageError:
        fail(USAGE, f'{flag}: {text!r} is not a positive duration (at most 3650d); expected '
             f'{form} ("30s", "5m")')  # fmt: skip
    return text


def debounce_option(value: str | None) -> dict[str, Any] | None:
    """``KEY=DELAY`` -> ``{"key": KEY, "delay": DELAY}``."""
    if value is None:
        return None
    form = "KEY=DELAY, e.g. --debounce doc:1=2s"
    key, delay = _split("--debounce", value, form)
    return {"key": key, "delay": _duration("--debounce", delay, form)}


def throttle_option(value: str | None) -> dict[str, Any] | None:
    """``KEY=MAX/WINDOW`` -> ``{"key": KEY, "max": MAX, "window": WINDOW}``."""
    if value is None:
        return None
    form = "KEY=MAX/WINDOW, e.g. --throttle stripe=100/1m"
    key, rest = _split("--throttle", value, form)
    limit, sep, window = rest.partition("/")
    if not sep or not limit.isdigit() or int(limit) < 1:
        fail(USAGE, f"--throttle {value!r}: expected {form} (MAX a whole number >= 1)")
    return {"key": key, "max": int(limit), "window": _duration("--throttle", window, form)}


def dedup_option(value: str | None, states: str | None) -> dict[str, Any] | None:
    """``KEY`` (+ ``--dedup-while waiting,active``) -> ``{"key": KEY, "while": [...]}``."""
    if value is None:
        if states is not None:
            fail(USAGE, "--dedup-while only applies with --dedup KEY")
        return None
    if not value:
        fail(USAGE, "--dedup needs a non-empty KEY, e.g. --dedup report:7")
    option: dict[str, Any] = {"key": value}
    if states is not None:
        option["while"] = [s.strip() for s in states.split(",") if s.strip()]
    return option


def concurrency_option(value: str | None) -> tuple[str | None, int | None]:
    """``KEY=LIMIT`` (or just ``KEY``: the task's limit) -> (key, limit)."""
    if value is None:
        return None, None
    if "=" not in value:
        return value, None
    key, limit = _split("--concurrency-key", value, "KEY=LIMIT, e.g. --concurrency-key user:7=2")
    if not limit.isdigit() or int(limit) < 1:
        fail(USAGE, f"--concurrency-key {value!r}: LIMIT must be a whole number >= 1")
    return key, int(limit)


def ttl_option(ttl: str | None, on_expire: str | None) -> str | dict[str, str] | None:
    """``--ttl 10m [--on-expire discard]`` -> the library's ttl option."""
    if on_expire is None:
        return ttl
    if ttl is None:
        fail(USAGE, "--on-expire only applies with --ttl")
    if on_expire not in ("fail", "discard"):
        fail(USAGE, f"--on-expire {on_expire!r}: choose fail or discard")
    return {"max": ttl, "on_expire": on_expire}
