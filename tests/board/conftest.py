"""Fixtures of the board tests: an app on the test server (helpers in board_support.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from board_support import make_app

from taskora_cli import Taskora


@pytest.fixture
async def app(redis_url: str, tmp_path: Path) -> AsyncIterator[Taskora]:
    made = make_app(redis_url, tmp_path)
    yield made
    await made.aclose()
