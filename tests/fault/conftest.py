"""Fixtures of the fault suite: a project folder, the processes a test starts, server reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_harness import NO_RETENTION, Fleet, Server
from proxy import FaultProxy


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The processes' folder: its taskora.toml keeps every finished job, so all can be counted."""
    (tmp_path / "taskora.toml").write_text(NO_RETENTION)
    return tmp_path


@pytest.fixture
def fleet(root: Path) -> Iterator[Fleet]:
    fleet = Fleet(root)
    try:
        yield fleet
    finally:
        fleet.kill_all()


@pytest.fixture
def server(redis_url: str) -> Iterator[Server]:
    """Reads of the (emptied) session server."""
    reads = Server(redis_url)
    try:
        yield reads
    finally:
        reads.close()


@pytest.fixture
def proxy(redis_url: str) -> Iterator[FaultProxy]:
    """A proxy in front of the session server that the test can cut, slow or black-hole."""
    assert redis_url.startswith("unix://")
    running = FaultProxy(redis_url.removeprefix("unix://")).start()
    try:
        yield running
    finally:
        running.close()
