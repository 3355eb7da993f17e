"""An idle worker of several tasks waits for work on one connection (their doorbells, see
taskora_cli/engine/doorbells.py), not a BZPOPMIN connection per task, and wakes for new and
delayed jobs of each. tests/cluster/test_cluster_wakeups.py does it per master."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path

import pytest
import redis.asyncio
from servers import TEST_SERVER, ServerProcess, free_ports, raw_client, valkey_binary
from support import make_app, until

from taskora_cli.engine.engine import Engine
from taskora_cli.engine.keys import TaskKeys
from taskora_cli.engine.records import NewJob
from taskora_cli.worker import runner

NAMES = ("idle-a", "idle-b", "idle-c")
NOW = 1_700_000_000_000


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


async def test_a_wake_up_a_paused_worker_takes_is_left_on_the_marker_for_the_others(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # only the marker (a doorbell, or a block on it) wakes an idle worker: no idle look
    monkeypatch.setattr(runner, "IDLE_BLOCK_S", 600.0)
    waits: list[str] = []  # "waiting", then what the wait returned
    wait_for_work = Engine.wait_for_work

    async def recorded(self: Engine, task: str, timeout_s: float) -> float | None:
        waits.append("waiting")
        score = await wait_for_work(self, task, timeout_s)
        waits.append(f"took {score}")
        return score

    monkeypatch.setattr(Engine, "wait_for_work", recorded)
    app = make_app(redis_url, tmp_path)
    task = app.task("handed-on")(lambda n: n)
    marker = TaskKeys(app.runtime.prefix, "handed-on").marker
    probe = raw_client(redis_url, decode_responses=True)  # routed by slot on a cluster

    worker = await app.start()
    try:
        await until(lambda: waits == ["waiting"])
        await app.queues().apause(task.options.queue)
        await until(lambda: worker.runners[0].paused)  # its orders came; its waker waits on
        await task.adispatch(1)
        await until(lambda: waits == ["waiting", "took 0.0"])
        # The paused worker took the wake-up off the marker and will not claim: it leaves the
        # marker for the task's other workers, as a claim would have.
        await until(lambda: probe.zscore(marker, "0") is not None)
        assert probe.zscore(marker, "0") == 0
        assert waits == ["waiting", "took 0.0"]  # and does not take it again
    finally:
        await worker.stop()
        await app.aclose()
        probe.close()


async def test_a_worker_stopping_after_it_took_a_wake_up_leaves_the_marker_for_the_others(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "IDLE_BLOCK_S", 600.0)
    monkeypatch.setattr(runner, "PASS_ON_S", 30.0)  # a loaded machine: no race with the bound
    took: list[float | None] = []
    wait_for_work = Engine.wait_for_work

    async def recorded(self: Engine, task: str, timeout_s: float) -> float | None:
        score = await wait_for_work(self, task, timeout_s)
        took.append(score)
        return score

    monkeypatch.setattr(Engine, "wait_for_work", recorded)
    app = make_app(redis_url, tmp_path)
    task = app.task("stopping-on")(lambda n: n)
    marker = TaskKeys(app.runtime.prefix, "stopping-on").marker
    probe = raw_client(redis_url, decode_responses=True)
    try:
        worker = await app.start()
        try:
            handle = await task.adispatch(1, delay=3600)  # the marker holds its due time
            due = probe.zscore(marker, "0")
            assert due is not None
            await until(lambda: took == [due])  # the waker took it, and sleeps until then
            assert probe.zscore(marker, "0") is None
        finally:
            await worker.stop()
        # the next worker of the task hears of the delayed job from the marker
        assert probe.zscore(marker, "0") == due
        assert await handle.astate() == "delayed"
    finally:
        await app.aclose()
        probe.close()


@pytest.mark.parametrize("cancels", [1, 2], ids=["stop", "hurried-stop"])
async def test_a_wait_stopped_while_its_pop_is_on_the_way_puts_the_wake_up_back(
    redis_url: str, cancels: int
) -> None:
    # The stopping worker's pop reaches the server (held there by CLIENT PAUSE until after the
    # stop), which takes the marker: the worker puts it back, and the task's other idle worker
    # wakes for the waiting job instead of sleeping through it. A second cancel (a hurried
    # stop, after the first reached the wait) does not cut the putting back short.
    stopping, other = Engine(redis_url), Engine(redis_url)
    probe = raw_client(redis_url, decode_responses=True)
    marker = TaskKeys("", "popped-on-stop").marker
    # the marker's server (its slot's master on a cluster)
    on = {"target_nodes": probe.get_node_from_key(marker)} if TEST_SERVER == "cluster" else {}

    def popping() -> bool:
        clients = probe.client_list(**on)
        return any(c["cmd"] == "zpopmin" and "b" in c["flags"] for c in clients)

    try:
        await stopping.connect(NOW)
        await other.connect(NOW)
        assert await stopping.wait_for_work("popped-on-stop", 0.01) is None  # subscribed
        await stopping.enqueue("popped-on-stop", NewJob("j1", "{}"), NOW)
        assert probe.zscore(marker, "0") == 0
        probe.execute_command("CLIENT", "PAUSE", 60_000, "WRITE", **on)
        try:
            wait = asyncio.ensure_future(stopping.wait_for_work("popped-on-stop", 60))
            await until(popping)
            for _ in range(cancels):
                wait.cancel()
                await asyncio.sleep(0)  # one step: the wait takes the cancel
        finally:
            probe.execute_command("CLIENT", "UNPAUSE", **on)
        with pytest.raises(asyncio.CancelledError):
            await wait
        assert await other.wait_for_work("popped-on-stop", 30) == 0
    finally:
        await stopping.close()
        await other.close()
        probe.close()
