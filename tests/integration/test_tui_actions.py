"""The dashboard's actions on a real server: what each effect does, and the status line it
reports (including when the server refuses)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support import make_app, until

from taskora_cli import Taskora, chain
from taskora_cli.tui.app import perform
from taskora_cli.tui.messages import (
    Cancel,
    CancelWorkflow,
    PauseSchedule,
    RetryGroup,
    RetryJob,
    SetPaused,
    Trigger,
)


@pytest.fixture
async def app(redis_url: str, tmp_path: Path) -> AsyncIterator[Taskora]:
    made = make_app(redis_url, tmp_path)
    yield made
    await made.aclose()
    await asyncio.to_thread(made.close)  # the blocking API's connections, used by perform


async def test_a_group_retry_retries_every_dead_letter_of_that_error_and_no_other(
    app: Taskora,
) -> None:
    @app.task("flaky")
    async def flaky(message: str) -> None:
        raise ValueError(message)

    for message in ("boom", "boom", "boom", "boom!", "other"):
        await flaky.adispatch(message)
    worker = await app.start()
    try:
        await until(lambda: _failed(app, 5))
    finally:
        await worker.stop()

    said = await asyncio.to_thread(perform, app, RetryGroup(None, "ValueError", "boom"))
    left = await app.dead_letters().alist()

    assert said == "retried 3 dead letters that failed with ValueError: boom"
    assert sorted(d.error_message for d in left) == ["boom!", "other"]  # the whole message


async def _failed(app: Taskora, n: int) -> bool:
    return (await app.inspect().astats()).total.failed == n


async def test_refused_actions_say_why_on_the_status_line(app: Taskora) -> None:
    @app.task("echo")
    async def echo(n: int) -> int:
        return n

    done = await echo.adispatch(1)
    worker = await app.start()
    try:
        assert await done.aresult(10) == 1
    finally:
        await worker.stop()

    said = [
        await asyncio.to_thread(perform, app, effect)
        for effect in (Cancel("echo", done.id), RetryJob("echo", done.id), RetryJob("echo", "nope"))
    ]
    assert said == [
        f"not done: job {done.id} already ended completed; it cannot be cancelled",
        f"not done: job {done.id} is completed; only failed, cancelled or expired jobs can be "
        "retried (dispatch it again to run it twice)",
        "not done: job nope of task 'echo' does not exist",
    ]


async def test_pausing_and_resuming_a_queue_say_what_changed(app: Taskora) -> None:
    @app.task("mail", queue="emails")
    async def mail(n: int) -> int:
        return n

    await mail.adispatch(1)
    paused = await asyncio.to_thread(perform, app, SetPaused("emails", True))
    again = await asyncio.to_thread(perform, app, SetPaused("emails", True))
    assert await app.queues().ais_paused("emails")
    resumed = await asyncio.to_thread(perform, app, SetPaused("emails", False))
    assert not await app.queues().ais_paused("emails")
    assert (paused, again, resumed) == (
        "paused queue emails: workers stop starting its jobs within a second",
        "queue emails already was paused",
        "resumed queue emails: workers start its jobs again",
    )


async def test_pausing_resuming_and_triggering_a_schedule_say_what_happened(
    app: Taskora,
) -> None:
    @app.task("report")
    async def report(data: None) -> str:
        return "done"

    app.schedule("nightly", task="report", cron="0 2 * * *")
    await app.schedules().aregister()
    paused = await asyncio.to_thread(perform, app, PauseSchedule("nightly", True))
    assert (await app.schedules().aget("nightly")).paused
    fired = await asyncio.to_thread(perform, app, Trigger("nightly"))
    resumed = await asyncio.to_thread(perform, app, PauseSchedule("nightly", False))
    info = await app.schedules().aget("nightly")
    assert not info.paused and info.last_job_id is not None
    assert paused == "paused schedule nightly: it does not fire until resumed"
    assert fired == f"triggered schedule nightly: job {info.last_job_id} of report queued"
    assert resumed.startswith("resumed schedule nightly: next run ")
    missing = await asyncio.to_thread(perform, app, Trigger("nope"))
    assert missing.startswith("not done: ") and "nope" in missing


async def test_cancelling_a_workflow_stops_its_nodes_and_says_so(app: Taskora) -> None:
    @app.task("step")
    async def step(n: int) -> int:
        return n

    flow = await chain(step.s(1), step.s()).adispatch()  # no worker: it stays running
    said = await asyncio.to_thread(perform, app, CancelWorkflow(flow.id))
    again = await asyncio.to_thread(perform, app, CancelWorkflow(flow.id))

    assert said == f"cancelled workflow {flow.id}"
    assert again == f"not done: workflow {flow.id} already ended cancelled"
    info = await app.workflows().aget(flow.id)
    assert info is not None and info.reason == "cancelled from taskora top"
    assert [node.state for node in info.nodes] == ["cancelled", "cancelled"]
