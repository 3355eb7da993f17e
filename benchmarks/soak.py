"""Soak: mixed load for a bounded time; the server's memory and the worker's RSS must stay flat.

Run by hand (not by pytest):

    python benchmarks/soak.py                  # 10 minutes on a fresh embedded server
    python benchmarks/soak.py --minutes 2 --sample 5
    python benchmarks/soak.py --url redis://localhost:6379/15   # a server of your own

The load, each tick of 0.1 s: a bulk dispatch of quick jobs, a delayed job, jobs that fail once
and then succeed on their retry, and one that fails for good, all with retention on (a small
number of finished jobs kept, so the finished sets trim continually). One worker process runs
them. Every ``--sample`` seconds it records the server's ``used_memory`` and the worker's RSS;
at the end it prints a table and each one's slope (least squares, after ``--warmup``), and
exits 1 if a slope exceeds its threshold (a leak), 0 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from taskora_cli import Retry, Taskora
from taskora_cli.config import Config, RetentionConfig

KEEP = 200
"""Finished jobs kept per task (retention), so memory reaches its plateau within seconds."""
TASKS = ("soak-ok", "soak-flaky", "soak-fail")
EVENTS_CAP = 10_000
"""Each task's event stream is capped near this many entries (EVENTS_MAXLEN in
lua/lib/common.lua, trimmed with ``~``). Until a stream reaches it, it grows by design, for
minutes at this load: its memory is reported apart and left out of the server's slope, and the
cap itself is checked instead."""
TICK_S = 0.1
MIB = 1024 * 1024


def build_app(url: str) -> Taskora:
    retention = RetentionConfig(completed_max_items=KEEP, failed_max_items=KEEP)
    app = Taskora(url, config=Config(url=url, retention=retention))

    @app.task("soak-ok", concurrency=32)
    async def ok(data: Any) -> Any:
        await asyncio.sleep(0.001)
        return data

    @app.task("soak-flaky", concurrency=8, retry=Retry(attempts=3, backoff="fixed", delay=0.2))
    async def flaky(data: Any, ctx: Any) -> str:
        if ctx.attempt == 1:
            raise RuntimeError("fails once, then succeeds")
        return "recovered"

    @app.task("soak-fail", concurrency=4)
    def fail(data: Any) -> None:
        raise ValueError(f"always fails: {data}")

    return app


def run_worker(url: str) -> None:
    """The worker process: every soak task, until SIGTERM."""
    from taskora_cli.worker.pool import Worker
    from taskora_cli.worker.serve import serve

    app = build_app(url)
    asyncio.run(serve(Worker(app, list(app.tasks.values())), 5_000))


@dataclass
class Sample:
    elapsed_s: float
    server_bytes: int
    streams_bytes: int
    stream_entries: int
    worker_rss_bytes: int
    backlog: int
    dispatched: int

    @property
    def server_less_streams(self) -> int:
        return self.server_bytes - self.streams_bytes


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, in value per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if var == 0:
        return 0.0
    cov = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return cov / var * 60


async def produce(app: Taskora, stop: asyncio.Event, counter: list[int]) -> None:
    ok, flaky, fail = (app.get_task(n) for n in ("soak-ok", "soak-flaky", "soak-fail"))
    tick = 0
    while not stop.is_set():
        began = time.monotonic()
        await ok.adispatch_many([{"n": tick, "i": i} for i in range(20)])
        await ok.adispatch({"n": tick, "delayed": True}, delay=1 + tick % 3)
        await flaky.adispatch_many([tick, tick])
        await fail.adispatch(tick)
        counter[0] += 24
        tick += 1
        await asyncio.sleep(max(0.0, TICK_S - (time.monotonic() - began)))


def sample(client: redis.Redis, elapsed_s: float, worker_pid: int, dispatched: int) -> Sample:
    from taskora_cli.engine.keys import TaskKeys

    backlog = streams = entries = 0
    for name in TASKS:
        keys = TaskKeys("", name)
        backlog += int(client.llen(keys.wait)) + int(client.zcard(keys.delayed))
        streams += int(client.memory_usage(keys.events, samples=0) or 0)
        entries = max(entries, int(client.xlen(keys.events)))
    used = int(client.info("memory")["used_memory"])
    return Sample(elapsed_s, used, streams, entries, rss_bytes(worker_pid), backlog, dispatched)


async def soak(args: argparse.Namespace, url: str) -> list[Sample]:
    # The worker logs every failed attempt (a quarter of the load fails once or for good).
    worker_log = Path(tempfile.mkstemp(prefix="taskora-soak-worker-", suffix=".log")[1])
    worker = subprocess.Popen(
        [sys.executable, __file__, "--role", "worker", "--url", url],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        stderr=worker_log.open("wb"),
    )
    print(f"worker log: {worker_log}")
    client = redis.Redis.from_url(url)
    app = build_app(url)
    stop, dispatched = asyncio.Event(), [0]
    producer = asyncio.create_task(produce(app, stop, dispatched))
    samples: list[Sample] = []
    began = time.monotonic()
    end = began + args.minutes * 60
    print(HEADER, flush=True)
    try:
        while True:
            if worker.poll() is not None:
                tail = worker_log.read_text(errors="replace")[-2000:]
                raise SystemExit(f"soak: the worker exited with {worker.returncode}:\n{tail}")
            samples.append(sample(client, time.monotonic() - began, worker.pid, dispatched[0]))
            print(_row(samples[-1]), flush=True)
            if time.monotonic() >= end:
                break
            await asyncio.sleep(min(args.sample, max(0.0, end - time.monotonic())))
    finally:
        stop.set()
        await producer
        await app.aclose()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        client.close()
    return samples


HEADER = (
    f"{'t (s)':>7} {'used_memory':>12} {'event streams':>14} {'entries':>8} "
    f"{'used - streams':>15} {'worker RSS':>11} {'backlog':>8} {'dispatched':>11}"
)


def _row(s: Sample) -> str:
    return (
        f"{s.elapsed_s:7.1f} {s.server_bytes / MIB:8.2f} MiB {s.streams_bytes / MIB:10.2f} MiB "
        f"{s.stream_entries:8d} {s.server_less_streams / MIB:11.2f} MiB "
        f"{s.worker_rss_bytes / MIB:7.2f} MiB {s.backlog:8d} {s.dispatched:11d}"
    )


def report(samples: list[Sample], args: argparse.Namespace) -> int:
    steady = [s for s in samples if s.elapsed_s >= args.warmup] or samples
    server = slope_per_minute([(s.elapsed_s, s.server_less_streams) for s in steady])
    rss = slope_per_minute([(s.elapsed_s, s.worker_rss_bytes) for s in steady])
    minutes = samples[-1].elapsed_s / 60 if samples else 0
    rate = samples[-1].dispatched / (minutes * 60) if minutes else 0
    print(f"\n{len(samples)} samples over {minutes:.1f} min, {rate:.0f} jobs/s dispatched; "
          f"slopes from t >= {args.warmup:g} s ({len(steady)} samples):")  # fmt: skip
    failed = 0
    for name, slope, limit in (
        ("server used_memory less the event streams", server, args.max_server_slope),
        ("worker RSS", rss, args.max_rss_slope),
    ):
        verdict = "ok" if slope <= limit else "TOO STEEP (a leak?)"
        failed += slope > limit
        print(f"  {name:<42} {slope / 1024:+9.1f} KiB/min (limit {limit / 1024:.0f}) {verdict}")
    longest = max(s.stream_entries for s in samples)
    capped = longest <= EVENTS_CAP * 1.1  # MAXLEN ~ trims whole nodes, so a little over
    failed += not capped
    print(f"  {'longest event stream':<42} {longest:9d} entries (cap ~{EVENTS_CAP}) "
          f"{'ok' if capped else 'OVER ITS CAP'}")  # fmt: skip
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long (default 10)")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    parser.add_argument(
        "--warmup",
        type=float,
        default=30.0,
        help="seconds of samples left out of the slopes: the finished sets fill up to their "
        "retention first (default 30)",
    )
    parser.add_argument("--url", help="a server to use (default: a fresh embedded one)")
    parser.add_argument(
        "--max-server-slope",
        type=float,
        default=1 * MIB,
        help="bytes/min of server used_memory growth that fails the run",
    )
    parser.add_argument(
        "--max-rss-slope",
        type=float,
        default=2 * MIB,
        help="bytes/min of worker RSS growth that fails the run",
    )
    parser.add_argument("--role", choices=["main", "worker"], default="main",
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.role == "worker":
        assert args.url
        run_worker(args.url)
        return 0
    if args.url:
        samples = asyncio.run(soak(args, args.url))
    else:
        from taskora_cli.engine.embedded import ensure_embedded, stop_embedded

        with tempfile.TemporaryDirectory(prefix="taskora-soak-") as state:
            try:
                samples = asyncio.run(soak(args, ensure_embedded(Path(state))))
            finally:
                stop_embedded(Path(state))
    return report(samples, args)


if __name__ == "__main__":
    sys.exit(main())
