"""The tasks an app knows: registered in this process, or known to the server by name.

This is the layer contracts, schemas and middleware hang on. The views and the worker depend
on it (through :class:`Parts`), never on the ``Taskora`` facade that owns it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .errors import UnknownTaskError, UsageError
from .task import Handler, Task, TaskOptions, unimplemented

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .engine.steps import Driver, Steps
    from .middleware import Middleware
    from .runtime import Runtime
    from .schedule_spec import ScheduleSpec


class TaskRegistry:
    """Task name -> Task for one app, and the schedules the app declares in code."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.tasks: dict[str, Task] = {}
        self.schedules: dict[str, ScheduleSpec] = {}
        """Schedules declared in code (``app.schedule``, ``@app.task(schedule=...)``)."""
        self.middleware: list[Middleware] = []
        """The app's middlewares (``app.use``), outside every task's own, outer to inner."""
        self.on_startup: list[Callable[..., Any]] = []
        self.on_shutdown: list[Callable[..., Any]] = []
        """Worker start-up and shutdown hooks (``@app.on_startup``; see worker/lifespan.py)."""

    def add(self, task: Task) -> Task:
        """Register ``task``; a second handler under the same name is refused. A task
        registered without a handler (``app.register``) gets this one's handler and options
        in place, so references to it keep working.

        Raises:
            UsageError: the name belongs to another function.
        """
        existing = self.tasks.get(task.name)
        if (
            existing is not None
            and existing.implemented
            and existing.fn.__qualname__ != task.fn.__qualname__
        ):
            raise UsageError(
                f"task {task.name!r} is already registered by {existing.fn.__qualname__}"
            )
        if existing is not None and not existing.implemented:
            existing.implement(task.fn, task.options)  # registered first: keep the same object
            return existing
        self.tasks[task.name] = task
        return task

    def get(self, name: str) -> Task:
        """The task registered here as ``name``.

        Raises:
            UnknownTaskError: no such task; the message lists the known ones.
        """
        found = self.tasks.get(name)
        if found is None:
            known = ", ".join(sorted(self.tasks)) or "none (are the task modules imported?)"
            raise UnknownTaskError(f"unknown task {name!r}; known tasks: {known}")
        return found

    def to_run(self, names: Iterable[str] | None = None) -> list[Task]:
        """The tasks a worker of this process serves: those named, else every task with a
        handler here (a task only registered from a contract is dispatched from here and run
        elsewhere).

        Raises:
            UnknownTaskError: a name no task has here.
            UsageError: a named task has no handler in this process.
        """
        if not names:
            return [task for task in self.tasks.values() if task.implemented]
        chosen = [self.get(name) for name in names]
        for task in chosen:
            if not task.implemented:
                raise UsageError(
                    f"task {task.name!r} is registered without a handler here: "
                    "app.implement(contract, handler) to work on it"
                )
        return chosen

    async def known_names(self) -> list[str]:
        """Every task name registered here or on the server, sorted."""
        return await self.runtime.adrive(self.known_names_steps)

    def known_names_steps(self, driver: Driver) -> Steps[list[str]]:
        """:meth:`known_names` as an engine operation (engine/steps.py), for the views'
        operations that start with it."""
        from .engine.read_steps import known_tasks

        on_server = yield from known_tasks(driver.prefix)
        return sorted(set(self.tasks) | set(on_server))

    async def resolve(self, name: str) -> Task:
        """The task ``name``: registered here, or known to the server (then a Task that can
        dispatch but not run, since its handler lives elsewhere).

        A task whose worker published its contract comes with the contract's options (queue,
        singleton, TTL, concurrency limit, collect, retry), version stamp and input schema,
        so a by-name dispatch checks the data and enqueues the job the task's own code
        would. A name the server knows without a contract (a worker older than contracts)
        gets a plain job.

        Raises:
            UnknownTaskError: neither knows it; the message lists every known name.
            WireFormatError: the published contract is unreadable (written by a newer
                taskora, say).
        """
        local = self.tasks.get(name)
        if local is not None:
            return local
        from .contract_document import ContractDocument

        engine = await self.runtime.engine()
        published = await engine.contract(name)
        if published is not None:
            document = ContractDocument.from_json(published)
            engine.registered.add(name)  # its worker registered it, in its queue
            return Task(self.runtime, name, unimplemented, document.task_options())
        on_server = await engine.known_tasks()
        if name in on_server:
            # Its queue is unknown here: never re-register it, or it would land in "default".
            engine.registered.add(name)
            return Task(self.runtime, name, unimplemented, TaskOptions())
        known = ", ".join(sorted(set(self.tasks) | set(on_server)))
        hint = "" if self.tasks else " (are the task modules configured and importable?)"
        raise UnknownTaskError(f"unknown task {name!r}; known tasks: {known or 'none'}{hint}")

    def declared_schedules(self) -> dict[str, ScheduleSpec]:
        """The schedules declared in code and in the config's ``[schedules.NAME]`` tables.

        Raises:
            UsageError: a TOML schedule reuses a name declared in code.
        """
        from .schedule_spec import with_config

        return with_config(self.schedules, self.runtime.config.schedules)


class Parts(Protocol):
    """What the views and the worker need of an app: its runtime and its tasks (``Taskora``
    is one; so is anything else that holds the two)."""

    @property
    def runtime(self) -> Runtime: ...

    @property
    def registry(self) -> TaskRegistry: ...


def check_middlewares(middlewares: Iterable[Middleware]) -> tuple[Middleware, ...]:
    """``middlewares`` as a tuple, each checked to be a function of ``(ctx, call_next)``.

    Raises:
        UsageError: one is not.
    """
    found = tuple(middlewares)
    if found:  # none (the usual case): the worker's middleware module stays unloaded
        from .middleware import check_middleware

        for middleware in found:
            check_middleware(middleware)
    return found


def with_schemas(options: TaskOptions, fn: Handler, input: Any, output: Any) -> TaskOptions:
    """``options`` with the task's input and output schemas: those given, else the ones the
    handler's annotations name (``def send(data: Email, ctx) -> Receipt``).

    Raises:
        UsageError: ``input`` or ``output`` is not something a schema can be made of.
    """
    if input is None and output is None and not getattr(fn, "__annotations__", None):
        return options  # nothing to adapt: skip importing the schema layer
    from .schemas import input_schema_of_handler, output_schema_of_handler, schema_of

    return options._replace(
        input=schema_of(input) if input is not None else input_schema_of_handler(fn),
        output=schema_of(output) if output is not None else output_schema_of_handler(fn),
    )
