"""The ``ctx`` a handler receives: identity, logging, progress, heartbeat, retry, cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any, NoReturn

from .durations import Duration, to_seconds
from .errors import RetryError
from .serialization import dumps

LOG_CAP = 1000
"""Log entries kept per job; older ones are trimmed."""

Write = Coroutine[Any, Any, None]
Writer = Callable[[], Write]


class CancelSignal:
    """Set when the job should stop: cancelled, shutting down, or its lock was lost.

    Thread handlers poll ``is_set()`` or block in ``wait(timeout)``; async handlers may
    ``await signal.wait_async()``.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._async_event = asyncio.Event()
        self.reason: str | None = None

    def is_set(self) -> bool:
        """True once the job has been asked to stop."""
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block (in a thread handler) until set or ``timeout``; returns whether it is set."""
        return self._event.wait(timeout)

    async def wait_async(self) -> None:
        """Wait (in an async handler) until set."""
        await self._async_event.wait()

    def set(self, reason: str) -> None:
        """Ask the job to stop; call on the worker's loop."""
        if not self._event.is_set():
            self.reason = reason
            self._event.set()
            self._async_event.set()


class JobLogger:
    """``ctx.log``: structured lines stored with the job (capped at LOG_CAP)."""

    def __init__(self, ctx: JobContext) -> None:
        self._ctx = ctx

    def debug(self, message: str, **fields: Any) -> None:
        """Store a debug line with key-value fields."""
        self._ctx._log("debug", message, fields)

    def info(self, message: str, **fields: Any) -> None:
        """Store an info line with key-value fields."""
        self._ctx._log("info", message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        """Store a warning line with key-value fields."""
        self._ctx._log("warning", message, fields)

    def error(self, message: str, **fields: Any) -> None:
        """Store an error line with key-value fields."""
        self._ctx._log("error", message, fields)


class JobContext:
    """What a handler knows about the job it runs and how it talks back.

    Attributes:
        id: the job id.
        task: the task name.
        attempt: which attempt this is, 1-based.
        dispatched_at: when the job was dispatched (UTC).
        log: structured per-job logging (``ctx.log.info("msg", key=value)``).
        cancelled: the cancellation signal (shutdown, cancel, or lock lost).
    """

    def __init__(
        self,
        *,
        job_id: str,
        task: str,
        attempt: int,
        dispatched_at_ms: int,
        loop: asyncio.AbstractEventLoop,
        write_progress: Callable[[str], Write],
        write_logs: Callable[[list[str]], Write],
        heartbeat: Writer,
    ) -> None:
        self.id = job_id
        self.task = task
        self.attempt = attempt
        self.dispatched_at = datetime.fromtimestamp(dispatched_at_ms / 1000, tz=UTC)
        self.log = JobLogger(self)
        self.cancelled = CancelSignal()
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._write_progress = write_progress
        self._write_logs = write_logs
        self._heartbeat = heartbeat
        self._pending: list[asyncio.Future[None] | Future[None]] = []

    def progress(self, value: float | int | dict[str, Any]) -> None:
        """Report progress: a number (e.g. percent) or a dict; readable while the job runs."""
        self._submit(self._write_progress(dumps(value, what="progress")))

    def heartbeat(self) -> None:
        """Extend this job's lock now (long steps between automatic heartbeats)."""
        self._submit(self._heartbeat())

    def retry(self, delay: Duration | None = None, reason: str | None = None) -> NoReturn:
        """Stop this attempt and ask for another (while attempts remain).

        Raises:
            RetryError: always; let it propagate out of the handler.
        """
        raise RetryError(reason, None if delay is None else to_seconds(delay, what="delay"))

    def _log(self, level: str, message: str, fields: dict[str, Any]) -> None:
        entry = {"ts": round(time.time() * 1000), "level": level, "msg": message}
        if fields:
            entry["fields"] = fields
        self._submit(self._write_logs([dumps(entry, what="log fields")]))

    def _submit(self, coro: Coroutine[Any, Any, None]) -> None:
        if threading.get_ident() == self._loop_thread:
            self._pending.append(self._loop.create_task(coro))
        else:
            self._pending.append(asyncio.run_coroutine_threadsafe(coro, self._loop))

    async def flush(self) -> None:
        """Wait for pending progress/log writes, so they land before the job's final event."""
        while self._pending:
            pending, self._pending = self._pending, []
            for item in pending:
                waitable = item if isinstance(item, asyncio.Future) else asyncio.wrap_future(item)
                with contextlib.suppress(Exception):  # a failed log write must not fail the job
                    await waitable
