"""The states a job can be in: the exact strings the Lua scripts write to a job's ``state``
field, so a :class:`JobState` compares equal to the plain string read back from the server."""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """One job's state, as stored in its hash (the wire format: values never change)."""

    WAITING = "waiting"
    """In the waiting line (prioritized or not), or parked behind a concurrency key."""
    DELAYED = "delayed"
    """Due later: dispatched with a delay, or deferred by its worker."""
    RETRYING = "retrying"
    """Failed an attempt and due to run again; listed among the delayed jobs."""
    ACTIVE = "active"
    """Claimed by a worker and running."""
    COMPLETED = "completed"
    """Ended with a result."""
    FAILED = "failed"
    """Ended after its last attempt failed: a dead letter."""
    EXPIRED = "expired"
    """Ended because its TTL passed before a worker started it."""
    CANCELLED = "cancelled"
    """Ended because someone cancelled it."""
    PAUSED = "paused"
    """Taken out of every line by an operator (``pause_job``) until resumed; not ended."""


LISTED_STATES: tuple[JobState, ...] = (
    JobState.WAITING,
    JobState.DELAYED,
    JobState.ACTIVE,
    JobState.COMPLETED,
    JobState.FAILED,
    JobState.EXPIRED,
    JobState.CANCELLED,
    JobState.PAUSED,
)
"""Every state a job can be listed in, in the order people read them; ``delayed`` includes
jobs waiting to be retried."""

TERMINAL_STATES = frozenset(
    {JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.EXPIRED}
)
"""The states a job ends in."""

RETRYABLE_STATES: tuple[JobState, ...] = (JobState.FAILED, JobState.CANCELLED, JobState.EXPIRED)
"""The ended states a job can be sent back to the waiting line from."""

DEDUP_STATES: tuple[JobState, ...] = (
    JobState.WAITING,
    JobState.DELAYED,
    JobState.ACTIVE,
    JobState.PAUSED,
)
"""The states a deduplicated job can block new dispatches in: every pending one (a retrying
job counts as delayed; a paused one keeps its key, see pause_job.lua)."""
