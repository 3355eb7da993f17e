"""DefaultTaskManager: the spec's older manager (leader election, ``create``/``commit``,
``process``, notifications), on taskora's engine.

Every task it creates is a job of one taskora task (named ``name``, "taskmanager" by
default), so retries, the dead-letter queue, the inspector, ``taskora top`` and the CLI work on
them. docs/manager.md ("Legacy manager") says how each part maps and which way each vague or
contradictory point of the spec was settled.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from ..blocking import blocking_twin
from ..errors import UsageError
from ..names import check_queue_name, check_task_name
from ..task import DEFAULT_QUEUE, new_job_id
from .legacy_task import NOTIFICATIONS, LegacyTask, Notification, Watchers, WorkItem, call
from .task_manager import app_for

if TYPE_CHECKING:
    from ..app import Taskora
    from ..context import JobContext
    from ..event import Event
    from ..runtime import Runtime
    from ..worker.pool import Worker

log = logging.getLogger("taskora.manager")

Handler = Callable[[WorkItem], Any]
T = TypeVar("T")


class LegacyWorker:
    """What :meth:`DefaultTaskManager.process` returns: the worker running the handler.

    Attributes:
        id: the worker's id (as ``taskora workers ls`` shows it).
    """

    __slots__ = ("id",)

    def __init__(self, worker_id: str) -> None:
        self.id = worker_id

    def __repr__(self) -> str:
        return f"LegacyWorker(id={self.id!r})"


class DefaultTaskManager:
    """The legacy manager: any number of them, in any processes, share the tasks of one
    ``name``; exactly one of them is master (holds the leader lease) at a time.

    Every method that talks to the server is plain with an ``a``-prefixed async twin
    (``is_master``/``ais_master``, ``process``/``aprocess``, ``shutdown``/``ashutdown``,
    ``task.commit``/``acommit``); ``create`` and ``on`` only set things up.

    Args:
        db: the server: a URL, a taskora app, or None for the configured server (the embedded
            one by default), like the rest of the library.
        name: the taskora task its tasks are jobs of (``taskora jobs ls NAME``), and the
            group whose managers elect one master.
        queue: the taskora queue of that task.
        concurrency: tasks ``process`` runs at once in this process.
        lease_ms: how long the master's lease holds unrenewed: a master that dies is replaced
            after it (default: ``[scheduler] lease_ms``, 30 s).
        handle_sigterm: ``process`` wires SIGTERM to :meth:`shutdown` (in the main thread,
            when SIGTERM has no handler yet).

    Raises:
        UsageError: a bad option, or this app has a task ``name`` already (one manager per
            app and name: give another ``name`` or ``db``).
    """

    def __init__(
        self,
        db: object = None,
        *,
        name: str = "taskmanager",
        queue: str = DEFAULT_QUEUE,
        concurrency: int = 1,
        lease_ms: int | None = None,
        handle_sigterm: bool = True,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise UsageError(f"concurrency must be an int >= 1, got {concurrency!r}")
        if lease_ms is not None and (not isinstance(lease_ms, int) or lease_ms < 1):
            raise UsageError(f"lease_ms must be an int >= 1, got {lease_ms!r}")
        self.app: Taskora = app_for(db)
        self.name = check_task_name(name)
        if name in self.app.tasks:
            raise UsageError(
                f"this app has a task {name!r} already (another DefaultTaskManager?): give "
                "this manager another name= or db="
            )
        self.token = f"{socket.gethostname()}:{os.getpid()}:{new_job_id()[:6]}"
        """This manager's identity in the leader lease."""
        self.lease_ms = lease_ms or self.app.config.scheduler.lease_ms
        self.handle_sigterm = handle_sigterm
        self.task = self.app.task(name, queue=check_queue_name(queue), concurrency=concurrency)(
            self._run
        )
        """The taskora task the manager's tasks are jobs of."""
        self.watchers = Watchers()
        """The committed tasks whose callbacks wait for their end."""
        self._handler: Handler | None = None
        self._worker: Worker | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._elector: asyncio.Task[None] | None = None
        self._stop_electing: asyncio.Event | None = None
        self._signalled: set[asyncio.Task[None]] = set()
        self._shutting_down = False
        self._done = threading.Event()

    @property
    def runtime(self) -> Runtime:
        """The app's runtime (server, clock, the blocking bridge)."""
        return self.app.runtime

    # -- leadership ----------------------------------------------------------------------------

    async def ais_master(self) -> bool:
        """Whether this manager is the master now: it takes the leader lease when nobody holds
        it (or its holder's ran out) and keeps it when it holds it. A manager running
        ``process`` keeps it in the background; one that only asks holds it until
        ``lease_ms`` after it last asked. False after shutdown."""
        if self._shutting_down:
            return False
        engine = await self.runtime.engine()
        lease = await engine.leases.keep(self.name, self.token, self.runtime.clock(), self.lease_ms)
        return lease.held

    is_master = blocking_twin(ais_master)

    async def _elect(self, stop: asyncio.Event) -> None:
        """Keep (or take) the lease every third of ``lease_ms`` until stopped."""
        while not stop.is_set():
            try:
                await self.ais_master()
            except Exception as exc:  # a server hiccup: the next round tries again
                log.warning("taskora: manager %s: keeping the lease failed: %s", self.name, exc)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.lease_ms / 3000):
                    await stop.wait()

    # -- tasks -----------------------------------------------------------------------------------

    def create(self, payload: Any = None) -> LegacyTask:
        """A new task carrying ``payload`` (anything JSON can hold): set it up
        (``with_timeout``, ``with_delay_until``, ``on``), then ``commit()`` queues it. Nothing
        is stored before the commit."""
        return LegacyTask(self.task, self.watchers, payload)

    def on(self, notification: str, fn: Callable[[Notification], Any]) -> Callable[[], None]:
        """Call ``fn(notification)`` for every ``notification`` of this manager's tasks, made
        by any process: "queued" (committed, or back in line), "started", "updated" (the
        handler's ``task.update``), "failed" (failed for good) or "completed". ``fn`` may be
        ``async``; it runs in this process (see taskora_cli.views.job_events).

        Returns:
            The function that unsubscribes it.

        Raises:
            UsageError: an unknown notification (the message lists them).
        """
        if notification not in NOTIFICATIONS:
            raise UsageError(
                f"unknown notification {notification!r}; one of {', '.join(NOTIFICATIONS)}"
            )

        async def listener(event: Event) -> None:
            if event.name == "failed" and event.will_retry is not False:
                return  # an attempt that will be retried: not a failed task (yet)
            await call(fn, Notification.of(notification, event), f"{notification} listener")

        offs = [self.task.on(name, listener) for name in NOTIFICATIONS[notification]]

        def unsubscribe() -> None:
            for off in offs:
                off()

        return unsubscribe

    async def _run(self, payload: Any, ctx: JobContext) -> Any:
        """One task: this process's ``process`` handler (a plain one in a thread)."""
        handler = self._handler
        if handler is None:
            raise UsageError(
                f"this process serves {self.name!r} without a handler: "
                "call manager.process(handler) to work on its tasks"
            )
        item = WorkItem(payload, ctx)
        if inspect.iscoroutinefunction(handler):
            return await handler(item)
        return await asyncio.to_thread(handler, item)

    # -- serving -------------------------------------------------------------------------------

    async def aprocess(self, handler: Handler) -> LegacyWorker:
        """Work on the manager's tasks in this process, in the running event loop (the
        blocking ``process`` runs it in the background): ``handler(task)`` (``async def`` or
        plain) gets each task (``task.id``, ``task.payload``, ``task.update(progress)``) and
        what it returns is the task's result; what it raises fails the task. The manager keeps
        the leader lease in the background from now on.

        Raises:
            UsageError: not callable, process() called already, or shut down.
        """
        if not callable(handler):
            raise UsageError(f"process needs a callable handler, got {handler!r}")
        if self._shutting_down:
            raise UsageError("this manager is shut down; make a new one")
        if self._handler is not None:
            raise UsageError("process() runs once per manager: one handler serves every task")
        from ..worker.pool import Worker

        self._handler = handler
        worker = Worker(self.app, self.app.registry.to_run([self.name]))
        try:
            await worker.start()
        except BaseException:
            self._handler = None
            raise
        loop = asyncio.get_running_loop()
        self._worker, self._loop = worker, loop
        self._stop_electing = asyncio.Event()
        self._elector = loop.create_task(self._elect(self._stop_electing))
        if self.handle_sigterm and threading.current_thread() is threading.main_thread():
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signal.SIGTERM, self._on_sigterm_in_loop)
        return LegacyWorker(worker.id)

    def process(self, handler: Handler) -> LegacyWorker:
        """Blocking twin of :meth:`aprocess`: the worker runs on the runtime's background
        loop; SIGTERM (when it has no handler yet and this is the main thread) starts
        :meth:`shutdown` in a thread, after which :meth:`join` returns."""
        worker = self.runtime.call(self.aprocess(handler))
        if (
            self.handle_sigterm
            and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        ):
            signal.signal(signal.SIGTERM, self._on_sigterm)
        return worker

    def _on_sigterm(self, _signum: int, _frame: object) -> None:
        # a signal handler must return at once: the drain runs in a thread of its own (not a
        # daemon one, so the process waits for it)
        threading.Thread(target=self.shutdown, name="taskora-manager-shutdown").start()

    def _on_sigterm_in_loop(self) -> None:
        task = asyncio.get_running_loop().create_task(self.ashutdown())
        self._signalled.add(task)
        task.add_done_callback(self._signalled.discard)

    async def ashutdown(self) -> None:
        """Shut down gracefully: stop keeping the leader lease and give it up (another
        manager takes over at once), stop taking tasks, let the running ones finish (up to
        ``[worker] grace``, 30 s; the rest go back to the queue), and stop waiting for the
        callbacks of committed tasks. A second call waits for the first."""
        if self._shutting_down:
            await asyncio.to_thread(self._done.wait)
            return
        self._shutting_down = True
        try:
            if self._loop is not None and self._loop.is_running():  # else its loop ended it
                await _on(self._loop, self._stop_serving())
            else:
                with contextlib.suppress(Exception):  # a gone server: the lease runs out
                    engine = await self.runtime.engine()
                    await engine.leases.release(self.name, self.token)
            await self.watchers.acancel()
        finally:
            self._done.set()

    shutdown = blocking_twin(ashutdown)

    async def _stop_serving(self) -> None:
        """On the worker's loop: the elector, the lease, then the drain."""
        if self._stop_electing is not None and self._elector is not None:
            self._stop_electing.set()
            await asyncio.gather(self._elector, return_exceptions=True)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                engine = await self.runtime.engine()
                await engine.leases.release(self.name, self.token)
        worker, self._worker = self._worker, None
        if worker is not None:
            await worker.stop(self.app.config.worker.grace_ms)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until :meth:`shutdown` has run (by a call or a SIGTERM); True once it has,
        False if ``timeout`` seconds passed first. A process that serves ends with it."""
        return self._done.wait(timeout)

    async def ajoin(self) -> None:
        """Wait until :meth:`ashutdown` has run (by a call or a SIGTERM)."""
        await asyncio.to_thread(self._done.wait)

    def __repr__(self) -> str:
        return f"DefaultTaskManager(name={self.name!r}, token={self.token!r})"


async def _on(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on ``loop`` (where the worker lives) from any loop, and wait for it."""
    if asyncio.get_running_loop() is loop:
        return await coro
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))
