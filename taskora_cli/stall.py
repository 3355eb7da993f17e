"""A task's stall settings: how long a claimed job's lock holds unrenewed, and how many times
a job may stall (its worker stopped renewing, e.g. it died) before it fails for good."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from .durations import to_ms
from .errors import UsageError

MIN_LOCK_TTL_MS = 1000
"""The shortest lock TTL a task may ask for: renewing locks more often than that costs more
than it saves."""


class Stall(NamedTuple):
    """A task's own stall settings; None means the worker's (``[defaults] max_stalls``, its
    lock TTL)."""

    lock_ttl_ms: int | None = None
    """How long a claimed job's lock holds without its worker renewing it; past it, the job
    counts as stalled and the next stall sweep recovers (or fails) it. The worker renews every
    heartbeat, so it must be longer than ``[worker] heartbeat``."""
    max_stalls: int | None = None
    """How many times a job may stall and be put back; one more and it fails for good."""


def parse_stall(value: Mapping[str, Any] | None) -> Stall | None:
    """``{"lock_ttl": "2m", "max_stalls": 3}`` (either key may be left out) as a Stall.

    Raises:
        UsageError: not a mapping, an unknown key, a lock TTL under 1s, or a bad count.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise UsageError(f'stall must be a dict like {{"lock_ttl": "2m", "max_stalls": 3}}, '
                         f"got {value!r}")  # fmt: skip
    unknown = sorted(set(value) - {"lock_ttl", "max_stalls"})
    if unknown:
        raise UsageError(f"stall: unknown key {unknown[0]!r}; use lock_ttl and max_stalls")
    lock_ttl = value.get("lock_ttl")
    lock_ttl_ms = None if lock_ttl is None else to_ms(lock_ttl, what="stall lock_ttl")
    if lock_ttl_ms is not None and lock_ttl_ms < MIN_LOCK_TTL_MS:
        raise UsageError(f"stall lock_ttl must be at least 1s, got {lock_ttl!r}")
    max_stalls = value.get("max_stalls")
    if max_stalls is not None and (
        isinstance(max_stalls, bool) or not isinstance(max_stalls, int) or max_stalls < 0
    ):
        raise UsageError(f"stall max_stalls must be an int >= 0, got {max_stalls!r}")
    return Stall(lock_ttl_ms, max_stalls)
