"""Blocking ``task.dispatch()`` against ``await task.adispatch()``, one call at a time.

Run by hand from the repository root:

    python benchmarks/bench_dispatch.py                 # a fresh embedded server
    python benchmarks/bench_dispatch.py --rounds 6 --n 3000
    python benchmarks/bench_dispatch.py --url redis://localhost:6379/15   # FLUSHALLed!

Both run in the same process against the same server, alternating round by round (blocking,
async, blocking, ...), so drift of the machine hits both alike; the ratio printed is the
median blocking rate over the median async rate (the goal of issue 18: at least 0.9).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from taskora_cli import Taskora  # noqa: E402
from taskora_cli.config import Config  # noqa: E402

PAD = "x" * 80


def payload(i: int) -> dict[str, Any]:
    """~100 bytes of JSON, as benchmarks/bench.py's enqueue workloads."""
    return {"i": i, "pad": PAD}


def blocking_round(app: Taskora, n: int) -> float:
    task = app.get_task("bench-dispatch")
    t0 = time.perf_counter()
    for i in range(n):
        task.dispatch(payload(i))
    return n / (time.perf_counter() - t0)


async def async_round(app: Taskora, n: int) -> float:
    task = app.get_task("bench-dispatch")
    t0 = time.perf_counter()
    for i in range(n):
        await task.adispatch(payload(i))
    return n / (time.perf_counter() - t0)


def measure(url: str, rounds: int, n: int) -> tuple[list[float], list[float]]:
    app = Taskora(config=Config(url=url))

    @app.task("bench-dispatch")
    async def noop(data: Any) -> None:  # never run in this process
        return None

    blocking: list[float] = []
    asynchronous: list[float] = []
    loop = asyncio.new_event_loop()
    try:
        app.get_task("bench-dispatch").dispatch({"warm": True})  # connect both ways first
        loop.run_until_complete(app.get_task("bench-dispatch").adispatch({"warm": True}))
        flusher = redis.Redis.from_url(url)
        for _ in range(rounds):
            blocking.append(blocking_round(app, n))
            asynchronous.append(loop.run_until_complete(async_round(app, n)))
            # keep the server's memory flat between rounds, so neither side pays for growth
            for key in flusher.scan_iter(count=1000):
                if b"bench-dispatch" in key and b":job:" in key:
                    flusher.unlink(key)
        flusher.close()
    finally:
        loop.run_until_complete(app.aclose())
        loop.close()
        app.close()
    return blocking, asynchronous


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rounds", type=int, default=5, help="rounds of each, alternating")
    p.add_argument("--n", type=int, default=3000, help="dispatches per round")
    p.add_argument("--url", default=None, help="a scratch server instead of a fresh embedded one")
    args = p.parse_args()
    state_dir: Path | None = None
    url = args.url
    if url is None:
        from taskora_cli.engine.embedded import ensure_embedded

        state_dir = Path(tempfile.mkdtemp(prefix="taskora-bench-dispatch-"))
        url = ensure_embedded(state_dir)
    try:
        redis.Redis.from_url(url).flushall()
        blocking, asynchronous = measure(url, args.rounds, args.n)
    finally:
        if state_dir is not None:
            from taskora_cli.engine.embedded import stop_embedded

            try:
                stop_embedded(state_dir)
            finally:
                shutil.rmtree(state_dir, ignore_errors=True)
    b, a = statistics.median(blocking), statistics.median(asynchronous)
    print(f"{args.rounds} rounds x {args.n:,} dispatches, one at a time, alternating")
    for label, rates, median in (
        ("blocking dispatch()", blocking, b),
        ("await adispatch()", asynchronous, a),
    ):
        print(
            f"{label:<20} {median:>9,.0f} jobs/s  rounds: {', '.join(f'{x:,.0f}' for x in rates)}"
        )
    print(f"ratio blocking/async {b / a:9.2f}  (goal >= 0.90)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
