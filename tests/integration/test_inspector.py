"""The inspector: counts by state, listings in queue order, and everything about one job."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support import VirtualClock, until

from taskora_cli import Retry, Taskora, UsageError
from taskora_cli.config import load_config


@pytest.fixture
async def app(redis_url: str, tmp_path: Path, clock: VirtualClock) -> AsyncIterator[Taskora]:
    made = Taskora(redis_url, config=load_config(env={}, cwd=tmp_path), clock=clock)
    yield made
    await made.aclose()


async def finished(app: Taskora, *ids: str) -> bool:
    states = [await app.handle("double", job_id).astate() for job_id in ids]
    return set(states) <= {"completed", "failed"}


async def test_stats_count_each_state_per_task_and_in_total_with_the_queue_latency(
    app: Taskora, clock: VirtualClock
) -> None:
    @app.task("double")
    async def double(n: int) -> int:
        if n < 0:
            raise ValueError("negative")
        return 2 * n

    @app.task("idle")
    async def idle(data: None) -> None:
        return None

    ok, bad = await double.adispatch(1), await double.adispatch(-1)
    worker = await app.start(["double"])
    try:
        await until(lambda: finished(app, ok.id, bad.id))
    finally:
        await worker.stop()
    await idle.adispatch(None)
    await double.adispatch(3, delay="1h")
    clock.offset_ms = 5_000  # the idle job has waited five seconds
    stats = await app.inspect().astats()
    by_task = {s.task: s for s in stats.tasks}
    assert by_task["double"].as_dict() == {
        "task": "double",
        "waiting": 0,
        "delayed": 1,
        "active": 0,
        "completed": 1,
        "failed": 1,
        "expired": 0,
        "cancelled": 0,
        "latency": None,
        "paused": 0,
    }
    assert by_task["idle"].waiting == 1
    assert by_task["idle"].latency is not None and 5 <= by_task["idle"].latency < 6
    assert (stats.total.waiting, stats.total.delayed, stats.total.completed) == (1, 1, 1)
    assert stats.total.latency == by_task["idle"].latency


async def test_waiting_jobs_are_listed_in_the_order_workers_take_them(app: Taskora) -> None:
    @app.task("line")
    async def line(data: str) -> None:
        return None

    for name in ("a", "b", "c"):
        await line.adispatch(name)
    await line.adispatch("urgent", priority=5)
    inspector = app.inspect()
    everything = await inspector.ajobs("line", "waiting")
    assert [job.data for job in everything] == ["urgent", "a", "b", "c"]
    page = await inspector.ajobs("line", "waiting", offset=1, limit=2)
    assert [job.data for job in page] == ["a", "b"]
    assert [j.data for j in await inspector.ajobs("line", "waiting", offset=3)] == ["c"]
    with pytest.raises(UsageError, match="unknown state"):
        await inspector.ajobs("line", "sleeping")


async def test_finished_jobs_are_listed_newest_first(app: Taskora, clock: VirtualClock) -> None:
    @app.task("tick")
    async def tick(n: int) -> int:
        return n

    worker = await app.start()
    try:
        for n in range(3):  # one at a time, each finishing later than the one before
            await (await tick.adispatch(n)).aresult(10)
            clock.offset_ms += 10
    finally:
        await worker.stop()
    done = await app.inspect().ajobs("tick", "completed")
    assert [job.result for job in done] == [2, 1, 0]
    assert all(job.state == "completed" for job in done)


async def test_find_returns_data_error_traceback_attempts_logs_and_timeline(
    app: Taskora,
) -> None:
    @app.task("flaky", retry=Retry(attempts=2, delay=0))
    def flaky(data: dict[str, int], ctx: object) -> None:
        ctx.log.info("trying", n=data["n"])  # type: ignore[attr-defined]
        ctx.progress(50)  # type: ignore[attr-defined]
        raise RuntimeError("still broken")

    handle = await flaky.adispatch({"n": 7})
    worker = await app.start()
    try:
        with pytest.raises(Exception, match="still broken"):
            await handle.aresult(10)
    finally:
        await worker.stop()
    found = await app.inspect().afind(handle.id)  # no task given: looked up under each
    assert found is not None
    assert (found.task, found.state, found.data, found.attempt) == ("flaky", "failed", {"n": 7}, 2)
    assert found.progress == 50
    assert found.error is not None and found.error.type == "RuntimeError"
    assert found.error.message == "still broken"
    assert "raise RuntimeError" in (found.error.traceback or "")
    assert [(e["msg"], e["fields"]) for e in found.logs] == [("trying", {"n": 7})] * 2
    t = found.timeline
    assert t.dispatched_at and t.started_at and t.finished_at
    assert t.dispatched_at <= t.started_at <= t.finished_at
    shown = found.as_dict()
    assert shown["timeline"]["finished_at"] == t.finished_at.isoformat()
    assert shown["error"]["type"] == "RuntimeError"
    assert await app.inspect().afind(handle.id, task="other") is None
    assert await app.inspect().afind("no-such-job") is None


async def test_throughput_counts_completed_and_failed_jobs_per_minute(
    app: Taskora, clock: VirtualClock
) -> None:
    @app.task("double", retry=Retry(attempts=1))
    async def double(n: int) -> int:
        if n < 0:
            raise ValueError("negative")
        return 2 * n

    # start just after a minute begins, so each batch (milliseconds long) finishes in one minute
    clock.offset_ms += 60_000 - clock() % 60_000 + 1_000
    worker = await app.start(["double"])
    try:
        first = [await double.adispatch(n) for n in (1, 2, -1)]
        await until(lambda: finished(app, *(h.id for h in first)))
        clock.offset_ms += 60_000  # the next jobs finish a minute later
        second = [await double.adispatch(n) for n in (3, -2, -3)]
        await until(lambda: finished(app, *(h.id for h in second)))
    finally:
        await worker.stop()
    minutes = await app.inspect().athroughput(minutes=3)
    assert len(minutes) == 3 and minutes[0].at < minutes[1].at < minutes[2].at
    assert (minutes[2].at.timestamp() * 1000) // 60_000 == clock() // 60_000
    recent = [(m.completed, m.failed) for m in minutes if (m.completed, m.failed) != (0, 0)]
    assert recent == [(2, 1), (1, 2)]
    assert sum(m.completed for m in await app.inspect().athroughput("double", 1440)) == 3
    assert [m.as_dict()["completed"] for m in await app.inspect().athroughput("idle", 3)] == [0] * 3
    with pytest.raises(UsageError, match=r"within 1\.\.1440"):
        await app.inspect().athroughput(minutes=0)


async def test_a_listing_past_what_the_server_can_index_is_our_usage_error(app: Taskora) -> None:
    @app.task("double")
    async def double(n: int) -> int:
        return 2 * n

    await double.adispatch(1, delay="1h")
    inspector = app.inspect()
    for state in ("waiting", "delayed"):
        with pytest.raises(UsageError, match="at most 2\\*\\*53"):
            await inspector.ajobs("double", state, limit=10**20)
    assert len(await inspector.ajobs("double", "delayed", limit=2**53 - 1)) == 1
