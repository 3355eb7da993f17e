"""An idle worker of several tasks waits for work on one connection (their doorbells, see
taskora_cli/engine/doorbells.py), not a BZPOPMIN connection per task, and wakes for new and
delayed jobs of each. tests/cluster/test_cluster_wakeups.py does it per master."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path

import pytest
import redis.asyncio
from servers import TEST_SERVER, ServerProcess, free_ports, valkey_binary
from support import make_app, until

from taskora_cli.engine.keys import TaskKeys
from taskora_cli.worker import runner

NAMES = ("idle-a", "idle-b", "idle-c")


@pytest.mark.skipif(TEST_SERVER == "cluster", reason="counts one node's CLIENT LIST")
async def test_an_idle_worker_of_three_tasks_waits_on_one_connection_and_wakes_for_each(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # only a doorbell can wake the worker before the results' deadline, not its own look
    monkeypatch.setattr(runner, "IDLE_BLOCK_S", 600.0)
    app = make_app(redis_url, tmp_path)

    def handler_of(name: str) -> object:
        return lambda n: f"{name}:{n}"

    tasks = [app.task(name)(handler_of(name)) for name in NAMES]
    markers = [TaskKeys(app.runtime.prefix, name).marker for name in NAMES]
    probe = redis.asyncio.from_url(redis_url, decode_responses=True)

    async def idle() -> bool:  # every task's doorbell subscribed: each runner waits
        counts = await probe.execute_command("PUBSUB", "SHARDNUMSUB", *markers)
        return list(counts[1::2]) == [1] * len(markers)

    worker = await app.start()
    try:
        await until(idle)
        clients = await probe.client_list()
        assert [int(c["ssub"]) for c in clients if int(c.get("ssub", 0) or 0)] == [3]
        assert not [c for c in clients if c["cmd"] == "bzpopmin"]
        handles = [await task.adispatch(n) for n, task in enumerate(tasks)]
        handles.append(await tasks[0].adispatch(9, delay=0.3))  # the marker's due time
        results = await asyncio.gather(*(handle.aresult(20) for handle in handles))
    finally:
        await worker.stop()
        await app.aclose()
        await probe.aclose()
    assert results == [*(f"{name}:{n}" for n, name in enumerate(NAMES)), "idle-a:9"]


@pytest.mark.skipif(TEST_SERVER != "embedded", reason="starts a server of its own")
@pytest.mark.parametrize(
    "extra",
    [
        ["--rename-command", "SSUBSCRIBE", ""],  # "unknown command", as Redis before 7 says
        # NOPERM: an ACL granting the cancel channels only
        ["--user", "default", "on", "nopass", "~*", "resetchannels", "&*:cancel", "+@all"],
    ],
    ids=["no-sharded-pubsub", "acl-without-the-channels"],
)
async def test_a_server_refusing_sharded_pubsub_has_idle_workers_block_on_the_markers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: list[str]
) -> None:
    monkeypatch.setattr(runner, "IDLE_BLOCK_S", 600.0)
    server = ServerProcess(valkey_binary(), free_ports(1)[0], tmp_path / "server", extra)
    server.start()
    app = make_app(server.url, tmp_path)
    task = app.task(NAMES[0])(lambda n: n + 1)
    probe = redis.asyncio.from_url(server.url, decode_responses=True)

    async def blocked() -> bool:
        return any(c["cmd"] == "bzpopmin" for c in await probe.client_list())

    try:
        worker = await app.start()
        try:
            await until(blocked)
            handle = await task.adispatch(1)
            assert await handle.aresult(20) == 2
        finally:
            await worker.stop()
    finally:
        await app.aclose()
        await probe.aclose()
        server.stop()


@pytest.mark.skipif(TEST_SERVER != "embedded", reason="starts a server of its own")
async def test_an_idle_worker_hears_jobs_made_while_its_doorbell_connection_came_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A short outage: the pub/sub client reconnects and subscribes again by itself. A job
    # dispatched before it did made the marker and rang for nobody; only the subscription's
    # confirmation can wake the worker now (its own look is out of reach).
    monkeypatch.setattr(runner, "IDLE_BLOCK_S", 600.0)
    server = ServerProcess(valkey_binary(), free_ports(1)[0], tmp_path / "server", [])
    server.start()
    app = make_app(server.url, tmp_path)
    task = app.task(NAMES[0])(lambda n: n + 1)
    marker = TaskKeys(app.runtime.prefix, NAMES[0]).marker
    try:
        worker = await app.start()
        try:
            probe = redis.asyncio.from_url(server.url, decode_responses=True)
            try:
                subscribed = lambda: _subscribers(probe, marker)  # noqa: E731
                await until(lambda: _is(subscribed(), 1))
                server.kill()
                await asyncio.sleep(1.0)  # the outage itself, not a wait for a condition
                server.start()
                handles = [await task.adispatch(n) for n in range(3)]  # before it is back
                assert [await h.aresult(20) for h in handles] == [1, 2, 3]
            finally:
                await probe.aclose()
        finally:
            await worker.stop()
    finally:
        await app.aclose()
        server.stop()


async def _subscribers(probe: redis.asyncio.Redis, channel: str) -> int:
    counts = await probe.execute_command("PUBSUB", "SHARDNUMSUB", channel)
    return int(counts[1])


async def _is(count: Awaitable[int], expected: int) -> bool:
    return await count == expected
