"""Listeners outside workers, unsubscribing, the worker's own events, and the default error
log (issue 19)."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis.asyncio
from servers import TEST_SERVER
from support import make_app, until

from taskora_cli import Event, JobHandle, UsageError, WorkerEvent

if TYPE_CHECKING:
    from conftest import RestartableValkey


PRODUCER = textwrap.dedent(
    """
    import json, os, sys, threading
    from pathlib import Path
    from taskora_cli import Taskora
    from taskora_cli.config import load_config

    app = Taskora(sys.argv[1], config=load_config(env={}, cwd=Path(sys.argv[2])))

    @app.task("ping")
    def ping(n: int) -> int:
        return n

    heard = threading.Event()
    seen = []

    @ping.on("completed")
    def done(event):
        seen.append(event.as_dict())
        heard.set()

    handle = ping.dispatch(21)
    print("dispatched", handle.id, flush=True)
    assert heard.wait(20), "no completed event"
    threads = sorted(t.name for t in threading.enumerate())
    print(json.dumps({"pid": os.getpid(), "event": seen[0], "threads": threads}), flush=True)
    app.close()
    """
)


async def test_a_process_without_a_worker_hears_completed(redis_url: str, tmp_path: Path) -> None:
    app = make_app(redis_url, tmp_path)

    @app.task("ping")
    def ping(n: int) -> int:
        return n * 2

    worker = await app.start()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", PRODUCER, redis_url, str(tmp_path),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        async with asyncio.timeout(60):
            out, err = await proc.communicate()
        workers = await app.aworkers()
    finally:
        await worker.stop()
        await app.aclose()
    assert proc.returncode == 0, err.decode()
    first, last = out.decode().splitlines()
    report = json.loads(last)
    assert report["event"]["event"] == "completed" and report["event"]["result"] == 42
    assert report["event"]["job"] == first.split()[1]
    # the producer ran no worker: it is not in the registry and has no job threads
    assert report["pid"] not in {w.pid for w in workers}
    assert not [t for t in report["threads"] if t.startswith("taskora-job")]


LATE_PRODUCER = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from taskora_cli import Taskora
    from taskora_cli.config import load_config

    app = Taskora(sys.argv[1], config=load_config(env={}, cwd=Path(sys.argv[2])))

    @app.task("ping")
    def ping(n: int) -> int:
        return n

    @app.task("pong")
    def pong(n: int) -> int:
        return n

    print("first", ping.dispatch(1).result(timeout=20), flush=True)  # connected, no listener
    heard = {"ping": threading.Event(), "pong": threading.Event()}
    ping.on("completed", lambda e: heard[e.task].set())  # added after the first connection
    ping.dispatch(2).result(timeout=20)
    print("ping", heard["ping"].wait(20), flush=True)
    pong.on("completed", lambda e: heard[e.task].set())  # another task, while following
    pong.dispatch(3).result(timeout=20)
    print("pong", heard["pong"].wait(20), flush=True)
    app.close()
    """
)


async def test_a_listener_added_after_connecting_is_heard(redis_url: str, tmp_path: Path) -> None:
    app = make_app(redis_url, tmp_path)

    @app.task("ping")
    def ping(n: int) -> int:
        return n

    @app.task("pong")
    def pong(n: int) -> int:
        return n

    worker = await app.start()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", LATE_PRODUCER, redis_url, str(tmp_path),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        async with asyncio.timeout(90):
            out, err = await proc.communicate()
    finally:
        await worker.stop()
        await app.aclose()
    assert proc.returncode == 0, err.decode()
    assert out.decode().splitlines() == ["first 1", "ping True", "pong True"]


async def test_unsubscribe_and_the_worker_events(redis_url: str, tmp_path: Path) -> None:
    app = make_app(redis_url, tmp_path)

    @app.task("echo")
    async def echo(n: int) -> int:
        return n

    heard: list[int] = []
    worker_events: list[WorkerEvent] = []
    stop_hearing = echo.on("completed", lambda e: heard.append(e.result))
    for name in ("worker:ready", "worker:closing"):
        assert callable(app.on(name, worker_events.append))
    with pytest.raises(UsageError):
        echo.on("worker:ready", print)
    with pytest.raises(UsageError):
        app.on("worker:nope", print)

    @app.on("task:completed")
    async def also(event: Event) -> None:
        heard.append(-event.result)

    worker = await app.start()
    try:
        assert [e.name for e in worker_events] == ["worker:ready"]
        await (await echo.adispatch(1)).aresult(timeout=10)
        await until(lambda: sorted(heard) == [-1, 1])
        stop_hearing()
        stop_hearing()  # twice is harmless
        await (await echo.adispatch(2)).aresult(timeout=10)
        await until(lambda: -2 in heard)
    finally:
        await worker.stop()
        await app.aclose()
    assert sorted(heard) == [-2, -1, 1]
    assert [(e.name, e.worker_id) for e in worker_events] == [
        ("worker:ready", worker.id),
        ("worker:closing", worker.id),
    ]


async def test_the_default_error_log_shows_the_traceback_once_unless_the_task_listens(
    redis_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(redis_url, tmp_path)

    @app.task("loud")
    def loud() -> None:
        raise ValueError("loud failure")

    @app.task("quiet")
    def quiet() -> None:
        raise ValueError("quiet failure")

    failures: list[Event] = []
    quiet.on("failed", failures.append)
    caplog.set_level(logging.WARNING, logger="taskora")
    worker = await app.start()
    try:
        for task in (loud, quiet):
            handle = await task.adispatch()
            await until(lambda h=handle: _failed(h))
        await until(lambda: len(failures) == 1)
    finally:
        await worker.stop()
        await app.aclose()
    text = caplog.text
    assert text.count("loud failure") >= 1
    assert text.count("Traceback (most recent call last)") == 1
    assert 'raise ValueError("loud failure")' in text
    assert "quiet failure" not in text


async def _failed(handle: JobHandle) -> bool:
    return await handle.astate() == "failed"


async def test_worker_error_fires_when_a_background_loop_loses_the_server(
    restartable_valkey: RestartableValkey, tmp_path: Path
) -> None:
    app = make_app(restartable_valkey.url, tmp_path)

    @app.task("idle")
    async def idle() -> None:
        return None

    errors: list[WorkerEvent] = []
    app.on("worker:error", errors.append)
    worker = await app.start()
    try:
        restartable_valkey.stop()
        await until(lambda: bool(errors), timeout=30)
        restartable_valkey.start()
    finally:
        await worker.stop()
        await app.aclose()
    assert errors[0].worker_id == worker.id and errors[0].error is not None


@pytest.mark.skipif(
    TEST_SERVER == "cluster", reason="counts the stream readers in one node's CLIENT LIST"
)
async def test_a_running_worker_hears_a_new_listener_and_stops_reading_when_none_is_left(
    redis_url: str, tmp_path: Path
) -> None:
    app = make_app(redis_url, tmp_path)

    @app.task("echo")
    async def echo(n: int) -> int:
        return n

    probe = redis.asyncio.from_url(redis_url)

    async def stream_readers() -> int:  # the follower's blocking XREAD connection
        return sum(c["cmd"].startswith("xread") for c in await probe.client_list())

    worker = await app.start()  # no job listener: it reads no event stream
    try:
        assert await stream_readers() == 0
        heard: list[int] = []
        stop_hearing = echo.on("completed", lambda e: heard.append(e.result))
        await until(lambda: _equals(stream_readers(), 1))
        await echo.adispatch(7)  # no aresult: its waiter would read the streams too
        await until(lambda: heard == [7])
        stop_hearing()
        await until(lambda: _equals(stream_readers(), 0))
    finally:
        await worker.stop()
        await app.aclose()
        await probe.aclose()


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def test_a_listener_added_while_the_server_refuses_a_read_is_heard_once_it_accepts(
    restartable_valkey: RestartableValkey, tmp_path: Path
) -> None:
    # The worker's first try to follow the new listener's stream fails (the server refuses to
    # read the stream's end): the next try must still follow it, not take it as followed.
    app = make_app(restartable_valkey.url, tmp_path)

    @app.task("pong")
    async def pong(n: int) -> int:
        return n

    admin = redis.asyncio.from_url(restartable_valkey.url, decode_responses=True)

    async def refused_once() -> bool:
        return any(entry.get("object") == "xrevrange" for entry in await admin.acl_log())

    worker = await app.start()
    try:
        await admin.execute_command("ACL", "SETUSER", "default", "-xrevrange")
        heard: list[int] = []
        pong.on("completed", lambda e: heard.append(e.result))
        await until(refused_once)
        await admin.execute_command("ACL", "SETUSER", "default", "+xrevrange")
        assert await asyncio.to_thread(app.runtime.listeners.wait_followed, 20)
        await pong.adispatch(5)
        await until(lambda: heard == [5], timeout=20)
    finally:
        await worker.stop()
        await app.aclose()
        await admin.aclose()
