"""Fixtures of the end-to-end tests (the servers come from tests/conftest.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from support import VirtualClock


@pytest.fixture
def clock() -> VirtualClock:
    """The real time plus what the test moves (``offset_ms``, ``advance``): real workers wait
    on it, so it ticks."""
    return VirtualClock(ticking=True)


@pytest.fixture
def spawn() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Worker processes the test starts; any still alive at teardown are killed, and the pipes
    the test opened to them closed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
