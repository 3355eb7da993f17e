"""The runtime every part of an app shares: configuration, clock, connections and listeners.

The views (inspector, dead letters, queues, schedules, events), tasks, handles and the worker
reach the server through a Runtime; ``Taskora`` is a thin facade that owns one. It knows no
task: the registry of tasks sits one layer up (task_registry.py), so arrows run one way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
import weakref
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .config import Config, load_config
from .errors import UsageError
from .fork_safe import ForkSafeLock
from .listeners import Listeners
from .names import check_prefix
from .portal import Portal
from .serialization import JSON, Payloads, Serializer, serializer_named

if TYPE_CHECKING:
    import asyncio
    import concurrent.futures

    # Imported where used, so `import taskora_cli` (and `taskora --help`) skips redis.
    from .engine.blocking_runner import Connections
    from .engine.engine import Engine
    from .engine.records import WireMigration
    from .engine.steps import Operation
    from .engine.waiter import ResultWaiter

T = TypeVar("T")

Clock = Callable[[], int]
Deliverer = Callable[["asyncio.Event", "asyncio.Event"], Coroutine[Any, Any, None]]
"""Calls the listeners of new job events until the first event is set (or it is cancelled);
sets the second once following."""


def system_clock() -> int:
    """Wall-clock time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


class Runtime:
    """One app's connection to its server: an engine per event loop, a result waiter per
    loop, a blocking bridge for plain code, the clock, the key prefix and the configuration.

    Args:
        url: the server; None reads the configuration (see :meth:`resolve_url`).
        prefix: a key prefix to share one server between apps.
        config: a loaded Config, or a path to a TOML file; None discovers one.
        clock: epoch milliseconds; tests pass a virtual clock.
        serializer: the serializer of job data and results, or its name.
        validate_on_dispatch: check data against a task's input schema on dispatch.
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
        self.payloads = Payloads(
            serializer_named(serializer) if isinstance(serializer, str) else serializer
        )
        """Encodes job data and results with the app's serializer; decodes any format."""
        self.validate_on_dispatch = validate_on_dispatch
        """Check data against a task's input schema on dispatch (the worker always does)."""
        self.given_url = url
        """The URL given in code (None: the configuration's, else the embedded server)."""
        self._prefix = None if prefix is None else check_prefix(prefix, "Taskora(prefix=...)")
        self._config = config if isinstance(config, Config) else None
        self._config_path = Path(config) if isinstance(config, str | Path) else None
        self.clock = clock
        self.listeners = Listeners()
        self.follow_in_background = True
        """Whether this process, once connected, follows the event streams for its listeners
        on the background loop. A worker turns it off (it follows them itself), and so do the
        CLI's one-shot commands (a ``taskora dispatch`` must not call the app's alerts)."""
        self._deliverer: Deliverer | None = None
        self._given_deliverer: Deliverer | None = None
        self._delivery: tuple[asyncio.Task[None], asyncio.Event] | None = None
        self._portal = Portal()
        self._engines: dict[asyncio.AbstractEventLoop, Engine] = {}
        self._waiters: dict[asyncio.AbstractEventLoop, ResultWaiter] = {}
        self._closed: dict[asyncio.AbstractEventLoop, Engine] = {}
        """The engine :meth:`aclose` closed last on each open loop, closed again by the next:
        a worker's stop closes the loop's engine under whoever else holds it, and a read
        through it since connected its client again, which nothing else would close."""
        self.registered: set[str] = set()
        """Task names this runtime recorded in the server's registry (every engine and
        blocking connection shares it, so a dispatch registers a name once)."""
        self._blocking: Connections | None = None
        self._blocking_lean: bool | None = None
        """Whether blocking dispatches use a lean connection on the caller's thread (False:
        the URL needs redis-py, TLS, so they go through the background loop)."""
        # A fork waits for a connection being set up (it imports modules: see fork_safe.py),
        # so a child forked while another thread connects connects too.
        self._connect_lock = ForkSafeLock(wait_at_fork=True)
        self._delivery_lock = ForkSafeLock()
        self.listeners.watch(self._listener_added)
        _live.add(self)

    # -- configuration -----------------------------------------------------------------------

    @property
    def config(self) -> Config:
        """The effective configuration (discovered on first use)."""
        if self._config is None:
            self._config = load_config(self._config_path)
        return self._config

    def configure(self, config: Config) -> None:
        """Replace the configuration; only before the first connection."""
        if self._engines or self._blocking is not None:
            raise UsageError("configure() must be called before the app connects to a server")
        self._config = config

    def cap_logs_per_job(self, cap: int) -> None:
        """Keep at most ``cap`` log lines per job from now on, the oldest dropped first (the
        configuration's ``[retention] max_logs_per_job``). Unlike :meth:`configure`, this
        works on a connected runtime too: the cap is read as each line is written."""
        config = self.config
        retention = config.retention._replace(max_logs_per_job=cap)
        self._config = dataclasses.replace(config, retention=retention)

    @property
    def prefix(self) -> str:
        """The key prefix in use (see :meth:`resolve_url` for which one wins)."""
        return str(self._setting("prefix", self._prefix))

    def _configured_url(self) -> str | None:
        """The URL in force (see :meth:`resolve_url` for which wins), None for the embedded
        server."""
        url: str | None = self._setting("url", self.given_url or None)
        return url

    @property
    def uses_embedded(self) -> bool:
        """True when no URL is given anywhere, so the embedded server serves this app."""
        return self._configured_url() is None

    def resolve_url(self) -> str:
        """The server URL, starting the embedded server when none is configured.

        A flag or TASKORA_* variable beats the URL given to the constructor, which beats the
        config file: the deployment overrides the code, the code overrides the project's file
        (as celery's ``-b`` and CELERY_BROKER_URL beat ``Celery(broker=...)``).
        """
        url = self._configured_url()
        if url:
            from .server_url import with_tls

            tls = self.config.tls
            return with_tls(self._checked(url), {"ca": tls.ca, "cert": tls.cert, "key": tls.key})
        from .engine.embedded import ensure_embedded

        return ensure_embedded(self.config.state_dir)

    @staticmethod
    def _checked(url: str) -> str:
        # the config checks its own URL; the constructor's is checked here, before any connect
        from .server_url import url_problem

        problem = url_problem(url)
        if problem is not None:
            raise UsageError(f"Taskora(url=...): {problem}")
        return url

    def _setting(self, key: str, given: str | None) -> Any:
        source = self.config.sources.get(key, "default")
        if given is None or source == "flag" or source.startswith("env "):
            return getattr(self.config, key)
        return given

    def redirect(self, url: str, prefix: str, clock: Clock) -> Callable[[], None]:
        """Point this runtime at ``url`` and ``prefix`` on ``clock``, whatever the
        configuration, flags or TASKORA_* variables say (so a test never reaches a
        production server); returns the undo. The test toolkit does this for one test.

        Raises:
            UsageError: the runtime is connected (close it first).
        """
        self._engines = {loop: e for loop, e in self._engines.items() if not loop.is_closed()}
        if self._engines:
            raise UsageError("the app is connected to a server: close it before redirecting it")
        self._forget_blocking()
        saved = (self.given_url, self._prefix, self.clock, self._config)
        config = self.config
        sources = {**config.sources, "url": "redirect", "prefix": "redirect"}
        self._config = dataclasses.replace(config, url=url, prefix=prefix, sources=sources)
        self.given_url, self._prefix, self.clock = url, check_prefix(prefix), clock

        def undo() -> None:
            self._forget_blocking()
            self.given_url, self._prefix, self.clock, self._config = saved

        return undo

    # -- connections (one engine per event loop) ---------------------------------------------

    async def engine(self) -> Engine:
        """The running event loop's engine, connecting (and starting the embedded server)
        on first use.

        Raises:
            ServerError: the server cannot be reached, or holds an incompatible wire format.
        """
        import asyncio

        loop = asyncio.get_running_loop()
        engine = self._engines.get(loop)
        if engine is None:
            from .engine.engine import Engine

            url, cluster = await self._where_to_connect()
            fresh = Engine(url, self.prefix, registered=self.registered, cluster=cluster)
            try:
                await fresh.connect(self.clock())
            except BaseException:  # refused (wire format) or unreachable: leave no socket open
                await fresh.close()
                raise
            engine = self._engines.setdefault(loop, fresh)
            if engine is not fresh:  # another caller on this loop connected first
                await fresh.close()
            else:
                await self._follow_for_listeners()
        return engine

    async def amigrate_wire(self) -> WireMigration:
        """Take the server over from an older wire format, its jobs and all (see
        :meth:`Engine.migrate_wire`), on a connection of its own that skips the handshake.

        Raises:
            ServerError: the server cannot be reached.
        """
        from .engine.engine import Engine

        url, cluster = await self._where_to_connect()
        engine = Engine(url, self.prefix, registered=self.registered, cluster=cluster)
        try:
            return await engine.migrate_wire(self.clock())
        finally:
            await engine.close()

    def deliver_with(self, deliverer: Deliverer) -> None:
        """How this runtime calls its listeners in a process no worker follows the streams in
        (the app layer knows the tasks; this layer does not)."""
        self._deliverer = self._given_deliverer = deliverer

    def _after_fork_in_child(self) -> None:
        """Leave the parent's background loop behind (its thread is gone): the child's next
        blocking call starts a loop of its own, connects there, and follows the streams for
        its listeners again. What the parent's loop held stays untouched (and referenced, so
        never closed by the collector): its connections are the parent's."""
        self.listeners.renew_after_fork()
        lost = self._portal.renew_after_fork()
        if lost is None:
            return
        _LEFT_BEHIND.append(lost)
        _LEFT_BEHIND.extend(
            (
                self._engines.pop(lost, None),
                self._waiters.pop(lost, None),
                self._closed.pop(lost, None),
            )
        )
        _LEFT_BEHIND.append(self._delivery)
        self._delivery = None
        self._deliverer = self._given_deliverer
        # the next blocking call connects anew (blocking_runner closed the child's copies of
        # the parent's sockets), and so starts following for the listeners, as a first does
        self._blocking, self._blocking_lean = None, None

    async def _follow_for_listeners(self) -> None:
        """In a process that only dispatches, follow the event streams for its listeners on the
        background loop from the first connection on (``task.on`` promises listeners fire
        wherever they are added); return once following, so no later event is missed."""
        import asyncio

        deliverer = self._take_deliverer()
        if deliverer is not None:
            self._delivery = await asyncio.wrap_future(self._portal.submit(_started(deliverer)))

    def _take_deliverer(self) -> Deliverer | None:
        """The deliverer, once (the follower's own connection must not start another), if this
        process is to follow the streams for its listeners now."""
        with self._delivery_lock:
            if (
                self._deliverer is None
                or self._delivery is not None
                or not self.follow_in_background
                or not self.listeners
            ):
                return None
            deliverer, self._deliverer = self._deliverer, None
            return deliverer

    def _listener_added(self) -> None:
        # A listener added after the first connection (which found none) starts following
        # here, as that connection would have; once following, the delivery picks it up.
        if self._blocking is None and not any(not loop.is_closed() for loop in list(self._engines)):
            return  # not connected: the first connection starts following
        deliverer = self._take_deliverer()
        on_loop = self._portal.is_current()  # added from the background loop: it cannot wait
        if deliverer is None:
            if self._delivery is not None and not on_loop:  # return once it reads this one too
                self.listeners.wait_followed(FOLLOW_WAIT_S)
            return
        started = self._portal.submit(_started(deliverer))
        if on_loop:
            started.add_done_callback(self._delivery_started)
            return
        self._delivery = started.result()  # return once following: no later event is missed

    def _delivery_started(
        self, started: concurrent.futures.Future[tuple[asyncio.Task[None], asyncio.Event]]
    ) -> None:
        if not started.cancelled() and started.exception() is None:
            self._delivery = started.result()

    @property
    def follows_for_listeners(self) -> bool:
        """Whether this runtime's background loop calls the listeners (a worker started in
        this process then leaves them to it)."""
        return self._delivery is not None

    async def _where_to_connect(self) -> tuple[str, bool]:
        """The URL and whether it is a cluster, asked in a thread only when that may block
        (starting the embedded server, asking a TCP server's INFO): a worker on a socket URL
        claims sooner without the thread hops."""
        import asyncio

        def where() -> tuple[str, bool]:
            url = self._resolve_url_once()
            return url, self._is_cluster(url)

        url = self._configured_url()
        if url and (self.config.cluster or str(url).startswith("unix://")):
            return where()  # nothing to start, nothing to ask over the network
        return await asyncio.to_thread(where)

    def _resolve_url_once(self) -> str:
        with self._connect_lock:  # two loops starting at once must not race to start a server
            return self.resolve_url()

    @property
    def connected(self) -> bool:
        """True once some event loop has connected."""
        return bool(self._engines)

    async def waiter(self) -> ResultWaiter:
        """The running event loop's result waiter (one subscription shared by every wait)."""
        import asyncio

        loop = asyncio.get_running_loop()
        waiter = self._waiters.get(loop)
        if waiter is None:
            from .engine.waiter import ResultWaiter

            waiter = self._waiters[loop] = ResultWaiter(await self.engine())
        return waiter

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` from plain (blocking) code on the runtime's background loop."""
        return self._portal.call(coro)

    # -- operations (engine/steps.py), async or blocking ---------------------------------------

    async def adrive(self, operation: Operation[T]) -> T:
        """Run an engine operation on the running event loop's engine.

        Raises:
            ServerError: the server cannot be reached, or refused a call.
        """
        engine = await self.engine()
        return await engine.runner.drive(operation(engine.runner))

    def drive(self, operation: Operation[T]) -> T:
        """Run an engine operation from plain code, on a lean connection of the calling
        thread's own (no hand-off to the background loop); through the background loop where
        the URL needs redis-py (TLS).

        Raises:
            ServerError: the server cannot be reached, or refused a call.
            WireFormatError: the server holds an incompatible layout.
        """
        connections = self._blocking or self._open_blocking()
        if connections is None:
            return self.call(self.adrive(operation))
        runner = connections.runner()
        return runner.drive(operation(runner))

    def _open_blocking(self) -> Connections | None:
        """The blocking connections (None where the URL needs redis-py), made on first use:
        resolving the URL, and following the event streams for listeners as the first
        connection of any loop does (see :meth:`engine`)."""
        if self._blocking_lean is False:
            return None
        with self._connect_lock:
            if self._blocking is None:
                from .engine.blocking_runner import Connections
                from .engine.resp import supports

                url = self.resolve_url()
                # a cluster routes each script to its slot's master: the background loop's
                # engine does that, so blocking calls go through it there (as over TLS)
                self._blocking_lean = supports(url) and not self._is_cluster(url)
                if not self._blocking_lean:
                    return None
                self._blocking = Connections(url, self.prefix, self.registered, self.clock)
            connections = self._blocking
        deliverer = self._take_deliverer()
        if deliverer is not None:
            self._delivery = self._portal.call(_started(deliverer))
        return connections

    def _is_cluster(self, url: str) -> bool:
        """The config's word when it says (``cluster = true/false``), else the server's INFO."""
        if self.config.cluster is not None:
            return self.config.cluster
        from .engine.cluster_probe import detect_cluster

        return detect_cluster(url)

    def _forget_blocking(self) -> None:
        """Close the blocking connections; the next connection (blocking or not) starts
        afresh, to the server and prefix then in force, recording task names again."""
        with self._connect_lock:
            connections, self._blocking, self._blocking_lean = self._blocking, None, None
            self.registered = set()
        if connections is not None:
            connections.close()

    async def aclose(self) -> None:
        """Close the connections of the current event loop, and stop following events for
        listeners."""
        import asyncio

        delivery, self._delivery = self._delivery, None
        if delivery is not None:
            await asyncio.wrap_future(self._portal.submit(_stopped(delivery)))
        loop = asyncio.get_running_loop()
        waiter = self._waiters.pop(loop, None)
        if waiter is not None:
            await waiter.close()
        engine = self._engines.pop(loop, None)
        closed_before = self._closed.pop(loop, None)
        for closing in (closed_before, engine):
            if closing is not None:
                await closing.close()
        self._closed = {k: e for k, e in self._closed.items() if not k.is_closed()}
        last = engine or closed_before
        if last is not None:
            self._closed[loop] = last

    def close(self) -> None:
        """Close the blocking API's connections (and stop following events for listeners)."""
        self._forget_blocking()
        loops = [*self._engines, *self._closed]
        if self._delivery is not None or any(not loop.is_closed() for loop in loops):
            with contextlib.suppress(RuntimeError):
                self._portal.call(self.aclose())
        self._portal.close()


_live: weakref.WeakSet[Runtime] = weakref.WeakSet()
"""Every runtime of this process (one that is gone needs nothing after a fork)."""

_LEFT_BEHIND: list[object] = []
"""What a forked child inherited from its parent's background loops: kept, so the collector
never closes (and warns of) connections that are the parent's."""


def _after_fork_in_child() -> None:
    for runtime in list(_live):
        runtime._after_fork_in_child()  # noqa: SLF001  (this module's own class)


os.register_at_fork(after_in_child=_after_fork_in_child)


FOLLOW_WAIT_S = 5.0
"""How long adding a listener waits at most for the running delivery to read its task's
stream (it looks for new listeners after each read of up to a second)."""


async def _started(deliverer: Deliverer) -> tuple[asyncio.Task[None], asyncio.Event]:
    """Start a delivery on the running (background) loop; return once it follows."""
    import asyncio

    stop, following = asyncio.Event(), asyncio.Event()
    task = asyncio.get_running_loop().create_task(deliverer(stop, following))
    await following.wait()
    return task, stop


async def _stopped(delivery: tuple[asyncio.Task[None], asyncio.Event]) -> None:
    """Stop a delivery (on its own loop) and wait for it to unwind. The flag as well as the
    cancel: on Python 3.11 a cancel can be swallowed inside redis-py's blocking read, and the
    flag then ends the loop after that read."""
    task, stop = delivery
    stop.set()
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
