"""run() and execute() on the real engine: retries, failures, context, middleware."""

from __future__ import annotations

import gc
import sys
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from taskora_cli import JobContext, Retry, Taskora, UsageError
from taskora_cli.middleware import Middleware
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


def test_progress_and_logs_are_captured(app: Taskora, runner: TaskRunner) -> None:
    @app.task("report")
    async def report(n: int, ctx: JobContext) -> int:
        ctx.log.info("starting", n=n)
        ctx.progress(50)
        ctx.log.warning("halfway")
        return n

    execution = runner.execute(report, 7)
    assert execution.progress == 50
    assert [entry["msg"] for entry in execution.logs] == ["starting", "halfway"]
    assert execution.logs[0]["level"] == "info"
    assert {entry["ts"] for entry in execution.logs} == {runner.clock()}  # virtual, not wall time


def test_middleware_runs_in_onion_order(app: Taskora, runner: TaskRunner) -> None:
    trail: list[str] = []

    def tracer(name: str) -> Middleware:
        async def middleware(ctx: JobContext, call_next: Callable[[], Awaitable[None]]) -> None:
            trail.append(f"{name} in")
            await call_next()
            trail.append(f"{name} out")

        return middleware

    app.use(tracer("app"))

    @app.task("onion", middleware=[tracer("task")])
    async def onion(data: None) -> str:
        trail.append("handler")
        return "done"

    assert runner.run(onion) == "done"
    assert trail == ["app in", "task in", "handler", "task out", "app out"]


def test_jobs_a_handler_dispatches_run_too(app: Taskora, runner: TaskRunner) -> None:
    @app.task("child")
    async def child(n: int) -> int:
        return n + 1

    @app.task("parent")
    async def parent(n: int) -> str:
        handle = await child.adispatch(n)
        return handle.id

    child_id = runner.run(parent, 1)
    states = {(job.task, job.state) for job in runner.jobs}
    assert states == {("parent", "completed"), ("child", "completed")}
    assert next(job.result for job in runner.jobs if job.id == child_id) == 2


def test_closing_gives_the_app_back_its_server_and_clock(app: Taskora, redis_url: str) -> None:
    before = (app.runtime.given_url, app.runtime.clock, app.runtime.prefix)
    with TaskRunner(app, url=redis_url) as runner:
        assert app.runtime.clock is runner.clock
        assert app.runtime.prefix == runner.prefix != before[2]
    assert (app.runtime.given_url, app.runtime.clock, app.runtime.prefix) == before


def test_tasks_registered_after_the_first_run_are_served_too(
    app: Taskora, runner: TaskRunner
) -> None:
    @app.task("first")
    async def first(n: int) -> int:
        return n

    assert runner.run(first, 1) == 1

    @app.task("second")
    async def second(n: int) -> int:
        return -n

    assert runner.run(second, 1) == -1


def test_a_worker_made_again_mid_run_leaves_no_connection_open(
    app: Taskora, redis_url: str
) -> None:
    # The second run makes the worker again (a task was registered since), which closes the
    # loop's engine under the run: once leaked, a connection is found unclosed only when the
    # garbage collector frees it, after the loop is gone.
    unclosed: list[str] = []
    saved_hook = sys.unraisablehook
    sys.unraisablehook = lambda raised: unclosed.append(f"{raised.object!r}: {raised.exc_value}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            with TaskRunner(app, url=redis_url) as runner:

                @app.task("first")
                async def first(n: int) -> int:
                    return n

                assert runner.run(first, 1) == 1

                @app.task("second")
                async def second(n: int) -> int:
                    return -n

                assert runner.run(second, 1) == -1
            gc.collect()
    finally:
        sys.unraisablehook = saved_hook
    assert unclosed == []


def test_a_connected_app_must_close_before_a_runner_takes_it(app: Taskora, redis_url: str) -> None:
    app.runtime.given_url = redis_url
    app.runtime.call(app.runtime.engine())  # connected on its background loop
    try:
        with pytest.raises(UsageError, match="close it before"):
            TaskRunner(app, url=redis_url)
    finally:
        app.close()
    with TaskRunner(app, url=redis_url) as runner:  # closed: fine now
        assert runner.prefix
