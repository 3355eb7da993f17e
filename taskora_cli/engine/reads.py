"""The inspector's reads: counts, listings and lookups, each one pipelined round trip or two.

A mixin of Engine (kept apart so engine.py stays about the scripts). Nothing here writes, and
nothing scans the keyspace: a job is found by checking its key under each known task.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .records import JobRecord, TaskCounts

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .keys import TaskKeys


class Reads:
    """Read-only queries for the inspector (needs ``client`` and ``keys`` from Engine)."""

    client: Redis

    def keys(self, task: str) -> TaskKeys:
        raise NotImplementedError  # pragma: no cover - Engine provides it

    async def task_counts(self, tasks: Sequence[str], now_ms: int) -> list[TaskCounts]:
        """How many jobs each task has in each state, and the age of its oldest waiting job."""
        async with self.client.pipeline(transaction=False) as pipe:
            for task in tasks:
                t = self.keys(task)
                pipe.llen(t.wait)
                pipe.zcard(t.prioritized)
                for key in (t.delayed, t.active, t.completed, t.failed, t.expired, t.cancelled):
                    pipe.zcard(key)
                pipe.lindex(t.wait, -1)  # the front of the line: the oldest of priority 0
                pipe.zrange(t.prioritized, 0, 0)  # the next prioritized job
                pipe.scard(t.parked_all)  # waiting for a concurrency slot
            flat: list[Any] = await pipe.execute()
        per = 11
        fronts = [[flat[i * per + 8], *(flat[i * per + 9] or [])] for i in range(len(tasks))]
        ages = await self._oldest_ages(tasks, fronts, now_ms)
        out = []
        for i, task in enumerate(tasks):
            n = [int(x) for x in flat[i * per : i * per + 8]]
            waiting = n[0] + n[1] + int(flat[i * per + 10])
            out.append(TaskCounts(task, waiting, n[2], n[3], n[4], n[5], n[6], n[7], ages[i]))
        return out

    async def minute_counts(
        self, tasks: Sequence[str], minutes: Sequence[int]
    ) -> list[tuple[int, int]]:
        """(completed, failed) in each of ``minutes`` (ms // 60000), summed over ``tasks``."""
        fields = [f"{kind}:{minute}" for minute in minutes for kind in "cf"]
        async with self.client.pipeline(transaction=False) as pipe:
            for task in tasks:
                pipe.hmget(self.keys(task).counts, fields)
            rows: list[list[str | None]] = await pipe.execute()
        sums = [0] * len(fields)
        for row in rows:
            for i, value in enumerate(row):
                if value is not None:
                    sums[i] += int(value)
        return [(sums[2 * i], sums[2 * i + 1]) for i in range(len(minutes))]

    async def _oldest_ages(
        self, tasks: Sequence[str], fronts: list[list[str | None]], now_ms: int
    ) -> list[int | None]:
        async with self.client.pipeline(transaction=False) as pipe:
            for task, ids in zip(tasks, fronts, strict=True):
                for job_id in ids:
                    if job_id:
                        pipe.hget(self.keys(task).job(job_id), "ts")
            stamps: list[Any] = await pipe.execute()
        ages: list[int | None] = []
        it = iter(stamps)
        for ids in fronts:
            found = [int(ts) for ts in (next(it) for job_id in ids if job_id) if ts]
            ages.append(max(0, now_ms - min(found)) if found else None)
        return ages

    async def job_ids(self, task: str, state: str, offset: int, limit: int) -> list[str]:
        """Ids of ``task``'s jobs in ``state``: the waiting line in the order workers take it,
        delayed by due time, active by lock deadline, finished ones newest first."""
        t = self.keys(task)
        end = offset + limit - 1
        if state == "waiting":
            return await self._waiting_ids(t, offset, limit)
        if state in ("delayed", "active"):
            key = t.delayed if state == "delayed" else t.active
            ids: list[str] = await self.client.zrange(key, offset, end)  # type: ignore[assignment]
            return ids
        key = {"completed": t.completed, "failed": t.failed, "expired": t.expired}.get(
            state, t.cancelled
        )
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
        async with self.client.pipeline(transaction=False) as pipe:
            for task in tasks:
                pipe.hgetall(self.keys(task).job(job_id))
            raws: list[dict[str, str]] = await pipe.execute()
        for task, raw in zip(tasks, raws, strict=True):
            if raw:
                return JobRecord.from_hash(task, job_id, raw)
        return None
