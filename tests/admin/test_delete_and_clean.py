"""app.delete_job and app.clean_jobs on the real server: what they remove, what they refuse."""

from __future__ import annotations

from datetime import timedelta

import pytest

from taskora_cli import JobActiveError, JobNotFoundError, Retry, Taskora, UsageError
from taskora_cli.testing import TaskRunner


def _keys_of(app: Taskora, runner: TaskRunner, job_id: str) -> list[str]:
    async def scan() -> list[str]:
        engine = await app.connect()
        return [key async for key in engine.client.scan_iter(match=f"*{job_id}*")]

    return app.runtime.call(scan())


def test_delete_job_removes_a_waiting_a_delayed_and_an_ended_job(
    app: Taskora, runner: TaskRunner
) -> None:
    @app.task("echo")
    def echo(data: int) -> int:
        return data

    waiting = runner.dispatch(echo, 1)
    delayed = runner.dispatch(echo, 2, delay="1h")
    done = runner.dispatch(echo, 3)
    app.cancel(done.id)  # a finished job, with no worker started (it would take the others)
    assert app.delete_job(waiting.id) == "waiting"
    assert app.delete_job(delayed.id, task="echo") == "delayed"
    assert app.delete_job(done.id) == "cancelled"
    for job_id in (waiting.id, delayed.id, done.id):
        assert _keys_of(app, runner, job_id) == []
    runner.advance("2h")  # both lines are empty: nothing runs, nothing is left
    assert runner.jobs == []


def test_delete_job_refuses_an_active_job_and_an_unknown_id(
    app: Taskora, runner: TaskRunner
) -> None:
    @app.task("echo")
    def echo(data: int) -> int:
        return data

    handle = runner.dispatch(echo, 1)

    async def claim() -> None:
        engine = await app.connect()
        assert len(await engine.claim("echo", "w1", 1, runner.clock(), 30_000)) == 1

    app.runtime.call(claim())
    with pytest.raises(JobActiveError, match="cancel it first"):
        app.delete_job(handle.id)
    assert handle.state() == "active"
    with pytest.raises(JobNotFoundError, match="no job nope"):
        app.delete_job("nope")


async def test_adelete_job_is_the_async_twin(app: Taskora, runner: TaskRunner) -> None:
    @app.task("echo")
    def echo(data: int) -> int:
        return data

    handle = await echo.adispatch(1)
    assert await app.adelete_job(handle.id) == "waiting"
    assert await handle.astate() == "missing"
    await app.aclose()  # this loop's connections (the blocking API has its own)


def test_clean_jobs_deletes_only_old_enough_jobs_of_the_state(
    app: Taskora, runner: TaskRunner
) -> None:
    @app.task("echo")
    def echo(data: int) -> int:
        return data

    @app.task("boom", retry=Retry(attempts=1))
    def boom(data: int) -> None:
        raise ValueError("no")

    old = [runner.execute(echo, n).job_id for n in range(3)]
    old_failed = runner.execute(boom, 0).job_id
    runner.advance("2h")  # within retention (completed jobs are kept a day)
    new = runner.execute(echo, 9).job_id
    dry = app.clean_jobs("completed", "1h", dry_run=True)
    assert (dry.matched, dry.deleted, dry.by_task) == (3, 0, {"echo": 3})
    done = app.clean_jobs("completed", timedelta(hours=1))
    assert (done.matched, done.deleted, done.dry_run) == (3, 3, False)
    states = {job.id: job.state for job in runner.jobs}
    assert set(states) == {new, old_failed} and all(i not in states for i in old)
    assert app.clean_jobs("failed", "1h", task="boom").deleted == 1
    assert app.clean_jobs("completed", "1h").matched == 0  # run again: nothing left


def test_clean_jobs_refuses_a_bad_state_duration_or_task(app: Taskora, runner: TaskRunner) -> None:
    @app.task("echo")
    def echo(data: int) -> int:
        return data

    runner.execute(echo, 1)
    with pytest.raises(UsageError, match="cannot clean 'active'"):
        app.clean_jobs("active", "7d")
    with pytest.raises(UsageError, match="older_than: cannot read 'a week'"):
        app.clean_jobs("completed", "a week")
    with pytest.raises(UsageError, match="unknown task 'ech'"):
        app.clean_jobs("completed", "7d", task="ech")
