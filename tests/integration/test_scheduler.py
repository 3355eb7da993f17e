"""The scheduler end to end on the real server, driven by a virtual clock: every tick gets its
``now`` from the test, so hours of schedule pass in milliseconds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support import make_app, until

from taskora_cli import Taskora
from taskora_cli.config import load_config
from taskora_cli.engine.schedules import Fire
from taskora_cli.testing import VirtualClock
from taskora_cli.worker.scheduler import Scheduler, fire_due

T0 = 1_800_000_000_000  # a round virtual "now"
SECOND, MINUTE = 1000, 60_000
LEASE, POLL = 30 * SECOND, SECOND


def app_at(url: str, tmp: Path, clock: VirtualClock) -> Taskora:
    return Taskora(url, config=load_config(env={}, cwd=tmp), clock=clock)


@pytest.fixture
async def world(redis_url: str, tmp_path: Path) -> AsyncIterator[tuple[Taskora, VirtualClock]]:
    clock = VirtualClock(T0)
    app = app_at(redis_url, tmp_path, clock)
    app.task("report")(lambda data: data)
    try:
        yield app, clock
    finally:
        await app.aclose()


def scheduler(app: Taskora, token: str = "w1") -> Scheduler:
    return Scheduler(app, token, poll_ms=POLL, lease_ms=LEASE)


async def job_ids(app: Taskora, task: str = "report") -> list[str]:
    waiting = await app.inspect().ajobs(task, "waiting", 0, 10_000)
    return sorted(job.id for job in waiting)


async def test_every_fires_on_its_own_cadence_and_never_drifts(
    world: tuple[Taskora, VirtualClock],
) -> None:
    app, _ = world
    app.schedule("beat", task="report", every="10s", data={"n": 1}, overlap=True)
    await app.schedules().aregister()
    s = scheduler(app)
    assert await s.tick(T0 + 9 * SECOND) == 0
    assert await s.tick(T0 + 10 * SECOND + 700) == 1  # a late tick...
    assert await s.tick(T0 + 21 * SECOND) == 1  # ...does not shift the next fire
    assert await job_ids(app) == [f"beat@{T0 + 10 * SECOND}", f"beat@{T0 + 20 * SECOND}"]
    info = await app.schedules().aget("beat")
    assert info.next_run_ms == T0 + 30 * SECOND
    assert info.last_job_id == f"beat@{T0 + 20 * SECOND}"
    job = await app.inspect().afind(f"beat@{T0 + 20 * SECOND}")
    assert job is not None and job.data == {"n": 1}


@pytest.mark.parametrize(
    "start", ["2026-03-28T00:00:00+00:00", "2026-10-24T00:00:00+00:00"], ids=["spring", "fall"]
)
async def test_a_daily_berlin_cron_fires_once_a_day_across_a_dst_change(
    world: tuple[Taskora, VirtualClock], start: str
) -> None:
    app, clock = world
    begin = int(datetime.fromisoformat(start).timestamp() * 1000)
    clock.set(begin)
    app.schedule("night", task="report", cron="30 2 * * *", timezone="Europe/Berlin")
    app.schedule("hourly", task="report", cron="0 * * * *", timezone="Europe/Berlin")
    await app.schedules().aregister()
    s = scheduler(app)
    for at in range(begin, begin + 3 * 24 * 60 * MINUTE, 5 * MINUTE):
        await s.tick(at)
        for job in await app.inspect().ajobs("report", "waiting", 0, 100):
            await app.acancel(job.id, task="report")  # each run ends before the next fire
    fired = sorted(
        int(job.id.split("@")[1])
        for job in await app.inspect().ajobs("report", "cancelled", 0, 1000)
        if job.id.startswith("night@")
    )
    local = [datetime.fromtimestamp(ms / 1000, tz=ZoneInfo("Europe/Berlin")) for ms in fired]
    assert [t.day for t in local] == sorted({t.day for t in local})  # one run per day
    assert len(local) == 3
    hourly = [j for j in await app.inspect().ajobs("report", "cancelled", 0, 1000)
              if j.id.startswith("hourly@")]  # fmt: skip
    assert len(hourly) == 3 * 24 - 1  # every real hour after the start: none doubled or dropped


async def test_two_schedulers_ticking_together_enqueue_each_fire_once(
    world: tuple[Taskora, VirtualClock], redis_url: str, tmp_path: Path
) -> None:
    app, clock = world
    other = app_at(redis_url, tmp_path, clock)
    try:
        app.schedule("fast", task="report", every="1s", overlap=True)
        await app.schedules().aregister()
        a, b = scheduler(app, "a"), scheduler(other, "b")
        fired = 0
        for step in range(1, 41):
            counts = await asyncio.gather(a.tick(T0 + step * SECOND), b.tick(T0 + step * SECOND))
            fired += sum(counts)
        assert [a.leader, b.leader] == [True, False]
        assert fired == 40
        assert await job_ids(app) == sorted(f"fast@{T0 + i * SECOND}" for i in range(1, 41))
    finally:
        await other.aclose()


async def test_concurrent_fires_without_the_lease_still_enqueue_each_fire_once(
    world: tuple[Taskora, VirtualClock], redis_url: str, tmp_path: Path
) -> None:
    # The lease is not what makes a fire exactly-once: the claim's compare-and-set is. Eight
    # engines fire the same schedule at once, bypassing leadership, over 30 fire times.
    app, clock = world
    apps = [app_at(redis_url, tmp_path, clock) for _ in range(8)]
    try:
        app.schedule("race", task="report", every="1s", on_missed="catch-up", overlap=True)
        await app.schedules().aregister()
        engines = [await other.connect() for other in apps]
        for step in range(1, 31):
            now = T0 + step * SECOND
            await asyncio.gather(*(fire_due(e, "race", now, LEASE) for e in engines))
        assert await job_ids(app) == sorted(f"race@{T0 + i * SECOND}" for i in range(1, 31))
    finally:
        for other in apps:
            await other.aclose()


async def test_a_dead_leaders_lease_runs_out_and_the_next_fire_still_runs_once(
    world: tuple[Taskora, VirtualClock], redis_url: str, tmp_path: Path
) -> None:
    app, clock = world
    other = app_at(redis_url, tmp_path, clock)
    try:
        app.schedule("nightly", task="report", every="1m", overlap=True)
        await app.schedules().aregister()
        leader, follower = scheduler(app, "a"), scheduler(other, "b")
        await leader.tick(T0)
        await follower.tick(T0)
        assert (leader.leader, follower.leader) == (True, False)
        # the leader dies at T0 (never ticks again, never releases); the fire at T0+1m comes
        # while its lease still holds, so nobody fires it then
        for at in range(T0 + SECOND, T0 + LEASE + 1, 5 * SECOND):
            assert await follower.tick(at) == 0
        assert await job_ids(app) == []
        # the lease ran out: the follower takes over and fires the fire time that passed
        assert await follower.tick(T0 + MINUTE + 2 * SECOND) == 1
        assert follower.leader
        # the old leader comes back: it is not leader any more and fires nothing twice
        assert await leader.tick(T0 + MINUTE + 3 * SECOND) == 0
        assert not leader.leader
        assert await follower.tick(T0 + 2 * MINUTE) == 1
        assert await job_ids(app) == [f"nightly@{T0 + MINUTE}", f"nightly@{T0 + 2 * MINUTE}"]
    finally:
        await other.aclose()


async def test_a_stopped_leader_hands_the_lease_over_at_once(
    world: tuple[Taskora, VirtualClock],
) -> None:
    app, _ = world
    first, second = scheduler(app, "a"), scheduler(app, "b")
    await first.tick(T0)
    await first.stop()
    await second.tick(T0 + SECOND)
    assert second.leader


async def test_catch_up_limit_after_downtime_enqueues_exactly_the_newest_n(
    world: tuple[Taskora, VirtualClock],
) -> None:
    app, _ = world
    app.schedule("sync", task="report", every="1m", on_missed="catch-up-limit:3")
    await app.schedules().aregister()
    assert await scheduler(app).tick(T0 + 10 * MINUTE + 5 * SECOND) == 3
    assert await job_ids(app) == [f"sync@{T0 + m * MINUTE}" for m in (8, 9, 10)]
    info = await app.schedules().aget("sync")
    assert (info.next_run_ms, info.skipped) == (T0 + 11 * MINUTE, 7)


async def test_catch_up_replays_every_missed_fire_in_order(
    world: tuple[Taskora, VirtualClock],
) -> None:
    app, _ = world
    app.schedule("ledger", task="report", every="1h", on_missed="catch-up")
    await app.schedules().aregister()
    assert await scheduler(app).tick(T0 + 5 * 60 * MINUTE + MINUTE) == 5
    assert await job_ids(app) == sorted(f"ledger@{T0 + h * 60 * MINUTE}" for h in range(1, 6))


async def test_skip_enqueues_nothing_for_missed_fires(world: tuple[Taskora, VirtualClock]) -> None:
    app, _ = world
    app.schedule("tidy", task="report", every="1m")  # on_missed="skip" is the default
    await app.schedules().aregister()
    s = scheduler(app)
    assert await s.tick(T0 + 10 * MINUTE + 45 * SECOND) == 0  # the 10m fire is 45 s old: missed
    info = await app.schedules().aget("tidy")
    assert (info.next_run_ms, info.skipped) == (T0 + 11 * MINUTE, 10)
    assert await s.tick(T0 + 11 * MINUTE) == 1  # then on schedule again
    assert await job_ids(app) == [f"tidy@{T0 + 11 * MINUTE}"]


async def test_overlap_off_skips_fires_while_the_previous_job_is_unfinished(
    world: tuple[Taskora, VirtualClock],
) -> None:
    app, _ = world
    app.schedule("solo", task="report", every="10s")
    app.schedule("many", task="report", every="10s", overlap=True)
    await app.schedules().aregister()
    s = scheduler(app)
    assert await s.tick(T0 + 10 * SECOND) == 2
    assert await s.tick(T0 + 20 * SECOND) == 1  # solo's first job still waits: skipped
    assert sorted(await job_ids(app)) == sorted(
        [f"solo@{T0 + 10 * SECOND}", f"many@{T0 + 10 * SECOND}", f"many@{T0 + 20 * SECOND}"]
    )
    await app.acancel(f"solo@{T0 + 10 * SECOND}", task="report")  # it ends: the next fire runs
    assert await s.tick(T0 + 30 * SECOND) == 2
    assert f"solo@{T0 + 30 * SECOND}" in await job_ids(app)
    assert (await app.schedules().aget("solo")).skipped == 1


async def test_overlap_off_under_catch_up_waits_for_the_previous_job_instead_of_skipping(
    world: tuple[Taskora, VirtualClock],
) -> None:
    app, _ = world
    app.schedule("serial", task="report", every="10s", on_missed="catch-up")
    await app.schedules().aregister()
    s = scheduler(app)
    assert await s.tick(T0 + 10 * SECOND) == 1
    assert await s.tick(T0 + 20 * SECOND) == 0  # the first job still waits: the fire waits too
    assert await s.tick(T0 + 30 * SECOND) == 0
    assert (await app.schedules().aget("serial")).next_run_ms == T0 + 20 * SECOND
    await app.acancel(f"serial@{T0 + 10 * SECOND}", task="report")
    assert await s.tick(T0 + 31 * SECOND) == 2  # both waiting fires, in order
    assert await job_ids(app) == [f"serial@{T0 + t * SECOND}" for t in (20, 30)]


async def test_a_fire_left_pending_by_a_crash_is_enqueued_exactly_once(
    world: tuple[Taskora, VirtualClock],
) -> None:
    app, _ = world
    app.schedule("fragile", task="report", every="10s")
    await app.schedules().aregister()
    engine = await app.connect()
    fire_ms = T0 + 10 * SECOND
    pending = json.dumps({"id": f"fragile@{fire_ms}", "task": "report", "data": "null"})
    fire = Fire(fire_ms, fire_ms + 10 * SECOND, f"fragile@{fire_ms}", "report", pending, 0)
    assert await engine.schedules.claim("fragile", "1", fire_ms, fire, fire_ms)  # ...and the crash
    assert (await app.schedules().aget("fragile")).pending
    s = scheduler(app)
    assert await s.tick(fire_ms + SECOND) == 0  # finishes the pending fire, nothing new is due
    assert await s.tick(fire_ms + 2 * SECOND) == 0
    assert await job_ids(app) == [f"fragile@{fire_ms}"]
    assert not (await app.schedules().aget("fragile")).pending


async def test_pause_resume_trigger_update_and_remove(world: tuple[Taskora, VirtualClock]) -> None:
    app, clock = world
    app.schedule("ops", task="report", every="1m", data="x")
    manager = app.schedules()
    await manager.aregister()
    s = scheduler(app)
    assert (await manager.apause("ops")).paused
    assert await s.tick(T0 + 5 * MINUTE) == 0
    clock.set(T0 + 5 * MINUTE + 10 * SECOND)
    resumed = await manager.aresume("ops")
    assert not resumed.paused
    assert resumed.next_run_ms == T0 + 6 * MINUTE  # no flood of the 5 fires passed while paused
    assert await s.tick(T0 + 5 * MINUTE + 20 * SECOND) == 0

    handle = await manager.atrigger("ops")
    assert await handle.astate() == "waiting"
    info = await manager.aget("ops")
    assert (info.next_run_ms, info.last_job_id) == (T0 + 6 * MINUTE, handle.id)

    updated = await manager.aupdate("ops", data="y", overlap=True)
    assert (updated.spec.data, updated.next_run_ms) == ("y", T0 + 6 * MINUTE)  # timing kept
    retimed = await manager.aupdate("ops", every="1h")
    assert retimed.next_run_ms == clock() + 60 * MINUTE
    retimed = await manager.aupdate("ops", cron="0 9 * * MON-FRI", timezone="Europe/Berlin")
    assert retimed.spec.describe() == "cron 0 9 * * MON-FRI (Europe/Berlin)"

    await manager.aremove("ops")
    assert await manager.alist() == []
    from taskora_cli.errors import UnknownScheduleError

    with pytest.raises(UnknownScheduleError, match="unknown schedule 'ops'"):
        await manager.apause("ops")


async def test_resume_under_catch_up_replays_what_the_policy_allows(
    world: tuple[Taskora, VirtualClock],
) -> None:
    app, clock = world
    app.schedule("books", task="report", every="1m", on_missed="catch-up-limit:2")
    await app.schedules().aregister()
    await app.schedules().apause("books")
    clock.set(T0 + 10 * MINUTE + 5 * SECOND)
    await app.schedules().aresume("books")
    assert await scheduler(app).tick(clock()) == 2


async def test_registering_again_keeps_the_schedule_state(
    world: tuple[Taskora, VirtualClock], redis_url: str, tmp_path: Path
) -> None:
    app, clock = world
    app.schedule("keep", task="report", every="1m")
    assert await app.schedules().aregister() == {"keep": "created"}
    await scheduler(app).tick(T0 + MINUTE)
    await app.schedules().apause("keep")
    before = await app.schedules().aget("keep")

    clock.set(T0 + 90 * SECOND)  # a redeploy: a new process declares the same schedule
    again = app_at(redis_url, tmp_path, clock)
    try:
        again.schedule("keep", task="report", every="1m")
        assert await again.schedules().aregister() == {"keep": "unchanged"}
        assert await again.schedules().aget("keep") == before
        again.registry.schedules.clear()
        again.schedule("keep", task="report", every="1m", data={"v": 2})
        assert await again.schedules().aregister() == {"keep": "updated"}
        after = await again.schedules().aget("keep")
        assert (after.next_run_ms, after.last_job_id, after.paused) == (
            before.next_run_ms,
            before.last_job_id,
            True,
        )
        again.registry.schedules.clear()
        again.schedule("keep", task="report", every="5m")
        assert await again.schedules().aregister() == {"keep": "retimed"}
        assert (await again.schedules().aget("keep")).next_run_ms == clock() + 5 * MINUTE
    finally:
        await again.aclose()


async def test_inline_and_toml_schedules_are_declared_and_registered(
    redis_url: str, tmp_path: Path
) -> None:
    (tmp_path / "taskora.toml").write_text(
        '[schedules.morning]\ntask = "report"\ncron = "0 9 * * MON-FRI"\n'
        'timezone = "Europe/Berlin"\non_missed = "catch-up-limit:1"\ndata = { who = "team" }\n'
    )
    app = Taskora(redis_url, config=load_config(env={}, cwd=tmp_path), clock=VirtualClock(T0))
    try:
        app.task("report")(lambda data: data)
        app.task("health", schedule={"every": "30s"})(lambda: "ok")
        declared = app.declared_schedules()
        assert declared["morning"].cron == "0 9 * * MON-FRI"
        assert declared["morning"].data == {"who": "team"}
        assert declared["health"].every_ms == 30_000
        assert await app.schedules().aregister() == {"health": "created", "morning": "created"}
        names = [info.name for info in await app.schedules().alist()]
        assert names == ["health", "morning"]
    finally:
        await app.aclose()


async def test_a_running_worker_fires_its_schedules(redis_url: str, tmp_path: Path) -> None:
    (tmp_path / "taskora.toml").write_text('[scheduler]\npoll_interval = "50ms"\n')
    app = make_app(redis_url, tmp_path)
    app.configure(load_config(env={}, cwd=tmp_path))
    ran: list[str] = []
    app.task("pulse", schedule={"every": "1s"})(lambda data, ctx: ran.append(ctx.id))
    worker = await app.start()
    try:
        await until(lambda: len(ran) >= 2, timeout=15)
        assert worker.scheduler is not None and worker.scheduler.leader
        assert all(job_id.startswith("pulse@") for job_id in ran)
    finally:
        await worker.stop(0)


async def test_a_worker_with_the_scheduler_disabled_never_takes_the_lease(
    redis_url: str, tmp_path: Path
) -> None:
    config = load_config(env={"TASKORA_SCHEDULER": "false"}, cwd=tmp_path)
    assert config.scheduler.enabled is False and config.sources["scheduler.enabled"] == (
        "env TASKORA_SCHEDULER"
    )
    app = Taskora(redis_url, config=config)
    app.task("noop")(lambda: None)
    worker = await app.start()
    try:
        assert worker.scheduler is None
        assert await (await app.connect()).schedules.lease() == {}
    finally:
        await worker.stop(0)


async def test_a_fire_carries_the_tasks_own_options(world: tuple[Taskora, VirtualClock]) -> None:
    app, _ = world
    app.task("solo", singleton=True, ttl={"max": "1m", "on_expire": "discard"}, queue="ops")(
        lambda data: data
    )
    app.schedule("solo-beat", task="solo", every="10s", overlap=True)
    await app.schedules().aregister()
    assert await scheduler(app).tick(T0 + 10 * SECOND) == 1
    engine = await app.connect()
    stored = await engine.client.hgetall(f"taskora:{{solo}}:j:solo-beat@{T0 + 10 * SECOND}")
    assert stored["on_expire"] == "discard" and int(stored["exp"]) == T0 + 10 * SECOND + MINUTE
    assert "conc" in stored  # the singleton's counter: one active job at a time
    assert (await engine.task_queues())["solo"] == "ops"
