"""A handler that raises SystemExit, KeyboardInterrupt or another BaseException fails its job (by
the task's retry policy); the worker lives on and runs the next job."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support import make_app, until

from taskora_cli import JobContext, JobFailedError, Retry, Taskora


class Custom(BaseException):
    """A BaseException that is neither an Exception nor one of the interpreter's own."""


def _throw(error: BaseException) -> None:
    raise error


RAISERS: dict[str, Any] = {
    "exit": lambda: sys.exit(3),
    "interrupt": lambda: _throw(KeyboardInterrupt("stop")),
    "custom": lambda: _throw(Custom("odd")),
    "cancelled": lambda: _throw(asyncio.CancelledError("mine")),  # not the worker's cancel
}
EXPECTED = {
    "exit": "handler raised SystemExit(3)",
    "interrupt": "handler raised KeyboardInterrupt('stop')",
    "custom": "handler raised Custom('odd')",
    "cancelled": "handler raised CancelledError('mine')",
}


@pytest.fixture
async def app(redis_url: str, tmp_path: Path) -> AsyncIterator[Taskora]:
    made = make_app(redis_url, tmp_path)
    yield made
    await made.aclose()


@pytest.mark.parametrize("kind", ["thread", "async"])
async def test_a_handler_that_raises_a_base_exception_fails_its_job_and_the_worker_lives(
    app: Taskora, kind: str
) -> None:
    if kind == "thread":

        @app.task("leave")
        def leave(how: str) -> str:
            if how in RAISERS:
                RAISERS[how]()
            return how

    else:

        @app.task("leave")
        async def leave(how: str) -> str:  # type: ignore[misc]
            if how in RAISERS:
                RAISERS[how]()
            return how

    worker = await app.start()
    try:
        for how, message in EXPECTED.items():
            handle = await leave.adispatch(how)
            with pytest.raises(JobFailedError) as info:
                await handle.aresult(10)
            assert message in str(info.value)
            assert await handle.astate() == "failed"
        # the same worker takes the next job
        assert await (await leave.adispatch("still here")).aresult(10) == "still here"
    finally:
        await worker.stop()


async def test_a_handler_exit_follows_the_tasks_retry_policy(app: Taskora) -> None:
    @app.task("once", retry=Retry(attempts=2, delay=0.01, jitter=False))
    def once(n: int, ctx: JobContext) -> int:
        if ctx.attempt == 1:
            sys.exit(1)
        return n

    worker = await app.start()
    try:
        handle = await once.adispatch(7)
        assert await handle.aresult(10) == 7
        job = await app.inspect().afind(handle.id, "once")
        assert job is not None and job.attempt == 2
    finally:
        await worker.stop()


async def test_a_listener_that_exits_is_logged_and_the_worker_lives(
    app: Taskora, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task("heard")
    async def heard(n: int) -> int:
        return n

    done: list[str] = []
    heard.on("completed", lambda event: sys.exit(4))
    heard.on("completed", lambda event: done.append(event.job_id))
    worker = await app.start()
    try:
        first, second = await heard.adispatch(1), await heard.adispatch(2)
        await until(lambda: sorted(done) == sorted([first.id, second.id]))
    finally:
        await worker.stop()
    assert "the completed listener" in caplog.text
