"""What a five-field pydantic input schema costs a worker per job, against no schema.

Run by hand from the repository root (needs pydantic, the dev extra):

    python benchmarks/typed.py                 # 20000 jobs per run, 3 rounds
    python benchmarks/typed.py --jobs 50000 --rounds 5
    python benchmarks/typed.py --url redis://localhost:6379/15   # a scratch server (FLUSHALL!)

Both tasks are the same no-op async handler with concurrency 1, fed the same payload; one
declares ``data: dict`` (no schema: the plain path), the other ``data: Email`` (a pydantic
model of five fields, checked before the handler, which receives the model). Each round
enqueues the jobs in bulk, then times one worker from start to the last job settled; the
variants alternate within a round so both see the same machine. Prints jobs/s per variant
(the median round) and the cost per job of the schema in microseconds; then, free of server
and scheduling noise, the worker's own per-job step for each (decode, or decode and check).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

import pydantic
import redis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from taskora_cli import Taskora  # noqa: E402
from taskora_cli.config import load_config  # noqa: E402
from taskora_cli.engine.records import NewJob  # noqa: E402
from taskora_cli.worker.plan import build_plan  # noqa: E402

PAYLOAD = {"to": "a@example.com", "subject": "hi", "body": "x" * 40, "priority": 3, "tags": ["a"]}


class Email(pydantic.BaseModel):
    to: str
    subject: str
    body: str
    priority: int = 0
    tags: list[str] = []


def make_app(url: str, tmp: Path) -> Taskora:
    app = Taskora(url, config=load_config(env={}, cwd=tmp))

    @app.task("plain", concurrency=1)
    async def plain(data: dict[str, Any]) -> None:
        return None

    @app.task("typed", concurrency=1)
    async def typed(data: Email) -> None:
        return None

    return app


async def one_run(app: Taskora, task: str, jobs: int) -> float:
    """Seconds one worker takes to run ``jobs`` queued jobs of ``task``."""
    engine = await app.runtime.engine()
    text = json.dumps(PAYLOAD)
    batch = [NewJob(f"{task}-{time.monotonic_ns()}-{i}", text) for i in range(jobs)]
    for start in range(0, jobs, 1000):
        await engine.enqueue_bulk(task, batch[start : start + 1000], app.runtime.clock())
    worker = app.worker([task])
    started = time.perf_counter()
    await worker.start()
    try:
        while worker.processed < jobs:
            await asyncio.sleep(0.002)
        return time.perf_counter() - started
    finally:
        await worker.stop()


async def bench(url: str, jobs: int, rounds: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(url, Path(tmp))
        try:
            await one_run(app, "plain", 500)  # warm up: scripts loaded, pydantic built
            await one_run(app, "typed", 500)
            rates: dict[str, list[float]] = {"plain": [], "typed": []}
            for i in range(rounds):
                order = ("plain", "typed") if i % 2 == 0 else ("typed", "plain")
                for task in order:
                    redis.Redis.from_url(url).flushall()
                    rates[task].append(jobs / await one_run(app, task, jobs))
            return rates
        finally:
            await app.aclose()


def step_costs(app: Taskora) -> dict[str, float]:
    """Microseconds of the worker's per-job step before the handler, best of five."""
    text = json.dumps(PAYLOAD)
    plain = build_plan(app.get_task("plain"), (), app.runtime.payloads)
    typed = build_plan(app.get_task("typed"), (), app.runtime.payloads)
    assert plain.plain and not typed.plain
    n = 20_000
    return {
        "plain": min(timeit.repeat(lambda: plain.decode(text), number=n, repeat=5)) / n * 1e6,
        "typed": min(
            timeit.repeat(lambda: typed.prepare("typed", text, 1, False), number=n, repeat=5)
        )
        / n
        * 1e6,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--jobs", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--url", default=None, help="a scratch server (it is FLUSHALLed!)")
    args = p.parse_args()
    state_dir: Path | None = None
    url = args.url
    if url is None:
        from taskora_cli.engine.embedded import ensure_embedded

        state_dir = Path(tempfile.mkdtemp(prefix="taskora-typed-"))
        url = ensure_embedded(state_dir)
    try:
        rates = asyncio.run(bench(url, args.jobs, args.rounds))
    finally:
        if state_dir is not None:
            from taskora_cli.engine.embedded import stop_embedded

            try:
                stop_embedded(state_dir)
            finally:
                shutil.rmtree(state_dir, ignore_errors=True)
    plain, typed = (statistics.median(rates[k]) for k in ("plain", "typed"))
    for label, key, rate in (("no schema", "plain", plain), ("pydantic, 5 fields", "typed", typed)):
        rounds = ", ".join(f"{r:.0f}" for r in rates[key])
        print(f"{label:>20}: {rate:9.0f} jobs/s   (rounds: {rounds})")
    print(f"{'cost per job':>20}: {(1 / typed - 1 / plain) * 1e6:9.1f} us")
    with tempfile.TemporaryDirectory() as tmp:
        steps = step_costs(make_app("redis://unused", Path(tmp)))
    print(f"{'decode step':>20}: {steps['plain']:9.2f} us (no schema)")
    print(f"{'decode + check step':>20}: {steps['typed']:9.2f} us (pydantic, 5 fields)")


if __name__ == "__main__":
    main()
