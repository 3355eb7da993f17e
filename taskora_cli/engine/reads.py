"""The inspector's reads: counts, listings and lookups, each one pipelined round trip or two.

A mixin of Engine (kept apart so engine.py stays about the scripts). Nothing here writes, and
nothing scans the keyspace: a job is found by checking its key under each known task.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from ..job_state import JobState
from . import read_steps
from .records import DISPATCHED_FIELD, JobRecord, TaskCounts, VersionCounts

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .keys import TaskKeys
    from .runner import Runner

VERSION_BATCH = 1000
"""Job ids read, and their versions looked up (one pipelined round trip), per step."""


class Reads:
    """Read-only queries for the inspector (needs ``client``, ``runner`` and ``keys`` from
    Engine); those a one-shot command makes are operations of :mod:`.read_steps`."""

    client: Redis
    runner: Runner

    def keys(self, task: str) -> TaskKeys:
        raise NotImplementedError  # pragma: no cover - Engine provides it

    async def task_counts(self, tasks: Sequence[str], now_ms: int) -> list[TaskCounts]:
        """How many jobs each task has in each state, and the age of its oldest waiting job."""
        return await self.runner.drive(read_steps.task_counts(self.keys, tasks, now_ms))

    async def minute_counts(
        self, tasks: Sequence[str], minutes: Sequence[int]
    ) -> list[tuple[int, int]]:
        """(completed, failed) in each of ``minutes`` (ms // 60000), summed over ``tasks``."""
        return await self.runner.drive(read_steps.minute_counts(self.keys, tasks, minutes))

    async def job_ids(self, task: str, state: str, offset: int, limit: int) -> list[str]:
        """Ids of ``task``'s jobs in ``state``: the waiting line in the order workers take it,
        delayed by due time, active by lock deadline, finished ones newest first."""
        t = self.keys(task)
        end = offset + limit - 1
        if state == JobState.WAITING:
            return await self._waiting_ids(t, offset, limit)
        if state in (JobState.DELAYED, JobState.ACTIVE, JobState.PAUSED):
            by_state = {JobState.DELAYED: t.delayed, JobState.ACTIVE: t.active}
            key = by_state.get(JobState(state), t.paused)
            ids: list[str] = await self.client.zrange(key, offset, end)  # type: ignore[assignment]
            return ids
        ended: dict[str, str] = {
            JobState.COMPLETED: t.completed,
            JobState.FAILED: t.failed,
            JobState.EXPIRED: t.expired,
        }
        key = ended.get(state, t.cancelled)
        ids = await self.client.zrevrange(key, offset, end)  # type: ignore[assignment]
        return ids

    async def _waiting_ids(self, t: TaskKeys, offset: int, limit: int) -> list[str]:
        # prioritized jobs go first (ZPOPMIN), then the list from its right end (RPOP)
        ids: list[str] = await self.client.zrange(t.prioritized, offset, offset + limit - 1)  # type: ignore[assignment]
        if len(ids) < limit:
            skip = max(0, offset - await self.client.zcard(t.prioritized))
            want = limit - len(ids)
            tail: list[str] = await self.client.lrange(t.wait, -(skip + want), -(skip + 1))  # type: ignore[assignment]
            ids += reversed(tail)
        return ids

    async def jobs_by_id(self, task: str, ids: Sequence[str]) -> list[JobRecord]:
        """The stored records of ``ids`` (those that still exist), in the order given."""
        async with self.client.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(self.keys(task).job(job_id))
            raws: list[dict[str, str]] = await pipe.execute()
        return [
            JobRecord.from_hash(task, job_id, raw)
            for job_id, raw in zip(ids, raws, strict=True)
            if raw
        ]

    async def find_job(self, job_id: str, tasks: Sequence[str]) -> JobRecord | None:
        """The job ``job_id`` under whichever of ``tasks`` holds it: one pipelined look-up of
        its key per task, never a scan."""
        return await self.runner.drive(read_steps.find_job(self.keys, job_id, tasks))

    async def version_counts(self, task: str, batch: int = VERSION_BATCH) -> VersionCounts:
        """How many of ``task``'s waiting, active and delayed jobs carry each payload version
        (the ``v`` field; absent, or no number, = 1 as a claim reads it), for deciding when
        ``since`` can be raised.

        Reads each line of the task in pages of ``batch`` ids and looks up their versions in
        one pipelined round trip per page: a snapshot, not atomic (jobs that move between two
        pages may be counted twice or missed), and never a scan of the keyspace.
        """
        t = self.keys(task)
        c = self.client
        waiting = Counter[int]()
        for pages in (
            self._pages(lambda i: c.lrange(t.wait, i, i + batch - 1), batch),
            self._pages(lambda i: c.zrange(t.prioritized, i, i + batch - 1), batch),
            self._pages(lambda i: c.lrange(t.singleton_parked, i, i + batch - 1), batch),
            self._set_pages(t.parked_all, batch),
        ):
            await self._count_versions(t, pages, waiting)
        active, delayed = Counter[int](), Counter[int]()
        await self._count_versions(
            t, self._pages(lambda i: c.zrange(t.active, i, i + batch - 1), batch), active
        )
        await self._count_versions(
            t, self._pages(lambda i: c.zrange(t.delayed, i, i + batch - 1), batch), delayed
        )
        return VersionCounts(*(dict(sorted(n.items())) for n in (waiting, active, delayed)))

    @staticmethod
    async def _pages(read: Any, batch: int) -> AsyncIterator[list[str]]:
        start = 0
        while True:
            ids: list[str] = await read(start)
            if ids:
                yield ids
            if len(ids) < batch:
                return
            start += batch

    async def _set_pages(self, key: str, batch: int) -> AsyncIterator[list[str]]:
        cursor = 0
        while True:  # SSCAN of this one set, not of the keyspace
            cursor, ids = await self.client.sscan(key, cursor, count=batch)
            if ids:
                yield [str(job_id) for job_id in ids]
            if not cursor:
                return

    async def _count_versions(
        self, t: TaskKeys, pages: AsyncIterator[list[str]], into: Counter[int]
    ) -> None:
        async for ids in pages:
            async with self.client.pipeline(transaction=False) as pipe:
                for job_id in ids:
                    pipe.hmget(t.job(job_id), ["v", DISPATCHED_FIELD])
                rows: list[list[str | None]] = await pipe.execute()
            for version, ts in rows:
                if ts is not None:  # (no "t": the job is gone, a stray id)
                    into[int(version) if version and version.isdigit() else 1] += 1
