"""The engine's dead-letter calls: pages of a task's failed set, the jobs' errors, and the two
scripts that retry and purge dead letters in batches.

Kept beside engine.py rather than in it: engine.py holds the hot path, this only operator
tools. Every call takes the Engine and goes through its connection and script runner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from .engine import Engine


class DeadRow(NamedTuple):
    """One dead letter as stored: the raw error JSON, and when it failed (ms)."""

    id: str
    task: str
    failed_at_ms: int
    attempt: int
    error: str | None


def _bound(ms: int | None) -> int | str:
    return "-inf" if ms is None else ms


async def dead_count(engine: Engine, task: str, min_ms: int | None = None) -> int:
    """How many dead letters ``task`` holds that failed at or after ``min_ms``."""
    failed = engine.keys(task).failed
    if min_ms is None:
        return int(await engine.client.zcard(failed))
    return int(await engine.client.zcount(failed, min_ms, "+inf"))


async def dead_page(
    engine: Engine, task: str, min_ms: int | None, offset: int, count: int
) -> list[tuple[str, int]]:
    """Up to ``count`` (id, failed at) of ``task``'s dead letters, oldest first, from the
    ``offset``-th one that failed at or after ``min_ms``."""
    failed = engine.keys(task).failed
    rows: list[tuple[str, float]] = await engine.client.zrangebyscore(  # type: ignore[assignment]
        failed, _bound(min_ms), "+inf", start=offset, num=count, withscores=True
    )
    return [(job_id, int(score)) for job_id, score in rows]


async def newest_dead(engine: Engine, task: str, count: int) -> list[tuple[str, int]]:
    """The ``count`` most recent (id, failed at) of ``task``'s dead letters, newest first."""
    if count <= 0:
        return []
    failed = engine.keys(task).failed
    rows: list[tuple[str, float]] = await engine.client.zrevrange(  # type: ignore[assignment]
        failed, 0, count - 1, withscores=True
    )
    return [(job_id, int(score)) for job_id, score in rows]


async def dead_rows(engine: Engine, task: str, page: Sequence[tuple[str, int]]) -> list[DeadRow]:
    """The stored error and attempt count of each (id, failed at), in one round trip; a job
    whose hash is gone (trimmed meanwhile) is left out."""
    t = engine.keys(task)
    async with engine.client.pipeline(transaction=False) as pipe:
        for job_id, _ in page:
            pipe.hmget(t.job(job_id), "state", "error", "attempt")
        replies: list[list[Any]] = await pipe.execute()
    return [
        DeadRow(job_id, task, failed_at, int(attempt or 0), error)
        for (job_id, failed_at), (state, error, attempt) in zip(page, replies, strict=True)
        if state is not None
    ]


async def job_states(engine: Engine, tasks: Sequence[str], job_id: str) -> list[str | None]:
    """The state of job ``job_id`` under each of ``tasks`` (None where it is not), in one round
    trip: a job is found by id without knowing its task, and without scanning the keyspace."""
    async with engine.client.pipeline(transaction=False) as pipe:
        for task in tasks:
            pipe.hget(engine.keys(task).job(job_id), "state")
        states: list[str | None] = await pipe.execute()
    return states


async def failed_at(engine: Engine, task: str, job_id: str) -> int | None:
    """When ``job_id`` entered ``task``'s failed set (ms), or None if it is not there."""
    score = await engine.client.zscore(engine.keys(task).failed, job_id)
    return None if score is None else int(score)


async def retry_dead(
    engine: Engine, task: str, ids: Sequence[str], now_ms: int, state: str = "failed"
) -> list[bool]:
    """Send jobs that ended in ``state`` (failed, cancelled or expired) back to the end of the
    waiting line with a fresh attempt count; one flag per id, False where it was not (or no
    longer) in that state."""
    if not ids:
        return []
    t = engine.keys(task)
    ended = {"failed": t.failed, "cancelled": t.cancelled, "expired": t.expired}[state]
    keys = [t.wait, t.prioritized, ended, t.events, t.marker]
    flags = await engine._run("retry_dead", keys, [t.tag, now_ms, state, *ids])
    return [bool(flag) for flag in flags]


async def purge_dead(engine: Engine, task: str, ids: Sequence[str]) -> list[bool]:
    """Delete dead letters (hash, logs, failed-set entry); one flag per id, False where it was
    not (or no longer) dead."""
    if not ids:
        return []
    t = engine.keys(task)
    flags = await engine._run("purge_dead", [t.failed, t.events], [t.tag, *ids])
    return [bool(flag) for flag in flags]
