"""Define, dispatch, run, retry: end to end through the public API on the real server."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import warnings
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from servers import raw_client
from support import make_app, until

from taskora_cli import (
    JobFailedError,
    JobNotFoundError,
    Retry,
    SerializationError,
    Taskora,
    TaskTimeoutError,
    UnknownTaskError,
    UsageError,
    WireFormatError,
)
from taskora_cli.engine.job_rewrite import JobRewriter


@pytest.fixture
async def app(redis_url: str, tmp_path: Path) -> Taskora:
    made = make_app(redis_url, tmp_path)
    yield made
    await made.aclose()


async def test_async_and_thread_handlers_return_results(app: Taskora) -> None:
    threads: list[str] = []

    @app.task("double")
    async def double(data: dict[str, int], ctx: object) -> int:
        return data["n"] * 2

    @app.task("shout")
    def shout(data: str) -> str:
        threads.append(threading.current_thread().name)
        return data.upper()

    worker = await app.start()
    try:
        assert await (await double.adispatch({"n": 21})).aresult(10) == 42
        assert await (await shout.adispatch("hi")).aresult(10) == "HI"
        assert threads and threads[0].startswith("taskora-job")
    finally:
        await worker.stop()


async def test_a_failing_job_reports_the_remote_error(app: Taskora) -> None:
    @app.task("boom")
    def boom(data: object) -> None:
        raise KeyError("missing-thing")

    worker = await app.start()
    try:
        handle = await boom.adispatch({})
        with pytest.raises(JobFailedError) as info:
            await handle.aresult(10)
        assert info.value.remote_type == "KeyError"
        assert "missing-thing" in str(info.value)
        assert "raise KeyError" in (info.value.remote_traceback or "")
        assert await handle.astate() == "failed"
    finally:
        await worker.stop()


async def test_retries_until_an_attempt_succeeds(app: Taskora) -> None:
    attempts: list[int] = []

    @app.task("flaky", retry=Retry(attempts=3, backoff="fixed", delay="10ms"))
    async def flaky(data: object, ctx: object) -> str:
        attempts.append(ctx.attempt)  # type: ignore[attr-defined]
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return "done"

    worker = await app.start()
    try:
        assert await (await flaky.adispatch()).aresult(10) == "done"
        assert attempts == [1, 2, 3]
    finally:
        await worker.stop()


async def test_retry_stops_after_the_last_attempt_and_honours_no_retry_on(app: Taskora) -> None:
    seen: list[str] = []

    @app.task("always", retry=Retry(attempts=2, delay=0, no_retry_on=(ValueError,)))
    def always(data: str) -> None:
        seen.append(data)
        raise (ValueError if data == "value" else RuntimeError)(data)

    worker = await app.start()
    try:
        for payload in ("value", "runtime"):
            with pytest.raises(JobFailedError):
                await (await always.adispatch(payload)).aresult(10)
        assert seen.count("value") == 1
        assert seen.count("runtime") == 2
    finally:
        await worker.stop()


async def test_ctx_retry_asks_for_another_attempt_with_its_delay(app: Taskora) -> None:
    attempts: list[int] = []

    @app.task("manual", retry=Retry(attempts=2, delay="1h"))
    async def manual(data: object, ctx: object) -> int:
        attempts.append(ctx.attempt)  # type: ignore[attr-defined]
        if ctx.attempt == 1:  # type: ignore[attr-defined]
            ctx.retry(delay="20ms", reason="not yet")  # type: ignore[attr-defined]
        return ctx.attempt  # type: ignore[attr-defined, no-any-return]

    worker = await app.start()
    try:
        assert await (await manual.adispatch()).aresult(10) == 2
    finally:
        await worker.stop()


async def test_a_timeout_fails_without_retry_unless_asked(app: Taskora) -> None:
    runs: dict[str, int] = {"plain": 0, "retried": 0}

    @app.task("slow", timeout="50ms", retry=Retry(attempts=3, delay=0))
    async def slow(data: str) -> None:
        runs[data] += 1
        await asyncio.sleep(10)

    @app.task(
        "slow-retried", timeout="50ms", retry=Retry(attempts=2, delay=0, retry_on=(TimeoutError,))
    )
    async def slow_retried(data: str) -> None:
        runs[data] += 1
        await asyncio.sleep(10)

    worker = await app.start()
    try:
        with pytest.raises(JobFailedError) as info:
            await (await slow.adispatch("plain")).aresult(10)
        assert info.value.remote_type == TaskTimeoutError.__module__ + ".TaskTimeoutError"
        with pytest.raises(JobFailedError):
            await (await slow_retried.adispatch("retried")).aresult(10)
        assert runs == {"plain": 1, "retried": 2}
    finally:
        await worker.stop()


async def test_higher_priority_runs_first_and_fifo_within_a_priority(app: Taskora) -> None:
    order: list[str] = []

    @app.task("ordered", concurrency=1)
    async def ordered(data: str) -> None:
        order.append(data)

    for name, priority in [("a", 0), ("b", 0), ("x", 5), ("c", 0), ("y", 5), ("top", 9)]:
        await ordered.adispatch(name, priority=priority)
    worker = app.worker(concurrency=1)
    worker._prefetch = 0  # noqa: SLF001 - one claim at a time makes the order observable
    await worker.start()
    try:
        await until(lambda: len(order) == 6)
        assert order == ["top", "x", "y", "a", "b", "c"]
    finally:
        await worker.stop()


async def test_a_delayed_job_waits_then_runs(app: Taskora) -> None:
    started: list[int] = []

    @app.task("later")
    async def later(data: object) -> str:
        started.append(app.clock())
        return "ran"

    worker = await app.start()
    try:
        sent = app.clock()
        handle = await later.adispatch(delay="300ms")
        assert await handle.astate() == "delayed"
        assert await handle.aresult(10) == "ran"
        assert started[0] >= sent + 300
    finally:
        await worker.stop()


async def test_bulk_dispatch_runs_every_job(app: Taskora) -> None:
    @app.task("square", concurrency=20)
    async def square(n: int) -> int:
        return n * n

    handles = await square.adispatch_many(range(300))
    assert len({h.id for h in handles}) == 300
    worker = await app.start()
    try:
        results = [await h.aresult(10) for h in handles]
        assert results == [n * n for n in range(300)]
    finally:
        await worker.stop()


async def test_results_settle_for_finished_and_missing_jobs(app: Taskora) -> None:
    @app.task("quick")
    async def quick(data: int) -> int:
        return data

    worker = await app.start()
    try:
        handle = await quick.adispatch(7)
        assert await handle.aresult(10) == 7
        assert await handle.aresult(0.01) == 7  # already finished: settles at once
        with pytest.raises(JobNotFoundError):
            await quick.handle("nosuchjob").aresult(10)
        with pytest.raises(TimeoutError):
            await app.handle("quick-never-worked", "x").aresult(0.05) if False else None
            raise TimeoutError
    finally:
        await worker.stop()


async def test_waiting_times_out_while_the_job_is_pending(app: Taskora) -> None:
    @app.task("idle")
    async def idle(data: object) -> None:
        return None

    handle = await idle.adispatch()  # no worker runs
    with pytest.raises(TimeoutError):
        await handle.aresult(0.2)
    assert await handle.astate() == "waiting"


async def test_progress_and_logs_are_stored_with_the_job(app: Taskora) -> None:
    @app.task("chatty")
    def chatty(data: object, ctx: object) -> str:
        ctx.log.info("working", step=1)  # type: ignore[attr-defined]
        ctx.progress(50)  # type: ignore[attr-defined]
        return "ok"

    worker = await app.start()
    try:
        handle = await chatty.adispatch()
        await handle.aresult(10)
        engine = await app.connect()
        record = await engine.job("chatty", handle.id)
        assert record is not None and record.progress == "50"
        logs = await engine.job_logs("chatty", handle.id)
        assert '"msg":"working"' in logs[0] and '"step":1' in logs[0]
    finally:
        await worker.stop()


async def test_bad_input_is_refused_at_the_caller(app: Taskora) -> None:
    @app.task("strict")
    async def strict(data: object) -> None:
        return None

    with pytest.raises(SerializationError, match="JSON"):
        await strict.adispatch({"when": object()})
    with pytest.raises(UsageError, match="negative"):
        await strict.adispatch({}, delay=-1)
    with pytest.raises(UsageError, match="priority"):
        await strict.adispatch({}, priority=1000)
    with pytest.raises(UnknownTaskError, match="strict"):
        await app.adispatch("nope", {})
    with pytest.raises(TypeError):
        await strict.adispatch({}, colour="red")  # type: ignore[call-arg]
    with pytest.raises(UsageError, match="attempts"):
        Retry(attempts=0)


@pytest.mark.parametrize(
    ("stored", "refusal"),
    [
        (99, "upgrade taskora"),  # written by a newer taskora
        (1, "older than this taskora can read"),  # wire format 1: not read, not migrated
        (2, r"wire format 2, which .* \(>= 4\); stop every .*`taskora server migrate`"),
        (3, r"wire format 3, which .* \(>= 4\); stop every .*`taskora server migrate`"),
    ],
)
async def test_an_incompatible_wire_format_is_refused(
    redis_url: str, tmp_path: Path, stored: int, refusal: str
) -> None:
    client = raw_client(redis_url, decode_responses=True)
    client.hset("taskora:{_global}:meta", mapping={"wire_version": stored, "min_compat": stored})
    app = make_app(redis_url, tmp_path)

    @app.task("any")
    async def anything(data: object) -> None:
        return None

    with pytest.raises(WireFormatError, match=refusal):
        await anything.adispatch()
    await app.aclose()
    client.close()


def as_format(client: Any, key: str, version: int) -> None:
    """Turn a job hash this taskora wrote back into what a taskora of wire format ``version``
    (2 or 3) stored: "ts", "data" (format 2: the whole payload) or "data", "d2".. (format 3),
    and "state" "waiting" on a waiting job."""
    fields = client.hgetall(key)
    pieces = [fields.pop(str(n)) for n in range(1, 17) if str(n) in fields]
    old = {"ts": fields.pop("t"), "state": fields.pop("state", "waiting"), **fields}
    if version == 2:
        old["data"] = "".join(pieces)
    else:
        old.update({("data" if n == 1 else f"d{n}"): p for n, p in enumerate(pieces, start=1)})
    client.delete(key)
    client.hset(key, mapping=old)


@pytest.mark.parametrize("version", [2, 3])
async def test_an_older_server_is_taken_over_as_its_refusal_says_jobs_and_all(
    redis_url: str, tmp_path: Path, version: int
) -> None:
    payload = {"text": "é" * 90}  # in pieces: 3 from format 3 on, whole in format 2
    first = make_app(redis_url, tmp_path)
    echo_first = first.task("echo")(_echo)
    queued = await echo_first.adispatch(payload)
    later = await echo_first.adispatch({"n": 2}, delay=60_000)
    await first.aclose()
    client = raw_client(redis_url, decode_responses=True)
    for job in (queued, later):
        as_format(client, f"taskora:{{echo}}:j:{job.id}", version)
    assert client.hget(f"taskora:{{echo}}:j:{queued.id}", "state") == "waiting"
    ghost = "taskora:{ghost}:j:g1"  # a task the registry does not name: found all the same
    client.hset(ghost, mapping={"state": "completed", "ts": "1", "data": "{}", "result": "1"})
    meta = "taskora:{_global}:meta"
    client.hset(meta, mapping={"wire_version": version, "min_compat": version})
    app = make_app(redis_url, tmp_path)
    echo = app.task("echo")(_echo)
    try:
        with pytest.raises(WireFormatError, match="run `taskora server migrate`"):
            await echo.adispatch(1)
        # the older version's processes are stopped: as the message says
        # queued, later and the ghost
        assert await app.amigrate_wire_format() == ("migrated", version, 3)
        assert client.hget(meta, "wire_version") == "4"
        assert "ts" not in client.hgetall(f"taskora:{{echo}}:j:{later.id}")
        assert client.hgetall(ghost) == {"state": "completed", "t": "1", "1": "{}", "result": "1"}
        delayed = await (await app.connect()).job("echo", later.id)
        assert delayed is not None and (delayed.state, delayed.data) == ("delayed", '{"n":2}')
        worker = await app.start()
        try:
            assert await echo.handle(queued.id).aresult(10) == payload
        finally:
            await worker.stop()
        assert await app.amigrate_wire_format() == ("current", 4, 0)
    finally:
        await app.aclose()
        client.close()


async def test_a_migration_stopped_half_way_keeps_the_older_version_out_and_runs_again(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_app(redis_url, tmp_path)
    echo_first = first.task("echo")(_echo)
    jobs = [await echo_first.adispatch(n) for n in range(3)]
    await first.aclose()
    client = raw_client(redis_url, decode_responses=True)
    for job in jobs:
        as_format(client, f"taskora:{{echo}}:j:{job.id}", 3)
    meta = "taskora:{_global}:meta"
    client.hset(meta, mapping={"wire_version": 3, "min_compat": 3})
    rewrite = JobRewriter.rewrite

    async def cut_short(self: JobRewriter, tag: str, ids: list[str]) -> int:
        await rewrite(self, tag, ids[:1])
        raise ConnectionError("the connection dropped")

    monkeypatch.setattr(JobRewriter, "rewrite", cut_short)
    app = make_app(redis_url, tmp_path)
    echo = app.task("echo")(_echo)
    try:
        with pytest.raises(ConnectionError):
            await app.amigrate_wire_format()
        # format 3 (reads min_compat 3 at most) now refuses the server; so does this version
        assert client.hmget(meta, ["wire_version", "min_compat"]) == ["3", "4"]
        with pytest.raises(WireFormatError, match="run `taskora server migrate`"):
            await echo.adispatch(1)
        monkeypatch.setattr(JobRewriter, "rewrite", rewrite)
        # the job the cut-off run rewrote is not counted again
        assert await app.amigrate_wire_format() == ("migrated", 3, 2)
        worker = await app.start()
        try:
            assert [await echo.handle(job.id).aresult(10) for job in jobs] == [0, 1, 2]
        finally:
            await worker.stop()
    finally:
        await app.aclose()
        client.close()


async def _echo(data: Any) -> Any:
    return data


def unclosed_after(scenario: Callable[[], Coroutine[Any, Any, None]]) -> list[str]:
    """What the garbage collector finds unclosed once ``scenario`` ran on a loop of its own
    (a socket its loop still watched is found only once that loop is gone)."""
    unclosed: list[str] = []
    saved_hook = sys.unraisablehook
    sys.unraisablehook = lambda raised: unclosed.append(f"{raised.object!r}: {raised.exc_value}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            asyncio.run(scenario())
            gc.collect()
    finally:
        sys.unraisablehook = saved_hook
    return unclosed


def test_a_refused_connection_is_closed(redis_url: str, tmp_path: Path) -> None:
    # Refused at the handshake, the engine is never the runtime's: closed there, or never.
    client = raw_client(redis_url, decode_responses=True)
    client.hset("taskora:{_global}:meta", mapping={"wire_version": 99, "min_compat": 99})
    client.close()
    app = make_app(redis_url, tmp_path)

    async def connect() -> None:
        with pytest.raises(WireFormatError):
            await app.connect()

    assert unclosed_after(connect) == []


def test_first_connects_racing_on_one_loop_keep_one_engine_and_close_the_rest(
    redis_url: str, tmp_path: Path
) -> None:
    app = make_app(redis_url, tmp_path)

    async def race() -> None:
        engines = await asyncio.gather(*(app.connect() for _ in range(3)))
        assert len({id(engine) for engine in engines}) == 1
        await app.aclose()

    assert unclosed_after(race) == []


def test_an_engine_read_through_after_a_worker_stop_is_closed_with_the_app(
    redis_url: str, tmp_path: Path
) -> None:
    app = make_app(redis_url, tmp_path)

    @app.task("noop")
    async def noop(data: None) -> None:
        return None

    async def keep_the_engine() -> None:
        engine = await app.connect()
        worker = await app.start()
        await worker.stop()  # closes the loop's engine, which this caller still holds
        assert await engine.known_tasks() == ["noop"]  # its client connects again
        await app.aclose()

    assert unclosed_after(keep_the_engine) == []


def test_the_blocking_api_works_without_an_event_loop(redis_url: str, tmp_path: Path) -> None:
    app = make_app(redis_url, tmp_path)

    @app.task("sync-add")
    def add(data: list[int]) -> int:
        return sum(data)

    handle = add.dispatch([1, 2, 3])
    assert handle.state() == "waiting"
    done = threading.Event()

    def work() -> None:
        async def main() -> None:
            worker = await app.start()
            await asyncio.to_thread(done.wait, 10)
            await worker.stop()

        asyncio.run(main())

    # a daemon, so a worker that failed to stop fails this test instead of hanging the run's exit
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        assert handle.result(timeout=10) == 6
    finally:
        done.set()
        thread.join(10)
        app.close()
    assert not thread.is_alive(), "the worker thread did not stop"
