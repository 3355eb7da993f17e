"""Worker: the runners for a set of tasks in one process, with heartbeat and stall sweeping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from ..engine.cancels import listen_for_cancels
from ..engine.engine import Engine
from ..engine.records import ClaimedJob, Retention
from ..errors import UsageError
from ..retry import NO_RETRY, Retry
from ..task import Task, new_job_id
from ..views.worker_registry import reap_workers
from .execute import Outcome
from .lifespan import shut_down, start_up
from .plan import TaskPlan, build_plan
from .runner import TaskRunner
from .scheduler import Scheduler
from .workflow_nodes import repair_workflows_turn

if TYPE_CHECKING:
    from ..config import Config, RetentionConfig
    from ..task_registry import Parts

log = logging.getLogger("taskora.worker")

LOCK_TTL_MS = 30_000
CONTROL_MS = 500
"""How often a worker reads its orders (paused queues, a drain request): a pause reaches every
worker within this, without a connection of its own per worker."""
IDLE_SPINS = 200
"""run_due() polls its runners this many loop turns before it polls every millisecond."""
SUBSCRIBE_TIMEOUT_S = 5.0
"""How long a starting worker waits to subscribe to the cancel channels before it claims."""


def task_slots(
    task: Task,
    config: Config,
    *,
    slots: dict[str, int] | None = None,
    concurrency: int | None = None,
) -> int:
    """How many jobs of ``task`` one process runs at once; the one place that decides it (the
    worker and ``taskora work``'s banner both ask here), first answer wins:

    1. an explicit slot count for the task's queue (``--queue q=N``, [worker.queues]);
    2. ``concurrency`` given when the worker is started (``taskora work --concurrency``,
       ``run_worker(concurrency=)``, ``app.worker(concurrency=)``): an operator who asks for
       N jobs at once gets N, as ``--concurrency`` means in Celery, RQ and Dramatiq;
    3. the task's own ``concurrency=`` (its code's default);
    4. [worker] concurrency, then [defaults] concurrency (config files and TASKORA_*).

    ``concurrency`` must be None unless the caller was given it: a config value passed here
    would beat the task's own.
    """
    if slots and task.name in slots:
        return slots[task.name]
    return (
        concurrency
        or task.options.concurrency
        or config.worker.concurrency
        or config.defaults.concurrency
    )


def retention_limits(config: RetentionConfig) -> Retention:
    """The [retention] settings as the scripts take them (-1 for no limit)."""

    def limit(value: int | None) -> int:
        return -1 if value is None else value

    return Retention(
        limit(config.completed_max_age_ms),
        limit(config.completed_max_items),
        limit(config.failed_max_age_ms),
        limit(config.failed_max_items),
    )


class Worker:
    """Runs the jobs of ``tasks`` in the current event loop until stopped.

    Args:
        app: the app whose tasks these are.
        tasks: which tasks to work on.
        concurrency: jobs of each task at once; given, it beats the task's own
            ``concurrency=`` (default: the task's own, else [worker]/[defaults]).
        slots: task name -> slots, overriding everything else (``taskora work --queue q=N``).
        worker_id: this worker's id, part of every lock token it takes (default: host, pid and
            a random suffix); a supervisor names its children so it can release their claims.
        prefetch: jobs claimed beyond the free slots so the next one is at hand; they hold
            locks like running jobs and go back to the queue at shutdown. None (the default)
            adapts it to the handlers' speed: up to 64 for quick jobs, 1 for slow ones.
        lock_ttl_ms / heartbeat_ms: how long a claim holds unrenewed, and how often it (and the
            worker's registry record) is renewed (default: [worker] heartbeat).
        stall_interval_ms / max_stalls: how often stalled jobs are looked for, and how many
            stalls a job survives before it fails.
    """

    def __init__(
        self,
        app: Parts,
        tasks: list[Task],
        *,
        concurrency: int | None = None,
        slots: dict[str, int] | None = None,
        worker_id: str | None = None,
        prefetch: int | None = None,
        lock_ttl_ms: int = LOCK_TTL_MS,
        heartbeat_ms: int | None = None,
        stall_interval_ms: int | None = None,
        max_stalls: int | None = None,
    ) -> None:
        idle = [task.name for task in tasks if not task.implemented]
        if idle:  # its jobs would fail for good here, and its real worker would lose them
            raise UsageError(
                f"task {idle[0]!r} is registered without a handler here: "
                "app.implement(contract, handler) to work on it"
            )
        defaults = app.runtime.config.defaults
        self.runtime = app.runtime
        self.runtime.follow_in_background = False  # this worker calls the listeners (start)
        self.registry = app.registry
        self.tasks = tasks
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{new_job_id()[:6]}"
        self._slots = slots or {}
        self.lock_ttl_ms = lock_ttl_ms
        self.heartbeat_ms = heartbeat_ms or app.runtime.config.worker.heartbeat_ms
        self.stall_interval_ms = stall_interval_ms or defaults.stall_interval_ms
        self.missing_nodes: dict[tuple[str, int], int] = {}
        """Workflow nodes whose job the repair pass found gone, and when it first did: it
        fails their workflow only when they still are a stall interval later."""
        self.max_stalls = defaults.max_stalls if max_stalls is None else max_stalls
        self.retention = retention_limits(app.runtime.config.retention)
        _check_lock_ttls(tasks, self.heartbeat_ms)
        """How many finished jobs to keep ([retention]); the scripts that finish jobs trim."""
        self._concurrency = concurrency
        self._prefetch = prefetch
        self.engine: Engine
        self.plans: dict[str, TaskPlan] = {
            t.name: build_plan(t, app.registry.middleware, app.runtime.payloads) for t in tasks
        }
        """What each task's jobs go through (schemas, middleware, versioning, serializer),
        decided once here, not per job."""
        thread_slots = sum(self.concurrency_for(t) for t in tasks if not t.is_async)
        # a job inside plain middlewares holds a thread per middleware on top of its handler's
        middleware_threads = sum(
            self.concurrency_for(t) * self.plans[t.name].threads_per_job for t in tasks
        )
        self.stuck_limit = thread_slots
        """How many stuck threads (thread handlers that outlived their timeout: a thread cannot
        be stopped) the pool replaces with fresh ones; one more and the worker stops claiming
        thread jobs and reports itself unhealthy (``taskora work`` then exits, STUCK_EXIT)."""
        self.stuck = 0
        """Thread handlers running past their timeout now."""
        self.too_stuck = asyncio.Event()
        """Set while more than ``stuck_limit`` threads are stuck."""
        self.left_stuck = False
        """serve() stopped this worker because too many threads were stuck."""
        self._beat_now: asyncio.Task[None] | None = None
        self.executor = ThreadPoolExecutor(
            # threads are made on demand: the spare ones cost nothing until a handler sticks
            max_workers=max(4, thread_slots + middleware_threads) + self.stuck_limit,
            thread_name_prefix="taskora-job",
        )
        self.runners: list[TaskRunner] = []
        self._loops: list[asyncio.Task[None]] = []
        self._closing = asyncio.Event()
        self.on_start: Callable[[str, ClaimedJob], None] | None = None
        self.on_finish: Callable[[str, Outcome, bool], None] | None = None
        self.processed = 0
        self.failed = 0
        self.max_claims: int | None = None
        """Claim no more than this many jobs in all (``--max-jobs``); None for no limit."""
        self.claims = 0
        """Jobs claimed (or being claimed) and not handed back: what counts against
        ``max_claims``."""
        self.started_ms = 0
        settings = app.runtime.config.scheduler
        self.scheduler = (
            Scheduler(app, self.id, poll_ms=settings.poll_ms, lease_ms=settings.lease_ms)
            if settings.enabled
            else None
        )
        """Competes for the scheduler lease; the leader fires due schedules ([scheduler])."""
        self.paused_queues: set[str] = set()
        self.drain_requested = asyncio.Event()
        """Set when an operator asked this worker to drain (``taskora workers drain``)."""
        self.stops_on_drain = True
        """Whether a drain request stops this worker by itself (as ``stop()`` would); serve()
        turns it off, as it runs the drain itself and then ends the process."""
        self._draining: asyncio.Task[None] | None = None
        self.state = SimpleNamespace()
        """What the ``@app.on_startup`` hooks built; handlers read it as ``ctx.state``."""
        self._started_up = False

    # -- per-task settings -------------------------------------------------------------------

    def concurrency_for(self, task: Task) -> int:
        return task_slots(
            task, self.runtime.config, slots=self._slots, concurrency=self._concurrency
        )

    def retry_for(self, task: Task) -> Retry:
        if task.options.retry is not None:
            return task.options.retry
        d = self.runtime.config.defaults.retry
        if d.attempts <= 1:
            return NO_RETRY
        max_delay = None if d.max_delay_ms is None else d.max_delay_ms / 1000
        backoff: Any = d.backoff
        return Retry(d.attempts, backoff, d.delay_ms / 1000, max_delay, d.jitter)

    def timeout_ms_for(self, task: Task) -> int:
        return task.options.timeout_ms or self.runtime.config.defaults.timeout_ms

    def lock_ttl_ms_for(self, task: Task) -> int:
        stall = task.options.stall
        return stall.lock_ttl_ms if stall and stall.lock_ttl_ms else self.lock_ttl_ms

    def max_stalls_for(self, task: Task) -> int:
        stall = task.options.stall
        return stall.max_stalls if stall and stall.max_stalls is not None else self.max_stalls

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Run the start-up hooks, connect, then start claiming and the background loops.

        What the first claim waits for goes out at once, not one round trip after another:
        the task records, the contracts, this worker's orders, the cancel subscription and
        the event streams' ends. The registry record and the scheduler start once the first
        claim is on the wire; ``worker:ready`` (and the log line) follows them all.
        """
        if not self._started_up:  # once per worker, before any job can read ctx.state
            await start_up(self.registry.on_startup, self.state)
            self._started_up = True
        self.engine = await self.runtime.engine()
        self._closing.clear()
        loop = asyncio.get_running_loop()
        for task in self.tasks:
            concurrency = self.concurrency_for(task)
            runner = TaskRunner(self, task, concurrency, self._prefetch, self.plans[task.name])
            self.runners.append(runner)
        from ..contract import publish_contracts  # producers elsewhere dispatch by name with them

        # the round trips first (in this order they are sent), then the listeners, whose
        # connections cost CPU while those are on the wire
        records = [
            loop.create_task(call)
            for call in (
                self.engine.register_tasks({t.name: t.options.queue for t in self.tasks}),
                self._obey(),  # a queue paused before this worker started stays paused
                publish_contracts(self.engine, self.tasks, self.runtime.clock()),
            )
        ]
        subscribed, following = asyncio.Event(), asyncio.Event()
        background = [
            loop.create_task(
                listen_for_cancels(
                    self.engine.node_urls,
                    [self.engine.keys(t.name) for t in self.tasks],
                    self.cancel_job,
                    self._closing,
                    subscribed,
                )
            )
        ]
        if not self.runtime.follows_for_listeners:
            # follow the event streams before claiming: no event is missed; with no job
            # listener yet, it idles until one is added
            from ..views.job_events import deliver

            background.append(loop.create_task(deliver(self, self._closing, following)))
        else:
            following.set()
        try:
            await _together(*records, _listening(subscribed, following))
        except BaseException:  # no listener left behind by a start that failed
            self._closing.set()
            for follower in background:
                follower.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            raise
        for runner in self.runners:
            runner.start()
        self.started_ms = self.runtime.clock()
        self._loops = background
        try:
            await _together(
                self._register(), *([self.scheduler.start()] if self.scheduler is not None else [])
            )
        except BaseException:
            # The runners claim already: stop them (their jobs go back), the listeners and the
            # start-up hooks' resources, or a start that raised would leave a worker running
            # that nobody holds.
            await self.stop(0)
            raise
        self._loops = [
            loop.create_task(self._every(self.heartbeat_ms, self._heartbeat)),
            loop.create_task(self._every(self.stall_interval_ms, self.sweep_stalled, at_once=True)),
            loop.create_task(self._every(CONTROL_MS, self._obey)),
            *background,
        ]
        log.info(
            "taskora: worker %s started for %s", self.id, ", ".join(t.name for t in self.tasks)
        )
        await self._notify("worker:ready")

    async def _notify(self, name: str, error: BaseException | None = None) -> None:
        """Call the app's listeners of a worker event ("worker:ready", ...), if any."""
        if self.runtime.listeners.for_worker(name):
            from ..views.job_events import notify_worker

            await notify_worker(self.runtime.listeners, name, self.id, error)

    def busy(self) -> bool:
        """Whether this worker holds any job (running, buffered, or waiting to be settled)."""
        return any(runner.held or runner.in_flight or runner.advancing for runner in self.runners)

    async def drained(self) -> bool:
        """True when this worker holds nothing and none of its tasks has a job ready to claim."""
        if self.busy():
            return False
        now = self.runtime.clock()
        for runner in self.runners:
            if runner.paused:  # its ready jobs cannot run now; --burst leaves them
                continue
            if await self.engine.ready_count(runner.task.name, now):
                return False
        return not self.busy()

    async def run_due(self) -> None:
        """Claim and run every job due by the clock now, and the jobs those dispatch, then
        return once this worker holds none and none is ready: the test toolkit steps a
        virtual clock with this (a worker otherwise waits for due jobs on its own)."""
        spins = 0
        while True:
            for runner in self.runners:
                runner.resume_claiming()
            while self.busy():
                # yield at once while jobs move fast; past that, let thread handlers have the GIL
                spins += 1
                await asyncio.sleep(0 if spins < IDLE_SPINS else 0.001)
            if await self.drained():
                return

    async def stop(self, grace_ms: int = 30_000) -> None:
        """Stop claiming; let running jobs finish within ``grace_ms``; hand back the rest."""
        draining = self._draining
        if draining is not None and draining is not asyncio.current_task():
            await draining  # a drain request is stopping it already: wait for that stop
            return
        await self._notify("worker:closing")
        await asyncio.gather(*(r.stop(grace_ms / 1000) for r in self.runners))
        if self.scheduler is not None:  # after the runners: stopping them must not wait on it
            await self.scheduler.stop()
        # The loops also watch this flag: a cancel can be swallowed below us (on Python 3.11,
        # asyncio.wait_for inside redis-py drops one that lands as its write completes), and a
        # loop that lived on would keep its thread, and the process, from ever ending.
        self._closing.set()
        for task in self._loops:
            task.cancel()
        # gather, not `suppress(CancelledError)`: a cancel of stop() itself must not be swallowed
        await asyncio.gather(*self._loops, return_exceptions=True)
        if self._started_up:  # the jobs are done or handed back: take the shared state down
            self._started_up = False
            await shut_down(self.registry.on_shutdown, self.state)
        self.executor.shutdown(wait=False, cancel_futures=True)

        # Bounded: with the server gone the stop must not wait; the record is reaped once old.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(0.5):
                await self.engine.workers.remove(self.id)
        await self.runtime.aclose()
        log.info("taskora: worker %s stopped", self.id)

    async def _every(
        self, period_ms: int, tick: Callable[[], Coroutine[Any, Any, None]], at_once: bool = False
    ) -> None:
        if not at_once:
            await self._pause(period_ms)
        while not self._closing.is_set():
            try:
                await tick()
            except Exception as exc:
                log.warning("taskora: background tick failed: %s", exc)
                await self._notify("worker:error", exc)
            await self._pause(period_ms)

    async def _pause(self, period_ms: int) -> None:
        """Wait ``period_ms``, or until the worker stops."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(period_ms / 1000):
                await self._closing.wait()

    async def _register(self) -> None:
        """Write this worker's registry record and beat (one round trip)."""

        fields: dict[str, str | int] = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "tasks": ",".join(t.name for t in self.tasks),
            "queues": ",".join(sorted({t.options.queue for t in self.tasks})),
            "slots": sum(r.concurrency for r in self.runners),
            "active": sum(len(r.held) for r in self.runners),
            "processed": self.processed,
            "failed": self.failed,
            "started_ms": self.started_ms,
            "heartbeat_ms": self.heartbeat_ms,
            "stuck": self.stuck,
            "stuck_limit": self.stuck_limit,
        }
        await self.engine.workers.beat(self.id, fields, self.runtime.clock())

    async def _obey(self) -> None:
        """Read this worker's orders and apply them: pause runners, begin a drain."""
        paused, drain = await self.engine.control.worker_orders(self.id)
        if paused != self.paused_queues:
            for queue in sorted(paused - self.paused_queues):
                log.info("taskora: queue %s paused; claiming none of its jobs", queue)
            for queue in sorted(self.paused_queues - paused):
                log.info("taskora: queue %s resumed", queue)
            self.paused_queues = paused
        for runner in self.runners:
            runner.set_paused(drain or runner.task.options.queue in paused)
        if drain and not self.drain_requested.is_set():
            log.warning("taskora: asked to drain; finishing the running jobs, then exiting")
            self.drain_requested.set()
            if self.stops_on_drain:  # a task of its own: stop() cancels this very loop
                grace = self.runtime.config.worker.grace_ms
                self._draining = asyncio.get_running_loop().create_task(self.stop(grace))

    async def _heartbeat(self) -> None:
        await self._register()
        for runner in self.runners:
            held = list(runner.held.items())
            flags = await self.engine.extend_locks(
                runner.task.name, held, self.runtime.clock(), runner.lock_ttl_ms
            )
            for (job_id, token), kept in zip(held, flags, strict=True):
                if not kept and runner.held.get(job_id) != token:
                    continue  # settled while this heartbeat was on the wire: its lock is gone
                if not kept:
                    log.warning("taskora: lost the lock of job %s; another worker owns it", job_id)
                    runner.lost(job_id)
                elif kept == 2:  # asked to cancel, and the cancel channel's message was missed
                    runner.cancel_job(job_id)

    async def sweep_stalled(self) -> None:
        """Recover the jobs of workers that stopped beating, and recover or fail the jobs
        whose lock ran out, as of the clock now (the worker does this every stall interval;
        the test toolkit at each step of its virtual clock)."""
        # gone workers' jobs: recover them now (never our own: we are sweeping, so alive)
        reaped = await reap_workers(self.runtime, frozenset([self.id]))
        for worker_id, held in reaped.items():
            log.warning("taskora: worker %s stopped beating; %d of its jobs went back to the "
                        "queue", worker_id, held)  # fmt: skip
        for runner in self.runners:
            result = await self.engine.stall_sweep(
                runner.task.name,
                self.runtime.clock(),
                self.stall_interval_ms,
                self.max_stalls_for(runner.task),
                retention=self.retention,
            )
            if result and (result.recovered or result.failed):
                log.warning(
                    "taskora: %s: %d stalled jobs recovered, %d failed",
                    runner.task.name,
                    result.recovered,
                    result.failed,
                )
        await repair_workflows_turn(self, self.stall_interval_ms, self.missing_nodes)

    # -- per job -----------------------------------------------------------------------------

    def note_stuck(self, thread: Future[Any]) -> None:
        """A thread handler outlived its timeout and runs on: count it until it ends."""
        self.stuck += 1
        loop = asyncio.get_running_loop()
        if self.stuck > self.stuck_limit and not self.too_stuck.is_set():
            log.error(
                "taskora: %d thread handlers are stuck past their timeout (at most %d are "
                "replaced); claiming no more thread jobs until they end",
                self.stuck,
                self.stuck_limit,
            )
            self.too_stuck.set()
            self._beat_now = loop.create_task(self._beat_soon())  # `workers ls` shows it now

        def ended(_: Future[Any]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: so is the count
                loop.call_soon_threadsafe(self._unstuck)

        thread.add_done_callback(ended)

    def _unstuck(self) -> None:
        self.stuck -= 1
        if self.stuck <= self.stuck_limit and self.too_stuck.is_set():
            log.warning("taskora: stuck thread handlers ended; claiming again")
            self.too_stuck.clear()
            for runner in self.runners:
                runner.resume_claiming()

    async def _beat_soon(self) -> None:
        with contextlib.suppress(Exception):  # the next heartbeat tries again
            await self._register()

    def reserve_claims(self, want: int) -> int:
        """How many of ``want`` jobs a runner may claim now (``max_claims`` bounds the sum over
        every runner); the reservation counts at once, so two runners cannot both take it."""
        if self.max_claims is not None:
            want = max(0, min(want, self.max_claims - self.claims))
        self.claims += want
        return want

    def unclaim(self, count: int) -> None:
        """``count`` reserved or held jobs were not claimed after all, or went back: they no
        longer count against ``max_claims``."""
        self.claims -= count
        if count > 0 and self.max_claims is not None:
            for runner in self.runners:
                if runner.at_limit:  # it waits for exactly this, claiming nothing meanwhile
                    runner.resume_claiming()

    def cancel_job(self, task: str, job_id: str) -> None:
        """A job of ``task`` was asked to cancel: stop it if this worker holds it."""
        for runner in self.runners:
            if runner.task.name == task and job_id in runner.held:
                runner.cancel_job(job_id)

    def report(self, task: str, outcome: Outcome, settled: bool) -> None:
        self.processed += 1
        self.failed += not outcome.ok
        if self.on_finish is not None:
            self.on_finish(task, outcome, settled)
        elif not outcome.ok and not self.runtime.listeners.own(task, "failed"):
            # the default error log, with the attempt's traceback once; a task with a "failed"
            # listener of its own reports its failures itself
            action = "will retry" if outcome.retry_at_ms is not None else "failed for good"
            log.warning(
                "taskora: %s job %s attempt %d %s: %s",
                task,
                outcome.job.id,
                outcome.job.attempt,
                action,
                outcome.error_summary,
                exc_info=outcome.exception,
            )


def _check_lock_ttls(tasks: list[Task], heartbeat_ms: int) -> None:
    """Refuse a task whose own lock TTL the heartbeat cannot renew in time."""
    for task in tasks:
        stall = task.options.stall
        if stall and stall.lock_ttl_ms and stall.lock_ttl_ms <= heartbeat_ms:
            raise UsageError(
                f"task {task.name!r}: stall lock_ttl ({stall.lock_ttl_ms}ms) must be longer "
                f"than the worker heartbeat ({heartbeat_ms}ms) that renews it"
            )


async def _listening(subscribed: asyncio.Event, following: asyncio.Event) -> None:
    """Wait until the cancel channel is subscribed and the event streams' ends are known."""
    with contextlib.suppress(TimeoutError):  # a slow server: start anyway; heartbeats tell
        async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
            await subscribed.wait()
            await following.wait()


async def _together(*calls: Coroutine[Any, Any, Any] | asyncio.Future[Any]) -> None:
    """Run ``calls`` at once (their round trips share the wire); a failure cancels the
    others and is raised as it is (not wrapped in a group, as a TaskGroup's would be)."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()  # only those still running: a stop, or another's failure
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error
