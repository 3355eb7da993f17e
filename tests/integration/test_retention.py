"""[retention] end to end: a worker keeps only as many finished jobs as configured, deleting
the rest (hash and logs), and jobs age out of a queue that has gone quiet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis
from servers import node_client, raw_client
from support import until

from taskora_cli import JobFailedError, JobNotFoundError, Taskora
from taskora_cli.app import system_clock
from taskora_cli.config import load_config
from taskora_cli.worker.pool import Worker

JOBS = 60
DAY_MS = 86_400_000


def app_with(url: str, tmp: Path, clock: Any = system_clock, **retention: object) -> Taskora:
    overrides = {f"retention.{key}": value for key, value in retention.items()}
    return Taskora(url, config=load_config(env={}, cwd=tmp, overrides=overrides), clock=clock)


def job_keys(url: str, task: str) -> list[str]:
    client = raw_client(url, decode_responses=True)
    try:
        return sorted(client.scan_iter(f"taskora:{{{task}}}:j:*"))
    finally:
        client.close()


async def test_a_worker_keeps_only_the_newest_finished_jobs(redis_url: str, tmp_path: Path) -> None:
    app = app_with(redis_url, tmp_path, completed_max_items=5, failed_max_items=2)
    ran: list[int] = []

    @app.task("kept", concurrency=4)
    async def kept(n: int, ctx: Any) -> int:
        ctx.log.info("working", n=n)
        ran.append(n)
        if n % 10 == 0:
            raise ValueError(f"job {n} fails")
        return n

    handles = await kept.adispatch_many(range(JOBS))
    worker = await app.start()
    engine = await app.connect()
    try:
        await until(lambda: len(ran) == JOBS)
        settled = {"waiting": 0, "delayed": 0, "active": 0, "completed": 5, "failed": 2}
        await until(lambda: _equals(engine.counts("kept"), settled))
    finally:
        await worker.stop()

    outcomes = {"completed": 0, "failed": 0, "trimmed": 0}
    for handle in handles:
        try:
            await handle.aresult(5)
            outcomes["completed"] += 1
        except JobFailedError:
            outcomes["failed"] += 1
        except JobNotFoundError:
            outcomes["trimmed"] += 1
    assert outcomes == {"completed": 5, "failed": 2, "trimmed": JOBS - 7}
    # every kept job has its hash and its log; no trimmed job left either behind
    assert len(job_keys(redis_url, "kept")) == 2 * 7
    await app.aclose()


async def test_finished_jobs_age_out_of_a_quiet_queue(redis_url: str, tmp_path: Path) -> None:
    offset = [0]
    app = app_with(
        redis_url,
        tmp_path,
        clock=lambda: system_clock() + offset[0],
        completed_max_age="1d",
        failed_max_age="7d",
    )

    @app.task("ageing")
    def ageing(n: int) -> int:
        if n < 0:
            raise ValueError("negative")
        return n

    handles = await ageing.adispatch_many([1, 2, -1])
    worker = Worker(app, [ageing], stall_interval_ms=50)
    await worker.start()
    engine = await app.connect()
    try:
        assert await handles[0].aresult(10) == 1
        with pytest.raises(JobFailedError):
            await handles[2].aresult(10)
        await until(lambda: _equals(engine.counts("ageing"), _state(completed=2, failed=1)))

        offset[0] = 2 * DAY_MS  # nothing finishes any more; the sweep alone trims
        await until(lambda: _equals(engine.counts("ageing"), _state(failed=1)))
        offset[0] = 8 * DAY_MS
        await until(lambda: _equals(engine.counts("ageing"), _state()))
    finally:
        await worker.stop()
    assert job_keys(redis_url, "ageing") == []
    with pytest.raises(JobNotFoundError):
        await handles[1].aresult(1)
    await app.aclose()


def _state(**nonzero: int) -> dict[str, int]:
    return {"waiting": 0, "delayed": 0, "active": 0, "completed": 0, "failed": 0, **nonzero}


async def _equals(pending: Any, wanted: dict[str, int]) -> bool:
    return bool(await pending == wanted)


async def test_a_burst_of_twenty_thousand_jobs_leaves_memory_bounded(
    redis_url: str, tmp_path: Path
) -> None:
    app = app_with(redis_url, tmp_path, completed_max_items=500, failed_max_items=100)

    @app.task("burst", concurrency=50)
    async def burst(n: int, ctx: Any) -> int:
        ctx.log.info("step", n=n)
        if n % 100 == 0:
            raise ValueError("one in a hundred fails")
        return n

    client = raw_client(redis_url, decode_responses=True)
    server = node_client(redis_url, "{burst}", decode_responses=True)  # the one holding it
    try:
        server.execute_command("MEMORY", "PURGE")
        before = int(server.info("memory")["used_memory"])
        await burst.adispatch_many(range(20_000))
        queued = int(server.info("memory")["used_memory"]) - before
        worker = await app.start()
        try:
            stats = app.inspect()

            async def all_done() -> bool:
                total = (await stats.astats()).total
                return total.waiting + total.active + total.delayed == 0

            await until(all_done, timeout=120)
        finally:
            await worker.stop()
        total = (await stats.astats()).total
        assert (total.completed, total.failed) == (500, 100)  # 19,800 and 200 finished
        finished = [
            key for key in client.scan_iter("taskora:{burst}:j:*") if not key.endswith(":logs")
        ]
        assert len(finished) == 600  # every trimmed job's hash and log list is gone
        assert len(list(client.scan_iter("taskora:{burst}:j:*:logs"))) == 600
        after = int(server.info("memory")["used_memory"]) - before
        # 3% of the jobs stay; most of what remains is the event stream, capped at ~10,000
        # entries whatever the traffic, and the allocator's slack
        # (not on a cluster: a master's memory also holds its replica's output buffer and
        # the replication backlog, which a burst fills)
        assert after < queued / 2 or isinstance(client, redis.RedisCluster), (after, queued)
    finally:
        client.close()
        server.close()
        await app.aclose()
