"""``@app.on_startup`` / ``@app.on_shutdown`` in an in-process worker (issue 19)."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from support import make_app

from taskora_cli import JobContext, UsageError


async def test_hooks_build_state_that_thread_and_async_handlers_read(
    redis_url: str, tmp_path: Path
) -> None:
    app = make_app(redis_url, tmp_path)
    calls: list[str] = []

    @app.on_startup
    def connect(state: SimpleNamespace) -> None:  # a plain hook runs in a thread
        calls.append("connect")
        state.client = {"thread": threading.get_ident()}

    @app.on_startup
    async def warm() -> None:  # no argument is fine too
        calls.append("warm")

    @app.on_shutdown
    async def disconnect(state: SimpleNamespace) -> None:
        calls.append(f"disconnect {sorted(state.client)}")

    @app.task("in-thread")
    def in_thread(n: int, ctx: JobContext) -> bool:
        return ctx.state.client is not None

    @app.task("in-loop")
    async def in_loop(n: int, ctx: JobContext) -> int:
        return ctx.state.client["thread"]

    with pytest.raises(UsageError):
        app.on_startup(lambda a, b: None)

    worker = await app.start()
    try:
        assert calls == ["connect", "warm"]
        assert await (await in_thread.adispatch(1)).aresult(timeout=10) is True
        assert (
            await (await in_loop.adispatch(1)).aresult(timeout=10)
            == (worker.state.client["thread"])
        )
    finally:
        await worker.stop()
        await app.aclose()
    assert calls == ["connect", "warm", "disconnect ['thread']"]
