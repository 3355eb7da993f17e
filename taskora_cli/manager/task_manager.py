"""TaskManager: the queue-and-event API of the spec's stream-based manager, on taskora's engine.

Each registered event is a taskora task named after the event, in a taskora queue named
after the manager's queue, so every tool taskora has (retries, the dead-letter queue, the
inspector, ``taskora top``, the CLI, ``taskora work``) works on its jobs. docs/manager.md says
how each option maps, and which way each contradiction of the spec was settled.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from ..blocking import blocking_twin
from ..errors import NotRetriedError, TaskoraError, UnknownTaskError, UsageError
from ..job_state import TERMINAL_STATES
from ..names import check_queue_name, check_task_name
from ..retry import Retry
from ..task import DEFAULT_QUEUE, Task, TaskOptions, new_job_id, unimplemented
from .documents import job_document
from .job import ManagerContext, ManagerJob, ManagerSocket
from .options import EmitOptions, HandlerOptions, ProcessorOptions, coerce
from .policy import content_id, retry_budget, retry_delay_ms, send_to_dlq, should_retry
from .queue_controls import QueueControls

if TYPE_CHECKING:
    from ..app import Taskora
    from ..context import JobContext
    from ..gateway import GatewayServer
    from ..worker.pool import Worker

Handler = Callable[..., Any]


def app_for(db: object) -> Taskora:
    """The taskora app behind ``db``: None = the default app (the configured server, the
    embedded one by default), a URL = an app on that server, or a Taskora app itself.

    Raises:
        UsageError: anything else.
    """
    from ..app import Taskora, default_app

    if db is None:
        return default_app()
    if isinstance(db, Taskora):
        return db
    if isinstance(db, str):
        return Taskora(db)
    raise UsageError(
        f"db must be a server URL (redis://...), a taskora app or None (the configured "
        f"server), got {db!r}"
    )


@dataclass(frozen=True)
class _Settings:
    """What ``init`` was called with: a second ``init`` must ask for the same."""

    db: object
    stream_db: object
    ctx: Mapping[str, Any]
    concurrency: int
    processor: ProcessorOptions


@dataclass
class _Registered:
    """One ``register_handler``: the handler, its options and its task."""

    handler: Handler
    queue: str
    options: HandlerOptions
    task: Task
    takes_ctx: bool = field(default=True)


_lock = threading.Lock()
_current: TaskManager | None = None


class TaskManager(QueueControls):
    """The process's one manager: handlers per (queue, event), ``emit``, start and stop.

    Build it with :meth:`init`; every method is plain with an ``a``-prefixed async twin
    (``emit``/``aemit``, ``start``/``astart``, ...), except ``register_handler`` and
    ``get_context``, which never touch the server.
    """

    def __init__(self, app: Taskora, settings: _Settings) -> None:
        self.app = app
        """The taskora app the manager's tasks are registered on."""
        self.settings = settings
        self.processor = settings.processor
        self._handlers: dict[str, _Registered] = {}
        self._worker: Worker | None = None
        self._context_values = dict(settings.ctx)
        self.gateway: GatewayServer | None = None
        """The WebSocket gateway ``start(expose=...)`` serves, while it does."""

    # -- the one manager ---------------------------------------------------------------------

    @classmethod
    def init(
        cls,
        db: object = None,
        stream_db: object = None,
        ctx: Mapping[str, Any] | None = None,
        concurrency: int = 1,
        processor: ProcessorOptions | Mapping[str, Any] | None = None,
    ) -> TaskManager:
        """The process's TaskManager: made by the first call, returned by later ones.

        Args:
            db: the server: a URL, a taskora app to register on, or None for the configured
                server (the embedded one by default), like the rest of the library.
            stream_db: accepted for compatibility: taskora keeps a job's events with its
                job, so there is no second connection to give.
            ctx: the user context every handler receives (plus ``emit``).
            concurrency: jobs of each event one process runs at once (default 1).
            processor: a ProcessorOptions or its dict (retry, dlq, debounce,
                max_logs_per_task).

        Raises:
            UsageError: a manager exists with other options (one per process: call
                ``init`` with the same ones, use :meth:`current`, or :meth:`close` it
                first), or a bad option.
        """
        global _current
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise UsageError(f"concurrency must be an int >= 1, got {concurrency!r}")
        if ctx is not None and not isinstance(ctx, Mapping):
            raise UsageError(f"ctx must be a dict of what handlers receive, got {ctx!r}")
        settings = _Settings(
            db, stream_db, dict(ctx or {}), concurrency,
            coerce(ProcessorOptions, processor, "processor"),
        )  # fmt: skip
        with _lock:
            if _current is not None:
                if _current.settings != settings:
                    raise UsageError(
                        "TaskManager.init was already called in this process with other "
                        "options; there is one manager per process: call init with the same "
                        "options, TaskManager.current() to get it, or close() it first"
                    )
                return _current
            manager = cls(app_for(db), settings)
            manager._apply_log_cap()
            _current = manager
            return manager

    @classmethod
    def current(cls) -> TaskManager:
        """The manager :meth:`init` made.

        Raises:
            UsageError: none was made in this process.
        """
        if _current is None:
            raise UsageError("no TaskManager yet: call TaskManager.init(...) first")
        return _current

    def _apply_log_cap(self) -> None:
        cap = self.processor.max_logs_per_task
        if cap is not None:  # an app that dispatched already is connected: no configure()
            self.runtime.cap_logs_per_job(cap)

    # -- handlers ----------------------------------------------------------------------------

    def register_handler(
        self,
        handler: Handler | None = None,
        event: str | Mapping[str, Any] | None = None,
        queue: str = DEFAULT_QUEUE,
        options: HandlerOptions | Mapping[str, Any] | None = None,
    ) -> None:
        """Run ``handler(job, ctx)`` (``async def`` or plain) for every job of ``event``.

        Also ``register_handler(handler, {"event": ..., "queue": ..., "options": ...})``. Call
        it before :meth:`start` (a module that ``taskora work`` loads may call it at import).

        Args:
            handler: receives ``job`` (``name``, ``queue``, ``data``, ``logger(msg)``) and
                ``ctx`` (the user context and ``emit``); a one-parameter handler gets ``job``.
            event: the event name (a taskora task of that name).
            queue: the queue (a taskora queue: ``pause_queue``, ``taskora work --queue``).
            options: a HandlerOptions or its dict: ``attempts``, ``debounce``, ``repeat``.

        Raises:
            UsageError: after start(), an event registered twice, or a bad name or option.
        """
        if isinstance(event, Mapping):  # the alternate form: (handler, {"event": ...})
            given = dict(event)
            event = given.pop("event", None)
            queue = given.pop("queue", queue)
            options = given.pop("options", options)
            if given:
                raise UsageError(f"register_handler: unknown keys {sorted(given)}")
        if not callable(handler):
            raise UsageError(f"register_handler needs a callable handler, got {handler!r}")
        if not isinstance(event, str):
            raise UsageError(f"register_handler needs event='name', got {event!r}")
        if self._worker is not None:
            raise UsageError(
                "register handlers before start(): stop(), register, then start() again"
            )
        check_task_name(event)
        check_queue_name(queue)
        if event in self._handlers:
            raise UsageError(f"event {event!r} already has a handler; register it once")
        chosen = coerce(HandlerOptions, options, "options")
        schedule = None
        if chosen.repeat is not None:
            schedule = {"cron": chosen.repeat["pattern"], "data": {}}
        runs = self._runner(event, queue, chosen)
        task = self.app.task(
            event, queue=queue, retry=self._task_retry(chosen),
            concurrency=self.settings.concurrency, schedule=schedule,
        )(runs)  # fmt: skip
        self._handlers[event] = _Registered(handler, queue, chosen, task, _takes_ctx(handler))

    def _task_retry(self, options: HandlerOptions) -> Retry:
        """The task's own retry: the handler's budget with the processor's delay; the
        manager's policy decides each failure (NotRetriedError ends the job)."""
        delay_ms = self.processor.retry.retry_delay_ms
        return Retry(
            attempts=(options.attempts or 0) + 1, backoff="fixed", delay=delay_ms / 1000,
            jitter=False, no_retry_on=(NotRetriedError,),
        )  # fmt: skip

    def _runner(self, event: str, queue: str, options: HandlerOptions) -> Handler:
        async def run(data: Any, ctx: JobContext) -> Any:
            """One job: the handler (a plain one in a thread), then the emits it made; what
            it returns is the job's result."""
            registered = self._handlers[event]
            job = ManagerJob(event, queue, data, ctx)
            pending: list[asyncio.Task[str]] = []
            try:
                mctx = self._context(pending, ctx)
                args = (job, mctx) if registered.takes_ctx else (job,)
                if inspect.iscoroutinefunction(registered.handler):
                    result = await registered.handler(*args)
                else:
                    result = await asyncio.to_thread(registered.handler, *args)
                if pending:
                    await asyncio.gather(*pending)
                return result
            except Exception as error:
                if pending:
                    await asyncio.gather(*pending, return_exceptions=True)
                await self._failed(event, queue, options, ctx, error)

        run.__qualname__ = run.__name__ = f"manager_{event}"
        return run

    async def _failed(
        self, event: str, queue: str, options: HandlerOptions, ctx: JobContext, error: Exception
    ) -> NoReturn:
        """Decide what a failed attempt leads to, then raise for the worker to record it:
        ``error`` itself to retry (or on the job's last attempt), NotRetriedError when the
        policy stops retries early; a job kept out of the dead letters is cancelled first,
        so it ends ``cancelled`` with its error in the reason."""
        engine = await self.runtime.engine()
        record = await engine.job(event, ctx.id)
        retries = _stored_retries(record.extra if record else {}, options)
        if should_retry(error, ctx.attempt, retries, self.processor.retry):
            raise error
        info = await self.app.inspect().afind(ctx.id, event)
        document = job_document(info, queue) if info is not None else {"id": ctx.id}
        if not send_to_dlq(self.processor.dlq, document, error, ctx.attempt):
            reason = f"failed, not sent to the dead-letter queue: {type(error).__name__}: {error}"
            await engine.cancel(event, ctx.id, reason[:500], self.runtime.clock())
        if ctx.attempt > retries:
            raise error
        raise NotRetriedError(f"{type(error).__name__}: {error}") from error

    # -- context and emit ----------------------------------------------------------------------

    def get_context(self) -> ManagerContext:
        """The handlers' context, for code outside handlers: the user context and ``emit``."""
        return ManagerContext(self._context_values, self.emit, self.aemit)

    def _context(self, pending: list[asyncio.Task[str]], job: JobContext) -> ManagerContext:
        """The context of one job: its ``emit`` on the worker's loop runs in the background
        (the job waits for it before it ends); from a handler's thread it waits.
        ``ctx.socket.update`` announces on the job's event stream (the gateway reads it)."""
        loop = asyncio.get_running_loop()

        def emit(
            event: str, queue: str | None = None, data: Any = None, options: object = None
        ) -> str:
            prepared = self._prepare(event, queue, data, options)
            if _on_loop(loop):
                pending.append(loop.create_task(self._send(prepared)))
                return prepared.id
            return asyncio.run_coroutine_threadsafe(self._send(prepared), loop).result()

        return ManagerContext(self._context_values, emit, self.aemit, ManagerSocket(job))

    async def aemit(
        self,
        event: str,
        queue: str | None = None,
        data: Any = None,
        options: EmitOptions | Mapping[str, Any] | None = None,
    ) -> str:
        """Enqueue a job of ``event`` and return its id.

        Args:
            event: the event (a handler registered here, or anywhere: a worker runs it).
            queue: the queue (default: the handler's, else "default").
            data: the payload (default ``{}``).
            options: an EmitOptions or its dict: ``id``, ``priority``, ``delay_until``,
                ``retry_count``/``attempts``, ``retry_delay_ms``, ``repeat``.

        Without ``id`` the id is a hash of event and data: an identical emit while the first
        job is pending is that job (its id comes back, nothing is added); once it has ended,
        the identical emit replaces it with a new run under the same id. With ``repeat``,
        nothing runs now: a schedule ``<event>-<id>`` emits the job on the cron pattern.

        Raises:
            UsageError: a bad option, or a queue other than the event handler's.
        """
        return await self._send(self._prepare(event, queue, data, options))

    emit = blocking_twin(aemit)

    def _prepare(self, event: str, queue: str | None, data: Any, options: object) -> _Emit:
        chosen = coerce(EmitOptions, options, "options")
        if not isinstance(event, str):
            raise UsageError(f"emit needs event='name', got {event!r}")
        check_task_name(event)
        registered = self._handlers.get(event)
        if registered is not None and queue is not None and queue != registered.queue:
            raise UsageError(
                f"event {event!r} is handled on queue {registered.queue!r}, not {queue!r}"
            )
        queue = check_queue_name(queue or (registered.queue if registered else DEFAULT_QUEUE))
        data = {} if data is None else data
        handler_options = registered.options if registered else None
        window = (handler_options.debounce if handler_options else None) or self.processor.debounce
        if chosen.id is not None:
            window = None  # a chosen id names one job: it cannot be replaced by a later emit
        job_id = chosen.id or (new_job_id() if window else content_id(event, data))
        retry: Retry | None = None
        if chosen.retries is not None or chosen.retry_delay_ms is not None:
            retry = Retry(
                attempts=retry_budget(chosen, handler_options) + 1, backoff="fixed",
                delay=retry_delay_ms(chosen, self.processor.retry) / 1000, jitter=False,
            )  # fmt: skip
        return _Emit(event, queue, data, chosen, job_id, retry, window)

    async def _send(self, emit: _Emit) -> str:
        task = await self._task_of(emit.event, emit.queue)
        if emit.options.repeat is not None:
            await self._repeat(emit)
            return emit.id
        dispatch: dict[str, Any] = {
            "priority": emit.options.priority, "run_at": emit.options.delay_until,
            "retry": emit.retry, "job_id": emit.id,
        }  # fmt: skip
        if emit.window:
            dispatch["debounce"] = {"key": "handler", "delay": emit.window / 1000}
        handle = await task.adispatch(emit.data, **dispatch)
        if not handle.enqueued and handle.reason == "duplicate":
            engine = await self.runtime.engine()
            if await engine.job_state(emit.event, emit.id) in TERMINAL_STATES:
                await engine.admin.delete(emit.event, emit.id)  # ended: a new run replaces it
                await task.adispatch(emit.data, **dispatch)
        return emit.id

    async def _task_of(self, event: str, queue: str) -> Task:
        """The task of ``event``: registered here, known to the server, or else a new
        dispatch-only one (a worker that registers the event later runs its jobs)."""
        try:
            task = await self.app.resolve_task(event)
        except UnknownTaskError:
            return self.app.registry.add(
                Task(self.runtime, event, unimplemented, TaskOptions(queue=queue))
            )
        if task.options.queue != queue and event not in self._handlers:
            raise UsageError(f"event {event!r} is on queue {task.options.queue!r}, not {queue!r}")
        return task

    async def _repeat(self, emit: _Emit) -> None:
        assert emit.options.repeat is not None
        name = f"{emit.event}-{emit.id}"
        schedules = self.app.schedules()
        spec = {"cron": emit.options.repeat["pattern"], "data": emit.data}
        try:
            await schedules.aget(name)
        except TaskoraError:
            await schedules.aadd(name, emit.event, **spec)
        else:
            await schedules.aupdate(name, **spec)

    # -- lifecycle ---------------------------------------------------------------------------

    async def astart(self, expose: int | Mapping[str, Any] | None = None) -> None:
        """Start a worker for the registered handlers in this process (in the running event
        loop; the blocking ``start`` runs it in the background). Calling it again does
        nothing (but starts the gateway if ``expose`` asks for one not yet serving).

        Args:
            expose: serve the WebSocket gateway (docs/gateway.md): a port, or a dict with
                ``port``, ``host`` (default "127.0.0.1") and ``token`` (default
                ``$TASKORA_GATEWAY_TOKEN``). :attr:`gateway` is then the server (its
                ``port`` and ``url``).

        Raises:
            UsageError: no handler is registered (and no gateway asked for), the port cannot
                be listened on, or uvicorn/websockets is missing.
        """
        if expose is not None and self.gateway is None:
            await self._expose(expose)
        if self._worker is not None or (expose is not None and not self._handlers):
            return
        if not self._handlers:
            raise UsageError("no handlers: register_handler(...) before start()")
        from ..worker.pool import Worker

        tasks = self.app.registry.to_run(list(self._handlers))
        worker = Worker(self.app, tasks)
        await worker.start()
        self._worker = worker

    start = blocking_twin(astart)

    async def _expose(self, expose: int | Mapping[str, Any]) -> None:
        import os

        from ..gateway import TOKEN_ENV, Gateway, GatewayServer

        given: dict[str, Any] = {"port": expose} if isinstance(expose, int) else dict(expose)
        unknown = set(given) - {"port", "host", "token"}
        if unknown or not isinstance(given.get("port"), int):
            raise UsageError(f"expose must be a port or a dict of port, host, token: {expose!r}")
        token = given.get("token") or os.environ.get(TOKEN_ENV)
        gateway = Gateway(self.app, self._emit_for_gateway, token)
        server = GatewayServer(gateway, given.get("host") or "127.0.0.1", given["port"])
        await server.start()
        self.gateway = server

    async def _emit_for_gateway(
        self, event: str, queue: str | None, data: Any, options: Mapping[str, Any]
    ) -> str:
        return await self.aemit(event, queue, data, options)

    async def astop(self) -> None:
        """Stop claiming jobs and wait for the running ones to finish (up to ``[worker]
        grace``, 30 s by default; the rest go back to their queues); stop the gateway. Does
        nothing when not started."""
        server, self.gateway = self.gateway, None
        if server is not None:
            await server.stop()
        worker, self._worker = self._worker, None
        if worker is not None:
            await worker.stop(self.app.config.worker.grace_ms)

    stop = blocking_twin(astop)

    async def aclose(self) -> None:
        """Stop, and let go of the process's manager: a later :meth:`init` makes a new one,
        with any options (handlers registered on the app stay registered there)."""
        global _current
        try:
            await self.astop()
        finally:  # a stop that failed or was cut short still lets a later init begin anew
            with _lock:
                if _current is self:
                    _current = None

    close = blocking_twin(aclose)


@dataclass(frozen=True)
class _Emit:
    """One emit, checked, before it goes to the server."""

    event: str
    queue: str
    data: Any
    options: EmitOptions
    id: str
    retry: Retry | None
    window: int | None


def _stored_retries(extra: Mapping[str, str], options: HandlerOptions) -> int:
    """The retry budget a job was emitted with: its own (stored in its ``limits``), else
    its handler's."""
    import json

    try:
        return int(json.loads(extra["limits"])["retry"]["attempts"]) - 1
    except (KeyError, ValueError, TypeError):
        return options.attempts or 0


def _takes_ctx(handler: Handler) -> bool:
    try:
        params = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
