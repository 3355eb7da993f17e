"""Task: a named handler with its options, and the ways to dispatch jobs to it."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .durations import Duration, to_ms
from .engine.records import NewJob
from .errors import UsageError
from .events import Listener, register
from .handle import JobHandle
from .retry import Retry
from .serialization import dumps

if TYPE_CHECKING:
    from .app import Taskora

MAX_PRIORITY = 255
"""Priorities run 0 (default) to 255 (first); higher runs before lower."""

DEFAULT_QUEUE = "default"
"""The queue of tasks that name none."""

Handler = Callable[..., Any]


_BASE32 = bytes(b"abcdefghijklmnopqrstuvwxyz234567"[i % 32] for i in range(256))
"""Byte -> base32 digit; 256 is a multiple of 32, so every digit is equally likely."""


def new_job_id() -> str:
    """A random 16-character id (80 bits, lowercase base32: safe in URLs, shells and keys)."""
    return os.urandom(16).translate(_BASE32).decode()


@dataclass(frozen=True)
class TaskOptions:
    """Per-task settings; None means "use the app's [defaults]"."""

    retry: Retry | None = None
    timeout_ms: int | None = None
    concurrency: int | None = None
    queue: str = DEFAULT_QUEUE
    on_cancel: Handler | None = None
    """Called as ``on_cancel(data, ctx)`` (async or not) after a cancelled job's handler ended."""


class Task:
    """A registered handler. Call ``dispatch``/``adispatch`` to enqueue jobs for it."""

    def __init__(self, app: Taskora, name: str, fn: Handler, options: TaskOptions) -> None:
        self.app = app
        self.name = name
        self.fn = fn
        self.options = options
        self.is_async = inspect.iscoroutinefunction(fn)
        self.arity = _positional_arity(fn)

    def __repr__(self) -> str:
        return f"Task({self.name!r})"

    def on(self, event: str, fn: Listener | None = None) -> Any:
        """Call ``fn(event)`` on every ``event`` of this task ("completed", "failed",
        "retrying", "active", "progress", "stalled", "cancelled", "expired", ...), or use it as
        a decorator: ``@send_email.on("failed")``. Worker processes call listeners (see
        taskora_cli.events); ``fn`` may be ``async``.

        Raises:
            UsageError: an unknown event (the message lists them).
        """
        return register(self.app._listeners, self.name, event, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the handler directly, in-process (handy in unit tests)."""
        return self.fn(*args, **kwargs)

    def _new_job(
        self,
        data: Any,
        delay: Duration | None,
        priority: int,
        ttl: Duration | None,
        now_ms: int,
    ) -> NewJob:
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise UsageError(f"priority must be an int 0..{MAX_PRIORITY}, got {priority!r}")
        if not 0 <= priority <= MAX_PRIORITY:
            raise UsageError(f"priority must be within 0..{MAX_PRIORITY}, got {priority}")
        delay_ms = 0 if delay is None else to_ms(delay, what="delay")
        ttl_ms = 0 if ttl is None else to_ms(ttl, what="ttl")
        if ttl is not None and ttl_ms == 0:
            raise UsageError("ttl must be longer than 0 (omit it for jobs that never expire)")
        if ttl_ms and ttl_ms <= delay_ms:
            raise UsageError(
                f"ttl ({ttl}) must be longer than delay ({delay}): the job could only expire"
            )
        payload = dumps(data, what=f"data for task {self.name!r}")
        run_at = now_ms + delay_ms if delay_ms else 0
        return NewJob(new_job_id(), payload, priority, run_at, now_ms + ttl_ms if ttl_ms else 0)

    def dispatch(
        self,
        data: Any = None,
        *,
        delay: Duration | None = None,
        priority: int = 0,
        ttl: Duration | None = None,
    ) -> JobHandle:
        """Enqueue one job and return its handle (blocking).

        Args:
            data: the job payload; anything JSON can encode.
            delay: run no sooner than this (seconds or "5s", "10m", ...).
            priority: 0..255; higher priorities run first, FIFO within one priority.
            ttl: how long after dispatch the job may still start; a job no worker has started
                by then ends ``expired`` instead of running (result waiters get ExpiredError).

        Raises:
            UsageError: bad data, delay or priority.
            ServerError: the server cannot be reached.
        """
        return self.app._portal.call(self.adispatch(data, delay=delay, priority=priority, ttl=ttl))

    async def adispatch(
        self,
        data: Any = None,
        *,
        delay: Duration | None = None,
        priority: int = 0,
        ttl: Duration | None = None,
    ) -> JobHandle:
        """Async twin of :meth:`dispatch`."""
        now = self.app.clock()
        job = self._new_job(data, delay, priority, ttl, now)
        engine = await self.app._engine()
        if self.name not in engine.registered:  # a round trip only on a name's first dispatch
            await engine.register_tasks({self.name: self.options.queue})
        enqueued = await engine.enqueue(self.name, job, now)
        return JobHandle(self.app, self.name, job.id, enqueued)

    def dispatch_many(
        self,
        items: Iterable[Any],
        *,
        delay: Duration | None = None,
        priority: int = 0,
        ttl: Duration | None = None,
    ) -> list[JobHandle]:
        """Enqueue many jobs in one round trip per batch of 1,000 (blocking)."""
        return self.app._portal.call(
            self.adispatch_many(items, delay=delay, priority=priority, ttl=ttl)
        )

    async def adispatch_many(
        self,
        items: Iterable[Any],
        *,
        delay: Duration | None = None,
        priority: int = 0,
        ttl: Duration | None = None,
    ) -> list[JobHandle]:
        """Async twin of :meth:`dispatch_many`."""
        now = self.app.clock()
        jobs = [self._new_job(item, delay, priority, ttl, now) for item in items]
        engine = await self.app._engine()
        await engine.register_tasks({self.name: self.options.queue})
        handles: list[JobHandle] = []
        for start in range(0, len(jobs), 1000):
            batch = jobs[start : start + 1000]
            flags = await engine.enqueue_bulk(self.name, batch, now)
            handles += [
                JobHandle(self.app, self.name, j.id, f) for j, f in zip(batch, flags, strict=True)
            ]
        return handles

    def handle(self, job_id: str) -> JobHandle:
        """A handle for an existing job of this task."""
        return JobHandle(self.app, self.name, job_id)


def _positional_arity(fn: Handler) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 2
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return 2
    return min(2, sum(1 for p in params if p.kind in kinds))
