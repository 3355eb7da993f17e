"""Two workers sharing one queue never run the same job: each job runs exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from support import make_app, until

from taskora_cli import Taskora
from taskora_cli.worker.pool import Worker

JOBS = 400


def worker_app(url: str, tmp: Path, label: str, runs: list[tuple[str, str]]) -> Taskora:
    """An app of its own (own connections, as in another process) that records each start."""
    app = make_app(url, tmp)

    @app.task("once", concurrency=4)
    async def once(n: int, ctx: object) -> int:
        runs.append((ctx.id, label))  # type: ignore[attr-defined]
        await asyncio.sleep(0.001 * (n % 3))  # uneven run times interleave the claims
        return n

    return app


async def test_two_workers_never_run_one_job_twice(redis_url: str, tmp_path: Path) -> None:
    runs: list[tuple[str, str]] = []
    apps = [worker_app(redis_url, tmp_path, label, runs) for label in ("a", "b")]
    workers = [Worker(app, [app.get_task("once")], prefetch=4) for app in apps]
    for worker in workers:
        await worker.start()
    producer = make_app(redis_url, tmp_path)

    @producer.task("once")
    async def once(n: int) -> int:
        return n

    try:
        handles = await once.adispatch_many(range(JOBS))
        await until(lambda: len(runs) >= JOBS)
        assert [await h.aresult(10) for h in handles] == list(range(JOBS))
    finally:
        for worker in workers:
            await worker.stop()
        await producer.aclose()

    started = Counter(job_id for job_id, _ in runs)
    assert started == {h.id: 1 for h in handles}
    by_worker = Counter(label for _, label in runs)
    assert by_worker["a"] > 0 and by_worker["b"] > 0, by_worker  # both really took part
    engine = await producer.connect()
    assert (await engine.counts("once"))["completed"] == JOBS
    await producer.aclose()


async def test_jobs_outliving_the_lock_ttl_are_not_taken_while_heartbeats_renew_them(
    redis_url: str, tmp_path: Path
) -> None:
    runs: list[tuple[str, str]] = []
    apps = []
    for label in ("a", "b"):
        app = make_app(redis_url, tmp_path)

        @app.task("long", concurrency=4)
        async def long(n: int, ctx: object, label: str = label) -> int:
            runs.append((ctx.id, label))  # type: ignore[attr-defined]
            await asyncio.sleep(1.2)  # longer than the lock TTL: only heartbeats keep the lock
            return n

        apps.append(app)
    # sweeps run every 50 ms on both workers, so a lock that lapsed would be taken at once
    workers = [
        Worker(
            app,
            [app.get_task("long")],
            prefetch=0,
            # a worker counts as gone after three missed beats: 150 ms beats leave a loaded
            # machine 450 ms of slack, while the lock (1 s) still lapses inside each job
            lock_ttl_ms=1000,
            heartbeat_ms=150,
            stall_interval_ms=50,
        )
        for app in apps
    ]
    for worker in workers:
        await worker.start()
    try:
        handles = await apps[0].get_task("long").adispatch_many(range(8))
        assert [await h.aresult(10) for h in handles] == list(range(8))
    finally:
        for worker in workers:
            await worker.stop()
    assert Counter(job_id for job_id, _ in runs) == {h.id: 1 for h in handles}
    engine = await apps[0].connect()
    for handle in handles:
        record = await engine.job("long", handle.id)
        assert record is not None and (record.attempt, record.stalls) == (1, 0)
    await apps[0].aclose()
