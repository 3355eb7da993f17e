"""How a worker runs jobs: slots fill up to the concurrency, timeouts, shutdown, prefetch."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from servers import raw_client
from support import make_app, until

from taskora_cli import JobFailedError, Retry, Taskora, TaskTimeoutError
from taskora_cli.engine.records import job_state


@pytest.fixture
async def app(redis_url: str, tmp_path: Path) -> Taskora:
    made = make_app(redis_url, tmp_path)
    yield made
    await made.aclose()


async def test_async_handlers_that_wait_run_side_by_side_up_to_the_concurrency(
    app: Taskora,
) -> None:
    release = asyncio.Event()
    running: list[int] = []
    most = 0

    @app.task("waits", concurrency=4)
    async def waits(data: int) -> int:
        nonlocal most
        running.append(data)
        most = max(most, len(running))
        await release.wait()
        running.remove(data)
        return data

    handles = await waits.adispatch_many(range(10))
    worker = await app.start()
    try:
        await until(lambda: len(running) == 4)
        await asyncio.sleep(0.05)
        assert len(running) == 4  # never more than the concurrency
        release.set()
        assert [await h.aresult(10) for h in handles] == list(range(10))
        assert most == 4
    finally:
        await worker.stop()


async def test_thread_handlers_run_side_by_side_up_to_the_concurrency(app: Taskora) -> None:
    barrier = threading.Barrier(3, timeout=10)

    @app.task("meet", concurrency=3)
    def meet(data: int) -> int:
        barrier.wait()  # only passes when three handlers run at once
        return data

    handles = await meet.adispatch_many(range(6))
    worker = await app.start()
    try:
        assert sorted([await h.aresult(10) for h in handles]) == list(range(6))
    finally:
        await worker.stop()


async def test_many_quick_handlers_all_run_once_and_settle(app: Taskora) -> None:
    seen: list[int] = []

    @app.task("quick", concurrency=1)
    async def quick(data: int) -> int:
        seen.append(data)
        return data + 1

    handles = await quick.adispatch_many(range(500))
    worker = await app.start()
    try:
        results = [await h.aresult(10) for h in handles]
        assert results == [i + 1 for i in range(500)]
        assert seen == list(range(500))  # one slot, FIFO
        counts = await (await app.connect()).counts("quick")
        assert counts["completed"] == 500 and counts["active"] == 0
    finally:
        await worker.stop()


async def test_a_timed_out_job_frees_its_slot_for_the_next_one(app: Taskora) -> None:
    @app.task("sometimes-slow", concurrency=1, timeout="100ms")
    async def sometimes_slow(data: str) -> str:
        if data == "slow":
            await asyncio.sleep(10)
        return data

    slow = await sometimes_slow.adispatch("slow")
    fast = await sometimes_slow.adispatch("fast")
    worker = await app.start()
    try:
        with pytest.raises(JobFailedError) as info:
            await slow.aresult(10)
        assert info.value.remote_type == TaskTimeoutError.__module__ + ".TaskTimeoutError"
        assert await fast.aresult(10) == "fast"
    finally:
        await worker.stop()


async def test_a_timed_out_thread_handler_is_told_to_stop(app: Taskora) -> None:
    heard: list[str | None] = []

    @app.task("stubborn", timeout="100ms", retry=Retry(attempts=1))
    def stubborn(data: object, ctx: object) -> None:
        signal = ctx.cancelled  # type: ignore[attr-defined]
        signal.wait(10)
        heard.append(signal.reason)

    worker = await app.start()
    try:
        with pytest.raises(JobFailedError):
            await (await stubborn.adispatch()).aresult(10)
        await until(lambda: heard == ["timeout"])
    finally:
        await worker.stop()


async def test_stopping_hands_running_and_prefetched_jobs_back(
    app: Taskora, redis_url: str
) -> None:
    started: list[int] = []

    @app.task("hang", concurrency=2)
    async def hang(data: int) -> None:
        started.append(data)
        await asyncio.sleep(60)

    await hang.adispatch_many(range(5))
    worker = await app.start()
    await until(lambda: len(started) == 2)
    await worker.stop(grace_ms=50)
    client = raw_client(redis_url, decode_responses=True)
    try:
        tag = "taskora:{hang}:"
        assert client.zcard(tag + "active") == 0
        assert client.llen(tag + "wait") == 5
        queued = client.lrange(tag + "wait", 0, -1)
        states = {job_state(*client.hmget(f"{tag}j:{i}", "state", "t")) for i in queued}
        assert states == {"waiting"}
    finally:
        client.close()


async def test_slow_jobs_are_not_hoarded_by_one_worker(app: Taskora, redis_url: str) -> None:
    release = asyncio.Event()

    @app.task("slowish", concurrency=4)
    async def slowish(data: int) -> None:
        await asyncio.sleep(0.05)
        if data >= 8:
            await release.wait()

    await slowish.adispatch_many(range(40))
    worker = await app.start()
    client = raw_client(redis_url, decode_responses=True)
    try:
        await until(lambda: client.zcard("taskora:{slowish}:completed") == 8)
        await until(lambda: client.zcard("taskora:{slowish}:active") >= 4)
        # four running and one claimed ahead: 50 ms jobs are worth no deeper prefetch
        assert client.zcard("taskora:{slowish}:active") == 5
        release.set()
    finally:
        client.close()
        await worker.stop(grace_ms=0)
