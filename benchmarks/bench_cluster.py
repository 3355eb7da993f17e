"""Cluster benchmark: processing with tasks spread over 1, 2 and 3 masters of a local Valkey
Cluster (one worker process per master), against a standalone server of the same binary.

Run by hand from the repository root:

    python benchmarks/bench_cluster.py            # 3000 jobs per run
    python benchmarks/bench_cluster.py --jobs 10000

Reports, per run: jobs/s from the workers' start to the last job done, the server CPU each
master spent (INFO cpu deltas), and the client CPU per job of dispatching one job at a time
(the cost of routing: the slot of the first key, the per-master connection) against the
standalone server. On a 2-core machine the absolute numbers are small: read the shape.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for path in (ROOT, ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from servers import (  # noqa: E402
    ClusterNode,
    LocalCluster,
    ServerProcess,
    free_ports,
    start_cluster,
    valkey_binary,
)

from taskora_cli import Taskora  # noqa: E402
from taskora_cli.config import Config  # noqa: E402
from taskora_cli.engine.cluster import slot_of  # noqa: E402

WORKER = """
import asyncio, sys
from taskora_cli import Taskora
from taskora_cli.config import Config
url, task = sys.argv[1], sys.argv[2]
app = Taskora(url, config=Config(url=url))
app.task(task)(lambda n: n)
async def main():
    worker = await app.start()
    print("started", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await worker.stop()
    await app.aclose()
asyncio.run(main())
"""


def spread_tasks(cluster: LocalCluster, count: int) -> list[str]:
    """``count`` task names on ``count`` different masters."""
    found: dict[int, str] = {}
    for n in range(10_000):
        name = f"bench{n}"
        port = cluster.master_of(slot_of(f"{{{name}}}")).port
        found.setdefault(port, name)
        if len(found) == count:
            return list(found.values())
    raise RuntimeError("no spread found")


def cpu_of(nodes: list[ServerProcess] | list[ClusterNode]) -> dict[int, float]:
    out = {}
    for node in nodes:
        with node.client() as client:
            info: dict[str, Any] = client.info("cpu")
            out[node.port] = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return out


async def dispatch_cost(url: str, task: str, jobs: int) -> float:
    """Client CPU µs per job of dispatching one job at a time."""
    app = Taskora(url, config=Config(url=url))
    handle = app.task(task)(lambda n: n)
    await handle.adispatch(0)  # connect first
    started = time.process_time()
    for n in range(jobs):
        await handle.adispatch(n)
    spent = time.process_time() - started
    await app.aclose()
    return spent / jobs * 1e6


async def processing(
    url: str, tasks: list[str], jobs: int, masters: list[ServerProcess] | list[ClusterNode]
) -> str:
    app = Taskora(url, config=Config(url=url))
    handles = [app.task(task)(lambda n: n) for task in tasks]
    for index, handle in enumerate(handles):
        await handle.adispatch_many(range(jobs // len(tasks) + (index < jobs % len(tasks))))
    await app.aclose()
    before = cpu_of(masters)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, task],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for task in tasks
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "started"
        started = time.monotonic()
        check = Taskora(url, config=Config(url=url))
        engine = await check.runtime.engine()
        while True:
            counts = [await engine.counts(task) for task in tasks]
            if sum(c["completed"] for c in counts) >= jobs:
                break
            await asyncio.sleep(0.01)
        elapsed = time.monotonic() - started
        await check.aclose()
    finally:
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.close()
            worker.wait(30)
    after = cpu_of(masters)
    cpu = ", ".join(f"{after[p] - before[p]:.2f}" for p in sorted(after))
    return f"{jobs / elapsed:8.0f} jobs/s   server CPU s per master: {cpu}"


def flush(nodes: list[ServerProcess] | list[ClusterNode]) -> None:
    for node in nodes:
        with node.client() as client:
            if client.info("replication")["role"] == "master":
                client.flushall()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        standalone = ServerProcess(valkey_binary(), free_ports(1)[0], Path(tmp) / "standalone")
        standalone.start()
        cluster = start_cluster(Path(tmp) / "cluster")
        try:
            masters = cluster.master_nodes()
            flush([standalone])
            line = await processing(standalone.url, ["bench0"], args.jobs, [standalone])
            print(f"standalone, 1 worker     {line}")
            for count in (1, 2, 3):
                flush(cluster.nodes)
                tasks = spread_tasks(cluster, count)
                line = await processing(cluster.url, tasks, args.jobs, masters)
                print(f"cluster, {count} master(s)     {line}")
            flush([standalone])
            flush(cluster.nodes)
            alone = await dispatch_cost(standalone.url, "bench0", args.jobs)
            routed = await dispatch_cost(cluster.url, spread_tasks(cluster, 1)[0], args.jobs)
            print(
                f"dispatch, client CPU per job: standalone {alone:.0f} µs, "
                f"cluster {routed:.0f} µs ({routed - alone:+.0f} µs routing)"
            )
        finally:
            cluster.stop()
            standalone.stop()


if __name__ == "__main__":
    asyncio.run(main())
