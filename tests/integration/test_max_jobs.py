"""A worker limited to a number of jobs (``--max-jobs``) stays quiet once the limit is held."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis
from servers import raw_client
from support import make_app, until

from taskora_cli import Taskora
from taskora_cli.worker.pool import Worker

QUIET_BOUND = 500
"""Server commands a worker at its job limit may send in the window: heartbeats and the
like. Claiming for nothing in a loop sends tens of thousands."""
WINDOW_S = 1.0
"""How long the server's command count is watched (the bound holds for any window up to
the heartbeat interval times QUIET_BOUND)."""


@pytest.fixture
async def app(redis_url: str, tmp_path: Path) -> AsyncIterator[Taskora]:
    made = make_app(redis_url, tmp_path)
    yield made
    await made.aclose()


async def _commands(url: str) -> int:
    """Commands the server (every master of a cluster) has processed so far."""
    client = raw_client(url)
    try:
        if isinstance(client, redis.RedisCluster):
            per_node = client.info("stats", target_nodes=redis.RedisCluster.PRIMARIES)
            return sum(int(info["total_commands_processed"]) for info in per_node.values())
        return int(client.info("stats")["total_commands_processed"])
    finally:
        client.close()


async def test_a_worker_at_its_job_limit_sends_no_claims_while_its_job_runs(
    app: Taskora, redis_url: str
) -> None:
    release = asyncio.Event()
    started: list[str] = []

    @app.task("slow")
    async def slow(n: int) -> int:
        started.append("slow")
        await release.wait()
        return n

    @app.task("other")
    async def other(n: int) -> int:
        started.append("other")
        await release.wait()
        return n

    await slow.adispatch_many(range(3))
    await other.adispatch_many(range(3))
    worker = Worker(app, [slow, other])
    worker.max_claims = 1  # what `--max-jobs 1` sets: both runners share the one job
    await worker.start()
    try:
        await until(lambda: len(started) == 1)
        before = await _commands(redis_url)
        await asyncio.sleep(WINDOW_S)  # a measuring window: the assertion bounds a count
        sent = await _commands(redis_url) - before
        assert sent < QUIET_BOUND
        assert len(started) == 1
    finally:
        release.set()
        await worker.stop(grace_ms=10_000)
