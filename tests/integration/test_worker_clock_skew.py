"""Worker liveness runs on the server's clock: a host whose clock is minutes off is neither
reaped while it beats nor kept alive after it stops."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from support import make_app, until

from taskora_cli import Taskora
from taskora_cli.app import system_clock
from taskora_cli.config import load_config
from taskora_cli.worker.pool import Worker

TEN_MINUTES = 10 * 60_000


def skewed_app(url: str, tmp: Path, skew_ms: int) -> Taskora:
    return Taskora(url, config=load_config(env={}, cwd=tmp), clock=lambda: system_clock() + skew_ms)


@pytest.mark.parametrize("skew_ms", [-TEN_MINUTES, TEN_MINUTES])
async def test_a_beating_worker_with_a_skewed_clock_is_never_reaped(
    redis_url: str, tmp_path: Path, skew_ms: int
) -> None:
    reaper = make_app(redis_url, tmp_path)  # a host with the right time
    app = skewed_app(redis_url, tmp_path, skew_ms)
    started, release = asyncio.Event(), asyncio.Event()

    @app.task("hold")
    async def hold(_: object) -> str:
        started.set()
        await release.wait()
        return "done"

    worker = Worker(app, [hold], heartbeat_ms=300)
    await worker.start()
    try:
        handle = await hold.adispatch(None)
        await asyncio.wait_for(started.wait(), 10)
        for _ in range(3):  # across several beats, each checked right after the beat
            [before] = await reaper.aworkers()
            await until(lambda b=before.beat_ms: _beat_after(reaper, b))  # type: ignore[misc]
            assert await reaper.areap_workers() == {}
            [me] = await reaper.aworkers()
            assert (me.id, me.gone, me.active) == (worker.id, False, 1)
        release.set()
        assert await handle.aresult(10) == "done"
        engine = await reaper.connect()
        record = await engine.job("hold", handle.id)
        assert record is not None and record.stalls == 0
    finally:
        release.set()
        await worker.stop()
        await app.aclose()
        await reaper.aclose()


async def _beat_after(app: Taskora, beat_ms: int) -> bool:
    found = await app.aworkers()
    return bool(found) and found[0].beat_ms > beat_ms


@pytest.mark.parametrize("skew_ms", [-TEN_MINUTES, TEN_MINUTES])
async def test_a_worker_with_a_skewed_clock_that_stops_beating_is_reaped(
    redis_url: str, tmp_path: Path, skew_ms: int
) -> None:
    # A worker process that died holding a job: its record and its claim stay behind.
    app = skewed_app(redis_url, tmp_path, skew_ms)
    reaper = make_app(redis_url, tmp_path)
    engine = await app.connect()
    await reaper.connect()  # connected now: its first look below is one round trip
    try:
        job = await _dispatch_raw(app, "hold")
        # Gone after 3 missed beats: 3 s, far more than the look below takes on a loaded host.
        fields = {"host": "elsewhere", "pid": 1, "tasks": "hold", "heartbeat_ms": 1000}
        await engine.workers.beat("dead-worker", fields, app.clock())
        [claimed] = await engine.claim("hold", "dead-worker", 1, app.clock(), 600_000)
        assert claimed.id == job

        [fresh] = await reaper.aworkers()
        assert fresh.gone is False  # it just beat: alive, whatever its clock says

        reaped: dict[str, int] = {}

        async def reaped_once() -> bool:
            reaped.update(await reaper.areap_workers())
            return bool(reaped)

        await until(reaped_once)  # after 3 missed beats of 1 s, on the server's clock
        assert reaped == {"dead-worker": 1}
        assert await reaper.aworkers() == []
        assert await (await reaper.connect()).job_state("hold", job) == "waiting"
    finally:
        await app.aclose()
        await reaper.aclose()


async def _dispatch_raw(app: Taskora, task: str) -> str:
    from taskora_cli.engine.records import NewJob

    engine = await app.connect()
    assert await engine.enqueue(task, NewJob("job-1", "null"), app.clock())
    return "job-1"
