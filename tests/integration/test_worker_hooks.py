"""``@app.on_startup`` / ``@app.on_shutdown`` in an in-process worker (issue 19)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from servers import TEST_SERVER, ServerProcess, free_ports, valkey_binary
from support import make_app

from taskora_cli import JobContext, ServerError, UsageError


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


@pytest.mark.skipif(TEST_SERVER != "embedded", reason="starts a server of its own")
async def test_a_start_refused_after_claiming_began_stops_what_it_started(
    tmp_path: Path,
) -> None:
    # An ACL that lets the worker read its registry record but not write it: the start is
    # refused only after its runners began claiming. It must not leave them running.
    acl = [
        "--user", "default", "on", "nopass", "resetkeys", "~taskora:{_global}:meta",
        "~taskora:{_global}:tasks", "~taskora:{_global}:contracts", "~taskora:{_global}:paused",
        "%R~taskora:{_global}:worker*", "~taskora:{_schedules}*", "~taskora:{s}*", "&*", "+@all",
    ]  # fmt: skip
    server = ServerProcess(valkey_binary(), free_ports(1)[0], tmp_path / "server", acl)
    server.start()
    app = make_app(server.url, tmp_path)
    calls: list[str] = []

    @app.on_shutdown
    async def disconnect() -> None:
        calls.append("disconnect")

    @app.task("s")
    async def s(n: int) -> int:
        return n

    try:
        with pytest.raises(ServerError):
            await app.start()
        assert calls == ["disconnect"]  # the start-up hooks' resources are taken down
        left = [t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert [name for name in left if name.startswith("taskora")] == []
    finally:
        await app.aclose()
        server.stop()
