"""What several cluster tests share."""

from __future__ import annotations

from servers import LocalCluster

from taskora_cli.engine.cluster import slot_of


def tasks_on_every_master(cluster: LocalCluster, count: int = 3) -> list[str]:
    """Task names whose hash tags land on ``count`` different masters."""
    names: dict[int, str] = {}
    for n in range(1000):
        name = f"job{n}"
        port = cluster.master_of(slot_of(f"{{{name}}}")).port
        names.setdefault(port, name)
        if len(names) == count:
            return list(names.values())
    raise AssertionError("no task names spread over the masters")
