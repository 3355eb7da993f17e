"""The embedded Valkey server against the real binary: start, reuse, share, persist, fail."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from taskora_cli.engine.embedded import (
    embedded_status,
    embedded_url,
    ensure_embedded,
    stop_embedded,
)
from taskora_cli.errors import EmbeddedServerError

ROOT = Path(__file__).resolve().parents[2]

# Each child waits for the "go" file so all of them race for the lock at once.
RACER = """
import sys, time
from pathlib import Path
from taskora_cli.engine.embedded import embedded_status, ensure_embedded
state_dir, go = Path(sys.argv[1]), Path(sys.argv[2])
while not go.exists():
    time.sleep(0.005)
ensure_embedded(state_dir)
print(embedded_status(state_dir).pid)
"""


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "state"
    try:
        yield path
    finally:
        stop_embedded(path)


def ping(url: str) -> bool:
    client = redis.Redis.from_url(url)
    try:
        return bool(client.ping())
    finally:
        client.close()


def servers_on(sock: Path) -> list[str]:
    # The server's process title names its socket, which tells our servers from any other.
    found = subprocess.run(["pgrep", "-f", f"unixsocket:{sock}"], capture_output=True, text=True)
    return found.stdout.split()


def test_ensure_starts_a_server_on_demand_and_returns_a_working_url(state_dir: Path) -> None:
    assert not embedded_status(state_dir).running

    url = ensure_embedded(state_dir)

    assert url == embedded_url(state_dir) == f"unix://{state_dir / 'valkey.sock'}"
    assert ping(url)
    meta = json.loads((state_dir / "server.json").read_text())
    assert meta["pid"] == embedded_status(state_dir).pid
    assert meta["socket"] == str(state_dir / "valkey.sock")
    assert meta["version"] and meta["started_at"]


def test_a_second_call_reuses_the_running_server(state_dir: Path) -> None:
    ensure_embedded(state_dir)
    first = embedded_status(state_dir).pid

    ensure_embedded(state_dir)

    assert embedded_status(state_dir).pid == first


def test_processes_starting_at_once_share_exactly_one_server(state_dir: Path) -> None:
    go = state_dir.parent / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(state_dir), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    go.touch()
    results = [racer.communicate(timeout=60) for racer in racers]

    assert [racer.returncode for racer in racers] == [0] * 4, results
    pids = {out.strip() for out, _ in results}
    assert len(pids) == 1
    assert servers_on(state_dir / "valkey.sock") == list(pids)


def test_data_survives_stop_and_start(state_dir: Path) -> None:
    client = redis.Redis.from_url(ensure_embedded(state_dir))
    try:
        client.rpush("queue", "job-1", "job-2")
    finally:
        client.close()
    first = embedded_status(state_dir).pid

    assert stop_embedded(state_dir) is True
    assert not embedded_status(state_dir).running
    client = redis.Redis.from_url(ensure_embedded(state_dir))
    try:
        assert client.lrange("queue", 0, -1) == [b"job-1", b"job-2"]
    finally:
        client.close()
    assert embedded_status(state_dir).pid != first


def test_stop_returns_false_when_nothing_runs(state_dir: Path) -> None:
    assert stop_embedded(state_dir) is False
    assert not state_dir.exists()  # stopping never creates the state dir

    ensure_embedded(state_dir)
    assert stop_embedded(state_dir) is True
    assert stop_embedded(state_dir) is False
    assert not (state_dir / "server.json").exists()


def test_status_describes_a_running_server_and_a_stopped_one(state_dir: Path) -> None:
    ensure_embedded(state_dir)

    status = embedded_status(state_dir)

    assert status.running
    assert status.state_dir == state_dir.resolve()
    assert status.socket == state_dir / "valkey.sock"
    assert status.log == state_dir / "valkey.log" and status.log.exists()
    assert isinstance(status.pid, int) and status.pid > 0
    assert status.version and status.version[0].isdigit()
    assert status.used_memory_human
    assert status.aof_enabled is True

    stop_embedded(state_dir)
    stopped = embedded_status(state_dir)

    assert not stopped.running
    assert (stopped.pid, stopped.version, stopped.used_memory_human) == (None, None, None)
    assert stopped.aof_enabled is None


def test_a_long_state_dir_gets_a_short_socket_elsewhere(tmp_path: Path) -> None:
    long_dir = tmp_path / ("a" * 60) / ("b" * 60)
    assert len(str(long_dir / "valkey.sock")) > 107
    try:
        url = ensure_embedded(long_dir)

        sock = embedded_status(long_dir).socket
        assert url == f"unix://{sock}"
        assert len(str(sock)) < 100 and long_dir not in sock.parents
        assert ping(url)
        assert json.loads((long_dir / "server.json").read_text())["socket"] == str(sock)
        assert ensure_embedded(long_dir) == url  # every caller derives the same path
    finally:
        stop_embedded(long_dir)


def test_a_stale_socket_file_is_removed_and_a_server_started(state_dir: Path) -> None:
    state_dir.mkdir()
    sock = state_dir / "valkey.sock"
    # Binding and closing leaves the socket file behind with nothing listening.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as leftover:
        leftover.bind(str(sock))

    assert ping(ensure_embedded(state_dir))


def test_a_state_dir_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "state"
    not_a_dir.write_text("")

    with pytest.raises(EmbeddedServerError, match="is not a directory"):
        ensure_embedded(not_a_dir)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_an_unwritable_state_dir_is_a_clear_error(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(EmbeddedServerError, match="cannot use state directory"):
            ensure_embedded(tmp_path / "state")
    finally:
        tmp_path.chmod(0o700)


def test_a_server_that_dies_at_startup_is_an_error_quoting_its_log(state_dir: Path) -> None:
    (state_dir / "appendonlydir").mkdir(parents=True)
    (state_dir / "appendonlydir" / "appendonly.aof.manifest").write_text("not a manifest\n")

    with pytest.raises(EmbeddedServerError) as caught:
        ensure_embedded(state_dir)

    message = str(caught.value)
    assert str(state_dir / "valkey.log") in message
    assert "manifest" in message.lower()  # the server's own words from the log
    assert "exited during startup" in message
    assert servers_on(state_dir / "valkey.sock") == []
