"""A long-lived producer whose server went away: the embedded one is restarted, a configured
one fails fast with our ServerError, never a redis-py exception."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from taskora_cli import Taskora
from taskora_cli.config import load_config
from taskora_cli.engine.embedded import embedded_status, ensure_embedded, stop_embedded
from taskora_cli.engine.engine import Engine
from taskora_cli.engine.scripts import Script
from taskora_cli.engine.wire import Wire
from taskora_cli.errors import ServerError


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A project folder whose embedded server (in ./.taskora) is the test's own."""
    try:
        yield tmp_path
    finally:
        stop_embedded(tmp_path / ".taskora")


def producer(url: str | None, cwd: Path) -> Taskora:
    app = Taskora(url, config=load_config(env={}, cwd=cwd))

    @app.task("echo")
    def echo(data: str) -> str:
        return data

    return app


def kill_server(state_dir: Path) -> int:
    pid = embedded_status(state_dir).pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    return pid


def test_a_producer_restarts_its_killed_embedded_server_and_dispatches(project: Path) -> None:
    app = producer(None, project)
    try:
        app.dispatch("echo", "before")
        killed = kill_server(project / ".taskora")
        second = app.dispatch("echo", "after")  # the same app, engine and connections

        status = embedded_status(project / ".taskora")
        assert status.running and status.pid not in (None, killed)
        # Only the job dispatched after the restart is checked: one dispatched just before a
        # kill -9 may be lost under appendfsync everysec (tests/fault measures that bound).
        assert second.state() == "waiting"
    finally:
        app.close()


async def test_async_producers_restart_a_killed_embedded_server_once(project: Path) -> None:
    # Two apps (two connections) fail at once: one of them restarts the server, the other
    # finds it up again and no second server is started over the first.
    apps = [producer(None, project) for _ in range(2)]
    try:
        for app in apps:
            await app.get_task("echo").adispatch("warm-up")
        started_before = servers_started(project / ".taskora")
        killed = kill_server(project / ".taskora")

        handles = await asyncio.gather(*(app.get_task("echo").adispatch("x") for app in apps))
        assert [await h.astate() for h in handles] == ["waiting", "waiting"]
        assert embedded_status(project / ".taskora").pid not in (None, killed)
        assert servers_started(project / ".taskora") == started_before + 1
    finally:
        for app in apps:
            await app.aclose()


def servers_started(state_dir: Path) -> int:
    """How many servers started in ``state_dir`` so far: each logs that it is ready once."""
    log = (state_dir / "valkey.log").read_text(errors="replace")
    return log.count("Ready to accept connections")


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_configured_url_that_is_down_fails_with_server_error_naming_it(tmp_path: Path) -> None:
    port = unused_port()
    app = producer(f"redis://ann:s3cret@127.0.0.1:{port}/0", tmp_path)
    try:
        with pytest.raises(ServerError) as failed:
            app.dispatch("echo", "x")
    finally:
        app.close()
    message = str(failed.value)
    assert f"redis://ann:****@127.0.0.1:{port}/0" in message
    assert "s3cret" not in message
    assert not isinstance(failed.value, redis.RedisError)


def test_an_embedded_server_stopped_on_purpose_is_not_restarted_behind_the_users_back(
    project: Path,
) -> None:
    app = producer(None, project)
    try:
        app.dispatch("echo", "before")
        assert stop_embedded(project / ".taskora")
        with pytest.raises(ServerError, match="taskora server start"):
            app.dispatch("echo", "after")
        assert not embedded_status(project / ".taskora").running
    finally:
        app.close()


def test_a_configured_server_that_died_under_a_producer_is_a_server_error(
    project: Path, tmp_path: Path
) -> None:
    # Started by another process: to this one it is a configured URL, not its embedded
    # default, so it is reported rather than restarted.
    state_dir = project / ".taskora"
    started = subprocess.run(
        [sys.executable, "-c", START, str(state_dir)], capture_output=True, text=True, check=True
    )
    app = producer(started.stdout.strip(), tmp_path / "elsewhere")
    try:
        app.dispatch("echo", "before")
        kill_server(state_dir)
        with pytest.raises(ServerError, match="cannot reach the server at unix://") as failed:
            app.dispatch("echo", "after")
        assert not isinstance(failed.value, redis.RedisError)
        assert not embedded_status(state_dir).running
    finally:
        app.close()


START = """
import sys
from pathlib import Path
from taskora_cli.engine.embedded import ensure_embedded
print(ensure_embedded(Path(sys.argv[1])))
"""


NEVER_LOADED = Script("never_loaded", "return 1", "0" * 40)
"""Its SHA is not its source's: loading it never makes EVALSHA find it, as when the server
restarts again between SCRIPT LOAD and the EVALSHA after it."""


async def test_a_script_still_unknown_after_loading_it_is_a_server_error(project: Path) -> None:
    url = ensure_embedded(project / ".taskora")
    engine = Engine(url)
    try:
        assert engine.runner.wire is not None
        with pytest.raises(ServerError, match="even after loading it") as on_wire:
            await engine.runner.wire.evalsha(NEVER_LOADED, [], [])
        with pytest.raises(ServerError, match="even after loading it") as on_client:
            await NEVER_LOADED(engine.client, [], [])
    finally:
        await engine.close()
    for failed in (on_wire, on_client):
        assert not isinstance(failed.value, redis.RedisError)


def test_a_restart_that_cannot_write_its_config_is_a_server_error(project: Path) -> None:
    app = producer(None, project)
    try:
        app.dispatch("echo", "before")
        kill_server(project / ".taskora")
        conf = project / ".taskora" / "valkey.conf"
        conf.unlink()
        conf.mkdir()  # writing the config now fails with an OSError
        with pytest.raises(ServerError) as failed:
            app.dispatch("echo", "after")
        assert not isinstance(failed.value, OSError)
    finally:
        app.close()


async def test_a_closed_connection_does_not_restart_a_dead_embedded_server(project: Path) -> None:
    url = ensure_embedded(project / ".taskora")
    wire = Wire(url)
    await wire.call("PING")
    kill_server(project / ".taskora")
    await wire.close()
    with pytest.raises(ServerError):
        await wire.call("PING")
    assert not embedded_status(project / ".taskora").running
