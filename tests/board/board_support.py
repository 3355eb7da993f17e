"""Helpers of the board tests: the app they serve, an HTTP client on the board (in-process ASGI;
test_live.py also serves it with uvicorn), and a poll with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from taskora_cli import Taskora
from taskora_cli.config import load_config

SECRET = "s" * 40


def make_app(redis_url: str, tmp_path: Path) -> Taskora:
    app = Taskora(redis_url, config=load_config(env={}, cwd=tmp_path))

    @app.task("signup")
    async def signup(data: dict[str, Any], ctx: Any) -> dict[str, Any]:
        ctx.log.info("signing up", user={"name": data["name"], "Password": data["password"]})
        if data.get("fail"):
            raise ValueError(f"no such plan {data['plan']}")
        return {"name": data["name"], "token": "t-123", "nested": [{"api_key": "k"}]}

    @app.task("idle", queue="slow")
    async def idle(data: Any) -> None:
        return None

    return app


@contextlib.asynccontextmanager
async def client(board: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on ``board``, in process; the board's metrics follower (started by a
    scrape) is stopped on the way out, as the board's lifespan does at shutdown."""
    transport = httpx.ASGITransport(app=board)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
    finally:
        await board.state.metrics.aclose()


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    """Poll ``condition`` every 20 ms until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)
