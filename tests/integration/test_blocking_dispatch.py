"""The blocking ``task.dispatch()`` runs on the caller's thread over a lean connection of its
own (engine/blocking_runner.py): safe from many threads at once, in a forked child and its
parent alike, and as clear as the async path when the server is gone or restarts."""

from __future__ import annotations

import asyncio
import importlib
import socket
import subprocess
import sys
import textwrap
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redis
from servers import TEST_SERVER
from support import CHILD_DEADLINE_S, in_forked_child, make_app

from taskora_cli import Taskora
from taskora_cli.config import Config
from taskora_cli.engine import keys as k
from taskora_cli.engine.steps import Driver, SendPipeline, Steps
from taskora_cli.errors import ServerError
from taskora_cli.task import Task

if TYPE_CHECKING:
    from conftest import RestartableValkey

pytestmark = pytest.mark.skipif(
    TEST_SERVER == "cluster",
    reason="the blocking lean connection serves standalone servers; on a cluster blocking calls "
    "go through the engine's loop, which routes by slot",
)


def producer(url: str) -> Taskora:
    app = Taskora(config=Config(url=url))

    @app.task("echo")
    def echo(data: object) -> object:
        return data

    return app


@pytest.fixture
def app(redis_url: str) -> Iterator[Taskora]:
    made = producer(redis_url)
    try:
        yield made
    finally:
        made.close()


def waiting_ids(url: str) -> set[str]:
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        return set(client.lrange(k.TaskKeys("", "echo").wait, 0, -1))
    finally:
        client.close()


def test_a_blocking_dispatch_needs_no_background_loop(app: Taskora, redis_url: str) -> None:
    task = app.get_task("echo")
    assert isinstance(task, Task)
    first, second = task.dispatch({"n": 1}), task.dispatch({"n": 2}, priority=0)
    assert first.enqueued and second.enqueued
    assert waiting_ids(redis_url) == {first.id, second.id}
    assert app.runtime.registered == {"echo"}  # registered once, on the first dispatch


def test_threads_dispatch_at_once_each_on_its_own_connection(app: Taskora, redis_url: str) -> None:
    task = app.get_task("echo")
    start = threading.Barrier(4)
    ids: list[list[str]] = [[] for _ in range(4)]
    errors: list[BaseException] = []

    def produce(slot: int) -> None:
        try:
            start.wait()
            ids[slot] += [task.dispatch({"slot": slot, "i": i}).id for i in range(50)]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=produce, args=(slot,)) for slot in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    every = {job_id for slot in ids for job_id in slot}
    assert len(every) == 200
    assert waiting_ids(redis_url) == every


def test_a_forked_child_and_its_parent_both_dispatch(app: Taskora, redis_url: str) -> None:
    task = app.get_task("echo")
    before = task.dispatch("parent, before the fork")  # the parent's connection is open
    reported = in_forked_child(lambda: task.dispatch("child").id)
    assert reported.startswith("ok "), reported
    # the child closed its copy of the connection: the parent's own still serves
    after = task.dispatch("parent, after the fork")
    assert waiting_ids(redis_url) == {before.id, reported[3:], after.id}


def test_a_child_forked_while_another_thread_connects_dispatches(
    app: Taskora, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another thread of the parent is making the app's first connection, in the middle of
    # importing a module (as the first connection imports the engine's), when the process
    # forks: the child has no such thread to release the runtime's connect lock or the
    # module's import lock, and must connect on its own all the same.
    gate = types.SimpleNamespace(connecting=threading.Event())
    monkeypatch.setitem(sys.modules, "fork_gate", gate)
    (tmp_path / "slow_to_import.py").write_text(
        "import threading, fork_gate\n"
        "fork_gate.connecting.set()\n"
        "threading.Event().wait(0.5)  # the fork happens meanwhile (or waits for this)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "slow_to_import", raising=False)
    resolve = app.runtime.resolve_url

    def resolve_importing() -> str:
        importlib.import_module("slow_to_import")
        return resolve()

    monkeypatch.setattr(app.runtime, "resolve_url", resolve_importing)
    task = app.get_task("echo")
    first = threading.Thread(target=task.dispatch, args=("parent's thread",))
    first.start()
    try:
        assert gate.connecting.wait(CHILD_DEADLINE_S)
        reported = in_forked_child(lambda: task.dispatch("child").id)
    finally:
        first.join()
    assert reported.startswith("ok "), reported or "the child's dispatch never ended"
    assert reported[3:] in waiting_ids(redis_url)


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_server_is_one_clear_server_error(
    capfd: pytest.CaptureFixture[str],
) -> None:
    port = unused_port()
    app = producer(f"redis://127.0.0.1:{port}/0")
    try:
        with pytest.raises(
            ServerError, match=f"cannot reach the server at redis://127.0.0.1:{port}"
        ) as failed:
            app.get_task("echo").dispatch("x")
    finally:
        app.close()
    assert not isinstance(failed.value, redis.RedisError)
    assert capfd.readouterr().err == ""  # no traceback or warning printed on the way


def test_a_dispatch_rides_out_a_server_restart(
    restartable_valkey: RestartableValkey, capfd: pytest.CaptureFixture[str]
) -> None:
    # Stopped on purpose, the server is not restarted behind the user's back: the dispatch
    # fails with our error, and once it is up again the same app dispatches on.
    app = producer(restartable_valkey.url)
    try:
        task = app.get_task("echo")
        task.dispatch("before")
        restartable_valkey.stop()
        with pytest.raises(ServerError) as failed:
            task.dispatch("while down")
        assert not isinstance(failed.value, redis.RedisError)
        restartable_valkey.start()
        after = task.dispatch("after")
        assert after.enqueued
        assert after.id in waiting_ids(restartable_valkey.url)
    finally:
        app.close()
    assert "Traceback" not in capfd.readouterr().err


def test_a_flushed_script_cache_is_loaded_again(app: Taskora, redis_url: str) -> None:
    task = app.get_task("echo")
    task.dispatch("loads the script")
    client = redis.Redis.from_url(redis_url)
    try:
        client.script_flush()
    finally:
        client.close()
    assert task.dispatch("after SCRIPT FLUSH").enqueued  # NOSCRIPT: loaded, then run


def test_dispatch_many_runs_on_the_callers_thread_too(app: Taskora, redis_url: str) -> None:
    handles = app.get_task("echo").dispatch_many([{"i": i} for i in range(5)])
    assert all(h.enqueued for h in handles)
    assert waiting_ids(redis_url) == {h.id for h in handles}


def test_a_refused_command_in_a_pipeline_leaves_the_connection_in_step(
    app: Taskora, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        client.set("a-string", "x")
        client.rpush("a-list", "first")
    finally:
        client.close()

    def pipelined(_driver: Driver) -> Steps[list[Any]]:
        replies: list[Any] = yield SendPipeline((("LLEN", "a-list"), ("LLEN", "a-string")))
        return replies

    def read(_driver: Driver) -> Steps[list[Any]]:
        replies: list[Any] = yield SendPipeline((("LRANGE", "a-list", 0, -1), ("GET", "a-string")))
        return replies

    with pytest.raises(ServerError, match="WRONGTYPE"):
        app.runtime.drive(pipelined)
    assert app.runtime.drive(read) == [["first"], "x"]  # its own replies, not the refused one's
    assert app.inspect().stats().total.waiting == 0  # the views' reads on the same connection


def test_a_closed_app_connects_again_on_the_next_dispatch(app: Taskora, redis_url: str) -> None:
    task = app.get_task("echo")
    task.dispatch("first")
    app.close()
    assert task.dispatch("second").enqueued
    assert len(waiting_ids(redis_url)) == 2


def test_a_dispatch_tells_apart_a_path_that_is_no_server(tmp_path: Path) -> None:
    app = producer(f"unix://{tmp_path / 'nothing.sock'}")
    try:
        with pytest.raises(ServerError, match="cannot reach the server"):
            app.get_task("echo").dispatch("x")
    finally:
        app.close()


BLOCKING_PRODUCER = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from taskora_cli import Taskora
    from taskora_cli.config import load_config

    app = Taskora(sys.argv[1], config=load_config(env={}, cwd=Path(sys.argv[2])))

    @app.task("ping")
    def ping(n: int) -> int:
        return n

    ping.dispatch(1)  # connected (blocking only), no listener yet
    heard = threading.Event()
    ping.on("completed", lambda event: heard.set())  # starts following the events
    ping.dispatch(2)
    print("heard", heard.wait(20), flush=True)
    app.close()
    """
)


async def test_a_listener_added_after_a_blocking_dispatch_is_heard(
    redis_url: str, tmp_path: Path
) -> None:
    app = make_app(redis_url, tmp_path)

    @app.task("ping")
    def ping(n: int) -> int:
        return n

    worker = await app.start()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", BLOCKING_PRODUCER, redis_url, str(tmp_path),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        async with asyncio.timeout(60):
            out, err = await proc.communicate()
    finally:
        await worker.stop()
        await app.aclose()
    assert proc.returncode == 0, err.decode()
    assert out.decode().split() == ["heard", "True"]
