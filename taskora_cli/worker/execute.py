"""Start one job's handler and turn what happened into an Outcome for the engine."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

from ..context import JobContext
from ..engine.records import ClaimedJob
from ..errors import (
    JobVersionError,
    RetryError,
    SerializationError,
    TaskTimeoutError,
    ValidationError,
)
from ..retry import NO_RETRY, Retry
from ..serialization import dumps
from ..task import Task
from .plan import store_json

log = logging.getLogger("taskora.worker")


@dataclass(slots=True)
class Outcome:
    """How one attempt ended: a JSON result, or a JSON error and maybe a retry time."""

    job: ClaimedJob
    ok: bool
    result: str = ""
    error: str = ""
    retry_at_ms: int | None = None
    error_summary: str = ""
    cancelled: bool = False
    """The job was asked to cancel while it ran; the engine ends it ``cancelled``."""
    exception: BaseException | None = None
    """The handler's own error, for in-process callers (the test toolkit's ``run`` raises it)."""


def start_handler(
    task: Task, data: Any, ctx: JobContext | None, executor: Executor
) -> tuple[Awaitable[Any], Future[Any] | None]:
    """Call the handler with (data, ctx), as many as its signature takes.

    An ``async def`` handler gives its coroutine; a plain ``def`` one runs in ``executor`` (in a
    copy of the caller's context variables) and gives an awaitable of that, and the thread's
    own future: it tells when the thread really ends, which a timeout does not.
    """
    args = (data,) if task.arity == 1 else (data, ctx)[: task.arity]
    if task.is_async:
        awaitable: Awaitable[Any] = task.fn(*args)
        return awaitable, None
    thread = executor.submit(contextvars.copy_context().run, task.fn, *args)
    return asyncio.wrap_future(thread), thread


def cancelled(job: ClaimedJob) -> Outcome:
    """The Outcome of a job cancelled while it ran: whatever its handler did, the engine sees
    the job's cancel flag as it settles it and ends it cancelled."""
    return Outcome(job, True, result="null", cancelled=True)


async def run_on_cancel(
    task: Task, data: Any, ctx: JobContext, loop: asyncio.AbstractEventLoop, executor: Executor
) -> None:
    """Run the task's ``on_cancel(data, ctx)`` hook, if it has one; its errors are logged."""
    hook = task.options.on_cancel
    if hook is None:
        return
    try:
        if inspect.iscoroutinefunction(hook):
            await hook(data, ctx)
        else:
            call = functools.partial(contextvars.copy_context().run, hook, data, ctx)
            await loop.run_in_executor(executor, call)
    except (asyncio.CancelledError, GeneratorExit):  # this coroutine is being stopped
        raise
    except BaseException:  # a hook's sys.exit() must not end the worker either
        log.exception("taskora: %s: the on_cancel hook of job %s failed", task.name, ctx.id)


PERMANENT = (ValidationError, JobVersionError)
"""Errors no attempt can mend: the same data fails the same way, so they are never retried."""


def describe_error(error: BaseException, message: str | None = None) -> str:
    """The error as JSON: type, message and traceback, for the job record; a
    ValidationError adds ``issues``, a list of ``{"path", "message"}``."""
    kind = type(error)
    if kind.__module__ == "builtins" or isinstance(error, PERMANENT):
        name = kind.__name__  # the permanent ones: the shared name readers look for
    else:
        name = f"{kind.__module__}.{kind.__qualname__}"
    trace = "".join(traceback.format_exception(error))
    text = str(error) if message is None else message
    record: dict[str, Any] = {"type": name, "message": text, "traceback": trace}
    if isinstance(error, ValidationError):
        record["issues"] = [{"path": i.path, "message": i.message} for i in error.issues]
    return dumps(record, what="error")


def failed(job: ClaimedJob, error: BaseException, retry: Retry, now_ms: int) -> Outcome:
    """The Outcome of a failed attempt: retry later, or fail for good.

    A BaseException that is not an Exception (``sys.exit()``, KeyboardInterrupt) is an error of
    the handler like any other: it fails the attempt instead of ending the worker, and says so.
    """
    retry_at: int | None = None
    if not isinstance(error, PERMANENT) and retry.should_retry(error, job.attempt):
        explicit = error.delay if isinstance(error, RetryError) else None
        delay_ms = round(explicit * 1000) if explicit is not None else retry.delay_ms(job.attempt)
        retry_at = now_ms + delay_ms
    if isinstance(error, Exception):
        message = None
        summary = f"{type(error).__name__}: {error}"
    else:
        message = summary = f"handler raised {error!r}"
    return Outcome(
        job,
        False,
        error=describe_error(error, message),
        retry_at_ms=retry_at,
        error_summary=summary,
        exception=error,
    )


def timed_out(job: ClaimedJob, timeout_s: float, retry: Retry, now_ms: int) -> Outcome:
    """The Outcome of an attempt that ran past the task's timeout."""
    error = TaskTimeoutError(f"job {job.id} did not finish within {timeout_s:g}s")
    return failed(job, error, retry, now_ms)


def succeeded(
    job: ClaimedJob,
    value: Any,
    clock: Callable[[], int],
    store: Callable[[Any], str] | None = None,
) -> Outcome:
    """The Outcome of a handler that returned ``value``: ``store`` (default: JSON) turns it
    into the stored text (a failure, never retried, if it cannot: not encodable, or not the
    output schema)."""
    if store is None:
        if value is None:  # the common case of a plain task: no call at all
            return Outcome(job, True, result="null")
        store = store_json
    try:
        return Outcome(job, True, result=store(value))
    except (SerializationError, ValidationError) as exc:
        return failed(job, exc, NO_RETRY, clock())
