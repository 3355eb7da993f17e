"""Run claimed jobs in slots: a few long-lived asyncio tasks, not one task per job.

A slot takes buffered jobs one after another. While handlers finish without suspending (the
common case for quick async handlers) one slot serves them all, yielding to the loop every few
jobs so finished ones get settled while it carries on. When a handler suspends (awaits I/O, or
runs in the thread pool) a probe notices and starts more slots, up to the task's concurrency.

Timeouts cost one timer per task, not one per job: it fires at the earliest deadline of the
running jobs (the task's timeout, or a job's own from its dispatch). A job's ``ctx`` is built
only when its handler takes one (or someone signals it).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections import deque
from collections.abc import Awaitable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from ..context import JobContext, Write
from ..engine.records import ClaimedJob
from ..job_limits import job_limits
from ..middleware import compose
from ..retry import NO_RETRY, Retry
from .execute import (
    Outcome,
    cancelled,
    failed,
    run_on_cancel,
    start_handler,
    succeeded,
    timed_out,
)
from .plan import trace_context

if TYPE_CHECKING:
    from ..task import Task
    from .host import WorkerHost
    from .plan import TaskPlan

YIELD_EVERY = 16
"""A slot running handlers that never suspend lets the loop run after this many jobs."""
AVERAGE_WEIGHT = 0.1
"""How much each finished job moves the running average of handler run time."""


class Running:
    """A job whose handler is running: its slot, deadline and (lazily) its context."""

    __slots__ = (
        "_ctx",
        "_slots",
        "cancelled",
        "deadline",
        "job",
        "slot",
        "suspended",
        "thread",
        "timed_out",
    )

    thread: Future[Any]
    """A plain handler's thread, when the typed path started it (unset otherwise: one store
    less per job on the plain path, which keeps its thread in a local)."""

    def __init__(self, job: ClaimedJob, slot: asyncio.Task[None], deadline: float, slots: Slots):
        self.job = job
        self.slot = slot
        self.deadline = deadline
        self.suspended = False
        self.timed_out = False
        self.cancelled = False
        self._slots = slots
        self._ctx: JobContext | None = None

    @property
    def ctx(self) -> JobContext:
        """The job's context, made on first use."""
        if self._ctx is None:
            self._ctx = self._slots.context_for(self.job)
        return self._ctx

    @property
    def ctx_if_made(self) -> JobContext | None:
        """The job's context if something asked for it, else None (never makes one)."""
        return self._ctx

    def signal(self, reason: str) -> None:
        """Ask the handler to stop (if it can hear it: only a handler given ``ctx`` can)."""
        if self._ctx is not None:
            self._ctx.cancelled.set(reason)

    def give_up(self, reason: str) -> None:
        """This run no longer owns the job: ask the handler to stop, and drop whatever it
        still writes through ``ctx`` (it might be a thread that runs on regardless)."""
        self.signal(reason)
        if self._ctx is not None:
            self._ctx.close()


class Slots:
    """The job-running half of a TaskRunner: buffer -> running -> finished."""

    def __init__(self, worker: WorkerHost, task: Task, concurrency: int, plan: TaskPlan) -> None:
        self.worker = worker
        self.task = task
        self.plan = plan
        """What the task's jobs go through, decided once (plan.py); ``plan.plain``: nothing."""
        self._chain = (
            compose(plan.middlewares, self._call_handler, executor=worker.executor)
            if plan.middlewares
            else None
        )
        self._plain = plan.plain
        self._decode = plan.decode
        self._store = None if plan.plain else functools.partial(plan.store, task.name)
        self.concurrency = concurrency
        self._collects = task.options.collect is not None
        self.retry = worker.retry_for(task)
        self.timeout_s = worker.timeout_ms_for(task) / 1000
        self.lock_ttl_ms = worker.lock_ttl_ms_for(task)
        self.held: dict[str, str] = {}  # id -> lock token, for every claimed, unsettled job
        self.buffer: deque[ClaimedJob] = deque()
        self.running: dict[str, Running] = {}  # in start order
        self.finished: list[Outcome] = []
        self.stopping = False
        self.wake = asyncio.Event()
        """Set when there is something for the settle loop to do."""
        self.average_s: float | None = None
        """Running average of how long a handler runs (None until one finished)."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._slots: set[asyncio.Task[None]] = set()  # strong references: the loop's are weak
        self._live = 0  # slots started and not yet ended (the set empties a loop turn later)
        self._suspending = False  # seen a handler suspend: give every buffered job a slot
        self._timer: asyncio.TimerHandle | None = None

    # -- slots -------------------------------------------------------------------------------

    def start_ready(self) -> None:
        """Make sure buffered jobs have slots to run them."""
        if self.stopping or not self.buffer:
            return
        free = self._live - len(self.running)  # slots about to take the next job
        need = (len(self.buffer) if self._suspending else 1) - free
        for _ in range(min(need, self.concurrency - self._live)):
            self._live += 1
            slot = self._loop.create_task(self._slot(), name=f"taskora-slot:{self.task.name}")
            self._slots.add(slot)
            slot.add_done_callback(self._slots.discard)

    def _on_suspend(self, item: Running) -> None:
        """A handler suspended before finishing: other buffered jobs need slots of their own."""
        item.suspended = True
        self._suspending = True
        self.start_ready()

    async def _slot(self) -> None:
        me = asyncio.current_task()
        assert me is not None
        try:
            streak = 0
            while self.buffer and not self.stopping:
                item = self._begin(self.buffer.popleft(), me)
                outcome = await self._execute(item)
                if self.running.pop(item.job.id, None) is None:
                    continue  # stop() handed it back while the handler ignored the cancellation
                ctx = item.ctx_if_made
                if ctx is not None:
                    ctx.close()  # settled next: a thread left behind writes no more
                    if ctx.has_pending:
                        await ctx.flush()  # progress and logs land before the final event
                if item.job.id in self.held:  # else the lock was lost: not ours to record
                    self.finished.append(outcome)
                    self.wake.set()
                streak = 0 if item.suspended else streak + 1
                if streak >= YIELD_EVERY:
                    streak = 0
                    await asyncio.sleep(0)
        finally:
            self._live -= 1

    def _begin(self, job: ClaimedJob, slot: asyncio.Task[None]) -> Running:
        item = Running(job, slot, self._loop.time() + self._limits(job)[1], self)
        self.running[job.id] = item
        if self._timer is None or item.deadline < self._timer.when():  # a shorter own timeout
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(item.deadline, self._on_timer)
        on_start = self.worker.on_start
        if on_start is not None:
            on_start(self.task.name, job)
        return item

    async def _execute(self, item: Running) -> Outcome:
        """Run the handler to its end; the Outcome says how it went."""
        outcome = await self._run_handler(item)
        if item.cancelled:
            if item.slot.cancelling() and not self.stopping:
                item.slot.uncancel()  # the handler swallowed or replaced the cancellation
            ctx = item.ctx_if_made
            # a typed job's checked data (ctx.data, if it took a ctx), else the stored one
            data = self.plan.decode(item.job.data) if ctx is None or self.plan.plain else ctx.data
            await run_on_cancel(self.task, data, item.ctx, self._loop, self.worker.executor)
            return cancelled(item.job)
        return outcome

    def _limits(self, job: ClaimedJob) -> tuple[Retry, float]:
        """The retry policy and timeout (s) of ``job``: its dispatch's own, else the task's."""
        if job.limits is None:
            return self.retry, self.timeout_s
        return job_limits(self.retry, self.timeout_s, job.limits)

    async def _run_handler(self, item: Running) -> Outcome:
        job, loop = item.job, self._loop
        retry, timeout_s = self._limits(job)
        typed: Awaitable[Any] | None = None
        if not self._plain:
            try:
                typed = self._start_typed(item)
            except Exception as exc:  # bad data or a failing migration: no retry mends it
                return failed(job, exc, NO_RETRY, self.worker.runtime.clock())
        probe = loop.call_soon(self._on_suspend, item)
        thread = None
        try:
            if typed is None:
                ctx = item.ctx if self.task.arity >= 2 else None
                handler, thread = start_handler(
                    self.task, self._decode(job.data), ctx, self.worker.executor
                )
                value = await handler
            else:
                value = await typed
        except asyncio.CancelledError as exc:
            if not item.slot.cancelling():
                # nobody cancelled this slot (a drain doesn't: only abandon() and the timer
                # do): the handler raised CancelledError itself
                return failed(job, exc, retry, self.worker.runtime.clock())
            was_cancelled = item.cancelled and not self.stopping
            if not (was_cancelled or item.timed_out):
                raise  # shutdown: stop() hands the job back
            item.slot.uncancel()  # cancel_job() or the timeout stopped it: the slot goes on
            thread = thread or getattr(item, "thread", None)
            # A thread handler (cancelled or not) may ignore the timeout: not cancel() means
            # still queued in the pool, it never starts; else it runs on and keeps its thread.
            if thread is not None and not thread.cancel() and not thread.done():
                self.worker.note_stuck(thread)
            if was_cancelled:
                return cancelled(job)
            item.give_up("timeout")
            return timed_out(job, timeout_s, retry, self.worker.runtime.clock())
        except GeneratorExit:
            raise  # the slot's coroutine is being closed: not the handler failing
        except BaseException as exc:  # sys.exit(), KeyboardInterrupt too: the job fails, we live
            return failed(job, exc, retry, self.worker.runtime.clock())
        finally:
            probe.cancel()
            self._measure(loop.time() - (item.deadline - timeout_s))
        if item.timed_out:  # the handler swallowed the cancellation and returned
            item.slot.uncancel()
        return succeeded(job, value, self.worker.runtime.clock, self._store)

    def _start_typed(self, item: Running) -> Awaitable[Any]:
        """Prepare the job's data (decode, migrate, check) and start its chain or handler.

        Raises:
            ValidationError: the data does not match the input schema.
            Exception: the decoder's or a migration's error.
        """
        job, plan = item.job, self.plan
        data = plan.prepare(self.task.name, job.data, job.version, self._collects)
        if self._chain is not None:
            chained = item.ctx
            chained.data = data
            if plan.traced and job.trace:
                chained.trace_context = trace_context(job.trace)
            return self._chain(chained)
        ctx = item.ctx if self.task.arity >= 2 else None
        if ctx is not None:
            ctx.data = data
        handler, thread = start_handler(self.task, data, ctx, self.worker.executor)
        if thread is not None:
            item.thread = thread  # for the timeout: a thread cannot be stopped
        return handler

    async def _call_handler(self, ctx: JobContext) -> Any:
        """The innermost step of a middleware chain: the handler, given ``ctx.data``."""
        handler, thread = start_handler(self.task, ctx.data, ctx, self.worker.executor)
        if thread is not None:
            item = self.running.get(ctx.id)
            if item is not None:
                item.thread = thread  # for the timeout: a thread cannot be stopped
        return await handler

    def _measure(self, duration_s: float) -> None:
        average = self.average_s
        if average is None:
            self.average_s = duration_s
        else:
            self.average_s = average + (duration_s - average) * AVERAGE_WEIGHT

    def _on_timer(self) -> None:
        """Time out every job past its deadline; then wait for the next deadline."""
        self._timer = None
        now = self._loop.time()
        upcoming: float | None = None  # not in start order: a job may carry its own timeout
        for item in self.running.values():
            if item.deadline > now:
                upcoming = item.deadline if upcoming is None else min(upcoming, item.deadline)
            elif not item.timed_out:
                item.timed_out = True
                item.slot.cancel()
        if upcoming is not None:
            self._timer = self._loop.call_at(upcoming, self._on_timer)

    def cancel_job(self, job_id: str) -> None:
        """The job was asked to cancel: signal its handler (and stop it, if it is async; a
        thread cannot be stopped, so a plain handler should poll ``ctx.cancelled``), or drop
        it unstarted. Either way it is settled as cancelled."""
        item = self.running.get(job_id)
        if item is not None:
            if not item.cancelled:
                item.cancelled = True
                item.signal("cancelled")
                if self.task.is_async:
                    item.slot.cancel()
            return
        for job in self.buffer:
            if job.id == job_id:
                self.buffer.remove(job)
                self.finished.append(cancelled(job))
                self.wake.set()
                return

    def abandon(self, reason: str) -> list[ClaimedJob]:
        """Stop every running handler now; returns their jobs (to hand back)."""
        leftovers = list(self.running.values())
        self.running.clear()
        for item in leftovers:
            item.give_up(reason)
            item.slot.cancel()
        return [item.job for item in leftovers]

    def close_slots(self) -> None:
        """Cancel the deadline timer (slots end on their own once stopping)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- contexts ----------------------------------------------------------------------------

    def context_for(self, job: ClaimedJob) -> JobContext:
        """A handler's ``ctx`` for ``job``."""
        return JobContext(
            job_id=job.id,
            task=self.task.name,
            attempt=job.attempt,
            dispatched_at_ms=job.dispatched_at_ms,
            token=job.token,
            io=self,
            loop=self._loop,
            loop_thread=self._loop_thread,
            state=self.worker.state,
        )

    def write_progress(self, job_id: str, value: str | None, update: str | None = None) -> Write:
        return self.worker.engine.set_progress(self.task.name, job_id, value, update)

    def write_logs(self, job_id: str, entries: list[str]) -> Write:
        cap = self.worker.runtime.config.retention.max_logs_per_job
        return self.worker.engine.append_logs(self.task.name, job_id, entries, cap)

    def now_ms(self) -> int:
        return self.worker.runtime.clock()

    async def extend_lock(self, job_id: str, token: str) -> None:
        w = self.worker
        await w.engine.extend_locks(
            self.task.name, [(job_id, token)], w.runtime.clock(), self.lock_ttl_ms
        )
