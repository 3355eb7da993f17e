"""Thread handlers that outlive their timeout keep their thread (a thread cannot be stopped):
the pool replaces up to `concurrency` of them; past that the worker claims no more thread jobs
and says it is unhealthy, until they end."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support import make_app, until

from taskora_cli import JobFailedError, Taskora
from taskora_cli.context import JobContext
from taskora_cli.handle import JobHandle
from taskora_cli.worker.pool import Worker


@pytest.fixture
async def app(redis_url: str, tmp_path: Path) -> AsyncIterator[Taskora]:
    made = make_app(redis_url, tmp_path)
    yield made
    await made.aclose()


async def test_stuck_threads_are_replaced_up_to_a_bound_then_the_worker_stops_claiming(
    app: Taskora,
) -> None:
    unstick = threading.Event()
    started: list[int] = []

    @app.task("wedge", timeout="100ms", concurrency=2)
    def wedge(n: int) -> int:
        started.append(n)
        if n >= 0:
            unstick.wait(30)  # deaf to the timeout: its thread is stuck
        return n

    worker = Worker(app, [wedge], prefetch=0, heartbeat_ms=100)
    assert worker.stuck_limit == 2
    await worker.start()
    try:
        # The first two time out and stick, and are replaced. Their replacements then run the
        # next two, dispatched together so that one claim starts both (claimed one by one,
        # the third could stick before the fourth started, and the worker would stop there).
        stuck = await wedge.adispatch_many(range(2))
        for handle in stuck:
            await _timed_out(handle)
        await until(lambda: worker.stuck == 2 and not worker.too_stuck.is_set())
        stuck += await wedge.adispatch_many(range(2, 4))
        for handle in stuck[2:]:
            await _timed_out(handle)
        await until(lambda: worker.stuck == 4 and worker.too_stuck.is_set())
        late = await wedge.adispatch(-1)
        await until(_reports(app, stuck=4, healthy=False))
        assert await late.astate() == "waiting"  # not claimed: it might never get a thread
        assert sorted(started) == [0, 1, 2, 3]

        unstick.set()  # the stuck threads end: the worker is healthy and claims again
        assert await late.aresult(10) == -1
        await until(lambda: worker.stuck == 0 and not worker.too_stuck.is_set())
        await until(_reports(app, stuck=0, healthy=True))
    finally:
        unstick.set()
        await worker.stop()


async def _timed_out(handle: JobHandle) -> None:
    with pytest.raises(JobFailedError, match="did not finish within") as info:
        await handle.aresult(10)
    assert info.value.remote_type == "taskora_cli.errors.TaskTimeoutError"


async def test_a_cancelled_thread_that_ignores_it_and_times_out_counts_as_stuck(
    app: Taskora,
) -> None:
    unstick = threading.Event()
    contexts: list[JobContext] = []

    @app.task("deaf", timeout="200ms", concurrency=1)
    def deaf(n: int, ctx: JobContext) -> int:
        contexts.append(ctx)
        unstick.wait(30)  # hears neither the cancellation nor the timeout
        return n

    worker = Worker(app, [deaf], prefetch=0)
    await worker.start()
    try:
        handle = await deaf.adispatch(1)
        await until(lambda: len(contexts) == 1)
        await handle.acancel()
        await until(lambda: contexts[0].cancelled.is_set())
        # the timeout ends the slot's wait; the job settles as cancelled, its thread runs on
        await until(lambda: _state_is(handle, "cancelled"))
        assert worker.stuck == 1
        unstick.set()
        await until(lambda: worker.stuck == 0)
    finally:
        unstick.set()
        await worker.stop()


async def _state_is(handle: JobHandle, state: str) -> bool:
    return await handle.astate() == state


def _reports(app: Taskora, *, stuck: int, healthy: bool):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        [info] = await app.aworkers()
        return (info.stuck, info.healthy) == (stuck, healthy)

    return check
