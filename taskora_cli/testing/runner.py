"""TaskRunner: a test's own server, worker and virtual clock, driving the real engine.

Every job goes the production path: dispatch, the claim, ack and fail scripts, retries with
their backoff, schedules, collect flushes, debounces and TTLs. Time is the runner's virtual
clock, and the runner moves it from one due time to the next, so an hour of backoff costs
nothing and nothing sleeps. The worker is a real Worker on the app's background loop; the
runner asks it to run what is due (``Worker.run_due``) rather than waiting for it to notice.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..durations import Duration, to_ms
from ..errors import UsageError
from ..handle import JobHandle, outcome
from ..job_state import LISTED_STATES, TERMINAL_STATES
from ..views.inspector import JobInfo, Timeline
from .clock import VirtualClock
from .server import empty_private_server, private_server

if TYPE_CHECKING:
    from ..engine.engine import Engine
    from ..remote_error import RemoteError
    from ..task import Task
    from ..task_registry import Parts
    from ..worker.execute import Outcome
    from ..worker.pool import Worker

MAX_STEPS = 10_000
"""Due times one call steps through at most: more means a job that never settles (a schedule
firing for ever while the job waits on something that never comes)."""
JOBS_PER_STATE = 10_000
"""How many jobs of each task and state ``jobs`` lists at most."""


@dataclass(frozen=True)
class Execution:
    """How one job went, end to end.

    Attributes:
        job_id: the job's id.
        state: "completed", "failed", "cancelled", "expired"; or "waiting"/"delayed" when it
            could not finish (a paused queue, a limit that never frees).
        result: the handler's return value (decoded), None unless completed.
        error: the stored error of the outcome (type, message, traceback), None if completed.
        exception: the handler's own exception from its last failed attempt, if one ran here.
        attempts: how many attempts ran.
        logs: the entries of ``ctx.log``, oldest first.
        progress: the last ``ctx.progress`` value.
        timeline: dispatched, started, finished (virtual time).
        info: everything stored about the job.
    """

    job_id: str
    state: str
    result: Any
    error: RemoteError | None
    exception: BaseException | None
    attempts: int
    logs: list[dict[str, Any]]
    progress: Any
    timeline: Timeline
    info: JobInfo

    @property
    def ok(self) -> bool:
        """True when the job completed."""
        return self.state == "completed"


@dataclass(frozen=True)
class Step:
    """One node of a workflow, as it stands.

    Attributes:
        workflow_id: the workflow's id.
        node_index: the node's place in the flattened graph (0 is the first dispatched).
        task: the node's task name.
        state: its job's state, or ``pending`` while the nodes it depends on are not done
            (its job does not exist yet).
        job_id: its job's id.
    """

    workflow_id: str
    node_index: int
    task: str
    state: str
    job_id: str


class TaskRunner:
    """Runs an app's tasks for a test, on the real engine and a virtual clock.

    The app is pointed at the runner's server for the runner's life (whatever the
    configuration or environment says) and its clock is the runner's :attr:`clock`; ``close``
    undoes both. Use one runner per test (the ``taskora_runner`` fixture does).

    Args:
        app: the app (default: the default app, which ``@task`` registers on).
        url: a server to use instead of the private one; the runner then keeps to a key
            prefix of its own and removes its keys on close. Without it, the process's private
            embedded server is used (started once, emptied for each runner).
        start: the virtual clock's start (an aware datetime, or epoch ms); default: now.
    """

    def __init__(
        self,
        app: Parts | None = None,
        url: str | None = None,
        *,
        start: datetime | int | None = None,
    ) -> None:
        if app is None:
            from .. import default_app

            app = default_app()
        self.app = app
        self.clock = VirtualClock(start)
        """The time the app and the scripts see; :meth:`advance` moves it."""
        self._url = url
        if url is None:
            server = private_server()
            empty_private_server()
            prefix = app.runtime.prefix
        else:
            server, prefix = url, f"test-{secrets.token_hex(6)}"
        self.prefix = prefix
        self._undo = app.runtime.redirect(server, prefix, self.clock)
        self._worker: Worker | None = None
        self._last: dict[str, Outcome] = {}

    # -- the blocking API --------------------------------------------------------------------

    def run(self, task: Task | str, data: Any = None, **options: Any) -> Any:
        """Run one job to its end (retries included) and return its result.

        Raises:
            Exception: the handler's own exception when the job failed (from its last
                attempt), or the error that says how it ended (CancelledError, ...).
        """
        execution = self.execute(task, data, **options)
        if execution.state == "failed" and execution.exception is not None:
            raise execution.exception
        return self.app.runtime.call(self._outcome(execution))

    def execute(self, task: Task | str, data: Any = None, **options: Any) -> Execution:
        """Dispatch a job (with the dispatch ``options``: delay, ttl, priority, ...) and run
        it to its end, moving the clock through every delay and running whatever it
        dispatches too. The job's errors are not raised: see ``state`` and ``error``. A
        duplicate (``deduplicate=``) follows the job it joined.

        Raises:
            UsageError: the dispatch was rejected (throttled), so there is no job to run.
        """
        return self.app.runtime.call(self._execute(self._task(task), data, options))

    def dispatch(self, task: Task | str, data: Any = None, **options: Any) -> JobHandle:
        """Dispatch a job without running it (see :meth:`process_all` and :meth:`advance`)."""
        return self._task(task).dispatch(data, **options)

    def process_all(self) -> None:
        """Run every job due now, and what those dispatch, without moving the clock."""
        self.app.runtime.call(self._step())

    def advance(self, duration: Duration) -> None:
        """Move the clock forward by ``duration`` ("5m", seconds), stopping at each due time
        on the way (delayed jobs and retries, schedules, collect flushes, debounces, TTLs) to
        run what is due then, as a worker and scheduler running all along would have."""
        target = self.clock() + to_ms(duration, what="advance")
        self.app.runtime.call(self._advance_to(target))

    def flush(self, task: Task | str, key: str) -> Execution | None:
        """Flush ``task``'s collect buffer ``key`` now, without moving the clock, and run the
        batch; returns its job's Execution, or None when the buffer was empty."""
        return self.app.runtime.call(self._flush(self._task(task), key))

    def job(self, handle: JobHandle) -> Execution:
        """How the job of ``handle`` stands now (nothing is run)."""
        return self.app.runtime.call(self._execution(handle.task, handle.existing_id or handle.id))

    @property
    def jobs(self) -> list[JobInfo]:
        """Every job of the app's tasks with its state, task by task, in state order."""
        return self.app.runtime.call(self._jobs())

    @property
    def steps(self) -> list[Step]:
        """Every node of every workflow dispatched in this test, oldest workflow first, each
        workflow's nodes in order, with its job's state."""
        return self.app.runtime.call(self._steps())

    def close(self) -> None:
        """Stop the worker, disconnect, and give the app back its server and clock."""
        runtime = self.app.runtime
        try:
            if self._worker is not None:
                runtime.call(self._worker.stop(0))
                self._worker = None
            if self._url is not None:
                runtime.call(self._remove_keys())
        finally:
            runtime.close()
            self._undo()

    def __enter__(self) -> TaskRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- on the app's loop -------------------------------------------------------------------

    def _task(self, task: Task | str) -> Task:
        return self.app.registry.get(task) if isinstance(task, str) else task

    async def _engine(self) -> Engine:
        return await self.app.runtime.engine()

    async def _running_worker(self) -> Worker:
        """The runner's worker, for every task the app has now (made again when tasks were
        registered since: a worker serves the tasks it started with)."""
        tasks = self.app.registry.to_run(None)
        names = {t.name for t in tasks}
        worker = self._worker
        if worker is not None and {t.name for t in worker.tasks} == names:
            return worker
        if worker is not None:
            await worker.stop(0)
        from ..worker.pool import Worker

        worker = Worker(self.app, tasks, worker_id=f"test-runner:{secrets.token_hex(3)}")
        worker.on_finish = self._finished
        await worker.start()
        self._worker = worker
        return worker

    def _finished(self, task: str, result: Outcome, settled: bool) -> None:
        self._last[result.job.id] = result

    async def _step(self) -> None:
        """Fire the schedules due now, recover stalled jobs, then run every job due now."""
        worker = await self._running_worker()
        await worker.sweep_stalled()
        if worker.scheduler is not None:
            await worker.scheduler.tick(self.clock())
        await worker.run_due()

    async def _next_due(self) -> int | None:
        names = [t.name for t in self.app.registry.to_run(None)]
        return await (await self._engine()).next_due(names)

    async def _advance_to(self, target: int) -> None:
        for _ in range(MAX_STEPS):
            await self._step()
            due = await self._next_due()
            if due is None or due > target or due <= self.clock():
                break  # nothing due before the target, or due and still waiting (a limit)
            self.clock.set(due)
        else:
            raise UsageError(f"advance stepped through {MAX_STEPS} due times; is a job stuck?")
        if self.clock() < target:
            self.clock.set(target)
            await self._step()

    async def _execute(self, task: Task, data: Any, options: dict[str, Any]) -> Execution:
        handle = await task.adispatch(data, **options)
        if not handle.enqueued and handle.existing_id is None:
            raise UsageError(f"the dispatch of {task.name!r} was not enqueued: {handle.reason}")
        job_id = handle.existing_id or handle.id  # a duplicate follows the job it joined
        for _ in range(MAX_STEPS):
            await self._step()
            # The engine is asked for after the step, never kept across it: a step that makes
            # the worker again (tasks registered since) stops the old one, which closes the
            # loop's engine, and a read on a closed engine's client opens a connection that
            # nothing closes any more (found unclosed when the loop is gone).
            engine = await self._engine()
            if await engine.job_state(task.name, job_id) in TERMINAL_STATES:
                break
            due = await self._next_due()
            if due is None or due <= self.clock():
                break  # it waits on something no time brings (a paused queue, a limit)
            self.clock.set(due)
        else:
            raise UsageError(f"job {job_id} did not settle within {MAX_STEPS} due times")
        return await self._execution(task.name, job_id)

    async def _flush(self, task: Task, key: str) -> Execution | None:
        if task.options.collect is None:
            raise UsageError(f"task {task.name!r} has no collect option: nothing to flush")
        job_id = await (await self._engine()).flow.collect_flush(task.name, key, self.clock())
        if job_id is None:
            return None
        await self._step()
        return await self._execution(task.name, job_id)

    async def _execution(self, task: str, job_id: str) -> Execution:
        engine = await self._engine()
        record = await engine.job(task, job_id)
        if record is None:
            raise UsageError(f"job {job_id} of task {task!r} does not exist")
        info = JobInfo.from_record(
            record, await engine.job_logs(task, job_id), self.app.runtime.payloads
        )
        last = self._last.get(job_id)
        return Execution(
            job_id=job_id,
            state=info.state,
            result=info.result if info.state == "completed" else None,
            error=info.outcome_error,
            exception=last.exception if last is not None and not last.ok else None,
            attempts=info.attempt,
            logs=info.logs,
            progress=info.progress,
            timeline=info.timeline,
            info=info,
        )

    async def _outcome(self, execution: Execution) -> Any:
        engine = await self._engine()
        task = execution.info.task
        record = await engine.job(task, execution.job_id)
        return outcome(task, execution.job_id, record, self.app.runtime.payloads)

    async def _jobs(self) -> list[JobInfo]:
        from ..views.inspector import Inspector

        inspector = Inspector(self.app)
        found: list[JobInfo] = []
        for task in self.app.registry.to_run(None):
            for state in LISTED_STATES:
                found += await inspector.ajobs(task.name, state, limit=JOBS_PER_STATE)
        return found

    async def _steps(self) -> list[Step]:
        from ..views.workflows import Workflows

        view = Workflows(self.app)
        steps: list[Step] = []
        for listed in sorted(await view.alist(), key=lambda info: info.created_ms):
            info = await view.aget(listed.id)
            if info is not None:  # else trimmed between the two reads
                steps += [Step(info.id, n.index, n.task, n.state, n.job_id) for n in info.nodes]
        return steps

    async def _remove_keys(self) -> None:
        await (await self._engine()).delete_prefix()
