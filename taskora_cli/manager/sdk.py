"""Sdk: the spec's admin API over a TaskManager's queues, on taskora's views. Jobs are found
by id within a queue: each event of the queue is a task, looked up in one pipelined read."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from ..blocking import blocking_twin
from ..errors import JobActiveError, UsageError
from ..job_state import LISTED_STATES, RETRYABLE_STATES
from ..names import check_queue_name
from ..views.inspector import JobInfo
from .documents import job_document
from .queue_controls import QueueControls
from .task_manager import app_for

if TYPE_CHECKING:
    from ..app import Taskora

STAT_FIELDS = ("waiting", "delayed", "active", "paused", "completed", "failed", "expired",
               "cancelled")  # fmt: skip
"""The counts of ``get_queue_stats``."""


class Sdk(QueueControls):
    """Read and manage the jobs and queues of TaskManager events.

    Args:
        db: the server: a URL, a taskora app, or None for the configured server (the
            embedded one by default).

    Every method is plain with an ``a``-prefixed async twin. Job documents are plain dicts
    (see :func:`~taskora_cli.manager.documents.job_document`); ``status`` is the job's
    taskora state: waiting, delayed, retrying, active, paused, completed, failed (a dead
    letter), expired or cancelled.
    """

    def __init__(self, db: object = None) -> None:
        self.app: Taskora = app_for(db)

    async def _queue_of(self) -> dict[str, str]:
        """Every known event (task) and its queue."""
        engine = await self.runtime.engine()
        queue_of = await engine.task_queues()
        for name, task in self.app.tasks.items():
            queue_of[name] = task.options.queue
        return queue_of

    async def _events(self, queue: str | None) -> builtins.list[str]:
        queue_of = await self._queue_of()
        if queue is None:
            return sorted(queue_of)
        check_queue_name(queue)
        return sorted(name for name, q in queue_of.items() if q == queue)

    async def _find(self, job_id: str, queue: str) -> JobInfo | None:
        engine = await self.runtime.engine()
        record = await engine.find_job(job_id, await self._events(queue))
        if record is None:
            return None
        logs = await engine.job_logs(record.task, job_id)
        return JobInfo.from_record(record, logs, self.runtime.payloads)

    async def aget_job(self, job_id: str, queue: str) -> dict[str, Any] | None:
        """The job ``job_id`` of ``queue`` (with its logs), or None."""
        info = await self._find(job_id, queue)
        return None if info is None else job_document(info, queue)

    get_job = blocking_twin(aget_job)

    async def alist_jobs(
        self,
        queue: str | None = None,
        state: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> builtins.list[dict[str, Any]]:
        """Jobs of ``queue`` (default: every queue) in ``state`` (default: every state, in
        the order waiting, delayed, active, paused, completed, failed, expired, cancelled),
        event by event; ``offset``/``limit`` page through the result. Listed documents carry
        no logs (``get_job`` has them).

        Raises:
            UsageError: an unknown state, or a negative offset or limit.
        """
        if state is not None and state not in LISTED_STATES:
            raise UsageError(f"unknown state {state!r}; use one of {', '.join(LISTED_STATES)}")
        if offset < 0 or limit < 0:
            raise UsageError(f"offset and limit must be >= 0, got {offset} and {limit}")
        queue_of = await self._queue_of()
        inspector = self.app.inspect()
        found: builtins.list[dict[str, Any]] = []
        for event in await self._events(queue):
            for wanted in [state] if state else LISTED_STATES:
                want = offset + limit - len(found)
                if want <= 0:
                    break
                jobs = await inspector.ajobs(event, wanted, 0, want)
                found += [job_document(job, queue_of[event]) for job in jobs]
        return found[offset : offset + limit]

    list_jobs = blocking_twin(alist_jobs)

    async def adelete_job(self, job_id: str, queue: str) -> bool:
        """Delete the job for good; False if there was none.

        Raises:
            JobActiveError: it is running; cancel it first, or wait for it to end.
        """
        info = await self._find(job_id, queue)
        if info is None:
            return False
        engine = await self.runtime.engine()
        outcome, _ = await engine.admin.delete(info.task, job_id)
        if outcome == "active":
            raise JobActiveError(f"job {job_id} is running: cancel it first", job_id)
        return outcome == "deleted"

    delete_job = blocking_twin(adelete_job)

    async def aretry_job(self, job_id: str, queue: str) -> dict[str, Any] | None:
        """Send a failed, cancelled or expired job back to its waiting line with a fresh
        attempt count; its document after, or None if there is no such job.

        Raises:
            UsageError: the job is in another state (only ended jobs that did not complete
                can be retried).
        """
        info = await self._find(job_id, queue)
        if info is None:
            return None
        if info.state not in RETRYABLE_STATES:
            raise UsageError(
                f"job {job_id} is {info.state}; only failed, cancelled or expired jobs retry"
            )
        engine = await self.runtime.engine()
        await engine.dead_letters.retry(info.task, [job_id], self.runtime.clock(), info.state)
        return await self.aget_job(job_id, queue)

    retry_job = blocking_twin(aretry_job)

    async def acancel_job(self, job_id: str, queue: str) -> bool:
        """Cancel the job: at once if it waits (or is paused), else its worker stops it.
        False if there is no such job or it has ended."""
        info = await self._find(job_id, queue)
        if info is None:
            return False
        engine = await self.runtime.engine()
        outcome, _ = await engine.cancel(info.task, job_id, "", self.runtime.clock())
        return outcome in ("cancelled", "flagged")

    cancel_job = blocking_twin(acancel_job)

    async def apause_job(self, job_id: str, queue: str) -> dict[str, Any] | None:
        """Take a waiting, delayed or retrying job out of its line: no worker runs it until
        :meth:`resume_job`. Its document after (``status`` "paused"), or None if there is
        no such job. Pausing a paused job changes nothing.

        Raises:
            UsageError: the job is running or has ended.
        """
        return await self._pause_or_resume(job_id, queue, pause=True)

    pause_job = blocking_twin(apause_job)

    async def aresume_job(self, job_id: str, queue: str) -> dict[str, Any] | None:
        """Put a paused job back where it was paused (its waiting line, or its due time
        among the delayed jobs); its document after, or None if there is no such job.
        Resuming a job that is not paused changes nothing."""
        return await self._pause_or_resume(job_id, queue, pause=False)

    resume_job = blocking_twin(aresume_job)

    async def _pause_or_resume(self, job_id: str, queue: str, pause: bool) -> dict[str, Any] | None:
        info = await self._find(job_id, queue)
        if info is None:
            return None
        engine = await self.runtime.engine()
        change = engine.admin.pause if pause else engine.admin.resume
        outcome, state = await change(info.task, job_id, self.runtime.clock())
        if outcome == "refused":
            raise UsageError(
                f"job {job_id} is {state}; only waiting, delayed or retrying jobs can be paused"
            )
        return await self.aget_job(job_id, queue)

    async def aget_queue_stats(self, queue: str) -> dict[str, int]:
        """How many jobs of ``queue`` are in each state (retrying ones count as delayed)."""
        events = await self._events(queue)
        engine = await self.runtime.engine()
        counts = await engine.task_counts(events, self.runtime.clock())
        return {name: sum(getattr(c, name) for c in counts) for name in STAT_FIELDS}

    get_queue_stats = blocking_twin(aget_queue_stats)

    async def aget_queues(self) -> builtins.list[str]:
        """The name of every known queue, sorted."""
        return [info.name for info in await self.app.queues().alist()]

    get_queues = blocking_twin(aget_queues)

    async def aget_queues_info(self) -> builtins.list[dict[str, Any]]:
        """Every known queue: ``name``, ``paused``, ``events`` and its counts by state."""
        out = []
        for info in await self.app.queues().alist():
            stats = await self.aget_queue_stats(info.name)
            out.append({"name": info.name, "paused": info.paused, "events": info.tasks,
                        "latency": info.latency, **stats})  # fmt: skip
        return out

    get_queues_info = blocking_twin(aget_queues_info)


__all__ = ["STAT_FIELDS", "Sdk"]
