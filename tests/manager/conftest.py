"""Fixtures of the TaskManager tests: a fresh app on the session server, run by a TaskRunner
(virtual time on the real engine), and the process's one manager on it, closed after."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from taskora_cli import Taskora
from taskora_cli.config import load_config
from taskora_cli.manager import TaskManager
from taskora_cli.testing import TaskRunner


@pytest.fixture
def app(tmp_path: Path) -> Taskora:
    """An app whose configuration ignores the environment and any file."""
    return Taskora(config=load_config(env={}, cwd=tmp_path))


@pytest.fixture
def runner(app: Taskora, redis_url: str) -> Iterator[TaskRunner]:
    """A runner of ``app`` on the session server (the suite's, not the toolkit's private one)."""
    with TaskRunner(app, url=redis_url) as made:
        yield made


@pytest.fixture
def make_manager(app: Taskora) -> Iterator[Callable[..., TaskManager]]:
    """``make_manager(**init_options)``: the process's manager on ``app`` (closed after the
    test, so the next test may init another)."""
    made: list[TaskManager] = []

    def make(**options: Any) -> TaskManager:
        manager = TaskManager.init(db=app, **options)
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.close()
