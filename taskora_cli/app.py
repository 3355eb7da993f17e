"""Taskora: the app facade. It owns a Runtime (server, clock, connections) and a
TaskRegistry (tasks, declared schedules), and hands both to the views and the worker."""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from .app_client import AppClient
from .config import Config
from .contract import TaskContract
from .durations import Duration, to_ms
from .errors import UsageError
from .flow import check_concurrency_options, parse_collect, parse_ttl
from .listeners import Listener, parse_app_event, register
from .names import check_queue_name, check_task_name
from .retry import Retry
from .runtime import Clock, Runtime, system_clock
from .schedule_declarations import ScheduleDeclarations
from .serialization import JSON, Serializer
from .stall import parse_stall
from .task import DEFAULT_QUEUE, Handler, Task, TaskOptions, TtlOption, unimplemented
from .task_registry import TaskRegistry, check_middlewares, with_schemas
from .versioning import MigrateOption, Versioning
from .worker_controls import WorkerControls

if TYPE_CHECKING:
    import asyncio

    # Imported where used, so `import taskora_cli` (and `taskora --help`) skips redis.
    from .middleware import Middleware

__all__ = ["Clock", "Taskora", "default_app", "system_clock", "task"]


class Taskora(AppClient, ScheduleDeclarations, WorkerControls):
    """An app: a registry of tasks bound to one server and key prefix. What it asks of the
    server (dispatch by name, jobs, views, workers, connections) comes from
    :class:`~taskora_cli.app_client.AppClient`, declaring schedules from
    :class:`~taskora_cli.schedule_declarations.ScheduleDeclarations`, and running workers
    (with their start-up and shutdown hooks) from
    :class:`~taskora_cli.worker_controls.WorkerControls`.

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
        runtime = Runtime(
            url, prefix=prefix, config=config, clock=clock, serializer=serializer,
            validate_on_dispatch=validate_on_dispatch,
        )  # fmt: skip
        super().__init__(runtime, TaskRegistry(runtime))
        runtime.deliver_with(self._deliver_to_listeners)

    async def _deliver_to_listeners(self, stop: asyncio.Event, following: asyncio.Event) -> None:
        # a process with listeners and no worker calls them from the runtime's background loop
        from .views.job_events import deliver

        await deliver(self, stop, following)

    @property
    def tasks(self) -> dict[str, Task]:
        """The tasks registered in this process, by name."""
        return self.registry.tasks

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
        stall: Mapping[str, Any] | None = None,
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
            stall: ``{"lock_ttl": "2m", "max_stalls": 3}`` (either key optional): how long a
                claimed job's lock holds unrenewed (longer than ``[worker] heartbeat``) before
                it counts as stalled, and how many stalls it survives before failing for good
                (default: ``[defaults] max_stalls``).
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
            stall=parse_stall(stall),
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

            options = options._replace(
                input=schema_of(contract.input), output=schema_of(contract.output)
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
        stall: Mapping[str, Any] | None = None,
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
            stall: ``{"lock_ttl": "2m", "max_stalls": 3}``, as for :meth:`task`.

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
        options = options._replace(
            retry=retry or options.retry,
            timeout_ms=options.timeout_ms if timeout is None else to_ms(timeout, what="timeout"),
            singleton=chosen_singleton,
            concurrency_limit=chosen_limit,
            middleware=check_middlewares(middleware),
            stall=parse_stall(stall),
        )
        options = with_schemas(options, handler, contract.input, contract.output)
        existing = self.registry.tasks.get(contract.name)
        if existing is None:
            return self.registry.add(Task(self.runtime, contract.name, handler, options))
        existing.implement(handler, options)
        return existing

    def get_task(self, name: str) -> Task:
        """The task registered as ``name``.

        Raises:
            UnknownTaskError: no such task; the message lists the known ones.
        """
        return self.registry.get(name)

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
        call listeners, and so does a process that only dispatches (see
        taskora_cli.views.job_events); ``fn`` may be ``async``. The worker's own events
        ("worker:ready", "worker:error", "worker:closing") give ``fn`` a WorkerEvent.

        Returns:
            With ``fn``: the function that unsubscribes it. As a decorator: the function.

        Raises:
            UsageError: an unknown event (the message lists them).
        """
        return register(self.runtime.listeners, None, parse_app_event(event), fn)


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


P = ParamSpec("P")
R = TypeVar("R")


def _on_default_app(method: Callable[Concatenate[Taskora, P], R]) -> Callable[P, R]:
    """``method`` as a function that calls it on :func:`default_app`, with its parameters
    (for mypy, ``inspect.signature`` and ``help()``) but without ``self``."""

    @functools.wraps(method)
    def on_default_app(*args: P.args, **kwargs: P.kwargs) -> R:
        return method(default_app(), *args, **kwargs)

    signature = inspect.signature(method)
    on_default_app.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=list(signature.parameters.values())[1:]
    )
    on_default_app.__qualname__ = method.__name__
    on_default_app.__doc__ = (
        f"Like :meth:`Taskora.{method.__name__}`, on the default app (:func:`default_app`).\n\n"
        f"{inspect.cleandoc(method.__doc__ or '')}"
    )
    return on_default_app


task = _on_default_app(Taskora.task)
"""Register a task on the default app: ``@task("send-email", retry=Retry(attempts=3))``."""
