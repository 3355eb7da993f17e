"""Stored times (ms since the epoch) as datetimes and text, whatever the store holds.

A job hash is written by taskora, but also by anything else that can reach the server: a time
outside what ``datetime`` can hold (years 1 to 9999) must still show, as its raw number, rather
than stop the command that reads it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from math import inf


def to_datetime(ms: int | None) -> datetime | None:
    """``ms`` as an aware UTC datetime; None when absent or outside datetime's range."""
    if ms is None:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def out_of_range(ms: int) -> str:
    """How a stored time that no calendar date can show is printed: honestly, as stored."""
    return f"{ms}ms (out of range)"


def local_text(ms: object, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """``ms`` in local time as ``fmt``; "-" when absent; the raw value when it is not a time
    a calendar can show (out of range, or not a number at all)."""
    if ms is None:
        return "-"
    if isinstance(ms, bool) or not isinstance(ms, int | float) or ms != ms or abs(ms) == inf:
        return f"{ms!r} (not a time)"
    moment = to_datetime(int(ms))
    if moment is None:
        return out_of_range(int(ms))
    try:
        return moment.astimezone().strftime(fmt)
    except (OverflowError, OSError, ValueError):  # in range in UTC, not in the local zone
        return out_of_range(int(ms))
