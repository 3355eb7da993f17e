"""A job's TTL: a job no worker started in time ends expired and never runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import VirtualClock, until

from taskora_cli import ExpiredError, JobContext, Retry, Taskora, UsageError
from taskora_cli.config import load_config


@pytest.fixture
async def app(redis_url: str, tmp_path: Path, clock: VirtualClock) -> Taskora:
    made = Taskora(redis_url, config=load_config(env={}, cwd=tmp_path), clock=clock)
    yield made
    await made.aclose()


async def test_a_job_not_started_within_its_ttl_expires_and_never_runs(
    app: Taskora, clock: VirtualClock
) -> None:
    ran: list[str] = []

    @app.task("report")
    async def report(data: str) -> None:
        ran.append(data)

    stale = await report.adispatch("stale", ttl="10m")
    many = await report.adispatch_many(["old-1", "old-2"], ttl="10m")
    clock.offset_ms = 11 * 60_000  # eleven minutes pass with no worker
    fresh = await report.adispatch("fresh", ttl="10m")
    worker = await app.start()
    try:
        assert await fresh.aresult(10) is None
        for handle in (stale, *many):
            with pytest.raises(ExpiredError):
                await handle.aresult(10)
            assert await handle.astate() == "expired"
        assert ran == ["fresh"]
    finally:
        await worker.stop()


async def test_a_job_started_within_its_ttl_runs_even_if_it_finishes_later(
    app: Taskora, clock: VirtualClock
) -> None:
    @app.task("slowish")
    async def slowish(data: None) -> str:
        clock.offset_ms = 60 * 60_000  # an hour passes while it runs: too late to expire it
        return "done"

    handle = await slowish.adispatch(ttl="1m")
    worker = await app.start()
    try:
        assert await handle.aresult(10) == "done"
    finally:
        await worker.stop()


async def test_a_delayed_job_expires_if_no_worker_starts_it_within_its_ttl(
    app: Taskora, clock: VirtualClock
) -> None:
    @app.task("later")
    async def later(data: None) -> None:
        raise AssertionError("an expired job must not run")

    handle = await later.adispatch(delay="1m", ttl="5m")
    clock.offset_ms = 6 * 60_000
    worker = await app.start()
    try:
        with pytest.raises(ExpiredError):
            await handle.aresult(10)
        await until(lambda: worker.busy() is False)
    finally:
        await worker.stop()


async def test_a_ttl_must_be_a_positive_duration(app: Taskora) -> None:
    @app.task("t")
    async def t(data: None) -> None: ...

    for bad in (0, "0s", -1, "soon"):
        with pytest.raises(UsageError):
            await t.adispatch(ttl=bad)
    with pytest.raises(UsageError, match="must be longer than the delay"):
        await t.adispatch(delay="10m", ttl="5m")


async def test_a_job_started_in_time_is_retried_after_its_ttl(
    app: Taskora, clock: VirtualClock
) -> None:
    attempts: list[int] = []

    @app.task("flaky", retry=Retry(attempts=2, backoff="fixed", delay="10ms", jitter=False))
    async def flaky(data: None, ctx: JobContext) -> str:
        attempts.append(ctx.attempt)
        if ctx.attempt == 1:
            clock.offset_ms = 60 * 60_000  # the TTL passes before the retry is due
            raise RuntimeError("first attempt fails")
        return "second attempt"

    handle = await flaky.adispatch(ttl="1m")
    worker = await app.start()
    try:
        assert await handle.aresult(10) == "second attempt"
        assert attempts == [1, 2]
    finally:
        await worker.stop()
