"""What several cluster tests share."""

from __future__ import annotations

from servers import LocalCluster

from taskora_cli.engine.cluster import slot_of


def tasks_on_every_master(cluster: LocalCluster, count: int = 3, each: int = 1) -> list[str]:
    """Task names whose hash tags land on ``count`` different masters, ``each`` per master."""
    names: dict[int, list[str]] = {}
    for n in range(1000):
        name = f"job{n}"
        port = cluster.master_of(slot_of(f"{{{name}}}")).port
        on_master = names.setdefault(port, [])
        if len(on_master) < each:
            on_master.append(name)
        full = [found for found in names.values() if len(found) == each]
        if len(full) == count:
            return [name for found in full for name in found]
    raise AssertionError("no task names spread over the masters")
