"""One task's claim loop: claim in batches, run up to `concurrency` handlers, settle in batches.

Jobs a worker holds move buffer -> running -> finished. The settle loop sends every finished
job back in one fused script call that also claims the next jobs, so at full load a process
makes one round trip per batch, not per job. Idle, it blocks on the task's marker key.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..context import JobContext
from ..engine.records import Ack, ClaimedJob, Failure
from .execute import Outcome, failed, run_handler, succeeded

if TYPE_CHECKING:
    from .pool import Worker

log = logging.getLogger("taskora.worker")

IDLE_BLOCK_S = 5.0
"""How long an idle worker blocks on the marker before it looks again anyway."""
SHORT_WAIT_MS = 150
"""Below this, a worker waits for a delayed job on its own clock rather than the server's,
whose blocking timeouts are only as precise as its event loop tick (100 ms at hz 10)."""


@dataclass(slots=True)
class Running:
    job: ClaimedJob
    ctx: JobContext
    handle: asyncio.Task[None]


class TaskRunner:
    """Claims, runs and settles the jobs of one task inside a Worker."""

    def __init__(self, worker: Worker, task_name: str, concurrency: int, prefetch: int) -> None:
        self.worker = worker
        self.task = worker.app.get_task(task_name)
        self.engine = worker.engine
        self.concurrency = concurrency
        self.limit = concurrency + prefetch
        self.retry = worker.retry_for(self.task)
        self.timeout_s = worker.timeout_ms_for(self.task) / 1000
        self.held: dict[str, str] = {}  # id -> lock token, for every claimed, unsettled job
        self.buffer: deque[ClaimedJob] = deque()
        self.running: dict[str, Running] = {}
        self.finished: list[Outcome] = []
        self.stopping = False
        self.in_flight = False
        """True while a claim or settle round trip is on the wire."""
        self._maybe_more = True
        self._wake = asyncio.Event()
        self._arm = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._waker_task: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop_task = loop.create_task(self._settle_loop(), name=f"taskora:{self.task.name}")
        self._waker_task = loop.create_task(self._waker(), name=f"taskora-waker:{self.task.name}")

    async def stop(self, grace_s: float) -> None:
        """Stop claiming, let running jobs finish within ``grace_s``, hand back the rest."""
        self.stopping = True
        if self._waker_task is not None:
            self._waker_task.cancel()
        await self._hand_back(list(self.buffer))
        self.buffer.clear()
        self._wake.set()
        deadline = asyncio.get_running_loop().time() + grace_s
        while self.running and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        leftovers = list(self.running.values())
        for item in leftovers:
            item.ctx.cancelled.set("shutdown")
            item.handle.cancel()
            self.running.pop(item.job.id, None)
        await self._hand_back([item.job for item in leftovers])
        self._wake.set()
        if self._loop_task is not None:
            await self._loop_task

    def lost(self, job_id: str) -> None:
        """The heartbeat found this job's lock taken: stop caring about it."""
        self.held.pop(job_id, None)
        item = self.running.get(job_id)
        if item is not None:
            item.ctx.cancelled.set("lock lost")

    # -- the settle/claim loop ---------------------------------------------------------------

    async def _settle_loop(self) -> None:
        while True:
            finished, self.finished = self.finished, []
            want = 0 if self.stopping else self.limit - len(self.held) + len(finished)
            if finished or (want > 0 and self._maybe_more):
                self.in_flight = True
                call = self._settle(finished, want) if finished else self._claim(want)
                claimed = await self._guard(call)
                self.in_flight = False
            else:
                if self.stopping and not self.held:
                    return
                if want > 0:
                    self._arm.set()
                await self._wake.wait()
                self._wake.clear()
                continue
            self._maybe_more = want > 0 and len(claimed) >= want
            for job in claimed:
                self.held[job.id] = job.token
                self.buffer.append(job)
            if self.stopping:  # stop() began while this claim was on the wire: give them back
                await self._hand_back(list(self.buffer))
                self.buffer.clear()
            self._start_ready()

    async def _guard(self, call: asyncio.Future[list[ClaimedJob]] | object) -> list[ClaimedJob]:
        try:
            return await call  # type: ignore[no-any-return, misc]
        except Exception as exc:
            log.warning("taskora: %s: %s; retrying", self.task.name, exc)
            await asyncio.sleep(0.5)
            return []

    async def _claim(self, want: int) -> list[ClaimedJob]:
        w = self.worker
        return await self.engine.claim(self.task.name, w.id, want, w.app.clock(), w.lock_ttl_ms)

    async def _settle(self, finished: list[Outcome], want: int) -> list[ClaimedJob]:
        w, name = self.worker, self.task.name
        acks = [Ack(o.job.id, o.job.token, o.result) for o in finished if o.ok]
        failures = [o for o in finished if not o.ok]
        claimed: list[ClaimedJob] = []
        for i, o in enumerate(failures):
            count = want if not acks and i == len(failures) - 1 else 0
            failure = Failure(o.job.id, o.job.token, o.error, o.retry_at_ms)
            status, got = await self.engine.fail_and_claim(
                name, failure, w.id, count, w.app.clock(), w.lock_ttl_ms
            )
            claimed += got
            self._release(o, status != 0)
        if acks:
            flags, got = await self.engine.ack_and_claim(
                name, acks, w.id, want, w.app.clock(), w.lock_ttl_ms
            )
            claimed += got
            for o, flag in zip((o for o in finished if o.ok), flags, strict=True):
                self._release(o, flag)
        return claimed

    def _release(self, outcome: Outcome, settled: bool) -> None:
        self.held.pop(outcome.job.id, None)
        self.worker.report(self.task.name, outcome, settled)

    # -- running handlers --------------------------------------------------------------------

    def _start_ready(self) -> None:
        while self.buffer and len(self.running) < self.concurrency and not self.stopping:
            job = self.buffer.popleft()
            ctx = self.worker.context_for(self.task.name, job)
            handle = asyncio.get_running_loop().create_task(self._run(job, ctx))
            self.running[job.id] = Running(job, ctx, handle)

    async def _run(self, job: ClaimedJob, ctx: JobContext) -> None:
        self.worker.started(self.task.name, job)
        try:
            value = await run_handler(self.task, job, ctx, self.timeout_s, self.worker.executor)
            outcome = succeeded(job, value, self.retry, self.worker.app.clock())
        except asyncio.CancelledError:
            return  # stop() hands the job back
        except Exception as exc:
            outcome = failed(job, exc, self.retry, self.worker.app.clock())
        await ctx.flush()
        if self.running.pop(job.id, None) is None or job.id not in self.held:
            return  # handed back at shutdown or lock lost: the result is not ours to record
        self.finished.append(outcome)
        self._start_ready()
        self._wake.set()

    async def _hand_back(self, jobs: list[ClaimedJob]) -> None:
        held = [(job.id, job.token) for job in jobs if job.id in self.held]
        for job_id, _ in held:
            self.held.pop(job_id, None)
        if held:
            try:
                await self.engine.nack(self.task.name, held, self.worker.app.clock())
            except Exception as exc:
                log.warning("taskora: could not hand back %d jobs: %s", len(held), exc)

    # -- idle waiting ------------------------------------------------------------------------

    async def _waker(self) -> None:
        while True:
            await self._arm.wait()
            self._arm.clear()
            try:
                score = await self.engine.wait_for_work(self.task.name, IDLE_BLOCK_S)
            except Exception as exc:
                log.debug("taskora: waiting for work failed: %s", exc)
                await asyncio.sleep(0.5)
                score = None
            if score:
                await self._sleep_until(score)
            self._maybe_more = True
            self._wake.set()

    async def _sleep_until(self, due_ms: float) -> None:
        """The next job is delayed until ``due_ms``: wait for it, waking early for new work."""
        remaining = due_ms - self.worker.app.clock()
        if remaining > SHORT_WAIT_MS:
            block_s = min((remaining - SHORT_WAIT_MS / 2) / 1000, IDLE_BLOCK_S)
            if await self.engine.wait_for_work(self.task.name, block_s) is not None:
                return  # new work (or an earlier due time) arrived: go and claim
            remaining = due_ms - self.worker.app.clock()
        if 0 < remaining <= SHORT_WAIT_MS:
            await asyncio.sleep(remaining / 1000)
