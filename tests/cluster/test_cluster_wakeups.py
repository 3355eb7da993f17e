"""An idle worker of tasks on three masters waits on one connection per master (the tasks'
doorbells, see taskora_cli/engine/doorbells.py), not one per task, and wakes for a job on
any of them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cluster_support import tasks_on_every_master
from servers import LocalCluster, ServerProcess
from support import make_app, until

from taskora_cli.engine import doorbells
from taskora_cli.worker import runner


def waiting_connections(node: ServerProcess) -> list[dict[str, str]]:
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
    monkeypatch.setattr(doorbells, "REPLY_TIMEOUT_S", 1.0)
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
