"""Middleware: functions wrapped around a task's handler, onion style.

A middleware takes the job's context and ``call_next``; code before ``call_next()`` sees the
job on its way in (``ctx.data`` may be replaced), code after it sees the way out
(``ctx.result`` may be read or replaced)::

    async def timing(ctx, call_next):
        started = time.perf_counter()
        await call_next()
        print(ctx.task, time.perf_counter() - started)

A plain ``def mw(ctx, call_next)`` works too: it runs in a worker thread, like a plain handler,
and its ``call_next()`` blocks until the inner layers have finished.

The worker composes each task's chain once, when it starts (``compose``), not per job.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import CancelledError as FutureCancelledError
from concurrent.futures import Executor, Future
from inspect import CORO_CREATED
from typing import TYPE_CHECKING, Any, TypeAlias

from .errors import UsageError

if TYPE_CHECKING:
    from .context import JobContext

Middleware: TypeAlias = Callable[["JobContext", Callable[[], Any]], Any]
"""``async def mw(ctx, call_next)`` (awaits ``call_next()``) or ``def mw(ctx, call_next)``
(calls it; runs in a worker thread)."""

Step: TypeAlias = Callable[["JobContext"], Awaitable[Any]]
"""One job's way through the chain: given the context, gives the job's result."""

_Layer: TypeAlias = Callable[["JobContext"], Coroutine[Any, Any, None]]

TRACE_MARK = "taskora_reads_trace_context"
"""Set this attribute to True on a middleware that reads ``ctx.trace_context`` (as
``otel_middleware`` does): the worker fills it from the job's trace context only for tasks
whose chain holds such a middleware; elsewhere ``ctx.trace_context`` is None."""


def compose(
    middlewares: Sequence[Middleware], handler: Step, *, executor: Executor | None = None
) -> Step:
    """Wrap ``handler`` in ``middlewares``, the first one outermost.

    Called once per task when the worker starts. The returned step, awaited with a job's
    context, runs the chain and gives the job's result: ``ctx.result`` as the outermost
    middleware left it (the handler's return value unless a middleware replaced it; None if
    one skipped the handler by not calling ``call_next``). An exception nobody swallowed
    propagates; one a middleware swallowed leaves the job completed with ``ctx.result``.

    Args:
        middlewares: app-level ones first, then the task's; each ``(ctx, call_next)``.
        handler: the innermost step, ``async (ctx) -> value``; it should call the task's
            function with ``ctx.data``, which a middleware may have replaced.
        executor: where plain (non-async) middlewares run; None means the loop's default.
            Each running job holds one thread per plain middleware it is inside, on top of its
            handler's: size the pool with ``threads_per_job``.

    Returns:
        ``handler`` itself when there are no middlewares (no cost per job), else the chain.

    Raises:
        UsageError: a middleware is not callable with ``(ctx, call_next)``.
    """
    for middleware in middlewares:
        check_middleware(middleware)
    if not middlewares:
        return handler

    async def innermost(ctx: JobContext) -> None:
        ctx.result = await handler(ctx)

    chain: _Layer = innermost
    for middleware in reversed(middlewares):
        if _is_async(middleware):
            chain = _async_layer(middleware, chain)
        else:
            chain = _thread_layer(middleware, chain, executor)
    outermost = chain

    async def run(ctx: JobContext) -> Any:
        await outermost(ctx)
        return ctx.result

    return run


def threads_per_job(middlewares: Sequence[Middleware]) -> int:
    """How many threads one job's plain middlewares hold at once (all of them, nested).

    A worker's pool needs ``concurrency * (threads_per_job(mws) + 1)`` threads for a task with
    plain handlers (``+ 0`` for async ones): otherwise jobs blocked in a middleware's
    ``call_next()`` could hold every thread while their handlers wait for one.
    """
    return sum(1 for middleware in middlewares if not _is_async(middleware))


def _async_layer(middleware: Middleware, inner: _Layer) -> _Layer:
    async def layer(ctx: JobContext) -> None:
        called = False
        handed_out: Coroutine[Any, Any, None] | None = None

        async def run_inner() -> None:
            nonlocal called
            if called:
                raise UsageError(f"middleware {_name(middleware)} called call_next() twice")
            called = True
            await inner(ctx)

        def call_next() -> Coroutine[Any, Any, None]:
            nonlocal handed_out
            handed_out = run_inner()
            return handed_out

        try:
            await middleware(ctx, call_next)
        except BaseException:
            _discard_unawaited(handed_out)  # its own error says more than ours would
            raise
        # `call_next()` without `await` would complete the job without running the handler
        # (and only warn once the coroutine is collected): fail the job instead
        if _discard_unawaited(handed_out):
            raise UsageError(
                f"middleware {_name(middleware)} called call_next() without awaiting it: "
                "write `await call_next()`"
            )

    return layer


def _discard_unawaited(coroutine: Coroutine[Any, Any, None] | None) -> bool:
    """Close ``coroutine`` if it was made but never awaited; tell whether it was."""
    if coroutine is None or inspect.getcoroutinestate(coroutine) != CORO_CREATED:
        return False
    coroutine.close()
    return True


def _thread_layer(middleware: Middleware, inner: _Layer, executor: Executor | None) -> _Layer:
    async def layer(ctx: JobContext) -> None:
        below = _InnerRun(middleware, inner, ctx, asyncio.get_running_loop())
        run = functools.partial(_run_plain, middleware, ctx, below.call_next)
        try:
            await below.loop.run_in_executor(executor, contextvars.copy_context().run, run)
        except asyncio.CancelledError:
            await below.stop()
            raise

    return layer


def _run_plain(middleware: Middleware, ctx: JobContext, call_next: Callable[[], None]) -> None:
    returned = middleware(ctx, call_next)
    if inspect.isawaitable(returned):
        if inspect.iscoroutine(returned):
            returned.close()
        raise UsageError(
            f"middleware {_name(middleware)} returned an awaitable from a plain "
            "function: declare it `async def` so the worker awaits it"
        )


class _InnerRun:
    """The layers below a plain middleware, for one job: asked for by its thread
    (``call_next``), run on the loop as a task only the loop touches (so starting and
    cancelling it cannot race). When the layer is cancelled (timeout, cancel, shutdown) that
    task is cancelled and awaited: the job is over only once the handler has unwound, as when
    every middleware is async."""

    def __init__(
        self,
        middleware: Middleware,
        inner: _Layer,
        ctx: JobContext,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.middleware = middleware
        self.inner = inner
        self.ctx = ctx
        self.loop = loop
        self.loop_thread = threading.get_ident()
        self.task: asyncio.Task[None] | None = None
        self.stopped = False
        self.called = False
        self.guard = threading.Lock()  # a middleware may call call_next from threads of its own

    def call_next(self) -> None:
        """In the middleware's thread: run the inner layers, block until they are done."""
        name = _name(self.middleware)
        if threading.get_ident() == self.loop_thread:
            raise UsageError(
                f"middleware {name}: call_next() of a plain middleware must be called from the "
                "thread it runs in"
            )
        with self.guard:
            if self.called:
                raise UsageError(f"middleware {name} called call_next() twice")
            self.called = True
        if self.stopped:  # already cancelled: spare the loop (it may be gone); _start decides
            raise asyncio.CancelledError
        outcome: Future[None] = Future()
        # the inner layers see the context variables this thread set
        self.loop.call_soon_threadsafe(self._start, outcome, contextvars.copy_context())
        try:
            outcome.result()
        except FutureCancelledError:
            # a BaseException, as on the loop: `except Exception` must not swallow a timeout
            raise asyncio.CancelledError from None

    def _start(self, outcome: Future[None], context: contextvars.Context) -> None:
        if self.stopped:  # the layer was cancelled before call_next() reached the loop
            outcome.cancel()
            return
        self.task = self.loop.create_task(self.inner(self.ctx), context=context)
        self.task.add_done_callback(functools.partial(_settle, outcome))

    async def stop(self) -> None:
        """On the loop, once the layer is cancelled: cancel the inner layers, wait for them."""
        self.stopped = True
        if self.task is not None and not self.task.done():
            self.task.cancel()
            # its outcome goes to the thread, not here; a second cancellation stops the
            # waiting, not the unwinding
            await asyncio.wait([self.task])


def _settle(outcome: Future[None], task: asyncio.Task[None]) -> None:
    """Hand the inner layers' outcome to the plain middleware's thread, blocked on it."""
    if task.cancelled():
        outcome.cancel()
    elif (error := task.exception()) is not None:
        outcome.set_exception(error)
    else:
        outcome.set_result(None)


def _is_async(fn: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 -- an instance with `async def __call__`
    return call is not None and inspect.iscoroutinefunction(call)


def check_middleware(middleware: object) -> None:
    """Refuse what cannot be a middleware (not a function of ``(ctx, call_next)``)."""
    if not callable(middleware):
        raise UsageError(
            f"middleware {middleware!r} is not callable: pass a function (ctx, call_next)"
        )
    try:
        signature = inspect.signature(middleware)
    except (TypeError, ValueError):
        return  # a builtin or C callable: nothing to check; a wrong one fails on its first job
    try:
        signature.bind(None, None)
    except TypeError:
        raise UsageError(
            f"middleware {_name(middleware)} must take two arguments (ctx, call_next); "
            f"its signature is {signature}"
        ) from None


def _name(fn: object) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def log_timing(
    logger: logging.Logger | None = None,
    level: int = logging.INFO,
    *,
    error_level: int = logging.WARNING,
) -> Middleware:
    """A middleware that logs one line per job: task, job id, attempt, outcome, duration.

    The line's fields are also on the record (``extra``) as ``taskora_task``,
    ``taskora_job_id``, ``taskora_attempt``, ``taskora_outcome`` and ``taskora_duration_ms``,
    for structured log handlers. Outcomes: ``completed``, ``failed`` (the exception's type
    follows) or ``cancelled`` (timed out, cancelled or shut down).

    Args:
        logger: where to log; defaults to the ``taskora.jobs`` logger.
        level: the level of lines for completed jobs.
        error_level: the level of lines for failed and cancelled ones.
    """
    target = logger if logger is not None else logging.getLogger("taskora.jobs")

    async def log_timing(ctx: JobContext, call_next: Callable[[], Awaitable[None]]) -> None:
        started = time.perf_counter()
        outcome, line_level, error = "completed", level, ""
        try:
            await call_next()
        except asyncio.CancelledError:
            outcome, line_level = "cancelled", error_level
            raise
        except BaseException as exc:
            outcome, line_level, error = "failed", error_level, f" ({type(exc).__name__})"
            raise
        finally:
            if target.isEnabledFor(line_level):
                duration_ms = (time.perf_counter() - started) * 1000
                target.log(
                    line_level,
                    "taskora: %s job %s attempt %d %s%s in %.1f ms",
                    ctx.task,
                    ctx.id,
                    ctx.attempt,
                    outcome,
                    error,
                    duration_ms,
                    extra={
                        "taskora_task": ctx.task,
                        "taskora_job_id": ctx.id,
                        "taskora_attempt": ctx.attempt,
                        "taskora_outcome": outcome,
                        "taskora_duration_ms": duration_ms,
                    },
                )

    return log_timing


__all__ = ["TRACE_MARK", "Middleware", "Step", "compose", "log_timing", "threads_per_job"]
