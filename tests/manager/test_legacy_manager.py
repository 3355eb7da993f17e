"""DefaultTaskManager on the real engine: commit, delay, timeout, the master, and two processes
(one runs ``process(handler)``, the test commits and listens) down to a SIGTERM drain."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from taskora_cli import Taskora
from taskora_cli.config import load_config
from taskora_cli.errors import JobFailedError, UsageError
from taskora_cli.manager import DefaultTaskManager, Notification, WorkItem
from taskora_cli.testing import VirtualClock

ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import asyncio, os, sys
from pathlib import Path
from taskora_cli import Taskora
from taskora_cli.config import load_config
from taskora_cli.manager import DefaultTaskManager

url, prefix, gate = sys.argv[1:4]
app = Taskora(url, prefix=prefix, config=load_config(env={}, cwd=Path(gate).parent))
manager = DefaultTaskManager(app)

async def handler(task):
    task.update({"step": 1})
    while task.payload.get("wait") and not os.path.exists(gate):
        await asyncio.sleep(0.01)
    return {"doubled": task.payload["n"] * 2}

worker = manager.process(handler)
assert manager.is_master()  # the first manager of its name: the master
print(worker.id, flush=True)
manager.join()
"""


def make_app(url: str, tmp: Path, clock: VirtualClock | None = None) -> Taskora:
    options: dict[str, Any] = {} if clock is None else {"clock": clock}
    return Taskora(url, prefix=f"legacy-{tmp.name}", config=load_config(env={}, cwd=tmp), **options)


@pytest.fixture
def managers(tmp_path: Path, redis_url: str) -> Iterator[Callable[..., DefaultTaskManager]]:
    """``managers(clock=None, **options)``: a manager on an app of its own (same server and
    prefix); shut down and closed after the test."""
    made: list[DefaultTaskManager] = []

    def make(clock: VirtualClock | None = None, **options: Any) -> DefaultTaskManager:
        manager = DefaultTaskManager(make_app(redis_url, tmp_path, clock), **options)
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.shutdown()
        manager.app.close()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(0.01)


def test_nothing_is_queued_before_commit_and_a_delay_holds_the_task_until_its_time(
    managers: Callable[..., DefaultTaskManager],
) -> None:
    manager = managers()
    inspector = manager.app.inspect()
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    task = manager.create({"n": 1}).with_delay_until(later).with_timeout(5000)
    assert inspector.find(task.id, manager.name) is None  # set up, not stored
    assert task.commit() is task and task.committed
    found = inspector.find(task.id, manager.name)
    assert found is not None and found.state == "delayed" and found.data == {"n": 1}
    assert found.timeline.run_at == later
    with pytest.raises(UsageError, match="committed already"):
        task.commit()
    past = manager.create(2).with_delay_until(int(later.timestamp() * 1000) - 7_200_000).commit()
    assert inspector.find(past.id, manager.name).state == "waiting"  # type: ignore[union-attr]
    with pytest.raises(UsageError, match="success' or 'failure"):
        manager.create().on("done", print)


async def test_with_timeout_fails_a_slow_task_and_calls_its_failure_callback(
    managers: Callable[..., DefaultTaskManager],
) -> None:
    manager = managers()
    loop = asyncio.get_running_loop()
    failure: asyncio.Future[BaseException] = loop.create_future()
    failed: asyncio.Future[Notification] = loop.create_future()

    async def slow(task: WorkItem) -> None:
        await asyncio.sleep(60)

    def on_failure(error: BaseException) -> None:
        loop.call_soon_threadsafe(failure.set_result, error)

    def on_failed(note: Notification) -> None:
        loop.call_soon_threadsafe(failed.set_result, note)

    manager.on("failed", on_failed)
    await manager.aprocess(slow)
    task = await manager.create({"n": 1}).with_timeout(200).on("failure", on_failure).acommit()
    error = await asyncio.wait_for(failure, 30)
    assert isinstance(error, JobFailedError)
    assert error.remote_type == "taskora_cli.errors.TaskTimeoutError"
    note = await asyncio.wait_for(failed, 30)
    assert note.task_id == task.id and note.error is not None
    await manager.ashutdown()


def test_one_manager_is_master_and_another_takes_over_when_it_shuts_down_or_its_lease_ends(
    managers: Callable[..., DefaultTaskManager],
) -> None:
    clock = VirtualClock()
    first, second = managers(clock, lease_ms=30_000), managers(clock, lease_ms=30_000)
    assert [first.is_master(), second.is_master()] == [True, False]
    clock.advance("20s")
    assert [first.is_master(), second.is_master()] == [True, False]  # asking keeps it
    clock.advance("31s")  # the master stopped asking: its lease ran out
    assert [second.is_master(), first.is_master()] == [True, False]
    second.shutdown()
    assert second.is_master() is False
    assert first.is_master() is True  # given up at shutdown: taken at once


def test_two_processes_commit_notify_and_a_sigterm_drains_the_running_task(
    managers: Callable[..., DefaultTaskManager], tmp_path: Path, redis_url: str
) -> None:
    gate = tmp_path / "gate"
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, redis_url, f"legacy-{tmp_path.name}", str(gate)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
    )
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip(), "the worker process did not start"
        manager = managers()
        heard: list[tuple[str, str]] = []
        for name in ("queued", "started", "updated", "completed"):
            manager.on(name, lambda note: heard.append((note.name, note.task_id)))
        assert manager.is_master() is False  # the worker process is

        result: concurrent.futures.Future[Any] = concurrent.futures.Future()
        task = manager.create({"n": 21}).on("success", result.set_result)
        task.on("failure", result.set_exception).commit()
        assert result.result(30) == {"doubled": 42}
        names = {"queued", "started", "updated", "completed"}
        wait_for(lambda: {n for n, i in heard if i == task.id} == names, "every notification")

        drained: concurrent.futures.Future[Any] = concurrent.futures.Future()
        slow = manager.create({"n": 2, "wait": True}).on("success", drained.set_result).commit()
        wait_for(lambda: ("started", slow.id) in heard, "the slow task started")
        worker.send_signal(signal.SIGTERM)
        # shutdown gives the lease up first, then drains: the task is still running now
        wait_for(manager.is_master, "the lease given up")
        gate.touch()
        assert drained.result(30) == {"doubled": 4}
        assert worker.wait(30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait(10)
        if worker.stdout is not None:
            worker.stdout.close()
