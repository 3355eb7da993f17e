"""Durations as users write them ("500ms", "30s", "5m", "2h", "1d", seconds) and the wire wants."""

from __future__ import annotations

import re

from .errors import UsageError

Duration = int | float | str

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def to_ms(value: Duration, *, what: str = "duration") -> int:
    """Convert a duration to whole milliseconds.

    Args:
        value: seconds as int/float, or a string such as "500ms", "30s", "5m", "2h", "1d"
            (a bare number in a string means seconds).
        what: the option name, used in the error message.

    Raises:
        UsageError: the value is negative, not a number, or has an unknown unit.
    """
    if isinstance(value, bool):
        raise UsageError(f"{what}: expected a duration, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise UsageError(f"{what} must not be negative, got {value!r}")
        return round(value * 1000)
    if isinstance(value, str):
        match = _PATTERN.match(value)
        if match is None:
            raise UsageError(
                f"{what}: cannot read {value!r} as a duration; "
                'use seconds or a number with a unit: "500ms", "30s", "5m", "2h", "1d"'
            )
        number, unit = match.groups()
        return round(float(number) * _UNITS_MS[unit or "s"])
    raise UsageError(f"{what}: expected a duration, got {type(value).__name__}")


def to_seconds(value: Duration, *, what: str = "duration") -> float:
    """Convert a duration to seconds (float)."""
    return to_ms(value, what=what) / 1000


def format_ms(ms: int) -> str:
    """Render milliseconds the short way users write them ("1500ms", "30s", "5m")."""
    for unit in ("d", "h", "m", "s"):
        size = _UNITS_MS[unit]
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
