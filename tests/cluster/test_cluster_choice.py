"""``cluster = false`` in the config is taken at its word: no INFO asked, a standalone engine."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from servers import LocalCluster

from taskora_cli import Taskora
from taskora_cli.config import load_config
from taskora_cli.engine import keys as k
from taskora_cli.engine.cluster import ClusterWire, slot_of


async def test_cluster_false_makes_a_standalone_engine_even_on_a_cluster_node(
    valkey_cluster: LocalCluster, redis_url: str, tmp_path: Path
) -> None:
    # the node holding the meta record, so a standalone engine's handshake lands on its slot
    node = valkey_cluster.master_of(slot_of(k.meta_key("")))
    config = dataclasses.replace(load_config(env={}, cwd=tmp_path), cluster=False)
    app = Taskora(node.url, config=config)
    engine = await app.runtime.engine()
    try:
        assert engine.cluster is False  # its INFO says cluster_enabled:1
        assert not isinstance(engine.runner.wire, ClusterWire)
    finally:
        await app.runtime.aclose()
