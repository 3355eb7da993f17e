"""Cron expressions and their fire times in a time zone, correct across DST changes.

An expression has 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading
seconds field (``*/30 * * * * *``: every 30 s, the seed's convention); names such as
``MON-FRI`` and ``JAN`` work. croniter matches the fields; this module turns the matching
*wall-clock* times of the zone into instants itself, because that is where DST bites:

- an expression whose hour field is ``*`` (hourly or more often) keeps its real-time cadence:
  it fires at every instant whose local time matches, so it also runs in the repeated autumn
  hour, and the spring gap simply has no such instants;
- an expression with fixed hours (``30 2 * * *``) fires once per matching wall-clock time: in
  the autumn hour that happens twice only its first occurrence fires (no double run), and a
  time inside the spring-forward gap fires at the instant it would have been with the old
  offset, i.e. just after the clocks jumped (no skipped run);
- fire times strictly increase, so two wall times that land on one instant fire once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import UsageError

if TYPE_CHECKING:
    from croniter import croniter

_FIELDS_5 = ("minute", "hour", "day of month", "month", "day of week")
_FIELDS_6 = ("second", *_FIELDS_5)
_PROBE_6 = ("0", "0", "0", "*", "*", "*")
"""Harmless values for the other fields while one field is checked on its own."""
_MAX_STEPS = 1000
"""croniter steps for one fire time: usually 1, a few next to a DST change."""


def zone(name: str | None) -> ZoneInfo:
    """The time zone ``name`` (IANA, e.g. "Europe/Berlin"); None or "UTC" is UTC.

    Raises:
        UsageError: no such zone.
    """
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f'unknown time zone {name!r}; use an IANA name such as "Europe/Berlin" or "UTC"'
        ) from None


def check(expression: str) -> str:
    """Validate a cron expression and return it with single spaces.

    Raises:
        UsageError: wrong field count, or a field croniter cannot read (the message names it).
    """
    fields = expression.split() if isinstance(expression, str) else []
    if len(fields) not in (5, 6):
        raise UsageError(
            f"cron {expression!r}: expected 5 fields (minute hour day month weekday) or 6 with "
            'a leading seconds field, e.g. "0 9 * * MON-FRI" or "*/30 * * * * *"'
        )
    names = _FIELDS_6 if len(fields) == 6 else _FIELDS_5
    probe = list(_PROBE_6[6 - len(fields) :])
    for i, (value, name) in enumerate(zip(fields, names, strict=True)):
        one = [*probe[:i], value, *probe[i + 1 :]]
        try:
            _matcher(" ".join(one), datetime(2000, 1, 1))
        except (ValueError, KeyError) as exc:
            raise UsageError(f"cron {expression!r}: bad {name} field {value!r} ({exc})") from None
    normal = " ".join(fields)
    try:
        _matcher(normal, datetime(2000, 1, 1))
    except (ValueError, KeyError) as exc:  # croniter's errors subclass ValueError
        raise UsageError(f"cron {expression!r}: {exc}") from None
    return normal


def _matcher(expression: str, start: datetime) -> croniter:
    from croniter import croniter  # 70 ms of imports: only once a cron schedule is used

    return croniter(expression, start, second_at_beginning=len(expression.split()) == 6)


@cache
def _checked(expression: str) -> str:
    return check(expression)


def next_fire(expression: str, tz: str | None, after_ms: int) -> int:
    """The first fire time (epoch ms) of ``expression`` in zone ``tz`` strictly after
    ``after_ms``; see the module docstring for what happens at DST changes.

    Raises:
        UsageError: a bad expression or zone, or one that never matches (e.g. 30 February).
    """
    expression, where = _checked(expression), zone(tz)
    try:
        if _every_hour(expression):
            return _next_by_instant(expression, where, after_ms)
        return _next_by_wall_time(expression, where, after_ms)
    except (ValueError, KeyError) as exc:  # croniter's errors subclass ValueError
        raise UsageError(f"cron {expression!r} has no next fire time: {exc}") from None


def _every_hour(expression: str) -> bool:
    """Whether the hour field matches every hour: such schedules keep their real-time cadence
    through DST changes (an hourly job also runs in the repeated autumn hour)."""
    fields = expression.split()
    return fields[len(fields) - 4] in ("*", "*/1")


def _offset_ms(where: ZoneInfo, at_ms: int) -> int:
    offset = datetime.fromtimestamp(at_ms / 1000, tz=UTC).astimezone(where).utcoffset()
    return int((offset or timedelta(0)).total_seconds() * 1000)


def _naive(at_ms: int) -> datetime:
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC).replace(tzinfo=None)


def _ms(naive_utc: datetime) -> int:
    return int(naive_utc.replace(tzinfo=UTC).timestamp() * 1000)


def _next_by_instant(expression: str, where: ZoneInfo, after_ms: int) -> int:
    """Every-hour expressions: the first instant whose true local time matches. Between two
    offset changes the offset is fixed, so one croniter step finds it; when the answer lies past
    a change, continue from the change with the new offset."""
    start, offset = after_ms, _offset_ms(where, after_ms)
    for _ in range(_MAX_STEPS):
        wall: datetime = _matcher(expression, _naive(start + offset)).get_next(datetime)
        at = _ms(wall) - offset
        if _offset_ms(where, at) == offset:
            return at
        low, high = start, at  # the offset changes in (low, high]: find where
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if _offset_ms(where, middle) == offset else (low, middle)
        start, offset = high - 1, _offset_ms(where, high)
    raise UsageError(f"cron {expression!r}: no fire time found after {after_ms} ms")


def _next_by_wall_time(expression: str, where: ZoneInfo, after_ms: int) -> int:
    """Expressions with fixed hours: each matching wall-clock time fires once (the first of
    a repeated autumn time; a skipped spring time at its old-offset instant)."""
    after = datetime.fromtimestamp(after_ms / 1000, tz=UTC)
    # Right after a spring-forward jump, wall times in the gap (earlier on the wall than
    # `after`) map to instants after it: start that much earlier.
    local = after.astimezone(where)
    earlier = (after - timedelta(hours=3)).astimezone(where)
    jump = max(
        timedelta(0), (local.utcoffset() or timedelta(0)) - (earlier.utcoffset() or timedelta(0))
    )
    matches = _matcher(expression, local.replace(tzinfo=None, fold=0) - jump)
    for _ in range(_MAX_STEPS):
        candidate: datetime = matches.get_next(datetime)
        instant = candidate.replace(tzinfo=where, fold=0).astimezone(UTC)
        at_ms = int(instant.timestamp() * 1000)
        if at_ms > after_ms:
            return at_ms
    raise UsageError(f"cron {expression!r}: no fire time found after {after.isoformat()}")
