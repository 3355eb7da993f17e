"""Global concurrency limits end to end: singleton tasks and per-key limits hold across worker
processes, parked jobs run later (never lost), and a killed worker's slot comes back."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from servers import raw_client
from support import make_app, until

from taskora_cli import Taskora, UsageError
from taskora_cli.config import load_config
from taskora_cli.engine.keys import TaskKeys
from taskora_cli.worker.pool import Worker

ROOT = Path(__file__).resolve().parents[2]


async def test_a_singleton_task_runs_one_job_at_a_time_across_workers(
    redis_url: str, tmp_path: Path
) -> None:
    running: Counter[str] = Counter()
    peak: list[int] = [0]
    apps = [make_app(redis_url, tmp_path) for _ in range(2)]
    workers: list[Worker] = []
    for made in apps:

        @made.task("nightly", singleton=True, concurrency=3)
        async def nightly(n: int) -> int:
            running["now"] += 1
            peak[0] = max(peak[0], running["now"])
            await asyncio.sleep(0.02)  # long enough for another worker to try to start one
            running["now"] -= 1
            return n

    try:
        handles = [await apps[0].tasks["nightly"].adispatch(n) for n in range(6)]
        for made in apps:
            workers.append(await made.start())
        assert [await h.aresult(20) for h in handles] == list(range(6))
        assert peak[0] == 1
        keys = TaskKeys("", "nightly")
        client = raw_client(redis_url)
        assert client.exists(keys.singleton, keys.singleton_parked) == 0
        client.close()
    finally:
        for worker in workers:
            await worker.stop()
        for made in apps:
            await made.aclose()


async def test_a_concurrency_key_caps_its_jobs_while_other_keys_run(
    redis_url: str, tmp_path: Path
) -> None:
    app = make_app(redis_url, tmp_path)
    release = asyncio.Event()
    started: list[str] = []

    @app.task("sync", concurrency=10, concurrency_limit=2)
    async def sync(user: str) -> str:
        started.append(user)
        await release.wait()
        return user

    handles = [await sync.adispatch("u1", concurrency_key="u1") for _ in range(5)]
    handles += [await sync.adispatch("u2", concurrency_key="u2", concurrency_limit=1)]
    handles += [await sync.adispatch("free")]
    worker = await app.start()
    try:
        await until(lambda: len(started) == 4)
        await asyncio.sleep(0.1)  # give the parked jobs every chance to start (they must not)
        assert sorted(started) == ["free", "u1", "u1", "u2"]
        release.set()
        results = [await h.aresult(20) for h in handles]
        assert results == ["u1"] * 5 + ["u2", "free"]  # parked, not lost
        client = raw_client(redis_url)
        keys = TaskKeys("", "sync")
        assert client.exists(keys.concurrency("u1"), keys.parked("u1")) == 0
        client.close()
    finally:
        await worker.stop()
        await app.aclose()


def test_conflicting_concurrency_options_are_usage_errors(tmp_path: Path) -> None:
    app = Taskora("redis://localhost:1", config=load_config(env={}, cwd=tmp_path))
    with pytest.raises(UsageError, match="drop concurrency_limit"):
        app.task("a", singleton=True, concurrency_limit=2)

    @app.task("solo", singleton=True)
    def solo(data: None) -> None: ...

    with pytest.raises(UsageError, match="singleton"):
        solo.new_job(None, None, 0, None, 0, ("k", None))
    with pytest.raises(UsageError, match="needs a concurrency_key"):
        app.task("b")(lambda data: None).new_job(None, None, 0, None, 0, (None, 3))


# A worker that takes one singleton job and hangs, with a lock that outlives the test: only an
# explicit release of the dead worker can free the singleton slot.
HANGING_WORKER = """
import asyncio, sys
from pathlib import Path
from taskora_cli import Taskora
from taskora_cli.config import load_config
from taskora_cli.worker.pool import Worker

app = Taskora(sys.argv[1], config=load_config(env={}, cwd=Path(sys.argv[2])))

@app.task("solo", singleton=True)
async def solo(data):
    await asyncio.Event().wait()

async def main():
    worker = Worker(app, [solo], worker_id="doomed", lock_ttl_ms=600_000,
                    stall_interval_ms=600_000)
    await worker.start()
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_a_killed_workers_singleton_slot_is_released_with_the_worker(
    redis_url: str, tmp_path: Path, spawn: list[subprocess.Popen[bytes]]
) -> None:
    app = make_app(redis_url, tmp_path)

    @app.task("solo", singleton=True)
    async def solo(n: int) -> int:
        return n

    first = await solo.adispatch(1)
    second = await solo.adispatch(2)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    doomed = subprocess.Popen(
        [sys.executable, "-c", HANGING_WORKER, redis_url, str(tmp_path)],
        env=env,
        stderr=subprocess.PIPE,
    )
    spawn.append(doomed)
    await until(lambda: _is_active(first.astate(), doomed), timeout=30)
    survivor = await app.start()
    try:
        await asyncio.sleep(0.2)
        assert await second.astate() == "waiting"  # parked: the dead worker holds the slot
        doomed.kill()
        assert doomed.wait(10) == -9
        assert await app.arelease_worker("doomed", ["solo"]) == 1
        assert sorted([await first.aresult(10), await second.aresult(10)]) == [1, 2]
    finally:
        await survivor.stop()
        await app.aclose()


async def _is_active(state: object, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        _, err = process.communicate()
        raise AssertionError(f"the worker process exited early: {err.decode()[-2000:]}")
    return await state == "active"  # type: ignore[misc,no-any-return]


async def test_parked_jobs_count_as_waiting(redis_url: str, tmp_path: Path) -> None:
    app = make_app(redis_url, tmp_path)
    release = asyncio.Event()

    @app.task("one-by-one", singleton=True, concurrency=4)
    async def one_by_one(n: int) -> None:
        await release.wait()

    handles = [await one_by_one.adispatch(n) for n in range(3)]
    worker = await app.start()
    try:
        await until(lambda: _state_is(handles[0], "active"))
        await until(lambda: _counts_are(app, waiting=2, active=1))
        release.set()
        for handle in handles:
            await handle.aresult(10)
        assert (await app.inspect().astats()).total.waiting == 0
    finally:
        await worker.stop()
        await app.aclose()


async def _state_is(handle: object, state: str) -> bool:
    return await handle.astate() == state  # type: ignore[attr-defined,no-any-return]


async def _counts_are(app: Taskora, waiting: int, active: int) -> bool:
    total = (await app.inspect().astats()).total
    return (total.waiting, total.active) == (waiting, active)
