"""Middleware in a real worker: onion order (app's, task's, handler), data and result
replacement, short-circuit, errors rethrown or swallowed, plain middlewares in threads,
cancellation through them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from support import make_app

from taskora_cli import CancelledError, JobFailedError, Taskora
from taskora_cli.context import JobContext

Next = Callable[[], Awaitable[None]]


@pytest.fixture
async def app(redis_url: str, tmp_path: Path) -> Taskora:
    made = make_app(redis_url, tmp_path)
    yield made
    await made.aclose()


def tracer(name: str, trail: list[str]) -> Callable[[JobContext, Next], Awaitable[None]]:
    async def mw(ctx: JobContext, call_next: Next) -> None:
        trail.append(f"{name}>")
        await call_next()
        trail.append(f"<{name}")

    return mw


async def test_onion_order_and_data_and_result_replaced(app: Taskora) -> None:
    trail: list[str] = []
    app.use(tracer("app1", trail))
    app.use(tracer("app2", trail))

    async def double_in(ctx: JobContext, call_next: Next) -> None:
        ctx.data = ctx.data * 2
        await call_next()
        ctx.result = {"wrapped": ctx.result}

    @app.task("onion", middleware=[tracer("task", trail), double_in])
    async def onion(data: int) -> int:
        trail.append("handler")
        return data + 1

    handle = await onion.adispatch(5)
    worker = await app.start()
    try:
        assert await handle.aresult(10) == {"wrapped": 11}
    finally:
        await worker.stop()
    assert trail == ["app1>", "app2>", "task>", "handler", "<task", "<app2", "<app1"]


async def test_not_calling_next_skips_the_handler(app: Taskora) -> None:
    ran: list[int] = []

    async def cached(ctx: JobContext, call_next: Next) -> None:
        if ctx.data == 1:
            ctx.result = "from cache"
            return
        await call_next()

    @app.task("cached", middleware=[cached])
    def handler(data: int) -> str:
        ran.append(data)
        return "computed"

    one, two = await handler.adispatch(1), await handler.adispatch(2)
    worker = await app.start()
    try:
        assert await one.aresult(10) == "from cache"
        assert await two.aresult(10) == "computed"
    finally:
        await worker.stop()
    assert ran == [2]


async def test_errors_rethrown_fail_the_job_and_swallowed_ones_complete_it(
    app: Taskora,
) -> None:
    seen: list[str] = []

    async def rethrow(ctx: JobContext, call_next: Next) -> None:
        try:
            await call_next()
        except ValueError as exc:
            seen.append(f"saw {exc}")
            raise

    async def swallow(ctx: JobContext, call_next: Next) -> None:
        try:
            await call_next()
        except ValueError:
            ctx.result = "recovered"

    @app.task("rethrown", middleware=[rethrow])
    async def rethrown(data: None) -> None:
        raise ValueError("boom")

    @app.task("swallowed", middleware=[swallow])
    async def swallowed(data: None) -> None:
        raise ValueError("boom")

    bad, good = await rethrown.adispatch(), await swallowed.adispatch()
    worker = await app.start()
    try:
        with pytest.raises(JobFailedError, match="boom"):
            await bad.aresult(10)
        assert await good.aresult(10) == "recovered"
    finally:
        await worker.stop()
    assert seen == ["saw boom"]


async def test_plain_middlewares_run_in_threads_sized_for_the_concurrency(app: Taskora) -> None:
    # each job holds two threads (the middleware's and its handler's) at once: with the
    # pool sized by threads_per_job all four jobs meet at the barrier, none starves
    barrier = threading.Barrier(4, timeout=10)
    threads: set[str] = set()

    def plain(ctx: JobContext, call_next: Callable[[], Any]) -> None:
        threads.add(threading.current_thread().name)
        call_next()
        ctx.result = ctx.result + 100

    @app.task("threads", concurrency=4, middleware=[plain])
    def handler(data: int) -> int:
        barrier.wait()
        return data

    handles = await handler.adispatch_many(range(4))
    worker = await app.start()
    try:
        assert worker.executor._max_workers >= 12  # type: ignore[attr-defined]  # noqa: SLF001 - the stdlib pool has no public size
        assert [await h.aresult(10) for h in handles] == [100, 101, 102, 103]
    finally:
        await worker.stop()
    assert all(name.startswith("taskora-job") for name in threads)


async def test_a_task_without_middleware_is_not_wrapped(app: Taskora) -> None:
    @app.task("bare")
    async def bare(data: int) -> int:
        return data

    worker = app.worker()
    assert worker.plans["bare"].plain
    app.use(tracer("late", []))
    assert not app.worker().plans["bare"].plain


async def test_a_thread_handler_inside_a_chain_that_times_out_counts_as_stuck(
    app: Taskora,
) -> None:
    unstick = threading.Event()

    @app.task("wedged", timeout=0.2, middleware=[tracer("mw", [])])
    def wedged(data: None) -> None:
        unstick.wait(30)  # deaf to the timeout: its thread is stuck

    handle = await wedged.adispatch()
    worker = await app.start()
    try:
        with pytest.raises(JobFailedError, match="did not finish"):
            await handle.aresult(10)
        assert worker.stuck == 1  # the chain's thread was found, as a bare handler's is
    finally:
        unstick.set()
        await worker.stop()


async def test_a_job_cancelled_through_a_plain_middleware_ends_after_its_handler_cleaned_up(
    app: Taskora,
) -> None:
    started = asyncio.Event()
    events: list[str] = []

    def plain(ctx: JobContext, call_next: Callable[[], Any]) -> None:
        call_next()

    async def on_cancel(data: Any, ctx: JobContext) -> None:
        events.append("on_cancel")

    @app.task("unwinding", middleware=[plain], on_cancel=on_cancel)
    async def unwinding(data: None) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0.05)  # a cleanup that takes a while (only its order counts)
            events.append("handler cleaned up")

    handle = await unwinding.adispatch()
    worker = await app.start()
    try:
        await asyncio.wait_for(started.wait(), 10)
        await handle.acancel("stop")
        with pytest.raises(CancelledError):
            await handle.aresult(10)
    finally:
        await worker.stop()
    assert events == ["handler cleaned up", "on_cancel"]
