"""run() and execute() on the real engine: retries, failures, context, middleware."""

from __future__ import annotations

from typing import Any

import pytest

from taskora_cli import Retry, Taskora
from taskora_cli.testing import TaskRunner


def test_a_flaky_task_completes_on_its_third_attempt(app: Taskora, runner: TaskRunner) -> None:
    calls: list[int] = []

    @app.task("flaky", retry=Retry(attempts=3, backoff="exponential", delay="1h", jitter=False))
    def flaky(n: int) -> int:
        calls.append(n)
        if len(calls) < 3:
            raise ConnectionError(f"try {len(calls)}")
        return n * 2

    started = runner.clock()
    execution = runner.execute(flaky, 21)
    assert (execution.state, execution.result, execution.attempts) == ("completed", 42, 3)
    assert execution.error is None and execution.ok
    assert runner.clock() - started == 3 * 3_600_000  # 1h then 2h of backoff, in virtual time


def test_an_always_failing_task_ends_failed_with_its_error(
    app: Taskora, runner: TaskRunner
) -> None:
    @app.task("broken", retry=Retry(attempts=2, delay=60))
    def broken(data: Any) -> None:
        raise ValueError("the disk is full")

    execution = runner.execute(broken, None)
    assert (execution.state, execution.attempts) == ("failed", 2)
    assert execution.error is not None and "the disk is full" in execution.error.message
    assert isinstance(execution.exception, ValueError)
    with pytest.raises(ValueError, match="the disk is full"):
        runner.run(broken, None)


def test_run_returns_the_value(app: Taskora, runner: TaskRunner) -> None:
    @app.task("add")
    async def add(pair: list[int]) -> int:
        return pair[0] + pair[1]

    assert runner.run(add, [2, 3]) == 5
    assert runner.run("add", [1, 1]) == 2
