"""Fixtures shared by the whole suite: real embedded Valkey servers, never mocks."""

from __future__ import annotations

import contextlib
import importlib
import os
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

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


@pytest.fixture
def redis_url(valkey_url: str) -> str:
    """The session server, emptied so each test starts from nothing."""
    client = redis.Redis.from_url(valkey_url)
    try:
        client.flushall()
    finally:
        client.close()
    return valkey_url


@pytest.fixture
def restartable_valkey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestartableValkey]:
    """A running server in its own state dir, for tests that restart it; stopped at teardown."""
    server = RestartableValkey(tmp_path_factory.mktemp("restartable"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
