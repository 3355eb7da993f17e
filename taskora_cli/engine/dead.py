"""The engine's dead-letter calls: pages of a task's failed set, the jobs' errors, and the two
scripts that retry and purge dead letters in batches.

Kept beside engine.py rather than in it: engine.py holds the hot path, this only operator
tools. :class:`DeadLetters` (``engine.dead_letters``) goes through the engine's Runner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from .records import DISPATCHED_FIELD, job_state

if TYPE_CHECKING:
    from .runner import Runner


class DeadRow(NamedTuple):
    """One dead letter as stored: the raw error JSON, and when it failed (ms)."""

    id: str
    task: str
    failed_at_ms: int
    attempt: int
    error: str | None


def _bound(ms: int | None) -> int | str:
    return "-inf" if ms is None else ms


class DeadLetters:
    """A task's dead letters (and jobs ended cancelled or expired): pages, errors, retry, purge."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def count(self, task: str, min_ms: int | None = None) -> int:
        """How many dead letters ``task`` holds that failed at or after ``min_ms``."""
        failed = self.runner.keys(task).failed
        if min_ms is None:
            return int(await self.runner.client.zcard(failed))
        return int(await self.runner.client.zcount(failed, min_ms, "+inf"))

    async def page(
        self, task: str, min_ms: int | None, offset: int, count: int
    ) -> list[tuple[str, int]]:
        """Up to ``count`` (id, failed at) of ``task``'s dead letters, oldest first, from the
        ``offset``-th one that failed at or after ``min_ms``."""
        failed = self.runner.keys(task).failed
        rows: list[tuple[str, float]] = await self.runner.client.zrangebyscore(  # type: ignore[assignment]
            failed, _bound(min_ms), "+inf", start=offset, num=count, withscores=True
        )
        return [(job_id, int(score)) for job_id, score in rows]

    async def newest(self, task: str, count: int) -> list[tuple[str, int]]:
        """The ``count`` most recent (id, failed at) of ``task``'s dead letters, newest first."""
        if count <= 0:
            return []
        failed = self.runner.keys(task).failed
        rows: list[tuple[str, float]] = await self.runner.client.zrevrange(  # type: ignore[assignment]
            failed, 0, count - 1, withscores=True
        )
        return [(job_id, int(score)) for job_id, score in rows]

    async def rows(self, task: str, page: Sequence[tuple[str, int]]) -> list[DeadRow]:
        """The stored error and attempt count of each (id, failed at), in one round trip; a job
        whose hash is gone (trimmed meanwhile) is left out."""
        t = self.runner.keys(task)
        async with self.runner.client.pipeline(transaction=False) as pipe:
            for job_id, _ in page:
                pipe.hmget(t.job(job_id), "state", "error", "attempt", DISPATCHED_FIELD)
            replies: list[list[Any]] = await pipe.execute()
        return [
            DeadRow(job_id, task, failed_at, int(attempt or 0), error)
            for (job_id, failed_at), (state, error, attempt, t) in zip(page, replies, strict=True)
            if job_state(state, t) is not None
        ]

    async def job_states(self, tasks: Sequence[str], job_id: str) -> list[str | None]:
        """The state of job ``job_id`` under each of ``tasks`` (None where it is not), in one round
        trip: a job is found by id without knowing its task, and without scanning the keyspace."""
        async with self.runner.client.pipeline(transaction=False) as pipe:
            for task in tasks:
                pipe.hmget(self.runner.keys(task).job(job_id), ["state", DISPATCHED_FIELD])
            found: list[list[str | None]] = await pipe.execute()
        return [job_state(*fields) for fields in found]

    async def failed_at(self, task: str, job_id: str) -> int | None:
        """When ``job_id`` entered ``task``'s failed set (ms), or None if it is not there."""
        score = await self.runner.client.zscore(self.runner.keys(task).failed, job_id)
        return None if score is None else int(score)

    async def retry(
        self, task: str, ids: Sequence[str], now_ms: int, state: str = "failed"
    ) -> list[bool]:
        """Send jobs that ended in ``state`` (failed, cancelled or expired) back to the end of the
        waiting line with a fresh attempt count; one flag per id, False where it was not (or no
        longer) in that state."""
        if not ids:
            return []
        t = self.runner.keys(task)
        ended = {"failed": t.failed, "cancelled": t.cancelled, "expired": t.expired}[state]
        keys = [t.wait, t.prioritized, ended, t.events, t.marker, t.seq, t.tag]
        flags = await self.runner.run("retry_dead", keys, [now_ms, state, *ids])
        return [bool(flag) for flag in flags]

    async def purge(self, task: str, ids: Sequence[str]) -> list[bool]:
        """Delete dead letters (hash, logs, failed-set entry); one flag per id, False where it was
        not (or no longer) dead."""
        if not ids:
            return []
        t = self.runner.keys(task)
        keys = [t.failed, t.events, t.tag]
        flags = await self.runner.run("purge_dead", keys, ids)
        return [bool(flag) for flag in flags]
