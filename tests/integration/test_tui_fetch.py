"""The dashboard's fetch on a real server: one snapshot holds what the visible screen shows,
read with work that does not grow with the number of jobs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from servers import raw_client
from support import make_app, until

from taskora_cli import JobFailedError, JobHandle, Taskora
from taskora_cli.tui.fetch import fetch
from taskora_cli.tui.model import PAGE, Query, Screen, Snapshot

if TYPE_CHECKING:
    from conftest import RestartableValkey


@pytest.fixture
async def app(redis_url: str, tmp_path: Path) -> AsyncIterator[Taskora]:
    made = make_app(redis_url, tmp_path)
    yield made
    await made.aclose()
    await asyncio.to_thread(made.close)  # the blocking API's connections, used by fetch


async def snap(app: Taskora, query: Query) -> Snapshot:
    """fetch() is blocking (the dashboard's loop is synchronous): run it off the test's loop,
    where the worker runs."""
    return await asyncio.to_thread(fetch, app, query)


async def test_a_snapshot_holds_counts_and_the_visible_page_for_each_screen(app: Taskora) -> None:
    release = asyncio.Event()

    @app.task("work")
    async def work(kind: str, ctx: object) -> str:
        ctx.log.info("working on", kind=kind)  # type: ignore[attr-defined]
        if kind == "hold":
            await release.wait()
        if kind == "fail":
            raise ValueError("no such user")
        return kind.upper()

    @app.task("later")
    async def later(n: int) -> int:
        return n

    app.schedule("hourly", task="work", every="1h", data="ok")
    app.schedule("nightly", task="later", cron="0 2 * * *", data=0)
    await app.schedules().aregister()
    done, failed = await work.adispatch("ok"), await work.adispatch("fail")
    fired = await app.schedules().atrigger("hourly")  # its last run: a job that completes
    worker = await app.start(["work"])
    try:
        assert await done.aresult(10) == "OK"
        assert await fired.aresult(10) == "OK"
        with pytest.raises(JobFailedError):
            await failed.aresult(10)
        held = await work.adispatch("hold")
        await until(lambda: _is(held, "active"))
        first, second = await later.adispatch(1), await later.adispatch(2)
        urgent = await later.adispatch(9, priority=5)  # dispatched last, taken first
        await later.adispatch(3, delay="1h")
        await app.acancel(second.id)

        overview = await snap(app, Query(Screen.OVERVIEW))
        waiting = await snap(app, Query(Screen.JOBS, state="waiting"))
        active = await snap(app, Query(Screen.JOBS, task="work", state="active"))
        dead = await snap(app, Query(Screen.DEAD))
        detail = await snap(app, Query(Screen.DETAIL, job=("work", failed.id)))
        workers = await snap(app, Query(Screen.WORKERS))
        schedules = await snap(app, Query(Screen.SCHEDULES))
        nightly = await snap(app, Query(Screen.SCHEDULES, task="later"))
    finally:
        release.set()
        await worker.stop()

    assert overview.error is None and overview.stats is not None
    counts = {s.task: (s.waiting, s.delayed, s.active, s.completed, s.failed, s.cancelled)
              for s in overview.stats.tasks}  # fmt: skip
    assert counts == {"work": (0, 0, 1, 2, 1, 0), "later": (2, 1, 0, 0, 0, 1)}
    assert overview.server is not None and int(overview.server["clients"]) >= 1
    assert overview.workers is not None and [w.gone for w in overview.workers] == [False]
    assert [(q.name, q.paused, q.tasks) for q in overview.queues or []] == [
        ("default", False, ["later", "work"])
    ]
    minutes = overview.throughput or []
    assert len(minutes) == 60
    assert (sum(m.completed for m in minutes), sum(m.failed for m in minutes)) == (2, 1)
    assert (overview.jobs, overview.dead, overview.job) == (None, None, None)  # not asked for

    assert [j.id for j in waiting.jobs or []] == [urgent.id, first.id]  # as workers take them
    assert [(j.id, j.state) for j in active.jobs or []] == [(held.id, "active")]
    assert [(d.id, d.error_type, d.error_message) for d in dead.dead or []] == [
        (failed.id, "ValueError", "no such user")
    ]
    assert detail.job is not None and detail.job.error is not None
    assert (detail.job.id, detail.job.state, detail.job.data) == (failed.id, "failed", "fail")
    assert "raise ValueError" in (detail.job.error.traceback or "")
    assert [entry["msg"] for entry in detail.job.logs] == ["working on"]
    assert workers.workers is not None and len(workers.workers) == 1
    assert [s.name for s in schedules.schedules or []] == ["hourly", "nightly"]
    assert schedules.outcomes == {"hourly": "completed"}  # nightly never ran
    assert [s.name for s in nightly.schedules or []] == ["nightly"]


async def _is(handle: JobHandle, state: str) -> bool:
    return await handle.astate() == state


def commands(url: str, app: Taskora, query: Query) -> dict[str, int]:
    """The server commands one fetch runs, by name (from the server's own counters)."""
    client = raw_client(url, decode_responses=True)
    try:
        fetch(app, query)  # connects first, so the handshake is not counted below
        client.config_resetstat()
        fetch(app, query)
        found = client.info("commandstats")
    finally:
        client.close()
    calls = {name.removeprefix("cmdstat_"): row["calls"] for name, row in found.items()}
    calls.pop("info", None)  # our own, above
    calls.pop("config|resetstat", None)
    return calls


async def test_a_refresh_runs_the_same_commands_for_60_or_5060_waiting_jobs(
    app: Taskora, redis_url: str
) -> None:
    @app.task("bulk")
    async def bulk(n: int) -> int:
        return n

    await bulk.adispatch_many(range(60))
    queries = [Query(Screen.OVERVIEW), Query(Screen.JOBS), Query(Screen.DEAD)]
    small = [await asyncio.to_thread(commands, redis_url, app, q) for q in queries]
    await bulk.adispatch_many(range(5000))
    big = [await asyncio.to_thread(commands, redis_url, app, q) for q in queries]

    assert big == small
    assert small[1]["hgetall"] == PAGE  # the first page of jobs, not all of them
    assert not {"scan", "keys"} & set().union(*small)  # never a keyspace walk


def test_a_refresh_after_the_server_stopped_is_a_snapshot_with_the_error(
    restartable_valkey: RestartableValkey, tmp_path: Path
) -> None:
    # The connections were open and the stop drops them: whichever one the refresh uses
    # notices, and the failure reaches fetch() as our ServerError, the only kind it catches.
    app = make_app(restartable_valkey.url, tmp_path)
    try:
        for screen in (Screen.OVERVIEW, Screen.DEAD):
            assert fetch(app, Query(screen)).error is None
        restartable_valkey.stop()
        for screen in (Screen.OVERVIEW, Screen.DEAD):
            after = fetch(app, Query(screen))
            assert after.error is not None
            assert "embedded server" in after.error and "was stopped" in after.error
            assert after.stats is None
    finally:
        app.close()
