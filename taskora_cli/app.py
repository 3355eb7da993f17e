"""Taskora: the app facade. It owns a Runtime (server, clock, connections) and a
TaskRegistry (tasks, declared schedules), and hands both to the views and the worker."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Config
from .contract import TaskContract
from .durations import Duration, to_ms
from .errors import JobNotFoundError, UsageError
from .flow import check_concurrency_options, parse_collect, parse_ttl
from .handle import JobHandle
from .listeners import Listener, parse_app_event, register
from .names import check_queue_name, check_task_name
from .retry import Retry
from .runtime import Clock, Runtime, system_clock
from .serialization import JSON, Serializer
from .task import DEFAULT_QUEUE, Handler, Task, TaskOptions, TtlOption, unimplemented
from .task_registry import TaskRegistry, check_middlewares, with_schemas
from .versioning import MigrateOption, Versioning

if TYPE_CHECKING:
    # Imported where used, so `import taskora_cli` (and `taskora --help`) skips redis.
    from .dead_letters import DeadLetters
    from .engine.engine import Engine
    from .inspector import Inspector
    from .listeners import Event
    from .middleware import Middleware
    from .queues import Queues
    from .schedule_spec import ScheduleSpec
    from .schedules import ScheduleManager
    from .worker.pool import Worker
    from .workers import WorkerInfo

__all__ = ["Clock", "Taskora", "default_app", "system_clock", "task"]


class Taskora:
    """An app: a registry of tasks bound to one server and key prefix.

    Args:
        url: the server (redis://, rediss://, unix://). None reads the configuration, and with
            no URL there either, starts (or reuses) the embedded Valkey server. TASKORA_URL
            overrides it; it overrides the config file's ``url``.
        prefix: a key prefix to share one server between apps; TASKORA_PREFIX overrides it,
            it overrides the config file's ``prefix``.
        config: a loaded Config, or a path to a TOML file; None discovers one.
        clock: epoch milliseconds; tests pass a virtual clock.
        serializer: how job data and results are encoded: "json" (the default), "msgpack"
            (``pip install 'taskora[msgspec]'``) or an object with ``name``, ``dumps`` and
            ``loads`` (see taskora_cli.serialization). Any reader decodes every format.
        validate_on_dispatch: check data against the task's ``input`` schema on dispatch
            (the worker always checks before the handler); ``skip_validation=True`` skips it
            for one dispatch.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        prefix: str | None = None,
        config: Config | str | Path | None = None,
        clock: Clock = system_clock,
        serializer: Serializer | str = JSON,
        validate_on_dispatch: bool = True,
    ) -> None:
        self.runtime = Runtime(
            url, prefix=prefix, config=config, clock=clock, serializer=serializer,
            validate_on_dispatch=validate_on_dispatch,
        )  # fmt: skip
        self.registry = TaskRegistry(self.runtime)

    # -- configuration -----------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        """Epoch milliseconds, as the app reads them (a virtual clock in tests)."""
        return self.runtime.clock

    @property
    def tasks(self) -> dict[str, Task]:
        """The tasks registered in this process, by name."""
        return self.registry.tasks

    @property
    def config(self) -> Config:
        """The effective configuration (discovered on first use)."""
        return self.runtime.config

    def configure(self, config: Config) -> None:
        """Replace the configuration; only before the app has connected."""
        self.runtime.configure(config)

    @property
    def prefix(self) -> str:
        """The key prefix in use (see :meth:`resolve_url` for which one wins)."""
        return self.runtime.prefix

    def resolve_url(self) -> str:
        """The server URL, starting the embedded server when none is configured.

        A flag or TASKORA_* variable beats the URL given to the constructor, which beats the
        config file: the deployment overrides the code, the code overrides the project's file
        (as celery's ``-b`` and CELERY_BROKER_URL beat ``Celery(broker=...)``).
        """
        return self.runtime.resolve_url()

    # -- tasks -------------------------------------------------------------------------------

    def task(
        self,
        name: str | None = None,
        *,
        retry: Retry | None = None,
        timeout: Duration | None = None,
        concurrency: int | None = None,
        queue: str = DEFAULT_QUEUE,
        on_cancel: Handler | None = None,
        ttl: TtlOption = None,
        singleton: bool = False,
        concurrency_limit: int | None = None,
        collect: Mapping[str, Any] | None = None,
        schedule: Mapping[str, Any] | None = None,
        input: Any = None,
        output: Any = None,
        middleware: Iterable[Middleware] = (),
        version: int | None = None,
        since: int | None = None,
        migrate: MigrateOption = None,
    ) -> Callable[[Handler], Task]:
        """Register the decorated function as a task.

        Args:
            name: the task name (default: the function's name, dashes for underscores).
            retry: the retry policy (default: the config's [defaults.retry]; 1 attempt).
            timeout: how long one attempt may run (default: [defaults] timeout, 30s).
            concurrency: jobs of this task one worker process runs at once.
            queue: the queue the task belongs to; ``taskora work --queue NAME`` serves only the
                tasks of that queue.
            on_cancel: called as ``on_cancel(data, ctx)`` (``async def`` or plain) when a job
                cancelled while it ran has stopped, before it is recorded ``cancelled``.
            ttl: how long a job may wait for its first start: "1h", or
                ``{"max": "1h", "on_expire": "fail" | "discard"}``; see :meth:`Task.dispatch`.
            singleton: at most one job of this task is active at a time across every worker;
                the others wait their turn.
            concurrency_limit: the default limit for dispatches that give a
                ``concurrency_key`` (default 1).
            collect: ``{"key": ..., "delay": "5s", "max_size": 100, "max_wait": "30s"}``:
                dispatches accumulate per key (a string, or a function of the data as stored:
                plain JSON values, a model already turned into them) and the
                handler receives a list of their data, flushed ``delay`` after the newest item,
                at ``max_size`` items or ``max_wait`` after the oldest, whichever comes first.
                Each dispatch's handle is the batch job it joined.
            schedule: run it on a schedule named after the task: ``{"every": "30s"}`` or
                ``{"cron": "0 9 * * MON-FRI", "timezone": "Europe/Berlin"}``, plus optional
                ``data``, ``on_missed`` and ``overlap`` (see :meth:`schedule`).
            input: the schema of a job's data: a pydantic model, a msgspec Struct, a
                dataclass, a TypedDict, or a function that returns the checked value or
                raises. Checked on dispatch and before the handler, which receives the checked
                value. Default: the annotation of the handler's ``data`` parameter, if it is
                one of those types.
            output: the schema of the handler's result, checked before it is stored. Default:
                the handler's return annotation, if it is one of those types.
            middleware: functions ``mw(ctx, call_next)`` (``async`` or plain) wrapped around
                this task's handler, inside the app's (see :meth:`use`).
            version: the payload version jobs are dispatched with (default 1).
            since: the oldest job version this task still runs (default 1); older ones fail
                with a clear error, never retried.
            migrate: ``{2: v1_to_v2, 3: v2_to_v3}`` (the key is the version a function
                produces) or a list of functions from ``since`` on: run in order on a job
                older than ``version`` before its data is checked.
        """
        _check_worker_options(retry, concurrency, on_cancel)
        check_queue_name(queue)
        check_concurrency_options(singleton, concurrency_limit)
        versioning = Versioning.build(version, since, migrate)
        middlewares = check_middlewares(middleware)
        options = TaskOptions(
            retry=retry,
            timeout_ms=None if timeout is None else to_ms(timeout, what="timeout"),
            concurrency=concurrency,
            queue=queue,
            on_cancel=on_cancel,
            ttl=parse_ttl(ttl),
            singleton=bool(singleton),
            concurrency_limit=concurrency_limit,
            collect=parse_collect(collect),
            middleware=middlewares,
            versioning=versioning,
        )

        def register(fn: Handler) -> Task:
            task_name = check_task_name(name or fn.__name__.replace("_", "-"))
            created = Task(self.runtime, task_name, fn, with_schemas(options, fn, input, output))
            if schedule is not None:
                from .schedule_spec import declare_inline

                self.registry.add(created)  # refuse a clash before declaring its schedule
                declare_inline(self.registry.schedules, task_name, schedule)
            return self.registry.add(created)

        if callable(name):  # used bare: @app.task
            fn, name = name, None
            return register(fn)
        return register

    def register(self, contract: TaskContract) -> Task:
        """A dispatchable task for ``contract``, in a producer that has no handler for it.

        Dispatches check data against the contract's ``input`` schema and carry its options
        and version stamp. Registering again returns the same task; if this process
        implements the contract later (:meth:`implement`), this same task object gets the
        handler, so references to it keep working.

        Raises:
            UsageError: the contract's ``input``/``output`` cannot be made a schema.
        """
        existing = self.registry.tasks.get(contract.name)
        if existing is not None:
            return existing
        options = contract.task_options()
        if contract.input is not None or contract.output is not None:
            from .schemas import schema_of

            options = replace(
                options, input=schema_of(contract.input), output=schema_of(contract.output)
            )
        return self.registry.add(Task(self.runtime, contract.name, unimplemented, options))

    def implement(
        self,
        contract: TaskContract,
        handler: Handler,
        *,
        concurrency: int | None = None,
        on_cancel: Handler | None = None,
        middleware: Iterable[Middleware] = (),
        retry: Retry | None = None,
        timeout: Duration | None = None,
        singleton: bool | None = None,
        concurrency_limit: int | None = None,
    ) -> Task:
        """Run ``contract``'s jobs with ``handler`` in this app's workers.

        The worker publishes the contract (with these options) when it starts, so processes
        without this code dispatch the task by name with them.

        Args:
            contract: the task's declaration (:func:`~taskora_cli.define_task`).
            handler: ``fn(data, ctx)`` or ``fn(data)``, ``async def`` or plain. With no
                ``input`` on the contract, its ``data`` annotation is the schema.
            concurrency: jobs of this task one worker process runs at once.
            on_cancel: called as ``on_cancel(data, ctx)`` after a cancelled job's handler
                stopped.
            middleware: functions ``mw(ctx, call_next)`` around this task's handler, inside
                the app's.
            retry: overrides the contract's retry policy.
            timeout: overrides the contract's timeout.
            singleton: overrides the contract's ``singleton``.
            concurrency_limit: overrides the contract's default concurrency limit.

        Returns:
            The task: the one :meth:`register` returned, if it was registered, now
            implemented.

        Raises:
            UsageError: the contract is already implemented here (or its name taken by an
                ``@app.task``), or a bad option.
        """
        if not callable(handler):
            raise UsageError(f"the handler of task {contract.name!r} must be callable")
        _check_worker_options(retry, concurrency, on_cancel)
        options = contract.task_options(concurrency=concurrency, on_cancel=on_cancel)
        chosen_singleton = options.singleton if singleton is None else bool(singleton)
        chosen_limit = options.concurrency_limit if concurrency_limit is None else concurrency_limit
        check_concurrency_options(chosen_singleton, chosen_limit)
        options = replace(
            options,
            retry=retry or options.retry,
            timeout_ms=options.timeout_ms if timeout is None else to_ms(timeout, what="timeout"),
            singleton=chosen_singleton,
            concurrency_limit=chosen_limit,
            middleware=check_middlewares(middleware),
        )
        options = with_schemas(options, handler, contract.input, contract.output)
        existing = self.registry.tasks.get(contract.name)
        if existing is None:
            return self.registry.add(Task(self.runtime, contract.name, handler, options))
        existing.implement(handler, options)
        return existing

    # -- schedules ---------------------------------------------------------------------------

    def schedule(
        self,
        name: str,
        *,
        task: str | Task,
        cron: str | None = None,
        every: Duration | None = None,
        data: Any = None,
        timezone: str | None = None,
        on_missed: str = "skip",
        overlap: bool = False,
    ) -> ScheduleSpec:
        """Declare a schedule; workers store it on the server when they start (declare it
        before, or store it now with ``app.schedules().register()``).

        Args:
            name: the schedule's name (letters, digits, ``_ . -``).
            task: the task to dispatch, by name or as the Task.
            cron: a cron expression: 5 fields, or 6 with a leading seconds field; day and
                month names work ("0 9 * * MON-FRI").
            every: a fixed interval ("30s", "1h"); fires never drift.
            data: the payload of every run.
            timezone: the IANA zone of ``cron`` (default UTC); DST changes neither skip nor
                double a run.
            on_missed: fires whose time passed while no scheduler ran: "skip" (default),
                "catch-up" (all, in order) or "catch-up-limit:N" (the newest N).
            overlap: False (default): a fire due while the previous run's job is unfinished
                is skipped, or under a catch-up policy waits until it ended (and is then
                replayed as that policy says).

        Raises:
            UsageError: a bad option, or a name declared twice.
        """
        from .schedule_spec import ScheduleSpec, declare

        spec = ScheduleSpec.build(
            task, cron=cron, every=every, data=data, timezone=timezone, on_missed=on_missed,
            overlap=overlap,
        )  # fmt: skip
        return declare(self.registry.schedules, name, spec)

    def declared_schedules(self) -> dict[str, ScheduleSpec]:
        """The schedules this app declares: in code, inline on tasks, and in the config's
        ``[schedules.NAME]`` tables.

        Raises:
            UsageError: a TOML schedule reuses a name declared in code.
        """
        return self.registry.declared_schedules()

    def schedules(self) -> ScheduleManager:
        """The server's schedules: ``list``, ``get``, ``pause``, ``resume``, ``trigger``,
        ``update``, ``remove``, ``upcoming``, with async twins."""
        from .schedules import ScheduleManager

        return ScheduleManager(self)

    def get_task(self, name: str) -> Task:
        """The task registered as ``name``.

        Raises:
            UnknownTaskError: no such task; the message lists the known ones.
        """
        return self.registry.get(name)

    def dispatch(self, name: str, data: Any = None, **options: Any) -> JobHandle:
        """Dispatch by task name (blocking); see :meth:`adispatch`."""
        return self.runtime.call(self.adispatch(name, data, **options))

    async def adispatch(self, name: str, data: Any = None, **options: Any) -> JobHandle:
        """Dispatch by task name; see :meth:`Task.adispatch` for the options.

        The name may belong to a task this process has not imported, as long as a worker or
        producer somewhere has registered it on the server (so shell scripts can dispatch
        without the task's code).

        A task known only by name is dispatched with the contract its workers published:
        its queue, singleton, TTL, concurrency limit, collect and version stamp, and its data
        checked against the published JSON Schema. ``skip_validation=True`` skips the check.

        Raises:
            ValidationError: the data breaks the task's input schema (local or published);
                ``issues`` lists every bad field. Nothing was enqueued.
            UnknownTaskError: no app here or on the server knows the name.
        """
        return await (await self.resolve_task(name)).adispatch(data, **options)

    def dispatch_many(self, name: str, items: Iterable[Any], **options: Any) -> list[JobHandle]:
        """Dispatch many jobs by task name, one round trip per batch (blocking)."""
        return self.runtime.call(self.adispatch_many(name, items, **options))

    async def adispatch_many(
        self, name: str, items: Iterable[Any], **options: Any
    ) -> list[JobHandle]:
        """Async twin of :meth:`dispatch_many`."""
        return await (await self.resolve_task(name)).adispatch_many(items, **options)

    async def resolve_task(self, name: str) -> Task:
        """The task ``name``: registered here, or known to the server's task registry.

        Raises:
            UnknownTaskError: neither knows it; the message lists every known name.
        """
        return await self.registry.resolve(name)

    def use(self, middleware: Middleware) -> Middleware:
        """Wrap every task's handler in ``middleware(ctx, call_next)`` (``async`` or plain),
        outside the tasks' own middlewares, in the order ``use`` is called. Add them before
        the worker starts: chains are built once, at start. Usable as a decorator.

        Raises:
            UsageError: not a function of ``(ctx, call_next)``.
        """
        self.registry.middleware.extend(check_middlewares([middleware]))
        return middleware

    def on(self, event: str, fn: Listener | None = None) -> Any:
        """Call ``fn(event)`` on every ``event`` of every task, e.g. ``app.on("task:failed",
        alert)``, or use it as a decorator: ``@app.on("task:completed")``. Worker processes
        call listeners (see taskora_cli.events); ``fn`` may be ``async``.

        Raises:
            UsageError: an unknown event (the message lists them).
        """
        return register(self.runtime.listeners, None, parse_app_event(event), fn)

    def events(
        self, tasks: Iterable[str] | None = None, *, recent: int = 0, follow: bool = True
    ) -> AsyncIterator[Event]:
        """Iterate over job events (async): the last ``recent`` of each task first, then new
        ones as they come (with ``follow``). Every reader sees every event."""
        from .events import events

        return events(self, tasks, recent=recent, follow=follow)

    def handle(self, name: str, job_id: str) -> JobHandle:
        """A handle for an existing job of task ``name``."""
        return JobHandle(self.runtime, name, job_id)

    def cancel(self, job_id: str, reason: str | None = None, *, task: str | None = None) -> str:
        """Cancel a job by id (blocking); see :meth:`JobHandle.cancel`. Without ``task`` the
        job is looked for under every known task."""
        return self.runtime.call(self.acancel(job_id, reason, task=task))

    async def acancel(
        self, job_id: str, reason: str | None = None, *, task: str | None = None
    ) -> str:
        """Async twin of :meth:`cancel`."""
        from .handle import cancel_job

        if task is None:
            engine = await self.runtime.engine()
            found = await engine.find_job(job_id, await self.registry.known_names())
            if found is None:
                raise JobNotFoundError(f"no job {job_id} under any known task", job_id)
            task = found.task
        return await cancel_job(self.runtime, task, job_id, reason)

    def inspect(self) -> Inspector:
        """Read-only views of tasks and jobs: ``stats()``, ``jobs(task, state)``, ``find(id)``."""
        from .inspector import Inspector

        return Inspector(self)

    def dead_letters(self) -> DeadLetters:
        """The dead-letter queue: jobs that failed for good; list, group, retry, purge."""
        from .dead_letters import DeadLetters

        return DeadLetters(self)

    def queues(self) -> Queues:
        """The queues: list them with their counts, pause and resume them."""
        from .queues import Queues

        return Queues(self)

    def server_info(self) -> dict[str, str]:
        """Connect (starting the embedded server if needed) and describe the server (blocking).

        Raises:
            ServerError: it cannot be reached, or holds an incompatible wire format.
        """

        async def describe() -> dict[str, str]:
            return await (await self.runtime.engine()).server_info()

        return self.runtime.call(describe())

    # -- connections ----------------------------------------------------------------------

    async def connect(self) -> Engine:
        """Connect the running event loop (starting the embedded server if needed) and return
        its engine; later calls return the same one.

        Raises:
            ServerError: it cannot be reached, or holds an incompatible wire format.
        """
        return await self.runtime.engine()

    async def aclose(self) -> None:
        """Close the connections of the current event loop."""
        await self.runtime.aclose()

    def close(self) -> None:
        """Close the blocking API's connections."""
        self.runtime.close()

    # -- workers -----------------------------------------------------------------------------

    async def arelease_worker(self, worker_id: str, tasks: Iterable[str] | None = None) -> int:
        """Send the jobs a dead worker held back to their queues now, not after its locks expire.

        Args:
            worker_id: the dead worker's id.
            tasks: the task names it served (default: every task known to the server).

        Returns:
            How many jobs it held.
        """
        from .workers import release_worker

        return await release_worker(self.runtime, worker_id, tasks)

    def workers(self) -> list[WorkerInfo]:
        """Every registered worker process, live and gone, most recent heartbeat first."""
        return self.runtime.call(self.aworkers())

    async def aworkers(self) -> list[WorkerInfo]:
        """Async twin of :meth:`workers`."""
        from .workers import list_workers

        return await list_workers(self.runtime)

    def drain_workers(self, node: str) -> list[str]:
        """Ask workers to finish their running jobs and exit (blocking); ``node`` is a worker
        id or a host name (every worker on it). Returns the ids asked; none is an error.

        Raises:
            UsageError: no live worker has that id or host.
        """
        return self.runtime.call(self.adrain_workers(node))

    async def adrain_workers(self, node: str) -> list[str]:
        """Async twin of :meth:`drain_workers`."""
        from .workers import drain_workers

        return await drain_workers(self.runtime, node)

    async def areap_workers(self, *, alive: Iterable[str] = ()) -> dict[str, int]:
        """Release the jobs of every gone worker at once and drop it from the registry.

        Args:
            alive: ids never to reap: a worker calling this knows it is alive, whatever its
                record's age says (after a jump of a virtual clock, say).

        Returns:
            Worker id -> how many jobs it held, for each worker reaped.
        """
        from .workers import reap_workers

        return await reap_workers(self.runtime, frozenset(alive))

    def worker(
        self, tasks: Iterable[str] | None = None, *, concurrency: int | None = None
    ) -> Worker:
        """A worker for ``tasks`` (default: all registered); start it with ``await w.start()``."""
        from .worker.pool import Worker

        chosen = self.registry.to_run(tasks)
        if not chosen:
            raise UsageError("no tasks to work on: register tasks or import the task modules first")
        return Worker(self, chosen, concurrency=concurrency)

    async def start(
        self, tasks: Iterable[str] | None = None, *, concurrency: int | None = None
    ) -> Worker:
        """Start a worker in the running event loop and return it (stop with ``await w.stop()``)."""
        worker = self.worker(tasks, concurrency=concurrency)
        await worker.start()
        return worker

    def run_worker(
        self,
        tasks: Iterable[str] | None = None,
        *,
        concurrency: int | None = None,
        grace: Duration | None = None,
    ) -> int:
        """Run a worker in this process until SIGINT/SIGTERM, then drain within ``grace``
        (blocking), through the same launcher as ``taskora work`` (worker/launch.py).

        If a thread handler is still running once the grace is over (a thread cannot be
        stopped; its job is already back in its queue), the process exits at once, as
        ``taskora work`` does, rather than wait for the thread; with too many threads stuck
        past their timeout, its exit code is 5.

        Returns:
            The exit code ``taskora work`` would leave with: 0, or 5 (too many stuck threads).

        Raises:
            UsageError: a bad option or task name, before anything connects.
        """
        from .worker.launch import WorkOptions, run

        # One process and every queue, whatever [worker] says: processes are `taskora work`'s
        # (its children re-import the app from the config), and so are its queue filters.
        options = WorkOptions(
            tasks=tuple(tasks or ()), queues={}, concurrency=concurrency, processes=1,
            grace=grace, force=True,
        )  # fmt: skip
        return run(self, options)


def _check_worker_options(
    retry: Retry | None, concurrency: int | None, on_cancel: Handler | None
) -> None:
    if retry is not None and not isinstance(retry, Retry):
        raise UsageError(f"retry must be a taskora Retry(...), got {retry!r}")
    if concurrency is not None and (
        isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
    ):
        raise UsageError(f"concurrency must be an int >= 1, got {concurrency!r}")
    if on_cancel is not None and not callable(on_cancel):
        raise UsageError(f"on_cancel must be callable, got {on_cancel!r}")


_default_app: Taskora | None = None
_default_lock = threading.Lock()


def default_app() -> Taskora:
    """The app that ``@task`` registers on, configured by discovery (taskora.toml, env)."""
    global _default_app
    with _default_lock:
        if _default_app is None:
            _default_app = Taskora()
        return _default_app


def task(
    name: str | None = None,
    *,
    retry: Retry | None = None,
    timeout: Duration | None = None,
    concurrency: int | None = None,
    queue: str = DEFAULT_QUEUE,
    on_cancel: Handler | None = None,
    ttl: TtlOption = None,
    singleton: bool = False,
    concurrency_limit: int | None = None,
    collect: Mapping[str, Any] | None = None,
    schedule: Mapping[str, Any] | None = None,
    input: Any = None,
    output: Any = None,
    middleware: Iterable[Middleware] = (),
    version: int | None = None,
    since: int | None = None,
    migrate: MigrateOption = None,
) -> Callable[[Handler], Task]:
    """Register a task on the default app: ``@task("send-email", retry=Retry(attempts=3))``;
    the options are :meth:`Taskora.task`'s."""
    return default_app().task(
        name,
        retry=retry,
        timeout=timeout,
        concurrency=concurrency,
        queue=queue,
        on_cancel=on_cancel,
        ttl=ttl,
        singleton=singleton,
        concurrency_limit=concurrency_limit,
        collect=collect,
        schedule=schedule,
        input=input,
        output=output,
        middleware=middleware,
        version=version,
        since=since,
        migrate=migrate,
    )
