"""Per-task stall options and the per-job log cap ([retention] max_logs_per_job)."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskora_cli import ConfigError, JobContext, Taskora, UsageError
from taskora_cli.config import load_config
from taskora_cli.testing import TaskRunner


def test_max_logs_per_job_keeps_the_newest_entries(tmp_path: Path, redis_url: str) -> None:
    (tmp_path / "taskora.toml").write_text("[retention]\nmax_logs_per_job = 3\n")
    app = Taskora(config=load_config(env={}, cwd=tmp_path))

    @app.task("chatty")
    def chatty(n: int, ctx: JobContext) -> None:
        for i in range(n):
            ctx.log.info(f"line {i}")

    with TaskRunner(app, url=redis_url) as runner:
        handle = runner.dispatch(chatty, 5)
        runner.process_all()
        assert [entry["msg"] for entry in handle.logs()] == ["line 2", "line 3", "line 4"]


def test_max_logs_per_job_must_be_a_positive_integer(tmp_path: Path) -> None:
    (tmp_path / "taskora.toml").write_text("[retention]\nmax_logs_per_job = 0\n")
    with pytest.raises(ConfigError, match="max_logs_per_job"):
        load_config(env={}, cwd=tmp_path)


def test_a_tasks_stall_lock_ttl_is_the_lock_its_jobs_are_claimed_with(
    app: Taskora, runner: TaskRunner
) -> None:
    @app.task("hold", stall={"lock_ttl": "45s", "max_stalls": 2})
    async def hold(data: None, ctx: JobContext) -> int:
        engine = await app.connect()
        deadline = await engine.client.zscore(engine.keys("hold").active, ctx.id)
        return int(deadline or 0) - app.clock()

    @app.task("plain")
    def plain(data: None) -> None:
        return None

    assert runner.run(hold) == 45_000  # the virtual clock stands still while it runs
    worker = app.worker()
    assert (worker.lock_ttl_ms_for(hold), worker.max_stalls_for(hold)) == (45_000, 2)
    assert (worker.lock_ttl_ms_for(plain), worker.max_stalls_for(plain)) == (30_000, 1)


def test_stall_options_are_checked(app: Taskora) -> None:
    with pytest.raises(UsageError, match="unknown key 'ttl'"):
        app.task("a", stall={"ttl": "1m"})
    with pytest.raises(UsageError, match="at least 1s"):
        app.task("b", stall={"lock_ttl": "10ms"})
    with pytest.raises(UsageError, match="max_stalls must be an int >= 0"):
        app.task("c", stall={"max_stalls": -1})

    @app.task("d", stall={"lock_ttl": "5s"})
    def d(data: None) -> None:
        return None

    with pytest.raises(UsageError, match="longer than the worker heartbeat"):
        app.worker()  # the heartbeat (10s by default) could not renew a 5s lock


def test_an_implemented_contract_takes_stall_options(app: Taskora) -> None:
    from taskora_cli import define_task

    contract = define_task("billing")
    task = app.implement(contract, lambda data: None, stall={"lock_ttl": "2m", "max_stalls": 4})
    worker = app.worker()
    assert (worker.lock_ttl_ms_for(task), worker.max_stalls_for(task)) == (120_000, 4)
    with pytest.raises(UsageError, match="unknown key 'ttl'"):
        app.implement(define_task("other"), lambda data: None, stall={"ttl": "1m"})
