"""Push-based result waiting: one event-stream reader per engine settles every waiter.

Before a waiter registers, the stream position is noted and the job's state checked, so a job
that already finished (or is missing, trimmed or expired) settles at once instead of hanging
(the Node engine's bug B4). A state re-check every few seconds covers events lost to trimming.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis

from ..job_state import TERMINAL_STATES, JobState
from .cluster import read_streams
from .connection import open_client
from .engine import Engine
from .failures import kinds
from .records import JobRecord

log = logging.getLogger("taskora")

BLOCK_MS = 1000
RECHECK_S = 2.0


class ResultWaiter:
    """Settles futures when jobs reach a terminal state; None result means the job is gone."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._waiters: dict[tuple[str, str], list[asyncio.Future[JobRecord | None]]] = {}
        self._cursors: dict[str, str] = {}
        self._client: Redis | None = None
        self._reader: asyncio.Task[None] | None = None

    def waiting_for(self, job_id: str) -> bool:
        """True while some caller waits for ``job_id``'s result (any task)."""
        return any(key[1] == job_id for key in self._waiters)

    async def wait(self, task: str, job_id: str, timeout: float | None) -> JobRecord | None:
        """The job's final record, or None if there is no such job.

        Raises:
            TimeoutError: the job did not finish within ``timeout`` seconds.
        """
        if task not in self._cursors:
            self._cursors[task] = await self._stream_end(task)
        record = await self._engine.job(task, job_id)
        if record is None or record.finished:
            return record
        future: asyncio.Future[JobRecord | None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault((task, job_id), []).append(future)
        self._ensure_reader()
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        finally:
            self._forget(task, job_id, future)

    async def close(self) -> None:
        """Stop the reader and release its connection."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        if self._client is not None:
            with contextlib.suppress(*kinds().failure_or_ours, RuntimeError):
                await self._client.aclose()
            self._client = None

    def _forget(self, task: str, job_id: str, future: asyncio.Future[JobRecord | None]) -> None:
        futures = self._waiters.get((task, job_id), [])
        if future in futures:
            futures.remove(future)
        if not futures:
            self._waiters.pop((task, job_id), None)

    async def _stream_end(self, task: str) -> str:
        return (await self._engine.events.latest_ids([task]))[task]

    def _ensure_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.get_running_loop().create_task(self._read_loop())

    async def _read_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_recheck = loop.time() + RECHECK_S
        while self._waiters:
            try:
                await self._read_once()
            except kinds().failure_or_ours as exc:
                log.debug("taskora: reading the event streams failed (%s); again shortly", exc)
                await asyncio.sleep(0.2)  # the client reconnects; try again shortly
            # also while reads fail (a cluster's master failing over): the state is read
            # from wherever the job is now
            if loop.time() >= next_recheck:
                next_recheck = loop.time() + RECHECK_S
                with contextlib.suppress(*kinds().failure_or_ours):
                    await self._recheck_all()

    async def _read_once(self, block: int | None = BLOCK_MS) -> None:
        if self._client is None:
            self._client = open_client(
                self._engine.url, blocking=True, cluster=self._engine.cluster
            )
        tasks = {task for task, _ in self._waiters}
        streams = {self._engine.keys(t).events: self._cursors[t] for t in tasks}
        by_stream = {self._engine.keys(t).events: t for t in tasks}
        reply = await read_streams(
            self._client, streams, count=500, block=block, cluster=self._engine.cluster
        )
        for stream, entries in reply:
            task = by_stream[stream]
            for entry_id, fields in entries:
                self._cursors[task] = entry_id
                event = fields.get("event")
                if event in TERMINAL_STATES:
                    for job_id in fields.get("job", "").split(" "):  # one id, or a batch's
                        await self._settle(task, job_id, event)

    async def _settle(self, task: str, job_id: str, event: str | None = None) -> None:
        futures = self._waiters.get((task, job_id))
        if not futures:
            return
        record = await self._engine.job(task, job_id)
        if record is None and event == JobState.EXPIRED:  # discarded on expiry: no hash is left
            record = JobRecord(job_id, task, JobState.EXPIRED)
        if record is not None and not record.finished:
            return  # a late event for an earlier attempt; wait for the next one
        for future in futures:
            if not future.done():
                future.set_result(record)

    async def _recheck_all(self) -> None:
        missing: list[tuple[str, str]] = []
        for task, job_id in list(self._waiters):
            state = await self._engine.job_state(task, job_id)
            if state is None:
                missing.append((task, job_id))
            elif state in TERMINAL_STATES:
                await self._settle(task, job_id)
        if missing:
            # a job discarded on expiry since the last read: its event tells how it ended
            await self._read_once(block=None)
            for task, job_id in missing:
                await self._settle(task, job_id)
