"""Helpers for end-to-end tests: an app on the test server and condition polling."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from taskora_cli import Taskora
from taskora_cli.config import load_config
from taskora_cli.testing import VirtualClock

__all__ = ["CHILD_DEADLINE_S", "VirtualClock", "in_forked_child", "make_app", "until"]


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


CHILD_DEADLINE_S = 20
"""How long a forked child may take before it is deemed hung (it is then ended by SIGALRM)."""


def in_forked_child(work: Callable[[], str]) -> str:
    """Run ``work`` in a forked child and return what it reported: ``ok <its result>``,
    ``error <exception>``, or "" if it had not ended by the deadline (it is then killed)."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, and leave at once (never run the parent's teardown)
        os.close(reader)
        signal.signal(signal.SIGALRM, lambda *_: os._exit(2))
        signal.alarm(CHILD_DEADLINE_S)
        try:
            message = "ok " + work()
        except BaseException as exc:
            message = f"error {exc!r}"
        os.write(writer, message.encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        reported = pipe.read()  # "" once the child is gone without a word
    os.waitpid(pid, 0)
    return reported
