"""The test toolkit's speed: median ``TaskRunner.execute()`` time, on its private server.

Run by hand from the repository root (the targets: trivial < 5 ms, flaky < 20 ms):

    python benchmarks/toolkit.py            # 200 runs of each
    python benchmarks/toolkit.py --runs 50
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from taskora_cli import Retry, Taskora
from taskora_cli.config import load_config
from taskora_cli.testing import TaskRunner


def median_ms(runs: int, once: Callable[[], object]) -> float:
    once()  # warm: the worker starts, the scripts load
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        once()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        app = Taskora(config=load_config(env={}, cwd=Path(folder)))
        attempts: dict[str, int] = {}

        @app.task("trivial")
        async def trivial(n: int) -> int:
            return n

        @app.task("flaky", retry=Retry(attempts=3, backoff="exponential", delay="1h"))
        async def flaky(key: str) -> str:
            attempts[key] = attempts.get(key, 0) + 1
            if attempts[key] < 3:
                raise ConnectionError("not yet")
            return key

        with TaskRunner(app) as runner:
            plain = median_ms(runs, lambda: runner.execute(trivial, 1))
            count = iter(range(10**9))

            def fail_twice() -> None:
                execution = runner.execute(flaky, f"k{next(count)}")
                assert execution.attempts == 3 and execution.ok, execution

            backoff = median_ms(runs, fail_twice)
    print(f"execute() median, trivial task:                      {plain:6.2f} ms  (target 5)")
    print(f"execute() median, fails twice, 1 h exponential backoff: {backoff:6.2f} ms  (target 20)")


if __name__ == "__main__":
    main()
