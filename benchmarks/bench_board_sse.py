"""Whether a board's memory stays flat over a long SSE session with jobs flowing.

Run by hand from the repository root, on a fresh embedded server in a temporary directory:

    python benchmarks/bench_board_sse.py                  # 10 minutes
    python benchmarks/bench_board_sse.py --minutes 2 --rate 200

One process serves the board on uvicorn, keeps one SSE stream open and reads it, while a
worker runs jobs dispatched at --rate per second. Every 30 s it prints the process' resident
memory (RSS) and the frames read so far; at the end, the growth from the first minute's
reading to the last, which should stay near zero (bounded).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path

import httpx
import uvicorn

from taskora_cli import Taskora
from taskora_cli.board import create_board
from taskora_cli.config import load_config
from taskora_cli.engine.embedded import ensure_embedded, stop_embedded


def rss_mb() -> float:
    """The resident memory now, in MB (from /proc; the peak where /proc is missing)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def session(app: Taskora, minutes: float, rate: int) -> None:
    @app.task("flow")
    async def flow(n: int) -> dict[str, int]:
        return {"n": n}

    board = create_board(app, stats_interval_s=1.0)
    server = uvicorn.Server(uvicorn.Config(board, host="127.0.0.1", port=0, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    worker = await app.start(["flow"], concurrency=32)
    frames = 0
    stop = time.monotonic() + minutes * 60

    async def produce() -> None:
        n = 0
        while time.monotonic() < stop:
            await app.adispatch_many("flow", range(n, n + rate))
            n += rate
            await asyncio.sleep(1)

    async def read() -> None:
        nonlocal frames
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=None) as http,
            http.stream("GET", "/api/events") as stream,
        ):
            async for line in stream.aiter_lines():
                frames += line.startswith("data: ")
                if time.monotonic() >= stop:
                    return

    producer, reader = asyncio.create_task(produce()), asyncio.create_task(read())
    readings: list[float] = []
    started = time.monotonic()
    while not reader.done():
        await asyncio.wait({reader}, timeout=30)
        readings.append(rss_mb())
        print(f"{time.monotonic() - started:6.0f}s  rss {readings[-1]:7.1f} MB  frames {frames:,}",
              flush=True)  # fmt: skip
    await producer
    await worker.stop()
    server.should_exit = True
    await serving
    await board.state.metrics.aclose()
    base = readings[min(1, len(readings) - 1)]  # after the first half minute's warm-up
    print(f"growth after warm-up: {readings[-1] - base:+.1f} MB over {len(readings) * 30}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=100, help="jobs dispatched per second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = ensure_embedded(Path(tmp) / "server")
        app = Taskora(url, config=load_config(env={}, cwd=Path(tmp)))
        try:
            asyncio.run(session(app, args.minutes, args.rate))
        finally:
            app.close()
            stop_embedded(Path(tmp) / "server")


if __name__ == "__main__":
    main()
