"""advance(): delays, throttle windows, collect buffers, TTLs and schedules in virtual time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from taskora_cli import Taskora, UsageError
from taskora_cli.testing import TaskRunner


def test_a_delayed_job_runs_once_advance_passes_its_delay(app: Taskora, runner: TaskRunner) -> None:
    ran: list[int] = []

    @app.task("later")
    async def later(n: int) -> None:
        ran.append(n)

    handle = runner.dispatch(later, 1, delay="5m")
    runner.process_all()
    runner.advance("4m")
    assert ran == [] and runner.job(handle).state == "delayed"
    runner.advance("1m")
    assert ran == [1] and runner.job(handle).state == "completed"


def test_throttle_admits_max_per_window(app: Taskora, runner: TaskRunner) -> None:
    @app.task("call-api")
    async def call_api(n: int) -> None:
        return None

    option = {"key": "api", "max": 2, "window": "1m"}
    first = [runner.dispatch(call_api, n, throttle=option).enqueued for n in range(3)]
    assert first == [True, True, False]
    with pytest.raises(UsageError, match="not enqueued: throttled"):
        runner.execute(call_api, 9, throttle=option)
    runner.advance("30s")
    assert runner.dispatch(call_api, 3, throttle=option).enqueued is False  # same window
    runner.advance("31s")
    assert runner.dispatch(call_api, 4, throttle=option).enqueued is True
    runner.process_all()
    assert sorted(job.data for job in runner.jobs if job.state == "completed") == [0, 1, 4]


def test_a_collect_buffer_flushes_at_max_wait(app: Taskora, runner: TaskRunner) -> None:
    batches: list[list[int]] = []

    @app.task("insert", collect={"key": "rows", "delay": "10s", "max_wait": "25s"})
    async def insert(rows: list[int]) -> int:
        batches.append(rows)
        return len(rows)

    for n in range(3):  # at 0, 9 and 18 s: the 10 s quiet delay never passes
        if n:
            runner.advance("9s")
        runner.dispatch(insert, n)
    runner.advance("6s")  # 24 s after the first item
    assert batches == []
    runner.advance("1s")  # 25 s: max_wait
    assert batches == [[0, 1, 2]]


def test_flush_runs_a_collect_buffer_now(app: Taskora, runner: TaskRunner) -> None:
    @app.task("insert", collect={"key": "rows", "delay": "1h"})
    async def insert(rows: list[int]) -> int:
        return sum(rows)

    for n in (1, 2, 3):
        runner.dispatch(insert, n)
    before = runner.clock()
    flushed = runner.flush(insert, "rows")
    assert flushed is not None and (flushed.state, flushed.result) == ("completed", 6)
    assert runner.clock() == before
    assert runner.flush(insert, "rows") is None  # empty now


def test_a_debounced_job_runs_once_with_the_last_data(app: Taskora, runner: TaskRunner) -> None:
    saved: list[str] = []

    @app.task("save")
    async def save(text: str) -> None:
        saved.append(text)

    for text in ("a", "ab", "abc"):
        runner.dispatch(save, text, debounce={"key": "doc", "delay": "2s"})
        runner.advance("1s")
    assert saved == []
    runner.advance("1s")
    assert saved == ["abc"]


def test_a_cron_schedule_fires_at_its_local_times_across_a_dst_change(app: Taskora) -> None:
    paris = ZoneInfo("Europe/Paris")
    fired: list[str] = []

    @app.task("report")
    async def report(data: None, ctx: object) -> None:
        fired.append(datetime.fromtimestamp(runner.clock() / 1000, paris).isoformat())

    app.schedule("nightly", task="report", cron="30 2 * * *", timezone="Europe/Paris")
    # 2026-03-29: clocks jump from 02:00 to 03:00 in Paris, so 02:30 does not exist that day
    start = datetime(2026, 3, 27, 12, 0, tzinfo=paris)
    with TaskRunner(app, start=start) as runner:
        runner.advance("3d")
    assert fired == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:30:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


async def test_an_async_test_dispatches_on_its_own_loop_and_the_runner_runs_it(
    app: Taskora, runner: TaskRunner
) -> None:
    @app.task("ping")
    async def ping(n: int) -> int:
        return n

    handle = await ping.adispatch(5, delay="1m")  # the test's loop: its own connection
    try:
        runner.advance("1m")  # blocking, but the worker runs on the app's background loop
        assert await handle.aresult(timeout=5) == 5
    finally:
        await app.aclose()


def test_a_job_held_by_a_dead_worker_is_recovered_by_the_first_sweep_after_its_lock_ran_out(
    app: Taskora, runner: TaskRunner
) -> None:
    ran: list[int] = []

    @app.task("chore")
    async def chore(n: int) -> None:
        ran.append(n)

    handle = runner.dispatch(chore, 7)

    async def claim_as_a_worker_that_then_dies() -> None:
        engine = await app.connect()
        claimed = await engine.claim("chore", "ghost", 1, runner.clock(), 60_000)
        assert [job.id for job in claimed] == [handle.id]

    app.runtime.call(claim_as_a_worker_that_then_dies())
    start = runner.clock()
    runner.advance("59s")
    assert ran == [] and runner.job(handle).state == "active"  # its lock still holds
    runner.advance("2m")  # the lock runs out at 60 s; a sweep runs every 30 s
    assert ran == [7] and runner.job(handle).state == "completed"
    recovered_at = runner.job(handle).timeline.started_at  # the second run's start
    assert recovered_at is not None
    assert start + 60_000 < recovered_at.timestamp() * 1000 <= start + 60_000 + 30_000
