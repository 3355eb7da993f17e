"""Dispatch-time flow control end to end: TTL discard, deduplicate, throttle, debounce and
throw_on_reject, on a real server with real workers and a virtual clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from support import VirtualClock, until

from taskora_cli import (
    CancelledError,
    DuplicateJobError,
    ExpiredError,
    Taskora,
    ThrottledError,
    UsageError,
)
from taskora_cli.config import load_config
from taskora_cli.manager import Sdk


def new_app(url: str, tmp: Path, clock: object) -> Taskora:
    return Taskora(url, config=load_config(env={}, cwd=tmp), clock=clock)  # type: ignore[arg-type]


@pytest.fixture
async def app(redis_url: str, tmp_path: Path, clock: VirtualClock) -> Taskora:
    made = new_app(redis_url, tmp_path, clock)
    yield made
    await made.aclose()


# -- ttl -----------------------------------------------------------------------------------


async def test_a_discarded_job_vanishes_and_its_waiters_get_expired_error(
    app: Taskora, clock: VirtualClock
) -> None:
    ran: list[str] = []

    @app.task("digest", ttl={"max": "10m", "on_expire": "discard"})
    async def digest(data: str) -> None:
        ran.append(data)

    handle = await digest.adispatch("stale")
    waiting = asyncio.ensure_future(handle.aresult(10))
    await until(lambda: _waiting_on(app, handle.id))  # it waits before the job is discarded
    clock.offset_ms = 11 * 60_000
    fresh = await digest.adispatch("fresh")
    worker = await app.start()
    try:
        assert await fresh.aresult(10) is None
        with pytest.raises(ExpiredError):
            await waiting
        assert await handle.astate() == "missing"  # no trace: not even in the expired set
        assert (await app.inspect().astats()).total.expired == 0
        assert ran == ["fresh"]
    finally:
        await worker.stop()


async def test_a_dispatch_ttl_overrides_the_tasks_and_keeps_its_on_expire(
    app: Taskora, clock: VirtualClock
) -> None:
    @app.task("ping", ttl={"max": "1h", "on_expire": "discard"})
    async def ping(data: None) -> str:
        return "pong"

    short = await ping.adispatch(ttl="1m")  # discard, after one minute
    kept = await ping.adispatch(ttl={"max": "1m", "on_expire": "fail"})
    clock.offset_ms = 2 * 60_000
    waiters = [asyncio.ensure_future(h.aresult(10)) for h in (short, kept)]
    await until(lambda: _waiting_on(app, short.id, kept.id))
    worker = await app.start()
    try:
        for waiting in waiters:
            with pytest.raises(ExpiredError):
                await waiting
        assert await short.astate() == "missing"
        assert await kept.astate() == "expired"
    finally:
        await worker.stop()


def test_bad_ttl_options_are_usage_errors(tmp_path: Path) -> None:
    app = Taskora("redis://localhost:1", config=load_config(env={}, cwd=tmp_path))
    with pytest.raises(UsageError, match='on_expire must be "fail" or "discard"'):
        app.task("x", ttl={"max": "1h", "on_expire": "drop"})
    with pytest.raises(UsageError, match='ttl needs "max"'):
        app.task("y", ttl={"on_expire": "fail"})


# -- deduplicate ---------------------------------------------------------------------------


async def test_a_duplicate_dispatch_is_a_no_op_that_points_at_the_holder(app: Taskora) -> None:
    release = asyncio.Event()

    @app.task("report")
    async def report(user: int) -> str:
        await release.wait()
        return f"report {user}"

    first = await report.adispatch(7, deduplicate={"key": "report:7"})
    second = await report.adispatch(8, deduplicate={"key": "report:7"})
    assert (first.enqueued, first.existing_id) == (True, None)
    assert (second.enqueued, second.reason, second.existing_id) == (False, "duplicate", first.id)
    worker = await app.start()
    try:
        await until(lambda: _state_is(first, "active"))
        third = await report.adispatch(9, deduplicate={"key": "report:7"})  # active blocks too
        assert third.existing_id == first.id
        release.set()
        assert await second.aresult(10) == "report 7"  # the holder's result
        after = await report.adispatch(10, deduplicate={"key": "report:7"})
        assert after.enqueued is True
        assert await after.aresult(10) == "report 10"
    finally:
        await worker.stop()


async def test_a_paused_holder_still_holds_its_dedup_key(app: Taskora) -> None:
    @app.task("report")
    async def report(user: int) -> str:
        return f"report {user}"

    sdk = Sdk(app)
    first = await report.adispatch(7, deduplicate={"key": "report:7"})
    assert (await sdk.apause_job(first.id, "default") or {}).get("status") == "paused"
    while_paused = await report.adispatch(8, deduplicate={"key": "report:7"})
    assert (while_paused.enqueued, while_paused.existing_id) == (False, first.id)
    only_paused = await report.adispatch(9, deduplicate={"key": "report:7", "while": ["paused"]})
    assert only_paused.existing_id == first.id
    await sdk.aresume_job(first.id, "default")
    assert (await sdk.aget_queue_stats("default"))["waiting"] == 1  # the holder, alone


async def test_throw_on_reject_raises_duplicate_job_error(app: Taskora) -> None:
    @app.task("sync")
    async def sync(data: None) -> None:
        return None

    first = await sync.adispatch(deduplicate={"key": "k"})
    with pytest.raises(DuplicateJobError) as caught:
        await sync.adispatch(deduplicate={"key": "k"}, throw_on_reject=True)
    assert (caught.value.key, caught.value.existing_id) == ("k", first.id)


# -- throttle ------------------------------------------------------------------------------


async def test_a_burst_of_200_concurrent_dispatches_accepts_exactly_max(
    redis_url: str, tmp_path: Path
) -> None:
    clock = VirtualClock()  # stands still: a throttle window never slides by itself
    apps = [new_app(redis_url, tmp_path, clock) for _ in range(4)]  # four connections racing
    tasks = []
    for made in apps:

        @made.task("call-api")
        async def call_api(data: int) -> None:
            return None

        tasks.append(call_api)
    option = {"key": "stripe", "max": 50, "window": "1m"}
    try:
        handles = await asyncio.gather(
            *(tasks[i % 4].adispatch(i, throttle=option) for i in range(200))
        )
        accepted = [h for h in handles if h.enqueued]
        assert len(accepted) == 50
        assert {h.reason for h in handles if not h.enqueued} == {"throttled"}
        assert (await apps[0].inspect().astats()).total.waiting == 50
        clock.advance(60.001)  # the window slid past every accepted dispatch
        again = await tasks[0].adispatch(0, throttle=option)
        assert again.enqueued is True
    finally:
        for made in apps:
            await made.aclose()


async def test_throw_on_reject_raises_throttled_error_with_the_wait(
    tmp_path: Path, redis_url: str
) -> None:
    clock = VirtualClock()  # stands still: a throttle window never slides by itself
    app = new_app(redis_url, tmp_path, clock)

    @app.task("mail")
    async def mail(data: None) -> None:
        return None

    option = {"key": "smtp", "max": 1, "window": "10s"}
    try:
        await mail.adispatch(throttle=option)
        clock.advance(4)
        with pytest.raises(ThrottledError) as caught:
            await mail.adispatch(throttle=option, throw_on_reject=True)
        assert caught.value.key == "smtp"
        assert 5.9 < (caught.value.retry_after or 0) <= 6.001
        rejected = await mail.adispatch(throttle=option)
        assert await rejected.astate() == "throttled"
        with pytest.raises(ThrottledError):
            await rejected.aresult(1)
    finally:
        await app.aclose()


# -- debounce ------------------------------------------------------------------------------


async def test_only_the_last_debounced_dispatch_runs_with_its_payload(
    app: Taskora, clock: VirtualClock
) -> None:
    ran: list[str] = []

    @app.task("reindex")
    async def reindex(version: str) -> str:
        ran.append(version)
        return version

    handles = []
    for version in ("v1", "v2", "v3"):
        handles.append(await reindex.adispatch(version, debounce={"key": "doc:1", "delay": "2s"}))
        clock.offset_ms += 1_500  # less than the delay: each resets the timer
    assert [h.replaced_id for h in handles] == [None, handles[0].id, handles[1].id]
    worker = await app.start()
    try:
        await asyncio.sleep(0.1)
        assert ran == []  # the last is due 2 s after its dispatch; only 1.5 s passed
        clock.offset_ms += 1_000
        assert await handles[-1].aresult(10) == "v3"
        for replaced in handles[:-1]:
            with pytest.raises(CancelledError):
                await replaced.aresult(10)
        assert ran == ["v3"]
    finally:
        await worker.stop()


# -- mixing options ------------------------------------------------------------------------


async def test_combining_flow_control_options_is_a_usage_error_naming_them(app: Taskora) -> None:
    @app.task("x")
    async def x(data: None) -> None:
        return None

    with pytest.raises(UsageError, match="throttle and deduplicate cannot be combined"):
        await x.adispatch(throttle={"key": "a", "max": 1, "window": 1}, deduplicate={"key": "a"})
    with pytest.raises(UsageError, match=r"drop delay= \(--delay\) when debouncing"):
        await x.adispatch(debounce={"key": "a", "delay": 1}, delay=5)
    with pytest.raises(UsageError, match="unknown state"):
        await x.adispatch(deduplicate={"key": "a", "while": ["done"]})
    assert (await app.inspect().astats()).total.waiting == 0


async def _state_is(handle: object, state: str) -> bool:
    return await handle.astate() == state  # type: ignore[attr-defined,no-any-return]


async def _waiting_on(app: Taskora, *job_ids: str) -> bool:
    """True once a result waiter of this event loop has registered for each of ``job_ids``."""
    waiter = await app.runtime.waiter()
    return all(waiter.waiting_for(job_id) for job_id in job_ids)
