"""Graceful stop loses nothing: jobs running at the stop finish or go back, and later complete."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import pytest
from support import make_app, until

from taskora_cli import Retry, Taskora
from taskora_cli.context import JobContext
from taskora_cli.engine.engine import Engine
from taskora_cli.engine.records import Ack, Failure
from taskora_cli.worker.pool import Worker

JOBS = 10
SLOTS = 3
ROOT = Path(__file__).resolve().parents[2]

# app.run_worker() with a thread handler deaf to the shutdown: it would run a minute more.
DEAF_THREAD_WORKER = """
import sys, threading
from pathlib import Path
from taskora_cli import Retry, Taskora
from taskora_cli.config import load_config

app = Taskora(sys.argv[1], config=load_config(env={}, cwd=Path(sys.argv[2])))

@app.task("deaf")
def deaf(n):
    threading.Event().wait(60)
    return n

app.run_worker(grace="100ms")
"""


@pytest.fixture
async def app(redis_url: str, tmp_path: Path) -> AsyncIterator[Taskora]:
    made = make_app(redis_url, tmp_path)
    yield made
    await made.aclose()


async def counts(app: Taskora, task: str) -> dict[str, int]:
    return await (await app.connect()).counts(task)


async def test_jobs_running_at_stop_finish_within_the_grace_and_the_rest_go_back(
    app: Taskora,
) -> None:
    release = asyncio.Event()
    started: list[str] = []
    finished: list[str] = []

    @app.task("drain", concurrency=SLOTS)
    async def drain(n: int, ctx: object) -> int:
        started.append(ctx.id)  # type: ignore[attr-defined]
        await release.wait()
        finished.append(ctx.id)  # type: ignore[attr-defined]
        return n

    handles = await drain.adispatch_many(range(JOBS))
    worker = Worker(app, [drain], prefetch=2)
    await worker.start()
    await until(lambda: len(started) == SLOTS)

    stopping = asyncio.create_task(worker.stop(grace_ms=10_000))
    # the prefetched jobs go back at once; the running ones keep their slots
    await until(lambda: _is(counts(app, "drain"), waiting=JOBS - SLOTS, active=SLOTS))
    release.set()
    await asyncio.wait_for(stopping, 10)

    assert sorted(finished) == sorted(started)
    assert await counts(app, "drain") == _state(completed=SLOTS, waiting=JOBS - SLOTS)

    second = await app.start()
    try:
        assert [await h.aresult(10) for h in handles] == list(range(JOBS))
    finally:
        await second.stop()
    assert Counter(started) == {h.id: 1 for h in handles}  # none ran twice
    assert await counts(app, "drain") == _state(completed=JOBS)


async def test_jobs_still_running_after_the_grace_are_handed_back_and_run_again(
    app: Taskora, redis_url: str, tmp_path: Path
) -> None:
    interrupted: list[str] = []
    in_thread: list[str] = []
    thread_returned: list[int] = []
    thread_may_finish = threading.Event()

    @app.task("stuck", concurrency=SLOTS)
    async def stuck(n: int, ctx: object) -> int:
        interrupted.append(ctx.id)  # type: ignore[attr-defined]
        await asyncio.Event().wait()  # never finishes: only the shutdown ends it
        return n

    @app.task("stuck-thread", concurrency=1)
    def stuck_thread(n: int, ctx: object) -> int:
        in_thread.append(ctx.id)  # type: ignore[attr-defined]
        ctx.cancelled.wait(10)  # type: ignore[attr-defined]
        thread_may_finish.wait(10)
        thread_returned.append(n)
        return n

    handles = await stuck.adispatch_many(range(JOBS))
    thread_handle = await stuck_thread.adispatch(99)
    worker = Worker(app, [stuck, stuck_thread], prefetch=2)
    await worker.start()
    await until(lambda: len(interrupted) == SLOTS and len(in_thread) == 1)

    await asyncio.wait_for(worker.stop(grace_ms=50), 10)
    # Both kinds go back to the front of the queue at once: no lock TTL to wait out, no stall
    # counted, no attempt used up. The thread cannot be stopped and still runs meanwhile.
    assert await counts(app, "stuck") == _state(waiting=JOBS)
    assert await counts(app, "stuck-thread") == _state(waiting=1)
    assert not thread_returned
    engine = await app.connect()
    for task, job_id in [*(("stuck", i) for i in interrupted), ("stuck-thread", in_thread[0])]:
        record = await engine.job(task, job_id)
        assert record is not None and record.state == "waiting"
        assert (record.attempt, record.stalls) == (0, 0)

    ran_again: list[str] = []
    rerun = make_app(redis_url, tmp_path)  # no clock jump: nothing waits for a lock TTL

    @rerun.task("stuck", concurrency=SLOTS)
    async def quick(n: int, ctx: object) -> int:
        ran_again.append(ctx.id)  # type: ignore[attr-defined]
        return n

    @rerun.task("stuck-thread")
    def quick_thread(n: int) -> int:
        return n + 1000

    second = await rerun.start()
    try:
        assert [await h.aresult(10) for h in handles] == list(range(JOBS))
        assert await thread_handle.aresult(10) == 1099
        # the abandoned thread ends after the new owner: what it returns is recorded nowhere
        thread_may_finish.set()
        await until(lambda: thread_returned == [99])
        await asyncio.sleep(0.2)  # a settle it might (wrongly) send would land within this
    finally:
        await second.stop()
        await rerun.aclose()
    assert await thread_handle.aresult(1) == 1099
    assert Counter(ran_again) == {h.id: 1 for h in handles}
    for handle in handles:
        record = await engine.job("stuck", handle.id)
        assert record is not None and record.attempt == 1


async def test_a_handed_back_jobs_old_lock_token_cannot_settle_it_over_the_new_owner(
    app: Taskora,
) -> None:
    @app.task("owned")
    def owned(n: int) -> int:
        return n

    handle = await owned.adispatch(1)
    engine = await app.connect()
    now = app.clock()
    [first] = await engine.claim("owned", "old-worker", 1, now, 30_000)
    assert await engine.nack("owned", [(first.id, first.token)], now) == [True]
    [second] = await engine.claim("owned", "new-worker", 1, now, 30_000)
    assert second.id == first.id and second.token != first.token

    stale = [Ack(first.id, first.token, '"old"')]
    assert (await engine.ack_and_claim("owned", stale, "old-worker", 0, now, 30_000))[0] == [False]
    lost, _ = await engine.fail_and_claim(
        "owned", Failure(first.id, first.token, '{"type": "X"}', None), "old-worker", 0, now, 1
    )
    assert lost == 0
    assert await engine.extend_locks("owned", [(first.id, first.token)], now, 30_000) == [0]
    assert await engine.nack("owned", [(first.id, first.token)], now) == [False]
    record = await engine.job("owned", first.id)
    assert record is not None and record.state == "active"  # still the new owner's

    fresh = [Ack(second.id, second.token, '"new"')]
    assert (await engine.ack_and_claim("owned", fresh, "new-worker", 0, now, 30_000))[0] == [True]
    assert await handle.aresult(1) == "new"


def _state(**nonzero: int) -> dict[str, int]:
    base = {"waiting": 0, "delayed": 0, "active": 0, "completed": 0, "failed": 0}
    return {**base, **nonzero}


async def _is(pending: object, **nonzero: int) -> bool:
    found = await pending  # type: ignore[misc]
    return bool(found == _state(**nonzero))


async def test_stop_ends_the_background_loops_even_when_a_tick_swallows_its_cancellation(
    app: Taskora, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On Python 3.11, asyncio.wait_for (inside redis-py's socket writes) swallows a cancel
    # that arrives just as the write completes; the heartbeat and sweep loops must end anyway.
    in_tick = asyncio.Event()
    swallowed: list[str] = []

    async def swallowing_sweep(*args: object, **kwargs: object) -> None:
        in_tick.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            swallowed.append("sweep")  # return normally, as the 3.11 bug does
        return None

    monkeypatch.setattr(Engine, "stall_sweep", swallowing_sweep)

    @app.task("calm")
    async def calm(data: object) -> None:
        return None

    worker = Worker(app, [calm], stall_interval_ms=60_000)
    await worker.start()
    await asyncio.wait_for(in_tick.wait(), 10)
    stopping = asyncio.create_task(worker.stop(grace_ms=0))
    await asyncio.wait({stopping}, timeout=10)  # not wait_for: its cancel would unstick stop()
    if not stopping.done():
        for loop in worker._loops:  # noqa: SLF001 - the loops under test have no public handle
            loop.cancel()
        await stopping
        raise AssertionError("stop() waited for ever on a loop that outlived its cancellation")
    assert swallowed == ["sweep"]
    assert all(loop.done() for loop in worker._loops)  # noqa: SLF001 - as above


async def test_a_handed_back_thread_writes_no_progress_or_logs_to_the_jobs_next_run(
    app: Taskora, redis_url: str, tmp_path: Path
) -> None:
    old_ctx: list[JobContext] = []
    may_write = threading.Event()
    wrote = threading.Event()

    @app.task("sticky", concurrency=1)
    def sticky(n: int, ctx: JobContext) -> int:
        old_ctx.append(ctx)
        may_write.wait(10)  # ignores the shutdown: runs on after its job went back
        ctx.progress(13)
        ctx.log.info("from the old run")
        wrote.set()
        return n

    handle = await sticky.adispatch(1)
    worker = Worker(app, [sticky])
    await worker.start()
    await until(lambda: len(old_ctx) == 1)
    await asyncio.wait_for(worker.stop(grace_ms=50), 10)

    rerun = make_app(redis_url, tmp_path)
    new_run_started = threading.Event()
    new_run_may_end = threading.Event()

    @rerun.task("sticky")
    def new_run(n: int) -> int:
        new_run_started.set()
        new_run_may_end.wait(10)
        return n + 1000

    second = await rerun.start()
    try:
        await until(new_run_started.is_set)
        may_write.set()
        await until(wrote.is_set)
        await old_ctx[0].flush()  # whatever the old thread got submitted has landed now
        engine = await app.connect()
        record = await engine.job("sticky", handle.id)
        assert record is not None and record.progress is None
        assert await engine.job_logs("sticky", handle.id) == []
        new_run_may_end.set()
        assert await handle.aresult(10) == 1001
    finally:
        new_run_may_end.set()
        await second.stop()
        await rerun.aclose()


async def test_run_worker_exits_at_once_when_a_thread_outlives_the_grace(
    app: Taskora, redis_url: str, tmp_path: Path, spawn: list[subprocess.Popen[bytes]]
) -> None:
    @app.task("deaf")
    def deaf(n: int) -> int:
        return n

    handle = await deaf.adispatch(1)
    process = subprocess.Popen(
        [sys.executable, "-c", DEAF_THREAD_WORKER, redis_url, str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    spawn.append(process)
    await until(lambda: _state_is(handle.astate(), "active"), timeout=30)
    process.send_signal(signal.SIGTERM)
    # the grace is 100 ms; the thread would keep a process that joins it alive for a minute
    await until(lambda: process.poll() is not None, timeout=20)
    assert process.returncode == 0
    assert await handle.astate() == "waiting"  # handed back for another worker


async def _state_is(state: Awaitable[str], expected: str) -> bool:
    return await state == expected


async def test_an_async_handler_raising_cancelled_error_itself_during_a_drain_fails_its_job(
    app: Taskora,
) -> None:
    started = asyncio.Event()
    go = asyncio.Event()

    @app.task("self-cancelling", retry=Retry(attempts=1))
    async def self_cancelling(n: int) -> int:
        started.set()
        await go.wait()
        raise asyncio.CancelledError  # its own, not the worker's: an ordinary failure

    handle = await self_cancelling.adispatch(1)
    worker = Worker(app, [self_cancelling])
    await worker.start()
    await started.wait()
    stopping = asyncio.create_task(worker.stop(grace_ms=2_000))
    await until(lambda: all(runner.stopping for runner in worker.runners))
    go.set()
    await stopping
    # not handed back as if the drain had stopped it: it ran to its end, and failed
    assert await handle.astate() == "failed"
