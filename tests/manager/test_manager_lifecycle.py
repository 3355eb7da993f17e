"""start() and stop() with a real worker in this process (no virtual time)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskora_cli import Taskora
from taskora_cli.config import load_config
from taskora_cli.manager import ManagerJob, Sdk, TaskManager


@pytest.fixture
def app(tmp_path: Path, redis_url: str) -> Iterator[Taskora]:
    made = Taskora(
        redis_url, prefix=f"mgr-{tmp_path.name}", config=load_config(env={}, cwd=tmp_path)
    )
    yield made
    made.close()


def test_start_is_idempotent_and_stop_waits_for_running_jobs(app: Taskora) -> None:
    tm = TaskManager.init(db=app)
    started: list[str] = []

    async def slow(job: ManagerJob) -> str:
        started.append(job.id)
        await asyncio.sleep(0.3)
        return "done"

    try:
        tm.register_handler(slow, event="slow")
        job_id = tm.emit(event="slow", data={})
        tm.start()
        tm.start()  # again: nothing happens
        deadline = time.monotonic() + 10
        while not started:
            assert time.monotonic() < deadline, "the worker never started the job"
            time.sleep(0.01)
        tm.stop()
        document = Sdk(app).get_job(job_id, "default")
        assert document is not None and document["status"] == "completed"
        assert document["result"] == "done"
    finally:
        tm.close()
