"""The worker registry through the library: workers register, beat, count, and are reaped."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from support import make_app, until

from taskora_cli import JobContext, Retry, Taskora
from taskora_cli.app import system_clock
from taskora_cli.config import load_config
from taskora_cli.engine.keys import TaskKeys
from taskora_cli.engine.records import NewJob
from taskora_cli.worker.pool import Worker

ROOT = Path(__file__).resolve().parents[2]


async def test_a_worker_registers_counts_its_jobs_and_removes_itself_on_stop(
    redis_url: str, tmp_path: Path
) -> None:
    app = make_app(redis_url, tmp_path)

    @app.task("double", concurrency=3)
    async def double(n: int) -> int:
        return n * 2

    worker = Worker(app, [double], heartbeat_ms=100)
    await worker.start()
    try:
        [me] = await app.aworkers()
        assert (me.id, me.pid, me.tasks, me.slots, me.gone) == (worker.id, os.getpid(),
                                                                ["double"], 3, False)  # fmt: skip
        handles = [await double.adispatch(n) for n in range(4)]
        assert [await h.aresult(10) for h in handles] == [0, 2, 4, 6]

        async def counted() -> bool:
            [me] = await app.aworkers()
            return me.processed == 4 and me.failed == 0

        await until(counted)
    finally:
        await worker.stop()
    assert await app.aworkers() == []
    await app.aclose()


async def test_a_worker_that_stops_beating_is_gone_and_reaping_releases_its_jobs(
    redis_url: str, tmp_path: Path, spawn: list[subprocess.Popen[bytes]]
) -> None:
    # Liveness runs on the server's clock (engine/registry.py): a worker is gone when it
    # really stops beating, here a worker process killed while it holds a job.
    app = make_app(redis_url, tmp_path)
    engine = await app.connect()
    assert await engine.enqueue("hang", NewJob("held", "null"), app.clock())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    doomed = subprocess.Popen(
        [sys.executable, "-c", HANGING_WORKER, redis_url, str(tmp_path)], env=env
    )
    spawn.append(doomed)
    await until(lambda: _state_is(engine, "hang", "active"), timeout=30)
    [alive] = await app.aworkers()
    assert (alive.pid, alive.gone) == (doomed.pid, False)
    doomed.kill()
    doomed.wait(10)

    await until(lambda: _gone(app))  # three beats of 100 ms missed
    [gone] = await app.aworkers()
    assert gone.id == alive.id and gone.age > 0.3
    assert await app.areap_workers() == {alive.id: 1}
    assert await app.aworkers() == []
    record = await engine.job("hang", "held")
    assert record is not None  # recovered as a stall long before the lock TTL (10 min)
    assert (record.state, record.stalls) == ("waiting", 1)
    await app.aclose()


HANGING_WORKER = """
import asyncio, sys
from pathlib import Path
from taskora_cli import Taskora
from taskora_cli.config import load_config
from taskora_cli.worker.pool import Worker

app = Taskora(sys.argv[1], config=load_config(env={}, cwd=Path(sys.argv[2])))

@app.task("hang")
async def hang(data):
    await asyncio.Event().wait()

async def main():
    worker = Worker(app, [hang], lock_ttl_ms=600_000, heartbeat_ms=100, stall_interval_ms=60_000)
    await worker.start()
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def _state_is(engine: Any, task: str, state: str) -> bool:
    return bool(await engine.job_state(task, "held") == state)


async def _gone(app: Taskora) -> bool:
    found = await app.aworkers()
    return bool(found) and found[0].gone


async def test_a_worker_never_reaps_itself_when_its_own_record_looks_old(
    redis_url: str, tmp_path: Path
) -> None:
    offset = [0]
    app = Taskora(
        redis_url,
        config=load_config(env={}, cwd=tmp_path),
        clock=lambda: system_clock() + offset[0],
    )
    runs: list[int] = []

    @app.task("long", retry=Retry(attempts=2, backoff="fixed", delay="10ms", jitter=False))
    async def long(data: None, ctx: JobContext) -> str:
        runs.append(ctx.attempt)
        if ctx.attempt == 1:  # 5 minutes of virtual time pass: our own beat looks 5 min old,
            offset[0] = 5 * 60_000  # past 3 beats (3 min), but the locks (10 min) hold
            raise RuntimeError("try again")
        sweep = TaskKeys(app.prefix, "long").sweep
        engine = await app.connect()
        await until(  # a sweep (with its reaper) ran since the retry started
            lambda: _swept_after(engine.client.get(sweep), system_clock() + offset[0])
        )
        return "done"

    worker = Worker(app, [long], heartbeat_ms=60_000, lock_ttl_ms=600_000, stall_interval_ms=20)
    await worker.start()
    try:
        handle = await long.adispatch()
        assert await handle.aresult(10) == "done"
        assert runs == [1, 2]  # the retry ran once: its worker did not reap itself
    finally:
        await worker.stop()
        await app.aclose()


async def _swept_after(stored: Any, jumped_ms: int) -> bool:
    value = await stored
    return value is not None and int(value) >= jumped_ms


async def test_a_drain_request_stops_a_worker_started_in_process(
    redis_url: str, tmp_path: Path
) -> None:
    app = Taskora(redis_url, config=load_config(env={}, cwd=tmp_path))
    release = asyncio.Event()

    @app.task("held")
    async def held(data: None) -> str:
        await release.wait()
        return "finished"

    worker = await app.start()
    try:
        handle = await held.adispatch()
        await until(lambda: _is_active(handle))
        assert await app.adrain_workers(worker.id) == [worker.id]
        await until(lambda: worker.drain_requested.is_set())
        release.set()  # the running job finishes; then the worker is gone
        assert await handle.aresult(10) == "finished"
        await until(lambda: _no_workers(app))
    finally:
        await worker.stop()  # waits for the drain's own stop; a second stop is harmless
        await app.aclose()


async def _is_active(handle: Any) -> bool:
    return bool(await handle.astate() == "active")


async def _no_workers(app: Taskora) -> bool:
    return await app.aworkers() == []
