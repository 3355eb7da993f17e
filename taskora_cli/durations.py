"""Durations as users write them ("500ms", "30s", "5m", "2h", "1d", seconds) and the wire wants."""

from __future__ import annotations

import math
import re
from datetime import timedelta

from .errors import UsageError

Duration = int | float | str | timedelta
"""Seconds (int or float), a string with a unit ("500ms", "30s", "5m", "2h", "1d"), or a
:class:`datetime.timedelta`."""

MAX_MS = 3650 * 86_400_000
"""The longest duration taskora accepts: 3650d (about 10 years). Longer is a typo (a delay of
3,000,000 days lands past the year 9999, which no reader can show) and is refused at input."""

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_PATTERN = r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$"  # compiled on first use (re caches it)


def to_ms(value: Duration, *, what: str = "duration") -> int:
    """Convert a duration to whole milliseconds.

    Args:
        value: seconds as int/float, a string such as "500ms", "30s", "5m", "2h", "1d"
            (a bare number in a string means seconds), or a ``datetime.timedelta``.
        what: the option name, used in the error message.

    Raises:
        UsageError: the value is negative, not a finite number, longer than ``MAX_MS``
            (3650d), or has an unknown unit.
    """
    return _bounded(_to_ms(value, what), value, what)


def _bounded(ms: int, value: Duration, what: str) -> int:
    if ms > MAX_MS:
        raise UsageError(
            f"{what}: {_shown(value)} is longer than the longest duration taskora accepts, "
            f"{format_ms(MAX_MS)} (about 10 years); use a shorter one"
        )
    return ms


def _shown(value: Duration) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _to_ms(value: Duration, what: str) -> int:
    if isinstance(value, bool):
        raise UsageError(f"{what}: expected a duration, got {value!r}")
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise UsageError(f"{what} must not be negative, got {value!r}")
        if value > timedelta(milliseconds=MAX_MS):
            return MAX_MS + 1
        return round(value / timedelta(milliseconds=1))
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"{what}: expected a finite number of seconds, got {value!r}")
        if value < 0:
            raise UsageError(f"{what} must not be negative, got {value!r}")
        if value > MAX_MS / 1000:  # before multiplying: a huge float has no whole ms
            return MAX_MS + 1
        return round(value * 1000)
    if isinstance(value, str):
        match = re.match(_PATTERN, value)
        if match is None:
            raise UsageError(
                f"{what}: cannot read {_shown(value)} as a duration; "
                'use seconds or a number with a unit: "500ms", "30s", "5m", "2h", "1d"'
            )
        number, unit = match.groups()
        ms = float(number) * _UNITS_MS[unit or "s"]
        return round(ms) if ms <= MAX_MS else MAX_MS + 1
    raise UsageError(f"{what}: expected a duration, got {type(value).__name__}")


def to_seconds(value: Duration, *, what: str = "duration") -> float:
    """Convert a duration to seconds (float)."""
    return to_ms(value, what=what) / 1000


def about(ms: int) -> str:
    """ ", about 26.0d": a rounded reading of a duration of a minute or more that format_ms
    shows exactly in seconds or milliseconds (a delay to a given time); "" when format_ms
    reads well already."""
    if ms < 60_000 or format_ms(ms)[-1] != "s":
        return ""
    for unit in ("d", "h", "m"):
        value = round(ms / _UNITS_MS[unit], 1)
        if value >= 1:
            return f", about {value:.1f}{unit}"
    return ""


def format_ms(ms: int) -> str:
    """Render milliseconds the short way users write them ("1500ms", "30s", "5m")."""
    for unit in ("d", "h", "m", "s"):
        size = _UNITS_MS[unit]
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
