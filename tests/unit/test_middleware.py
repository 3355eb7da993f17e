"""Middleware composition: onion order, async and plain middlewares, data and result
replacement, short-circuit, errors, cancellation, and the shipped log_timing/otel ones."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import subprocess
import sys
import threading
from typing import Any

import pytest

from taskora_cli.context import JobContext
from taskora_cli.errors import UsageError
from taskora_cli.middleware import compose, log_timing, threads_per_job


class NoIO:
    """A context's server side; these tests never write progress or logs."""

    async def write_progress(self, job_id: str, value: str) -> None:
        raise AssertionError("no writes expected")

    def now_ms(self) -> int:
        return 0

    async def write_logs(self, job_id: str, entries: list[str]) -> None:
        raise AssertionError("no writes expected")

    async def extend_lock(self, job_id: str, token: str) -> None:
        raise AssertionError("no writes expected")


def make_context(data: Any = None, **fields: Any) -> JobContext:
    return JobContext(
        job_id="job-1",
        task="send-email",
        attempt=2,
        dispatched_at_ms=0,
        token="tok",
        io=NoIO(),
        loop=asyncio.get_running_loop(),
        loop_thread=threading.get_ident(),
        data=data,
        **fields,
    )


def recording(calls: list[str], name: str, *, plain: bool = False) -> Any:
    """A middleware that notes when it enters and leaves."""
    if plain:

        def plain_mw(ctx: JobContext, call_next: Any) -> None:
            calls.append(f"{name} in")
            call_next()
            calls.append(f"{name} out")

        return plain_mw

    async def async_mw(ctx: JobContext, call_next: Any) -> None:
        calls.append(f"{name} in")
        await call_next()
        calls.append(f"{name} out")

    return async_mw


def echo_handler(calls: list[str] | None = None) -> Any:
    async def handler(ctx: JobContext) -> Any:
        if calls is not None:
            calls.append("handler")
        return {"got": ctx.data}

    return handler


async def test_app_then_task_middlewares_wrap_the_handler_and_unwind_in_reverse() -> None:
    calls: list[str] = []
    app_level = [recording(calls, "app1"), recording(calls, "app2", plain=True)]
    task_level = [recording(calls, "task", plain=True), recording(calls, "task2")]
    step = compose([*app_level, *task_level], echo_handler(calls))
    ctx = make_context({"x": 1})
    assert await step(ctx) == {"got": {"x": 1}}
    assert calls == [
        "app1 in",
        "app2 in",
        "task in",
        "task2 in",
        "handler",
        "task2 out",
        "task out",
        "app2 out",
        "app1 out",
    ]
    assert ctx.result == {"got": {"x": 1}}


async def test_no_middlewares_is_the_handler_itself() -> None:
    handler = echo_handler()
    assert compose([], handler) is handler


@pytest.mark.parametrize("plain", [False, True], ids=["async", "plain"])
async def test_a_middleware_replaces_the_data_the_handler_gets(plain: bool) -> None:
    async def async_mw(ctx: JobContext, call_next: Any) -> None:
        ctx.data = {**ctx.data, "stamped": True}
        await call_next()

    def plain_mw(ctx: JobContext, call_next: Any) -> None:
        ctx.data = {**ctx.data, "stamped": True}
        call_next()

    step = compose([plain_mw if plain else async_mw], echo_handler())
    assert await step(make_context({"x": 1})) == {"got": {"x": 1, "stamped": True}}


@pytest.mark.parametrize("plain", [False, True], ids=["async", "plain"])
async def test_a_middleware_replaces_the_result_after_the_handler(plain: bool) -> None:
    async def async_mw(ctx: JobContext, call_next: Any) -> None:
        await call_next()
        ctx.result = {"data": ctx.result, "meta": "v2"}

    def plain_mw(ctx: JobContext, call_next: Any) -> None:
        call_next()
        ctx.result = {"data": ctx.result, "meta": "v2"}

    ctx = make_context(7)
    step = compose([plain_mw if plain else async_mw], echo_handler())
    assert await step(ctx) == {"data": {"got": 7}, "meta": "v2"}
    assert ctx.result == {"data": {"got": 7}, "meta": "v2"}


async def test_not_calling_call_next_skips_the_handler_and_the_inner_middlewares() -> None:
    calls: list[str] = []

    async def skip(ctx: JobContext, call_next: Any) -> None:
        calls.append("skip")

    async def cached(ctx: JobContext, call_next: Any) -> None:
        ctx.result = "from cache"

    skipped = compose([skip, recording(calls, "inner")], echo_handler(calls))
    assert await skipped(make_context()) is None
    assert calls == ["skip"]
    assert await compose([cached], echo_handler(calls))(make_context()) == "from cache"
    assert calls == ["skip"]


async def failing_handler(ctx: JobContext) -> Any:
    raise ValueError("boom")


@pytest.mark.parametrize("plain", [False, True], ids=["async", "plain"])
async def test_an_error_unwinds_through_middlewares_that_rethrow(plain: bool) -> None:
    seen: list[str] = []

    async def async_mw(ctx: JobContext, call_next: Any) -> None:
        try:
            await call_next()
        except ValueError as exc:
            seen.append(str(exc))
            raise

    def plain_mw(ctx: JobContext, call_next: Any) -> None:
        try:
            call_next()
        except ValueError as exc:
            seen.append(str(exc))
            raise

    outer_seen: list[str] = []

    async def outer(ctx: JobContext, call_next: Any) -> None:
        try:
            await call_next()
        except ValueError as exc:
            outer_seen.append(str(exc))
            raise

    step = compose([outer, plain_mw if plain else async_mw], failing_handler)
    with pytest.raises(ValueError, match="boom"):
        await step(make_context())
    assert seen == ["boom"] and outer_seen == ["boom"]


@pytest.mark.parametrize("plain", [False, True], ids=["async", "plain"])
async def test_a_middleware_that_swallows_the_error_completes_the_job(plain: bool) -> None:
    async def async_mw(ctx: JobContext, call_next: Any) -> None:
        try:
            await call_next()
        except ValueError:
            ctx.result = "fallback"

    def plain_mw(ctx: JobContext, call_next: Any) -> None:
        try:
            call_next()
        except ValueError:
            ctx.result = "fallback"

    outer_calls: list[str] = []
    step = compose(
        [recording(outer_calls, "outer"), plain_mw if plain else async_mw], failing_handler
    )
    assert await step(make_context()) == "fallback"
    assert outer_calls == ["outer in", "outer out"]


async def test_call_next_twice_is_an_error() -> None:
    async def twice(ctx: JobContext, call_next: Any) -> None:
        await call_next()
        await call_next()

    def plain_twice(ctx: JobContext, call_next: Any) -> None:
        call_next()
        call_next()

    for middleware in (twice, plain_twice):
        with pytest.raises(UsageError, match="twice"):
            await compose([middleware], echo_handler())(make_context())


async def test_a_plain_middleware_that_returns_a_coroutine_is_told_to_be_async() -> None:
    async def inner(ctx: JobContext, call_next: Any) -> None:
        await call_next()

    def looks_plain(ctx: JobContext, call_next: Any) -> Any:
        return inner(ctx, call_next)

    with pytest.raises(UsageError, match="async def"):
        await compose([looks_plain], echo_handler())(make_context())


async def test_context_variables_set_in_a_plain_middleware_reach_the_handler() -> None:
    current = contextvars.ContextVar("current", default="unset")

    def plain_mw(ctx: JobContext, call_next: Any) -> None:
        current.set("set by the middleware")
        call_next()

    async def handler(ctx: JobContext) -> str:
        return current.get()

    assert await compose([plain_mw], handler)(make_context()) == "set by the middleware"


async def test_cancelling_the_chain_cancels_the_handler_below_a_plain_middleware() -> None:
    started, handler_cancelled = asyncio.Event(), asyncio.Event()
    swallowed: list[BaseException] = []

    def plain_mw(ctx: JobContext, call_next: Any) -> None:
        try:
            call_next()
        except Exception as exc:  # a timeout is no Exception: it must get through
            swallowed.append(exc)

    async def handler(ctx: JobContext) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            handler_cancelled.set()
            raise

    run = asyncio.ensure_future(compose([plain_mw], handler)(make_context()))
    await started.wait()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    await asyncio.wait_for(handler_cancelled.wait(), 10)
    assert swallowed == []


async def test_cancelling_through_a_plain_middleware_waits_for_the_handler_to_unwind() -> None:
    started, in_cleanup, release = asyncio.Event(), asyncio.Event(), asyncio.Event()
    events: list[str] = []

    def plain_mw(ctx: JobContext, call_next: Any) -> None:
        call_next()

    async def handler(ctx: JobContext) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            in_cleanup.set()
            await release.wait()  # cleanup that takes a while: the job is not over before
            events.append("handler cleaned up")

    run = asyncio.ensure_future(compose([plain_mw], handler)(make_context()))
    await started.wait()
    run.cancel()
    await in_cleanup.wait()
    # like an async middleware's chain, this one is still unwinding: timeout, on_cancel and
    # the next job must not start while the handler's `finally` runs
    assert not run.done()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await run
    events.append("chain stopped")
    assert events == ["handler cleaned up", "chain stopped"]


async def test_an_async_middleware_that_does_not_await_call_next_fails_the_job() -> None:
    calls: list[str] = []

    async def forgot(ctx: JobContext, call_next: Any) -> None:
        call_next()  # type: ignore[unused-coroutine]  # the mistake under test

    with pytest.raises(UsageError, match=r"forgot called call_next\(\) without awaiting it"):
        await compose([forgot], echo_handler(calls))(make_context())
    assert calls == []


async def test_a_middleware_failing_with_call_next_unawaited_fails_with_its_own_error() -> None:
    async def broken(ctx: JobContext, call_next: Any) -> None:
        call_next()  # type: ignore[unused-coroutine]
        raise ValueError("broken before awaiting")

    with pytest.raises(ValueError, match="broken before awaiting"):
        await compose([broken], echo_handler())(make_context())


def takes_one(ctx: Any) -> None: ...


def takes_three(ctx: Any, call_next: Any, extra: Any) -> None: ...


def takes_any(*args: Any) -> None: ...


def with_option(ctx: Any, call_next: Any, option: int) -> None: ...


class AsyncCallable:
    async def __call__(self, ctx: JobContext, call_next: Any) -> None:
        ctx.result = "from an instance"


def test_compose_rejects_what_cannot_be_a_middleware() -> None:
    handler = echo_handler()
    with pytest.raises(UsageError, match="not callable"):
        compose(["log"], handler)  # type: ignore[list-item]
    for wrong in (takes_one, takes_three):
        with pytest.raises(UsageError, match=r"two arguments \(ctx, call_next\)"):
            compose([wrong], handler)
    compose([takes_any, functools.partial(with_option, option=1)], handler)


async def test_an_instance_with_an_async_call_is_an_async_middleware() -> None:
    instance = AsyncCallable()
    assert threads_per_job([instance, takes_any]) == 1
    assert await compose([instance], echo_handler())(make_context()) == "from an instance"


async def test_log_timing_writes_one_line_per_job(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.middleware.timing")
    timing = log_timing(logger)
    with caplog.at_level(logging.INFO, logger=logger.name):
        await compose([timing], echo_handler())(make_context())
        with pytest.raises(ValueError):
            await compose([timing], failing_handler)(make_context())
    completed, failed = caplog.records
    assert completed.levelno == logging.INFO
    assert completed.getMessage().startswith(
        "taskora: send-email job job-1 attempt 2 completed in "
    )
    assert completed.taskora_outcome == "completed"  # type: ignore[attr-defined]
    assert completed.taskora_duration_ms >= 0  # type: ignore[attr-defined]
    assert failed.levelno == logging.WARNING
    assert "attempt 2 failed (ValueError) in " in failed.getMessage()


async def test_log_timing_tells_a_cancelled_job(caplog: pytest.LogCaptureFixture) -> None:
    started = asyncio.Event()

    async def endless(ctx: JobContext) -> None:
        started.set()
        await asyncio.Event().wait()

    logger = logging.getLogger("test.middleware.timing")
    with caplog.at_level(logging.INFO, logger=logger.name):
        run = asyncio.ensure_future(compose([log_timing(logger)], endless)(make_context()))
        await started.wait()
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
    (line,) = caplog.records
    assert line.levelno == logging.WARNING and " cancelled in " in line.getMessage()


def test_importing_taskora_and_its_middleware_does_not_import_opentelemetry() -> None:
    code = (
        "import sys, taskora_cli, taskora_cli.middleware, taskora_cli.otel\n"
        "from taskora_cli import *  # every public name loaded\n"
        "assert taskora_cli.otel.inject_trace_context() is None\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"


def tracing() -> tuple[Any, Any]:
    """A tracer provider whose finished spans land in memory (skips without the SDK)."""
    sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
    export = pytest.importorskip("opentelemetry.sdk.trace.export")
    in_memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
    provider = sdk_trace.TracerProvider()
    exporter = in_memory.InMemorySpanExporter()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    return provider, exporter


async def test_otel_runs_the_job_in_a_span_parented_to_the_dispatching_one() -> None:
    provider, exporter = tracing()
    from opentelemetry import trace

    from taskora_cli.otel import inject_trace_context, otel_middleware

    assert inject_trace_context() is None  # no span active: nothing to carry
    with provider.get_tracer("producer").start_as_current_span("dispatch") as dispatching:
        carrier = inject_trace_context()
    assert carrier is not None and "traceparent" in carrier
    exporter.clear()  # the dispatch span ended: only the worker's count from here

    async def handler(ctx: JobContext) -> str:
        with provider.get_tracer("handler").start_as_current_span("inside the handler"):
            return "done"

    step = compose([otel_middleware(provider)], handler)
    assert await step(make_context({"x": 1}, trace_context=carrier)) == "done"
    inside, job = exporter.get_finished_spans()
    assert job.name == "taskora.run send-email"
    assert job.kind is trace.SpanKind.CONSUMER
    assert job.parent.span_id == dispatching.get_span_context().span_id
    assert job.context.trace_id == dispatching.get_span_context().trace_id
    assert inside.parent.span_id == job.context.span_id
    expected = {
        "taskora.task": "send-email",
        "taskora.job.id": "job-1",
        "taskora.job.attempt": 2,
        "taskora.job.outcome": "completed",
    }
    assert dict(job.attributes).items() >= expected.items()
    assert job.status.status_code is trace.StatusCode.UNSET


async def test_otel_records_a_failure_on_the_span() -> None:
    provider, exporter = tracing()
    from opentelemetry import trace

    from taskora_cli.otel import otel_middleware

    with pytest.raises(ValueError):
        await compose([otel_middleware(provider)], failing_handler)(make_context())
    (job,) = exporter.get_finished_spans()
    assert job.parent is None  # nothing carried: a trace of its own
    assert job.attributes["taskora.job.outcome"] == "failed"
    assert job.status.status_code is trace.StatusCode.ERROR
    assert job.status.description == "ValueError: boom"
    assert [event.name for event in job.events] == ["exception"]


async def test_otel_can_link_to_the_dispatching_span_instead_of_parenting() -> None:
    provider, exporter = tracing()
    from taskora_cli.otel import inject_trace_context, otel_middleware

    with provider.get_tracer("producer").start_as_current_span("dispatch") as dispatching:
        carrier = inject_trace_context()
    exporter.clear()
    step = compose([otel_middleware(provider, parent=False)], echo_handler())
    await step(make_context(trace_context=carrier))
    (job,) = exporter.get_finished_spans()
    assert job.parent is None
    assert job.context.trace_id != dispatching.get_span_context().trace_id
    (link,) = job.links
    assert link.context.span_id == dispatching.get_span_context().span_id


@pytest.mark.parametrize("carrier", [None, {"traceparent": "garbled"}], ids=["none", "garbled"])
@pytest.mark.parametrize("parent", [True, False])
async def test_otel_starts_a_trace_for_an_untraced_job_even_inside_a_current_span(
    parent: bool, carrier: dict[str, str] | None
) -> None:
    provider, exporter = tracing()
    from taskora_cli.otel import otel_middleware

    step = compose([otel_middleware(provider, parent=parent)], echo_handler())
    with provider.get_tracer("worker").start_as_current_span("around the worker") as around:
        await step(make_context(trace_context=carrier))  # no usable dispatching span
    job = next(s for s in exporter.get_finished_spans() if s.name.startswith("taskora.run"))
    assert job.parent is None
    assert job.context.trace_id != around.get_span_context().trace_id
    assert list(job.links) == []
