"""Launch a worker: the one way ``taskora work`` and ``Taskora.run_worker`` start one.

``run(app, WorkOptions(...))`` checks the options and sizes, picks the tasks and their slots,
then either serves them in this process until a signal (or ``burst``/``max_jobs``) stops it, or
supervises ``processes`` child processes (``taskora work`` children with the same options).
Front ends add what is theirs through ``WorkHooks``: the CLI its banner, job log and summary.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..durations import Duration, to_ms
from ..errors import UsageError
from .limits import check_processes, check_slots

if TYPE_CHECKING:
    from ..config import Config
    from ..task import Task
    from ..task_registry import Parts
    from .pool import Worker

log = logging.getLogger("taskora.worker")


def _log_warning(text: str) -> None:
    log.warning("taskora: warning: %s", text)


@dataclass(frozen=True)
class WorkOptions:
    """How to run a worker; None (or empty) takes the app's config ([worker]).

    Attributes:
        tasks: the task names to serve (default: every task with a handler here).
        queues: serve only the tasks of these queues; a number gives each of them that many
            slots (``--queue NAME=N``). None: [worker.queues]; empty: every queue.
        concurrency: jobs of each task one process runs at once, also of tasks that set
            their own ``concurrency=`` (what the operator asks for wins over the code's
            default; ``--queue NAME=N`` still wins over it). None: the task's own, else
            [worker] concurrency, else [defaults] concurrency.
        processes: worker processes; more than one (or ``reload``) supervises children that
            run ``taskora work`` with these options. None: [worker] processes.
        grace: on the first SIGTERM/SIGINT, how long running jobs may finish before they go
            back to the queue. None: [worker] grace.
        burst: run the jobs that are ready, then stop.
        max_jobs: run this many jobs (claiming no more), then stop.
        reload: restart the children when a task module or the config changes.
        force: start more processes or concurrency than the caps (see worker/limits.py).
        worker_id: set by a supervisor for its children: this child's worker id.
        supervisor_pid: set by a supervisor for its children: stop when it is gone.
    """

    tasks: tuple[str, ...] = ()
    queues: Mapping[str, int | None] | None = None
    concurrency: int | None = None
    processes: int | None = None
    grace: Duration | None = None
    burst: bool = False
    max_jobs: int | None = None
    reload: bool = False
    force: bool = False
    worker_id: str | None = None
    supervisor_pid: int | None = None

    def __post_init__(self) -> None:
        tasks: object = self.tasks
        if isinstance(tasks, str) or not isinstance(tasks, Iterable):
            raise UsageError(f"tasks must be a list of task names, got {tasks!r}")
        object.__setattr__(self, "tasks", tuple(tasks))
        for name in ("concurrency", "processes", "max_jobs", "supervisor_pid"):
            _check_count(name, getattr(self, name))
        for queue, slots in (self.queues or {}).items():
            if not isinstance(queue, str) or not queue:
                raise UsageError(f"queues: a queue name must be a non-empty str, got {queue!r}")
            _check_count(f"queues[{queue!r}]", slots)
        if self.grace is not None:
            to_ms(self.grace, what="grace")

    @property
    def child(self) -> bool:
        """Whether this process is a supervisor's child."""
        return self.worker_id is not None


@dataclass(frozen=True)
class WorkPlan:
    """What a launch is about to run, resolved from its options and the app's config.

    Attributes:
        tasks: the tasks served.
        slots: task name -> jobs of it one process runs at once.
        processes: how many worker processes (1: this one).
        grace_ms: the drain's grace.
        reload: whether the children restart when files change.
    """

    tasks: tuple[Task, ...]
    slots: Mapping[str, int]
    processes: int
    grace_ms: int
    reload: bool


@dataclass(frozen=True)
class WorkHooks:
    """What a front end adds to a launch (the CLI: its banner, job log and --json summary).

    Attributes:
        warn: says a size is unwise (more processes than CPUs); default: a log warning.
        ready: connected, about to start serving or the children (not in a child).
        serving: the worker is built, not started (attach its on_start/on_finish here).
        finished: the worker stopped; called before the process may leave at once.
        child_args: more arguments for ``taskora work`` children (e.g. ``--log-format``).
    """

    warn: Callable[[str], None] = _log_warning
    ready: Callable[[WorkPlan], None] | None = None
    serving: Callable[[Worker], None] | None = None
    finished: Callable[[Worker], None] | None = None
    child_args: tuple[str, ...] = ()


def run(app: Parts, options: WorkOptions, hooks: WorkHooks | None = None) -> int:
    """Run a worker for ``app`` as ``options`` say, blocking until it stops.

    The first SIGTERM/SIGINT drains (running jobs get ``grace``), a second stops at once;
    nothing is lost either way. If handler threads still run at the end (a thread cannot be
    stopped; their jobs are back in the queue already), the process exits at once with the
    code rather than wait for them.

    Returns:
        The exit code: 0; STUCK_EXIT (5) when too many thread handlers were stuck; in a child,
        DRAINED_EXIT (4) when an operator drained it; a supervisor's children's verdict.

    Raises:
        UsageError: options past the caps (without ``force``), unknown tasks or queues, or
            no task to serve; before anything connects or starts.
    """
    hooks = hooks or WorkHooks()
    app.runtime.follow_in_background = False  # its workers call the listeners themselves
    config = app.runtime.config
    processes = options.processes or config.worker.processes
    if not options.child:  # a supervised child: its supervisor checked (and warned) already
        warning = check_processes(processes, force=options.force)
        if warning:
            hooks.warn(warning)
    plan = _plan(app, options, processes)
    if not options.child and (processes > 1 or options.reload):
        return _supervise(app, options, plan, hooks)
    return _serve(app, options, plan, hooks)


def _check_count(name: str, value: object) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise UsageError(f"{name} must be an int >= 1, got {value!r}")


def _plan(app: Parts, options: WorkOptions, processes: int) -> WorkPlan:
    from .pool import task_slots

    config = app.runtime.config
    queues = dict(config.worker.queues if options.queues is None else options.queues)
    tasks = app.registry.to_run(options.tasks)
    if not tasks:
        raise UsageError("no tasks to run: register tasks or import the task modules first")
    given: dict[str, int] = {}
    if queues:
        known = sorted({t.options.queue for t in app.registry.tasks.values()})
        unknown = [q for q in queues if q not in known]
        if unknown:
            raise UsageError(
                f"unknown queue {unknown[0]!r}; the tasks' queues are: {', '.join(known)}"
            )
        tasks = [t for t in tasks if t.options.queue in queues]
        if not tasks:
            raise UsageError("no task matches both --task and --queue")
        given = {t.name: n for t in tasks if (n := queues[t.options.queue]) is not None}
    slots = {
        t.name: task_slots(t, config, slots=given, concurrency=options.concurrency) for t in tasks
    }
    if not options.child:  # its supervisor checked (children are not given --force)
        check_slots(slots, force=options.force)
    grace_ms = config.worker.grace_ms if options.grace is None else to_ms(options.grace)
    return WorkPlan(tuple(tasks), slots, processes, grace_ms, options.reload)


def _serve(app: Parts, options: WorkOptions, plan: WorkPlan, hooks: WorkHooks) -> int:
    from .pool import Worker
    from .serve import StopWhen, exit_if_threads_linger, serve
    from .supervisor import DRAINED_EXIT, STUCK_EXIT

    worker = Worker(
        app, list(plan.tasks), concurrency=options.concurrency, slots=dict(plan.slots),
        worker_id=options.worker_id,
    )  # fmt: skip
    if hooks.serving is not None:
        hooks.serving(worker)
    when = StopWhen(options.burst, options.max_jobs, options.supervisor_pid)

    async def go() -> bool:
        await app.runtime.engine()  # unreachable: the one error, not a banner and then it
        if hooks.ready is not None and not options.child:
            hooks.ready(plan)
        return await serve(worker, plan.grace_ms, when)

    abandoned = asyncio.run(go())
    if hooks.finished is not None:
        hooks.finished(worker)
    # drained by an operator: a supervisor must not restart this child; alone, that is success
    code = DRAINED_EXIT if options.child and worker.drain_requested.is_set() else 0
    if worker.left_stuck:
        code = STUCK_EXIT  # a supervisor (or systemd) starts a fresh process: fresh threads
    exit_if_threads_linger(worker, abandoned, code)
    return code


def _supervise(app: Parts, options: WorkOptions, plan: WorkPlan, hooks: WorkHooks) -> int:
    from ..views.worker_registry import release_worker
    from .supervisor import Supervisor

    config = app.runtime.config
    names = [t.name for t in plan.tasks]

    async def recover(worker_id: str) -> int:
        return await release_worker(app.runtime, worker_id, names)

    async def go() -> int:
        await app.runtime.engine()  # reach the server (or start the embedded one) first
        if hooks.ready is not None:  # after: an unreachable server is one line, no banner
            hooks.ready(plan)
        try:
            supervisor = Supervisor(
                child_command(options, config, hooks.child_args),
                plan.processes,
                recover,
                restart_clean_exits=not options.burst,
                watch=_watched(config) if options.reload else None,
            )
            return await supervisor.run()
        finally:
            await app.runtime.aclose()

    return asyncio.run(go())


def child_command(options: WorkOptions, config: Config, extra: Iterable[str] = ()) -> list[str]:
    """The argv of a supervised child: ``taskora work`` with the options given explicitly
    (what the config says, the child reads from it itself, so --reload picks up its edits);
    the supervisor appends ``--worker-id`` and ``--supervisor-pid``."""
    args = list(extra)
    if config.path is not None:
        args += ["--config", str(config.path)]
    if options.concurrency is not None:
        args += ["--concurrency", str(options.concurrency)]
    for queue, slots in (options.queues or {}).items():
        args += ["--queue", queue if slots is None else f"{queue}={slots}"]
    for name in options.tasks:
        args += ["--task", name]
    if options.burst:
        args.append("--burst")
    if options.max_jobs is not None:
        args += ["--max-jobs", str(options.max_jobs)]
    if options.grace is not None:
        grace = options.grace
        args += ["--grace", grace if isinstance(grace, str) else f"{to_ms(grace)}ms"]
    # --app is a global option: it goes before the command
    app_flag = ["--app", config.app] if config.sources.get("app") == "flag" and config.app else []
    return [sys.executable, "-m", "taskora_cli", *app_flag, "work", *args]


def _watched(config: Config) -> list[Path]:
    paths = {config.root}
    if config.path is not None:
        paths.add(config.path.parent)
    return sorted(paths)
