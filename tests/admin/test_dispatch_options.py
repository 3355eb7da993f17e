"""Dispatch options a caller chooses: the job's id, an absolute start, timedelta durations."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from taskora_cli import DuplicateJobError, Taskora, UsageError
from taskora_cli.testing import TaskRunner


def test_a_chosen_job_id_names_the_job_and_a_second_dispatch_returns_it(
    app: Taskora, runner: TaskRunner
) -> None:
    @app.task("echo")
    def echo(data: int) -> int:
        return data

    first = runner.dispatch(echo, 1, job_id="order-42")
    assert (first.id, first.enqueued) == ("order-42", True)
    same = runner.dispatch(echo, 1, job_id="order-42")  # same data, same (virtual) moment
    assert (same.enqueued, same.reason) == (False, "duplicate")
    again = runner.dispatch(echo, 2, job_id="order-42")
    assert (again.id, again.enqueued, again.reason, again.existing_id) == (
        "order-42", False, "duplicate", "order-42",
    )  # fmt: skip
    with pytest.raises(DuplicateJobError) as caught:
        echo.dispatch(3, job_id="order-42", throw_on_reject=True)
    assert caught.value.existing_id == "order-42"
    runner.process_all()
    assert again.result(timeout=5) == 1  # the handle acts on the first job, which ran
    assert runner.dispatch(echo, 4, job_id="order-42").enqueued is False  # it still exists
    app.delete_job("order-42")
    assert runner.execute(echo, 5, job_id="order-42").result == 5  # gone: the id is free


@pytest.mark.parametrize("bad", ["", "has space", "a{b}", "x:logs", 7, "-lead", "wf1.0"])
def test_a_job_id_that_cannot_name_a_job_is_refused(
    app: Taskora, runner: TaskRunner, bad: object
) -> None:
    @app.task("echo")
    def echo(data: int) -> int:
        return data

    with pytest.raises(UsageError, match="job_id must be"):
        runner.dispatch(echo, 1, job_id=bad)


def test_run_at_delays_a_job_until_that_moment_and_a_past_one_runs_now(
    app: Taskora, runner: TaskRunner
) -> None:
    @app.task("echo")
    def echo(data: int) -> int:
        return data

    start = datetime.fromtimestamp(runner.clock() / 1000, UTC)
    later = runner.dispatch(echo, 1, run_at=start + timedelta(hours=3))
    assert later.state() == "delayed"
    past = runner.dispatch(echo, 2, run_at=start - timedelta(days=1))
    assert past.state() == "waiting"
    runner.advance(timedelta(hours=2, minutes=59))
    assert later.state() == "delayed"
    runner.advance("1m")
    assert later.state() == "completed"
    naive = start.replace(tzinfo=None) + timedelta(hours=1)  # read as UTC
    assert runner.execute(echo, 3, run_at=naive).timeline.ms("started_at") == runner.clock()
    with pytest.raises(UsageError, match="run_at= or delay="):
        runner.dispatch(echo, 4, run_at=start, delay="1s")
    with pytest.raises(UsageError, match="run_at must be a datetime"):
        runner.dispatch(echo, 4, run_at="tomorrow")


def test_timedelta_is_a_duration_wherever_a_string_is(app: Taskora, runner: TaskRunner) -> None:
    @app.task("echo", timeout=timedelta(seconds=5), ttl=timedelta(hours=1))
    def echo(data: int) -> int:
        return data

    assert echo.options.timeout_ms == 5000
    handle = runner.dispatch(echo, 1, delay=timedelta(minutes=10))
    runner.advance(timedelta(minutes=10))
    assert handle.state() == "completed"
    with pytest.raises(UsageError, match="must not be negative"):
        runner.dispatch(echo, 1, delay=timedelta(seconds=-1))


def test_dispatch_many_takes_job_ids_run_at_retry_and_timeout(
    app: Taskora, runner: TaskRunner
) -> None:
    from taskora_cli import Retry

    calls: list[int] = []

    @app.task("flaky", retry=Retry(attempts=1))
    def flaky(n: int) -> int:
        calls.append(n)
        if calls.count(n) < 2:
            raise ConnectionError("try again")
        return n

    start = datetime.fromtimestamp(runner.clock() / 1000, UTC)
    first = flaky.dispatch_many(
        [1, 2], job_ids=["a-1", "a-2"], run_at=start + timedelta(hours=1), retry=2
    )
    assert [(h.id, h.enqueued, h.state()) for h in first] == [
        ("a-1", True, "delayed"), ("a-2", True, "delayed"),
    ]  # fmt: skip
    again = flaky.dispatch_many([9, 3], job_ids=["a-1", "a-3"])
    assert [(h.id, h.enqueued, h.reason) for h in again] == [
        ("a-1", False, "duplicate"), ("a-3", True, None),
    ]  # fmt: skip
    runner.advance("2h")
    assert [h.state() for h in first] == ["completed", "completed"]  # 2 attempts each
    assert again[1].state() == "failed"  # the task's own retry: one attempt
    assert again[0].result(timeout=5) == 1  # the handle acts on the existing job

    @app.task("nap", timeout="1h")
    async def nap(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "rested"

    [short] = nap.dispatch_many([30], timeout=timedelta(milliseconds=50))
    runner.process_all()
    assert short.state() == "failed"
    with pytest.raises(UsageError, match="one per item"):
        flaky.dispatch_many([1, 2], job_ids=["only-one"])
    with pytest.raises(UsageError, match="repeats 'x'"):
        flaky.dispatch_many([1, 2], job_ids=["x", "x"])
    with pytest.raises(UsageError, match="not a single string"):
        flaky.dispatch_many([1], job_ids="x")
