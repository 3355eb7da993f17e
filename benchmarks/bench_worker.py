"""The worker side of benchmarks/bench.py: one taskora worker process with a no-op handler.

Run by bench.py, not by hand. It prints JSON lines on stdout:

    {"event": "started", ...}   once ``app.start()`` has returned
    {"event": "done", ...}      once ``--n`` handlers have started (or the deadline passed)

In ``throughput`` mode each handler start records ``time.perf_counter()``; the result is the
time from "started" to the N-th handler start. In ``latency`` mode each handler start records
``time.time() - data["t"]`` (the producer's dispatch time) and the samples are written as a
JSON list to ``--samples``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from pathlib import Path

from taskora_cli import Taskora
from taskora_cli.config import Config

TASK = "bench-noop"


def peak_rss_kib() -> int | None:
    """This process's own peak RSS (VmHWM), or None where /proc is missing.

    ``ru_maxrss`` is not used for the headline number: Linux carries it across execve, so a
    subprocess reports max(its own peak, its parent's RSS when it forked).
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def emit(event: str, **fields: object) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


async def main(args: argparse.Namespace) -> int:
    app = Taskora(config=Config(url=args.url))
    n = args.n
    starts: list[float] = []
    latencies: list[float] = []
    seen: set[int] = set()
    duplicates = 0
    enough = asyncio.Event()

    @app.task(TASK)
    async def noop(data: dict) -> None:  # type: ignore[type-arg]
        nonlocal duplicates
        now_perf = time.perf_counter()
        if args.mode == "latency":
            latencies.append(time.time() - data["t"])
        starts.append(now_perf)
        i = data["i"]
        if i in seen:
            duplicates += 1
        seen.add(i)
        if len(starts) >= n:
            enough.set()

    t_begin = time.perf_counter()
    worker = await app.start(concurrency=args.concurrency)
    t_started = time.perf_counter()
    emit("started", connect_s=t_started - t_begin)
    timed_out = False
    try:
        try:
            await asyncio.wait_for(enough.wait(), timeout=args.deadline)
        except TimeoutError:
            timed_out = True
    finally:
        t_stop = time.perf_counter()
        try:
            await asyncio.wait_for(worker.stop(args.grace_ms), timeout=args.grace_ms / 1000 + 10)
            stopped_clean = True
        except Exception as exc:  # report, don't hang
            stopped_clean = False
            print(f"bench_worker: stop failed: {exc!r}", file=sys.stderr)
        stop_s = time.perf_counter() - t_stop
    if args.samples and latencies:
        Path(args.samples).write_text(json.dumps(latencies))
    rusage = resource.getrusage(resource.RUSAGE_SELF)
    first = starts[0] - t_started if starts else None
    nth = starts[n - 1] - t_started if len(starts) >= n else None
    emit(
        "done",
        n=n,
        seen=len(starts),
        unique=len(seen),
        duplicates=duplicates,
        timed_out=timed_out,
        first_start_s=first,
        nth_start_s=nth,
        stop_s=stop_s,
        stopped_clean=stopped_clean,
        maxrss_kib=rusage.ru_maxrss,
        hwm_kib=peak_rss_kib(),
        cpu_user_s=rusage.ru_utime,
        cpu_sys_s=rusage.ru_stime,
    )
    return 1 if timed_out else 0


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--concurrency", type=int, required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--mode", choices=("throughput", "latency"), default="throughput")
    p.add_argument("--samples", default=None, help="latency mode: write the samples here")
    p.add_argument("--deadline", type=float, default=120.0, help="seconds to wait for N starts")
    p.add_argument("--grace-ms", type=int, default=5000)
    return p.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
