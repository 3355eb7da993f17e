"""Failover on a cluster of the test's own: a master is killed, its replica promoted, and the
worker and the dispatcher carry on; no job runs twice at once and none is lost that the
replica had received (WAIT) before the kill."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import LocalCluster, start_cluster
from support import make_app, until

from taskora_cli.engine.cluster import slot_of
from taskora_cli.worker import runner

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = start_cluster(tmp_path_factory.mktemp("failover"), detach=False)
    try:
        yield cluster
    finally:
        cluster.stop()


def _holder(cluster: LocalCluster, task: str) -> int | None:
    """The port of the master holding ``task``'s slot, None while none does."""
    try:
        return cluster.master_of(slot_of(f"{{{task}}}")).port
    except LookupError:
        return None


def _task_on_the_seed(cluster: LocalCluster) -> str:
    """A task name whose slot the URL's node holds: killing it kills the node every
    connection was first made to (the slot map's source, the cancel listener's node)."""
    seed = cluster.nodes[0].port
    return next(f"tick{n}" for n in range(1000) if _holder(cluster, f"tick{n}") == seed)


async def test_a_promoted_replica_takes_over_and_no_job_runs_twice_at_once(
    own_cluster: LocalCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an idle worker is woken by its task's doorbell, subscribed anew on the promoted
    # replica, not by its own look for work
    monkeypatch.setattr(runner, "IDLE_BLOCK_S", 600.0)
    app = make_app(own_cluster.url, tmp_path)
    running: set[int] = set()
    overlaps: list[int] = []
    runs: list[int] = []

    name = _task_on_the_seed(own_cluster)

    @app.task(name)
    async def tick(n: int) -> int:
        if n in running:
            overlaps.append(n)
        running.add(n)
        try:
            await asyncio.sleep(0.02)
            runs.append(n)
            return n
        finally:
            running.discard(n)

    master = own_cluster.nodes[0]
    worker = await app.start()
    try:
        before = [await tick.adispatch(n) for n in range(20)]
        with master.client() as client:  # every acknowledged dispatch reached the replica
            assert client.execute_command("WAIT", 1, 5000) >= 1
        master.kill()
        await until(lambda: _holder(own_cluster, name) not in (None, master.port), timeout=30)
        results = await asyncio.gather(*(h.aresult(60) for h in before))
        # the worker is idle now: these must wake it
        after = [await tick.adispatch(n) for n in range(20, 40)]
        results += await asyncio.gather(*(h.aresult(60) for h in after))
    finally:
        await worker.stop()
        await app.aclose()
    assert sorted(results) == list(range(40))
    assert overlaps == []
    assert set(runs) == set(range(40))  # a job whose ack the dead master lost may run again
