"""Per-dispatch retry= and timeout=: stored with the job, and the worker runs it with them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from taskora_cli import Retry, Taskora, UsageError
from taskora_cli.testing import TaskRunner


def test_a_dispatch_retry_overrides_the_tasks(app: Taskora, runner: TaskRunner) -> None:
    calls: list[int] = []

    @app.task("flaky", retry=Retry(attempts=1))
    def flaky(n: int) -> int:
        calls.append(n)
        if len(calls) < 3:
            raise ConnectionError("try again")
        return n

    assert runner.execute(flaky, 1).state == "failed"  # the task's: one attempt
    calls.clear()
    done = runner.execute(flaky, 2, retry=Retry(attempts=3, backoff="fixed", delay="1h"))
    assert (done.state, done.attempts, done.result) == ("completed", 3, 2)
    calls.clear()
    assert runner.execute(flaky, 3, retry=2).attempts == 2  # an int: just the attempts


def test_a_dispatch_timeout_overrides_the_tasks(app: Taskora, runner: TaskRunner) -> None:
    @app.task("nap", timeout="1h")
    async def nap(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "rested"

    short = runner.execute(nap, 30, timeout=timedelta(milliseconds=50))
    assert short.state == "failed" and short.error is not None
    assert short.error.type.endswith("TaskTimeoutError") and "within 0.05s" in short.error.message
    assert runner.execute(nap, 0.01).result == "rested"


def test_retry_and_timeout_that_cannot_be_stored_are_refused(
    app: Taskora, runner: TaskRunner
) -> None:
    @app.task("echo")
    def echo(data: int) -> int:
        return data

    with pytest.raises(UsageError, match="backoff function, retry_on"):
        runner.dispatch(echo, 1, retry=Retry(retry_on=(ValueError,)))
    with pytest.raises(UsageError, match="backoff function"):
        runner.dispatch(echo, 1, retry=Retry(backoff=lambda n: 1.0))
    with pytest.raises(UsageError, match="number of attempts"):
        runner.dispatch(echo, 1, retry="3")
    with pytest.raises(UsageError, match=r"Retry\(attempts=...\) must be >= 1"):
        runner.dispatch(echo, 1, retry=0)
    with pytest.raises(UsageError, match="timeout: cannot read"):
        runner.dispatch(echo, 1, timeout="soon")


def test_a_handle_reads_its_jobs_progress_and_logs(app: Taskora, runner: TaskRunner) -> None:
    from taskora_cli import JobContext, JobNotFoundError

    @app.task("report")
    def report(n: int, ctx: JobContext) -> int:
        ctx.log.info("starting", n=n)
        ctx.progress({"done": n})
        ctx.log.warning("halfway")
        return n

    handle = runner.dispatch(report, 7)
    assert (handle.progress(), handle.logs()) == (None, [])
    runner.process_all()
    assert handle.progress() == {"done": 7}
    logs = handle.logs()
    assert [(e["level"], e["msg"]) for e in logs] == [("info", "starting"), ("warning", "halfway")]
    assert logs[0]["fields"] == {"n": 7}
    gone = app.handle("report", "nope")
    with pytest.raises(JobNotFoundError):
        gone.progress()
    with pytest.raises(JobNotFoundError):
        gone.logs()


async def test_handle_progress_and_logs_have_async_twins(app: Taskora, runner: TaskRunner) -> None:
    @app.task("echo")
    def echo(data: int) -> int:
        return data

    handle = await echo.adispatch(1)
    assert (await handle.aprogress(), await handle.alogs()) == (None, [])
    await app.aclose()


def test_schedules_add_stores_a_new_schedule_that_fires(app: Taskora, runner: TaskRunner) -> None:
    from taskora_cli import UnknownTaskError

    @app.task("echo")
    def echo(data: int) -> int:
        return data

    manager = app.schedules()
    info = manager.add("every-hour", "echo", every=timedelta(hours=1), data=5)
    assert (info.spec.every_ms, info.spec.data, info.next_run_ms) == (
        3_600_000, 5, runner.clock() + 3_600_000,
    )  # fmt: skip
    with pytest.raises(UsageError, match="exists already"):
        manager.add("every-hour", "echo", every="1m")
    with pytest.raises(UnknownTaskError):
        manager.add("typo", "ehco", every="1m")
    with pytest.raises(UsageError, match="exactly one of"):
        manager.add("neither", "echo")
    assert manager.update("every-hour", data=6).spec.data == 6


async def test_two_racing_adds_of_one_schedule_name_store_exactly_one(
    app: Taskora, runner: TaskRunner
) -> None:
    import asyncio

    @app.task("echo")
    def echo(data: int) -> int:
        return data

    manager = app.schedules()
    try:
        outcomes = await asyncio.gather(
            *(manager.aadd("nightly", "echo", every="1h", data=n) for n in range(8)),
            return_exceptions=True,
        )
        won = [o for o in outcomes if not isinstance(o, BaseException)]
        lost = [o for o in outcomes if isinstance(o, UsageError) and "exists already" in str(o)]
        assert (len(won), len(lost)) == (1, 7)
        assert (await manager.aget("nightly")).spec.data == won[0].spec.data
    finally:
        await app.aclose()
