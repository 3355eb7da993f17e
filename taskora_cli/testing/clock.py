"""A virtual clock: the time an app and its scripts see, moved by the test, never by sleeping."""

from __future__ import annotations

from datetime import datetime

from ..durations import Duration, to_ms
from ..errors import UsageError
from ..runtime import system_clock


class VirtualClock:
    """Epoch milliseconds that move only when the test moves them (or, ``ticking``, with the
    real time plus the moves). Pass it as an app's ``clock=``; the scripts get it as ``now``.

    Args:
        start: the time it starts at (an aware datetime, or epoch ms); default: now.
        ticking: follow the real time as well (for tests that wait on a real worker).
    """

    def __init__(self, start: datetime | int | None = None, *, ticking: bool = False) -> None:
        self.ticking = ticking
        self._base = 0 if ticking else system_clock()
        self.offset_ms = 0
        """How far the test moved this clock (ms); tests may add to it directly."""
        if start is not None:
            self.set(start)

    def __call__(self) -> int:
        return (system_clock() if self.ticking else self._base) + self.offset_ms

    def advance(self, duration: Duration) -> int:
        """Move forward by ``duration`` ("5m", seconds, ...); returns the new time in ms."""
        self.offset_ms += to_ms(duration, what="advance")
        return self()

    def set(self, moment: datetime | int) -> None:
        """Jump to ``moment`` (an aware datetime, or epoch ms), backwards too."""
        if isinstance(moment, datetime):
            if moment.tzinfo is None:
                raise UsageError("VirtualClock.set needs an aware datetime (give it a tzinfo)")
            moment = round(moment.timestamp() * 1000)
        self.offset_ms += moment - self()

    def __repr__(self) -> str:
        return f"VirtualClock({self()}, ticking={self.ticking})"
