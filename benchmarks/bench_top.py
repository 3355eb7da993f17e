"""What one `taskora top` refresh costs with a big queue: time and server commands per screen.

Run by hand from the repository root, on a fresh embedded server in a temporary directory:

    python benchmarks/bench_top.py                  # 1,000,000 waiting jobs
    python benchmarks/bench_top.py --jobs 100000 --failed 10000

For each screen it prints the median time of a refresh (fetch) and the server commands it ran
(from the server's own INFO commandstats), which do not grow with the number of jobs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from pathlib import Path

import redis

from taskora_cli import Taskora
from taskora_cli.config import load_config
from taskora_cli.engine.embedded import ensure_embedded, stop_embedded
from taskora_cli.tui.fetch import fetch
from taskora_cli.tui.model import Query, Screen


def fill(app: Taskora, jobs: int, failed: int) -> None:
    """``jobs`` waiting jobs of one task, and ``failed`` dead letters of another."""

    @app.task("bulk")
    def bulk(n: int) -> int:
        return n

    @app.task("broken")
    def broken(n: int) -> None:
        raise ValueError(f"broken {n % 7}")

    batch = 10_000
    started = time.perf_counter()
    for first in range(0, jobs, batch):
        app.dispatch_many("bulk", range(first, min(jobs, first + batch)))
    print(f"dispatched {jobs:,} jobs in {time.perf_counter() - started:.1f}s")
    if failed:
        app.dispatch_many("broken", range(failed))
        logging.disable(logging.WARNING)  # the worker logs each failure: not what we measure

        async def drain() -> None:
            worker = await app.start(["broken"], concurrency=64)
            while (await app.inspect().astats()).total.failed < failed:
                await asyncio.sleep(0.2)
            await worker.stop()

        app.runtime.call(drain())
        print(f"failed {failed:,} jobs for good")


def measure(app: Taskora, client: redis.Redis, query: Query, repeat: int) -> tuple[float, int]:
    """(median seconds, server commands) of one refresh of ``query``."""
    fetch(app, query)  # warm: connections made, scripts loaded
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fetch(app, query)
        times.append(time.perf_counter() - started)
    client.config_resetstat()
    fetch(app, query)
    stats = client.info("commandstats")
    commands = sum(row["calls"] for name, row in stats.items() if name != "cmdstat_info")
    return statistics.median(times), commands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000, help="waiting jobs")
    parser.add_argument("--failed", type=int, default=0, help="dead letters")
    parser.add_argument("--repeat", type=int, default=5, help="refreshes timed per screen")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = ensure_embedded(Path(tmp) / "server")
        app = Taskora(url, config=load_config(env={}, cwd=Path(tmp)))
        client = redis.Redis.from_url(url, decode_responses=True)
        try:
            fill(app, args.jobs, args.failed)
            print(f"{'screen':<14}{'refresh':>10}{'commands':>10}")
            for query in (
                Query(Screen.OVERVIEW),
                Query(Screen.JOBS, state="waiting"),
                Query(Screen.DEAD),
                Query(Screen.WORKERS),
            ):
                seconds, commands = measure(app, client, query, args.repeat)
                print(f"{query.screen.value:<14}{seconds * 1000:>8.1f}ms{commands:>10}")
        finally:
            client.close()
            app.close()
            stop_embedded(Path(tmp) / "server")


if __name__ == "__main__":
    main()
