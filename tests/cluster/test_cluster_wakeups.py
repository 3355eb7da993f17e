"""An idle worker of tasks on three masters waits on one connection per master (the tasks'
doorbells, see taskora_cli/engine/doorbells.py), not one per task, and wakes for a job on
any of them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cluster_support import tasks_on_every_master
from servers import ClusterNode, LocalCluster
from support import make_app, until

from taskora_cli.engine import doorbells
from taskora_cli.engine.cluster import slot_of
from taskora_cli.engine.engine import Engine
from taskora_cli.engine.records import NewJob
from taskora_cli.worker import runner


def waiting_connections(node: ClusterNode) -> list[dict[str, str]]:
    """The node's clients blocked in a command or subscribed to sharded channels."""
    with node.client() as client:
        clients = client.client_list()
    return [c for c in clients if "b" in c.get("flags", "") or int(c.get("ssub", 0) or 0) > 0]


async def test_an_idle_worker_waits_on_one_connection_per_master_and_wakes_for_each(
    valkey_cluster: LocalCluster, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # only a doorbell can wake the worker before the results' deadline, not its own look
    monkeypatch.setattr(runner, "IDLE_BLOCK_S", 600.0)
    # quiet connections are pinged at once, and one whose PONG is not heard soon fails
    monkeypatch.setattr(doorbells, "POLL_S", 0.05)
    monkeypatch.setattr(doorbells, "PING_S", 0.1)
    monkeypatch.setattr(doorbells, "PONG_TIMEOUT_S", 1.0)
    names = tasks_on_every_master(valkey_cluster, each=2)
    app = make_app(valkey_cluster.url, tmp_path)

    def handler_of(name: str) -> object:
        return lambda n: f"{name}:{n}"

    tasks = [app.task(name)(handler_of(name)) for name in names]
    masters = valkey_cluster.master_nodes()
    worker = await app.start()
    try:

        def idle() -> bool:  # every task's doorbell subscribed: each runner waits
            found = [waiting_connections(node) for node in masters]
            return sum(int(c["ssub"]) for conns in found for c in conns) == len(names)

        await until(idle, timeout=20)
        per_master = {node.port: waiting_connections(node) for node in masters}
        assert {port: len(conns) for port, conns in per_master.items()} == {
            node.port: 1 for node in masters
        }
        assert all(int(conns[0]["ssub"]) == 2 for conns in per_master.values())

        def pinged_again() -> bool:  # a PING follows only a PONG heard: none went unheard
            now = {node.port: waiting_connections(node) for node in masters}
            return all(
                [c["id"] for c in now[port]] == [conns[0]["id"]]
                and int(now[port][0]["tot-cmds"]) >= int(conns[0]["tot-cmds"]) + 3
                for port, conns in per_master.items()
            )

        await until(pinged_again, timeout=20)
        handles = [await task.adispatch(n) for n, task in enumerate(tasks)]
        results = await asyncio.gather(*(handle.aresult(20) for handle in handles))
    finally:
        await worker.stop()
        await app.aclose()
    assert results == [f"{name}:{n}" for n, name in enumerate(names)]


async def test_doorbells_route_by_redis_pys_slot_map_where_there_is_no_lean_wire(
    valkey_cluster: LocalCluster, redis_url: str
) -> None:
    engine = Engine(valkey_cluster.url, cluster=True)
    assert engine.runner.wire is not None
    await engine.runner.wire.close()
    engine.runner.wire = None  # as over TLS: redis-py's cluster client carries every call
    names = tasks_on_every_master(valkey_cluster)
    markers = [engine.keys(name).marker for name in names]
    try:
        waits = [asyncio.create_task(engine.wait_for_work(name, 60)) for name in names]

        def subscribed() -> bool:  # each doorbell on its own master
            return all(
                numsub(valkey_cluster.master_of(slot_of(marker)), marker) == 1 for marker in markers
            )

        await until(subscribed, timeout=20)
        for n, name in enumerate(names):
            assert await engine.enqueue(name, NewJob(f"j{n}", "null"), 1)
        assert await asyncio.gather(*waits) == [0.0] * len(names)
    finally:
        await engine.close()


def numsub(node: ClusterNode, channel: str) -> int:
    with node.client() as client:
        return int(client.execute_command("PUBSUB", "SHARDNUMSUB", channel)[1])
