"""Run one job's handler and turn what happened into an Outcome for the engine."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import traceback
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from ..context import JobContext
from ..engine.records import ClaimedJob
from ..errors import RetryError, SerializationError, TaskTimeoutError
from ..retry import Retry
from ..serialization import dumps, loads
from ..task import Task


@dataclass(slots=True)
class Outcome:
    """How one attempt ended: a JSON result, or a JSON error and maybe a retry time."""

    job: ClaimedJob
    ok: bool
    result: str = ""
    error: str = ""
    retry_at_ms: int | None = None
    error_summary: str = ""


async def run_handler(
    task: Task, job: ClaimedJob, ctx: JobContext, timeout_s: float, executor: Executor
) -> Any:
    """Call the handler with (data, ctx), as its signature asks, within ``timeout_s``.

    Raises:
        TaskTimeoutError: the attempt ran too long (a thread handler keeps running; its
            cancellation signal is set so it can stop).
    """
    args = (loads(job.data), ctx)[: task.arity]
    try:
        async with asyncio.timeout(timeout_s) as scope:
            if task.is_async:
                return await task.fn(*args)
            call = functools.partial(contextvars.copy_context().run, task.fn, *args)
            return await asyncio.get_running_loop().run_in_executor(executor, call)
    except TimeoutError:
        if not scope.expired():
            raise  # the handler's own TimeoutError, not ours
        ctx.cancelled.set("timeout")
        raise TaskTimeoutError(f"job {job.id} did not finish within {timeout_s:g}s") from None


def describe_error(error: BaseException) -> str:
    """The error as JSON: type, message and traceback, for the job record."""
    kind = type(error)
    name = (
        kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    )
    trace = "".join(traceback.format_exception(error))
    return dumps({"type": name, "message": str(error), "traceback": trace}, what="error")


def failed(job: ClaimedJob, error: BaseException, retry: Retry, now_ms: int) -> Outcome:
    """The Outcome of a failed attempt: retry later, or fail for good."""
    retry_at: int | None = None
    if retry.should_retry(error, job.attempt):
        explicit = error.delay if isinstance(error, RetryError) else None
        delay_ms = round(explicit * 1000) if explicit is not None else retry.delay_ms(job.attempt)
        retry_at = now_ms + delay_ms
    summary = f"{type(error).__name__}: {error}"
    return Outcome(
        job, False, error=describe_error(error), retry_at_ms=retry_at, error_summary=summary
    )


def succeeded(job: ClaimedJob, value: Any, retry: Retry, now_ms: int) -> Outcome:
    """The Outcome of a handler that returned ``value`` (a failure if it is not JSON)."""
    try:
        return Outcome(job, True, result=dumps(value, what="the handler's return value"))
    except SerializationError as exc:
        return failed(job, exc, Retry(attempts=1), now_ms)
