"""What each board API call costs with a big queue: the median latency per endpoint.

Run by hand from the repository root, on a fresh embedded server in a temporary directory:

    python benchmarks/bench_board.py                 # 1,000,000 waiting jobs, 1,000 dead
    python benchmarks/bench_board.py --jobs 100000 --failed 100

The board is called in-process over ASGI (httpx), so the numbers are the app's own work plus
the server's, without a network in between. The bar: every call under 50 ms; `/dlq/groups`
reads every dead letter (as `dlq ls --group`), so it grows with --failed, not with --jobs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from bench_top import fill  # benchmarks/ is on sys.path when run as a script

from taskora_cli import Taskora
from taskora_cli.board import create_board
from taskora_cli.config import load_config
from taskora_cli.engine.embedded import ensure_embedded, stop_embedded

BAR_MS = 50.0


async def measure(app: Taskora, jobs: int, repeat: int) -> bool:
    board = create_board(app, base_path="/board")
    waiting = await app.inspect().ajobs("bulk", "waiting", jobs // 2, 1)
    job_id = waiting[0].id if waiting else "none"
    paths = [
        "/board/api/overview",
        "/board/api/stats",
        "/board/api/tasks",
        "/board/api/tasks/bulk/jobs?state=waiting&limit=50",
        f"/board/api/tasks/bulk/jobs?state=waiting&limit=50&offset={jobs * 9 // 10}",
        "/board/api/tasks/broken/jobs?state=failed&limit=50",
        f"/board/api/jobs/{job_id}",
        "/board/api/throughput",
        "/board/api/dlq?limit=50",
        "/board/api/dlq/groups",
        "/board/api/schedules",
        "/board/api/queues",
        "/board/api/workers",
        "/board/api/workflows",
        "/metrics",
        "/healthz",
    ]
    within = True
    transport = httpx.ASGITransport(app=board)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        print(f"{'endpoint':<66}{'median':>10}")
        for path in paths:
            assert (await http.get(path)).status_code == 200, path  # warm
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                answer = await http.get(path)
                times.append(time.perf_counter() - started)
                assert answer.status_code == 200, (path, answer.text)
            ms = statistics.median(times) * 1000
            within &= ms < BAR_MS
            print(f"{path:<66}{ms:>8.1f}ms{'' if ms < BAR_MS else '  over the bar'}")
    await board.state.metrics.aclose()
    await app.aclose()
    return within


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000, help="waiting jobs")
    parser.add_argument("--failed", type=int, default=1000, help="dead letters")
    parser.add_argument("--repeat", type=int, default=5, help="calls timed per endpoint")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = ensure_embedded(Path(tmp) / "server")
        app = Taskora(url, config=load_config(env={}, cwd=Path(tmp)))
        try:
            fill(app, args.jobs, args.failed)
            app.close()
            ok = asyncio.run(measure(app, args.jobs, args.repeat))
            print(f"every call under {BAR_MS:.0f} ms: {'yes' if ok else 'NO'}")
        finally:
            stop_embedded(Path(tmp) / "server")


if __name__ == "__main__":
    main()
