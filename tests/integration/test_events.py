"""Job events: task and app listeners called by workers, fan-out to every process, and the
`app.events()` reader."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support import make_app, until

from taskora_cli import JobContext, Retry, Taskora, UsageError
from taskora_cli.views.job_events import Event


@pytest.fixture
async def app(redis_url: str, tmp_path: Path) -> AsyncIterator[Taskora]:
    made = make_app(redis_url, tmp_path)
    yield made
    await made.aclose()


def define(app: Taskora) -> Any:
    @app.task("resize", retry=Retry(attempts=2, delay=0.01, jitter=False))
    async def resize(n: int, ctx: JobContext) -> int:
        ctx.progress({"done": n})
        if n < 0 and ctx.attempt == 1:
            raise ValueError("first try fails")
        if n < -1:
            raise ValueError("always fails")
        return n * 10

    return resize


async def test_task_listeners_get_each_transition_with_its_details(app: Taskora) -> None:
    resize = define(app)
    seen: list[Event] = []
    for name in ("active", "progress", "completed", "failed", "retrying"):
        resize.on(name, seen.append)

    @resize.on("completed")
    async def also_async(event: Event) -> None:
        seen.append(event)

    worker = await app.start()
    try:
        ok, flaky, doomed = [await resize.adispatch(n) for n in (3, -1, -2)]
        await until(lambda: sum(e.name == "completed" for e in seen) == 4)
        await until(lambda: any(e.name == "failed" and not e.will_retry for e in seen))
    finally:
        await worker.stop()
    completed = [e for e in seen if e.name == "completed"]
    assert sorted((e.job_id, e.result) for e in completed) == sorted(
        [(ok.id, 30), (ok.id, 30), (flaky.id, -10), (flaky.id, -10)]
    )
    [retrying] = [e for e in seen if e.name == "retrying" and e.job_id == flaky.id]
    assert retrying.error is not None and retrying.error.message == "first try fails"
    assert retrying.details is not None and int(retrying.details["at"]) > 0
    [failed] = [e for e in seen if e.name == "failed" and not e.will_retry]
    assert (failed.job_id, failed.task, failed.error.type if failed.error else None) == (
        doomed.id,
        "resize",
        "ValueError",
    )
    assert {e.progress["done"] for e in seen if e.name == "progress"} >= {3, -1, -2}
    assert {e.attempt for e in seen if e.name == "active" and e.job_id == flaky.id} == {1, 2}
    assert failed.as_dict()["error"] == {"type": "ValueError", "message": "always fails"}


async def test_every_worker_process_hears_every_event_and_app_listeners_hear_all_tasks(
    redis_url: str, tmp_path: Path
) -> None:
    apps = [make_app(redis_url, tmp_path / str(i)) for i in range(2)]
    heard: list[list[str]] = [[], []]
    for i, one in enumerate(apps):
        define(one)
        one.on("task:completed", lambda e, i=i: heard[i].append(e.job_id))
    workers = [await one.start() for one in apps]
    try:
        handles = [await apps[0].get_task("resize").adispatch(n) for n in range(6)]
        ids = sorted(h.id for h in handles)
        await until(lambda: sorted(heard[0]) == ids and sorted(heard[1]) == ids)
    finally:
        for worker in workers:
            await worker.stop()
        for one in apps:
            await one.aclose()


async def test_a_failing_listener_is_logged_and_the_others_still_run(
    app: Taskora, caplog: pytest.LogCaptureFixture
) -> None:
    resize = define(app)
    heard: list[str] = []

    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    resize.on("completed", broken)
    resize.on("completed", lambda e: heard.append(e.job_id))
    worker = await app.start()
    try:
        handle = await resize.adispatch(1)
        await until(lambda: heard == [handle.id])
    finally:
        await worker.stop()
    assert "listener bug" in caplog.text


async def test_the_reader_yields_recent_events_then_new_ones(app: Taskora) -> None:
    resize = define(app)
    first = await resize.adispatch(1)
    stream = app.events(["resize"], recent=5)
    got = [await anext(stream)]
    assert (got[0].name, got[0].job_id) == ("waiting", first.id)
    worker = await app.start()
    try:
        while not (got[-1].name == "completed" and got[-1].job_id == first.id):
            got.append(await asyncio.wait_for(anext(stream), 10))
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
        await worker.stop()
    assert [e.name for e in got] == ["waiting", "active", "progress", "completed"]
    assert got[-1].result == 10


def test_unknown_events_are_usage_errors(app: Taskora) -> None:
    resize = define(app)
    with pytest.raises(UsageError, match="unknown event 'done'; listen to one of waiting"):
        resize.on("done", print)
    with pytest.raises(UsageError, match="unknown event 'finished'"):
        app.on("task:finished", print)
    with pytest.raises(UsageError, match="must be callable"):
        app.on("task:completed", "nope")  # type: ignore[arg-type]


async def test_a_slow_plain_listener_does_not_hold_up_the_worker(app: Taskora) -> None:
    resize = define(app)
    gate = threading.Event()
    heard: list[str] = []

    def slow(event: Event) -> None:  # a plain listener runs in a thread, not the worker's loop
        heard.append(event.job_id)
        gate.wait(20)

    resize.on("completed", slow)
    worker = await app.start()
    try:
        first = await resize.adispatch(1)
        await until(lambda: heard == [first.id])  # its listener is blocked now...
        second = await resize.adispatch(2)
        assert await second.aresult(10) == 20  # ...and the worker still runs jobs
    finally:
        gate.set()
        await worker.stop()


async def test_each_progress_event_carries_the_value_set_then(app: Taskora) -> None:
    @app.task("steps")
    def steps(n: int, ctx: JobContext) -> int:
        ctx.progress(10)
        ctx.progress({"done": 90})
        return n

    worker = await app.start()
    try:
        handle = await steps.adispatch(1)
        await handle.aresult(10)
    finally:
        await worker.stop()
    # read after the job ended: the events must not show the job's progress of now
    got = [e async for e in app.events(["steps"], recent=10, follow=False)]
    progress = [e for e in got if e.name == "progress" and e.job_id == handle.id]
    assert [e.progress for e in progress] == [10, {"done": 90}]
    assert all(e.details is None for e in progress)
