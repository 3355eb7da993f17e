"""Fixtures of the job-admin and dispatch-option tests: a fresh app on the session server, run
by a TaskRunner (virtual time on the real engine)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from taskora_cli import Taskora
from taskora_cli.config import load_config
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
