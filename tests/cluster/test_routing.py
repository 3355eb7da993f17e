"""Cluster routing on a real 3-master Valkey Cluster: each call reaches its slot's master,
MOVED and ASK are followed, one pipelined connection per master."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cluster_support import tasks_on_every_master
from servers import ClusterNode, LocalCluster, wait_until
from support import make_app

from taskora_cli.engine.cluster import ClusterWire, slot_of
from taskora_cli.engine.cluster_probe import detect_cluster
from taskora_cli.engine.engine import Engine
from taskora_cli.engine.scripts import load_script


def master_of(cluster: LocalCluster, slot: int) -> ClusterNode:
    return cluster.master_of(slot)


def node_id(node: ClusterNode) -> str:
    with node.client() as client:
        return str(client.execute_command("CLUSTER", "MYID"))


@pytest.fixture
def cluster(valkey_cluster: LocalCluster, redis_url: str) -> LocalCluster:
    return valkey_cluster


@pytest.fixture
def moved_slot(cluster: LocalCluster) -> Iterator[tuple[str, ClusterNode, ClusterNode]]:
    """A key of an empty slot, its master and another one the test may hand the slot to (it
    is emptied and handed back at teardown)."""
    key = "{moved-here}:k"
    slot = slot_of(key)
    old = master_of(cluster, slot)
    new = next(node for node in cluster.master_nodes() if node is not old)
    try:
        yield key, old, new
    finally:
        with new.client() as client:
            client.delete(key)
        set_owner(cluster, slot, old)


def set_owner(cluster: LocalCluster, slot: int, node: ClusterNode) -> None:
    owner = node_id(node)
    # The new owner's config epoch first goes above every other: the old owner's gossip, sent
    # before it heard SETSLOT, then cannot win the slot back on a node that heard SETSLOT
    # already (the higher epoch wins a claim). Without it, a loaded machine left a node on the
    # old owner for good.
    with node.client() as client:
        client.execute_command("CLUSTER", "BUMPEPOCH")
    for master in cluster.master_nodes():
        with master.client() as client:
            client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", owner)
    wait_until(lambda: master_of(cluster, slot).port == node.port, "the slot map agreeing")


async def test_cluster_mode_is_seen_in_info(cluster: LocalCluster) -> None:
    assert detect_cluster(cluster.url)
    engine = Engine(cluster.url)
    try:
        assert engine.cluster
        info = await engine.server_info()
        assert (info["server"], info["mode"]) == ("valkey", "cluster")
    finally:
        await engine.close()


async def test_scripts_of_tasks_on_three_masters_share_one_connection_per_master(
    cluster: LocalCluster,
) -> None:
    engine = Engine(cluster.url, cluster=True)
    try:
        names = tasks_on_every_master(cluster)
        for _ in range(2):  # a second round opens nothing new
            for name in names:
                assert await engine.ready_count(name, 0) == 0
                await engine.runner.run("request_drain", [engine.keys(name).wait], [])
        wire = engine.runner.wire
        assert isinstance(wire, ClusterWire)
        assert sorted(port for _, port in wire.nodes()) == sorted(
            node.port for node in cluster.master_nodes()
        )
    finally:
        await engine.close()


async def test_a_moved_slot_is_followed_and_the_map_read_again(
    cluster: LocalCluster, moved_slot: tuple[str, ClusterNode, ClusterNode]
) -> None:
    key, old, new = moved_slot
    wire = ClusterWire(cluster.url)
    try:
        assert (await wire.node_of(key))[1] == old.port  # the wire learns the old owner...
        set_owner(cluster, slot_of(key), new)  # ...which hands the slot on
        assert await wire.call("SET", key, "v", key=key) == "OK"
        with new.client() as client:
            assert client.get(key) == "v"
        assert (await wire.node_of(key))[1] == new.port  # the map was read again
    finally:
        await wire.close()


async def test_an_ask_redirection_is_followed_with_asking(cluster: LocalCluster) -> None:
    key = "{asked}:k"
    slot = slot_of(key)
    source = master_of(cluster, slot)
    target = next(node for node in cluster.master_nodes() if node is not source)
    with target.client() as client:
        client.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", node_id(source))
    with source.client() as client:
        client.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", node_id(target))
    wire = ClusterWire(cluster.url)
    try:
        # the key is not on the migrating source: it answers ASK, the target takes it
        script = load_script("request_drain")
        assert await wire.evalsha(script, [key], []) == 0
        assert await wire.call("SET", key, "v", key=key) == "OK"
        with target.client() as client:
            client.execute_command("ASKING")
            assert client.get(key) == "v"
            client.execute_command("ASKING")  # it holds for one command
            client.delete(key)
    finally:
        await wire.close()
        for node in (source, target):
            with node.client() as client:
                client.execute_command("CLUSTER", "SETSLOT", slot, "STABLE")


async def test_a_worker_runs_tasks_spread_over_three_masters(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    app = make_app(cluster.url, tmp_path)
    names = tasks_on_every_master(cluster)

    def handler_of(name: str) -> Callable[[int], str]:
        return lambda n: f"{name}:{n}"

    tasks = [app.task(name)(handler_of(name)) for name in names]
    worker = await app.start()
    try:
        handles = [await task.adispatch(n) for n, task in enumerate(tasks) for _ in range(2)]
        results = await asyncio.gather(*(handle.aresult(20) for handle in handles))
    finally:
        await worker.stop()
        await app.aclose()
    assert sorted(results) == sorted(
        f"{name}:{n}" for n, name in enumerate(names) for _ in range(2)
    )
