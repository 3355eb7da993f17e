"""The ``ctx`` a handler receives: identity, logging, progress, heartbeat, retry, cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, NoReturn, Protocol

from .durations import Duration, to_seconds
from .errors import RetryError
from .serialization import dumps

log = logging.getLogger("taskora.worker")

Write = Coroutine[Any, Any, None]

_signal_lock = threading.Lock()


class JobIO(Protocol):
    """How a context talks to the server: one per task in a worker, shared by its jobs."""

    def write_progress(self, job_id: str, value: str | None, update: str | None = None) -> Write:
        """Store progress ``value`` (None: keep it) and announce it, with ``update`` if given."""
        ...

    def write_logs(self, job_id: str, entries: list[str]) -> Write: ...

    def extend_lock(self, job_id: str, token: str) -> Write: ...

    def now_ms(self) -> int:
        """The worker's clock (a test's virtual one stamps log lines with virtual time)."""
        ...


class CancelSignal:
    """Set when the job should stop: cancelled, shutting down, or its lock was lost.

    Thread handlers poll ``is_set()`` or block in ``wait(timeout)``; async handlers may
    ``await signal.wait_async()``. The events behind the waits are made on first use: most
    jobs never wait, and starting a job is the hot path.
    """

    __slots__ = ("_async_event", "_event", "reason")

    def __init__(self) -> None:
        self.reason: str | None = None
        self._event: threading.Event | None = None
        self._async_event: asyncio.Event | None = None

    def is_set(self) -> bool:
        """True once the job has been asked to stop."""
        return self.reason is not None

    def wait(self, timeout: float | None = None) -> bool:
        """Block (in a thread handler) until set or ``timeout``; returns whether it is set."""
        event = self._event
        if event is None:
            with _signal_lock:  # set() reads the event under the same lock: no lost wake-up
                if self._event is None:
                    self._event = threading.Event()
                    if self.reason is not None:
                        self._event.set()
                event = self._event
        return event.wait(timeout)

    async def wait_async(self) -> None:
        """Wait (in an async handler) until set."""
        if self._async_event is None:
            self._async_event = asyncio.Event()
            if self.reason is not None:
                self._async_event.set()
        await self._async_event.wait()

    def set(self, reason: str) -> None:
        """Ask the job to stop; call on the worker's loop."""
        with _signal_lock:
            if self.reason is not None:
                return
            self.reason = reason
            event = self._event
        if event is not None:
            event.set()
        if self._async_event is not None:
            self._async_event.set()


class JobLogger:
    """``ctx.log``: structured lines stored with the job (capped by ``[retention]
    max_logs_per_job``)."""

    __slots__ = ("_write",)

    def __init__(self, write: Callable[[str, str, dict[str, Any]], None]) -> None:
        self._write = write  # (level, message, fields): stores one line with the job

    def debug(self, message: str, **fields: Any) -> None:
        """Store a debug line with key-value fields."""
        self._write("debug", message, fields)

    def info(self, message: str, **fields: Any) -> None:
        """Store an info line with key-value fields."""
        self._write("info", message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        """Store a warning line with key-value fields."""
        self._write("warning", message, fields)

    def error(self, message: str, **fields: Any) -> None:
        """Store an error line with key-value fields."""
        self._write("error", message, fields)


class JobContext:
    """What a handler knows about the job it runs and how it talks back.

    Attributes:
        id: the job id.
        task: the task name.
        attempt: which attempt this is, 1-based.
        dispatched_at: when the job was dispatched (UTC).
        log: structured per-job logging (``ctx.log.info("msg", key=value)``).
        cancelled: the cancellation signal (shutdown, cancel, or lock lost).
        data: the job's data; a middleware may replace it before ``call_next()`` and the
            handler then receives the new value.
        result: what the handler returned (None until it has); a middleware may replace it
            after ``call_next()`` and the job stores the final value.
        trace_context: the W3C trace context (``traceparent``/``tracestate``) the dispatching
            process carried in the job, or None; the OpenTelemetry middleware parents its
            span to it.
        state: the worker process's shared namespace, which ``@app.on_startup`` hooks fill
            (a database pool, an HTTP client); the same object for every job of the worker.
    """

    __slots__ = (
        "_closed",
        "_dispatched_at_ms",
        "_io",
        "_last_write",
        "_logger",
        "_loop",
        "_loop_thread",
        "_pending",
        "_token",
        "attempt",
        "cancelled",
        "data",
        "id",
        "result",
        "state",
        "task",
        "trace_context",
    )

    def __init__(
        self,
        *,
        job_id: str,
        task: str,
        attempt: int,
        dispatched_at_ms: int,
        token: str,
        io: JobIO,
        loop: asyncio.AbstractEventLoop,
        loop_thread: int,
        data: Any = None,
        trace_context: dict[str, str] | None = None,
        state: SimpleNamespace | None = None,
    ) -> None:
        self.id = job_id
        self.state = SimpleNamespace() if state is None else state
        self.task = task
        self.attempt = attempt
        self.cancelled = CancelSignal()
        self.data = data
        self.result: Any = None
        self.trace_context = trace_context
        self._dispatched_at_ms = dispatched_at_ms
        self._token = token
        self._io = io
        self._loop = loop
        self._loop_thread = loop_thread
        self._logger: JobLogger | None = None
        self._pending: list[asyncio.Future[None] | Future[None]] | None = None
        self._last_write: asyncio.Future[None] | Future[None] | None = None
        self._closed = False

    @property
    def dispatched_at(self) -> datetime:
        """When the job was dispatched (UTC)."""
        return datetime.fromtimestamp(self._dispatched_at_ms / 1000, tz=UTC)

    @property
    def log(self) -> JobLogger:
        """Structured per-job logging: ``ctx.log.info("msg", key=value)``."""
        if self._logger is None:
            self._logger = JobLogger(self._log)
        return self._logger

    def progress(self, value: float | int | dict[str, Any]) -> None:
        """Report progress: a number (e.g. percent) or a dict; readable while the job runs."""
        self._submit(self._io.write_progress(self.id, dumps(value, what="progress")))

    def announce(self, data: Any, progress: float | int | dict[str, Any] | None = None) -> None:
        """Send ``data`` (any JSON value) to whoever follows this job: the WebSocket
        gateway's clients get ``{"type": "task_update", "taskId", "data", "progress"}``, and
        ``progress`` listeners an event whose ``details["update"]`` holds it as JSON.
        ``progress``, when given, is stored as the job's progress too. In order with
        ``progress`` and log writes, and on the server before the job's final event."""
        stored = None if progress is None else dumps(progress, what="progress")
        update = dumps(data, what="announced data")
        self._submit(self._io.write_progress(self.id, stored, update))

    def heartbeat(self) -> None:
        """Extend this job's lock now (long steps between automatic heartbeats)."""
        # not in line behind progress/log writes: a slow log write must not let the lock lapse
        self._submit(self._io.extend_lock(self.id, self._token), ordered=False)

    def retry(self, delay: Duration | None = None, reason: str | None = None) -> NoReturn:
        """Stop this attempt and ask for another (while attempts remain).

        Raises:
            RetryError: always; let it propagate out of the handler.
        """
        raise RetryError(reason, None if delay is None else to_seconds(delay, what="delay"))

    def _log(self, level: str, message: str, fields: dict[str, Any]) -> None:
        entry = {"ts": self._io.now_ms(), "level": level, "msg": message}
        if fields:
            entry["fields"] = fields
        self._submit(self._io.write_logs(self.id, [dumps(entry, what="log fields")]))

    def close(self) -> None:
        """This run no longer owns the job (settled, timed out, handed back, lock lost): a
        handler still running (a thread cannot be stopped) must not write progress, logs or
        heartbeats over the job's next run, which the server would take from anyone."""
        self._closed = True

    def _submit(self, coro: Coroutine[Any, Any, None], *, ordered: bool = True) -> None:
        """Send ``coro`` on the worker's loop; ``ordered`` writes start only once the previous
        ordered write has ended."""
        if self._closed:
            coro.close()
            log.debug(
                "taskora: %s job %s: dropped a write from a run that ended", self.task, self.id
            )
            return
        if self._pending is None:
            self._pending = []
        write = _in_order(self._last_write, coro) if ordered else coro
        submitted: asyncio.Future[None] | Future[None]
        if threading.get_ident() == self._loop_thread:
            submitted = self._loop.create_task(write)
        else:
            submitted = asyncio.run_coroutine_threadsafe(write, self._loop)
        self._pending.append(submitted)
        if ordered:
            self._last_write = submitted

    @property
    def has_pending(self) -> bool:
        """Whether progress/log writes are still on their way."""
        return bool(self._pending)

    async def flush(self) -> None:
        """Wait for pending progress/log writes, so they land before the job's final event."""
        while self._pending:
            pending, self._pending = self._pending, []
            for item in pending:
                with contextlib.suppress(Exception):  # a failed log write must not fail the job
                    await asyncio.wrap_future(item)


async def _in_order(
    previous: asyncio.Future[None] | Future[None] | None, write: Coroutine[Any, Any, None]
) -> None:
    """Run ``write`` once the job's previous write has ended: each write travels on its own
    connection, so without this ``progress(10)`` then ``progress(90)`` could land as 90, 10."""
    try:
        if previous is not None:
            # its failure is its own: this write goes on
            await asyncio.wait([asyncio.wrap_future(previous)])
    except BaseException:
        write.close()  # cancelled while waiting: the write never started
        raise
    await write
