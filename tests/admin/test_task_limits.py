"""Per-task stall options and the per-job log cap ([retention] max_logs_per_job)."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskora_cli import ConfigError, JobContext, Taskora
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
