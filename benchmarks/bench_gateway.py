"""The WebSocket gateway with many clients: connect time, the gateway's memory, fan-out latency.

Run by hand from the repository root, on a fresh embedded server in a temporary directory:

    python benchmarks/bench_gateway.py                       # 1,000 broadcast connections
    python benchmarks/bench_gateway.py --connections 2000 --jobs 50

The gateway (with a worker for the one handler) runs in a subprocess, the clients here, so
the memory printed is the gateway process's own (RSS, from /proc). Every connection asks for
broadcast, so each job's ``task_update`` goes to all of them: the handler stamps the wall
clock in the update's data, and each client's receive time minus that stamp is its fan-out
latency (stream write, one XREAD, routing, one send per socket). Exits non-zero when a
connection is refused or a client misses a message.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from taskora_cli.engine.embedded import ensure_embedded, stop_embedded

GATEWAY = """
import asyncio, resource, sys, time
from taskora_cli.manager import TaskManager

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
tm = TaskManager.init(db=sys.argv[1])


async def tick(job, ctx):
    ctx.socket.update({"sent": time.time()}, 100)


tm.register_handler(tick, event="tick")


async def main():
    await tm.astart(expose={"port": 0})
    print(tm.gateway.port, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench(url: str, pid: int, connections: int, jobs: int) -> int:
    idle_mb = rss_mb(pid)
    opened: list[float] = []

    async def open_one() -> ClientConnection:
        began = time.perf_counter()
        ws = await connect(url, additional_headers={"x-get-broadcast": "true"}, compression=None)
        opened.append(time.perf_counter() - began)
        return ws

    began = time.perf_counter()
    sockets: list[ClientConnection] = []
    for start in range(0, connections, 100):  # bursts of 100, as a fleet of clients would
        sockets += await asyncio.gather(
            *(open_one() for _ in range(start, min(connections, start + 100)))
        )
    connect_s = time.perf_counter() - began
    await asyncio.sleep(0.5)  # let the server settle before reading its memory
    loaded_mb = rss_mb(pid)
    print(f"connections      {connections}")
    print(
        f"connect all      {connect_s:.2f} s  (p50 {pct(opened, 0.5) * 1000:.1f} ms, "
        f"p99 {pct(opened, 0.99) * 1000:.1f} ms per connection)"
    )
    print(
        f"gateway RSS      {idle_mb:.1f} MB idle -> {loaded_mb:.1f} MB "
        f"({(loaded_mb - idle_mb) * 1024 / connections:.1f} KB per connection)"
    )

    latencies: list[float] = []
    missed = 0
    emitter = sockets[0]
    for n in range(jobs):
        await emitter.send(json.dumps({"type": "emit", "event": "tick", "data": {"n": n}}))

        async def update_of(ws: ClientConnection) -> float | None:
            async with asyncio.timeout(10):
                while True:
                    message = json.loads(await ws.recv())
                    if message["type"] == "task_update":
                        return time.time() - message["data"]["sent"]

        got = await asyncio.gather(*(update_of(ws) for ws in sockets), return_exceptions=True)
        latencies += [g for g in got if isinstance(g, float)]
        missed += sum(1 for g in got if not isinstance(g, float))
    print(
        f"fan-out latency  p50 {pct(latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {pct(latencies, 0.99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms "
        f"(mean {statistics.mean(latencies) * 1000:.1f} ms; {jobs} jobs x {connections} sockets)"
    )
    print(f"missed           {missed}")
    await asyncio.gather(*(ws.close() for ws in sockets))
    return 1 if missed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=20)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory(prefix="taskora-bench-gw-") as tmp:
        state = Path(tmp) / "server"
        redis_url = ensure_embedded(state)
        gateway = subprocess.Popen(
            [sys.executable, "-c", GATEWAY, redis_url],
            cwd=tmp, stdout=subprocess.PIPE, text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("TASKORA_")},
        )  # fmt: skip
        try:
            assert gateway.stdout is not None
            port = int(gateway.stdout.readline())
            return asyncio.run(
                bench(f"ws://127.0.0.1:{port}", gateway.pid, args.connections, args.jobs)
            )
        finally:
            gateway.terminate()
            gateway.wait(10)
            stop_embedded(state)


if __name__ == "__main__":
    sys.exit(main())
