"""Catch-all handlers that keep the worker alive (a handler's or a hook's ``sys.exit()``) let a
closing coroutine's GeneratorExit through: swallowing it is a bug Python only sometimes reports."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from taskora_cli import Taskora
from taskora_cli.config import load_config
from taskora_cli.engine.records import ClaimedJob
from taskora_cli.views.job_events import _call
from taskora_cli.worker.execute import run_on_cancel
from taskora_cli.worker.pool import Worker
from taskora_cli.worker.slots import Running, Slots


def _close_midway(coro: Coroutine[Any, Any, Any]) -> None:
    """Run ``coro`` until it waits, then throw GeneratorExit into it, as close() does."""
    coro.send(None)
    coro.throw(GeneratorExit())


async def _forever(*_: object) -> None:
    await asyncio.get_running_loop().create_future()


async def test_a_listener_call_being_closed_lets_generator_exit_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    event = SimpleNamespace(name="completed")
    with pytest.raises(GeneratorExit):
        _close_midway(_call(_forever, event))  # type: ignore[arg-type]
    assert not caplog.records  # not reported as the listener failing


async def test_an_on_cancel_hook_being_closed_lets_generator_exit_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    task = SimpleNamespace(name="t", options=SimpleNamespace(on_cancel=_forever))
    ctx = SimpleNamespace(id="job")
    loop = asyncio.get_running_loop()
    with pytest.raises(GeneratorExit):
        _close_midway(run_on_cancel(task, None, ctx, loop, None))  # type: ignore[arg-type]
    assert not caplog.records


async def test_a_handler_being_closed_lets_generator_exit_through(tmp_path: Path) -> None:
    app = Taskora("redis://127.0.0.1:1", config=load_config(env={}, cwd=tmp_path))

    @app.task("forever")
    async def forever(n: int) -> None:
        await _forever()

    worker = Worker(app, [forever])
    slots = Slots(worker, forever, 1, worker.plans["forever"])
    me = asyncio.current_task()
    assert me is not None
    item = Running(ClaimedJob("j", "tok", 1, "1", 0), me, float("inf"), slots)
    with pytest.raises(GeneratorExit):  # not turned into a failed attempt
        _close_midway(slots._run_handler(item))  # noqa: SLF001 - the coroutine under test
    worker.executor.shutdown()
