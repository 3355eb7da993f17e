"""Cancelling jobs in every state, end to end on a real worker and server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support import until

from taskora_cli import (
    CancelledError,
    JobContext,
    JobNotFoundError,
    NotCancellableError,
    Retry,
    Taskora,
)
from taskora_cli.config import load_config
from taskora_cli.engine import waiter as waiter_module
from taskora_cli.worker import pool
from taskora_cli.worker.pool import Worker


@pytest.fixture
async def app(redis_url: str, tmp_path: Path) -> AsyncIterator[Taskora]:
    made = Taskora(redis_url, config=load_config(env={}, cwd=tmp_path))
    yield made
    await made.aclose()
    made.close()  # the blocking API's connections too: a test here uses app.cancel


async def test_a_waiting_job_is_cancelled_at_once_and_its_waiters_told(
    app: Taskora, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no periodic state re-check within the test: only the "cancelled" event can settle it
    monkeypatch.setattr(waiter_module, "RECHECK_S", 3600.0)

    @app.task("mail")
    async def mail(data: str) -> str:
        return data

    handle = await mail.adispatch("hi")
    waiter = asyncio.ensure_future(handle.aresult(10))
    waiting = await app.runtime.waiter()
    await until(lambda: waiting.waiting_for(handle.id))  # told below, not read after the end
    assert await handle.acancel("changed my mind") == "cancelled"
    with pytest.raises(CancelledError):
        await waiter
    found = await app.inspect().afind(handle.id)
    assert found is not None and found.state == "cancelled"
    assert found.cancel_reason == "changed my mind"
    assert [j.id for j in await app.inspect().ajobs("mail", "cancelled")] == [handle.id]
    with pytest.raises(NotCancellableError, match="already ended cancelled"):
        await handle.acancel()


async def test_delayed_and_retrying_jobs_are_cancelled_before_they_run(app: Taskora) -> None:
    ran: list[str] = []

    @app.task("later", retry=Retry(attempts=3, delay=3600))
    async def later(data: str) -> None:
        ran.append(data)
        raise RuntimeError("try again in an hour")

    delayed = await later.adispatch("delayed", delay="1h")
    retrying = await later.adispatch("retrying")
    worker = await app.start()
    try:
        await until(lambda: ran == ["retrying"])
        await until(lambda: _state_is(retrying, "retrying"))
        assert await app.acancel(retrying.id) == "cancelled"  # found by id alone
        assert await delayed.acancel() == "cancelled"
    finally:
        await worker.stop()
    for handle in (delayed, retrying):
        assert await handle.astate() == "cancelled"
    stats = await app.inspect().astats()
    assert (stats.total.delayed, stats.total.cancelled) == (0, 2)


async def _state_is(handle: Any, state: str) -> bool:
    return bool(await handle.astate() == state)


async def test_an_active_async_handler_is_interrupted_and_its_hook_runs(app: Taskora) -> None:
    started = asyncio.Event()
    hooked: list[tuple[Any, str | None]] = []

    async def on_cancel(data: Any, ctx: JobContext) -> None:
        hooked.append((data, ctx.cancelled.reason))

    @app.task("long", on_cancel=on_cancel)
    async def long(data: int, ctx: JobContext) -> str:
        started.set()
        await asyncio.sleep(60)
        return "finished"  # never: the cancel interrupts the sleep

    handle = await long.adispatch(7)
    worker = await app.start()
    try:
        await asyncio.wait_for(started.wait(), 10)
        assert await handle.acancel("stop") == "cancelling"
        with pytest.raises(CancelledError):
            await handle.aresult(10)
    finally:
        await worker.stop()
    assert hooked == [(7, "cancelled")]
    assert await handle.astate() == "cancelled"


async def test_an_active_sync_handler_sees_the_signal_in_its_thread(app: Taskora) -> None:
    started = threading.Event()
    hooked: list[str] = []

    def on_cancel(data: Any, ctx: JobContext) -> None:
        hooked.append(ctx.id)

    @app.task("crunch", on_cancel=on_cancel)
    def crunch(data: None, ctx: JobContext) -> str:
        started.set()
        while not ctx.cancelled.wait(0.01):  # a thread polls the signal between steps
            pass
        return "stopped early"  # its result is not kept: the job ends cancelled

    handle = await crunch.adispatch()
    worker = await app.start()
    try:
        await asyncio.to_thread(started.wait, 10)
        assert app.cancel(handle.id) == "cancelling"  # the blocking API, from this loop's thread
        with pytest.raises(CancelledError):
            await handle.aresult(10)
    finally:
        await worker.stop()
    assert hooked == [handle.id]
    found = await app.inspect().afind(handle.id)
    assert found is not None and (found.state, found.result) == ("cancelled", None)


async def test_the_heartbeat_stops_a_job_whose_cancel_message_was_missed(
    app: Taskora, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def deaf(*args: Any) -> None:  # subscribed, but the message never arrives
        stop, ready = args[-2:]
        ready.set()
        await stop.wait()

    monkeypatch.setattr(pool, "listen_for_cancels", deaf)
    started = asyncio.Event()

    @app.task("deaf")
    async def long(data: None) -> None:
        started.set()
        await asyncio.sleep(60)

    handle = await long.adispatch()
    worker = Worker(app, [long], heartbeat_ms=100)
    await worker.start()
    try:
        await asyncio.wait_for(started.wait(), 10)
        assert await handle.acancel() == "cancelling"
        with pytest.raises(CancelledError):
            await handle.aresult(10)
    finally:
        await worker.stop()


async def test_finished_and_unknown_jobs_are_not_cancellable(app: Taskora) -> None:
    @app.task("quick")
    async def quick(data: int) -> int:
        return data

    handle = await quick.adispatch(1)
    worker = await app.start()
    try:
        assert await handle.aresult(10) == 1
    finally:
        await worker.stop()
    with pytest.raises(NotCancellableError) as caught:
        await handle.acancel()
    assert caught.value.state == "completed"
    assert await handle.aresult(1) == 1  # untouched
    with pytest.raises(JobNotFoundError):
        await app.acancel("no-such-job")
