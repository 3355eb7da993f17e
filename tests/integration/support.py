"""Helpers for end-to-end tests: an app on the test server and condition polling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from taskora_cli import Taskora
from taskora_cli.config import load_config
from taskora_cli.testing import VirtualClock

__all__ = ["VirtualClock", "make_app", "until"]


def make_app(url: str, tmp: Path) -> Taskora:
    """An app on ``url`` whose configuration ignores the environment and any file."""
    return Taskora(url, config=load_config(env={}, cwd=tmp))


async def until(condition: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll ``condition`` every 10 ms until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if not isinstance(value, bool):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.01)
