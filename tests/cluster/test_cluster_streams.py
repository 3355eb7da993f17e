"""The gateway hub and the board's live stream follow tasks on every master of a cluster (a
cluster refuses one XREAD of streams in different slots: both read through the engine's
per-slot :func:`~taskora_cli.engine.cluster.read_streams`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cluster_support import tasks_on_every_master
from servers import LocalCluster
from support import make_app, until

from taskora_cli import Taskora
from taskora_cli.board.context import BoardContext
from taskora_cli.board.live import Live
from taskora_cli.board.redaction import Redactor
from taskora_cli.board.settings import BoardSettings
from taskora_cli.gateway.hub import Connection, Hub


@pytest.fixture
async def app(
    valkey_cluster: LocalCluster, redis_url: str, tmp_path: Path
) -> AsyncIterator[Taskora]:
    """An app on the cluster knowing three tasks, one on each master."""
    app = make_app(valkey_cluster.url, tmp_path)
    for name in tasks_on_every_master(valkey_cluster):
        app.task(name)(lambda: None)
    try:
        yield app
    finally:
        await app.aclose()


async def announce(app: Taskora, tasks: list[str]) -> None:
    """A progress entry on each task's event stream (job ``<task>-1``)."""
    engine = await app.runtime.engine()
    for task in tasks:
        await engine.set_progress(task, f"{task}-1", "50")


async def test_the_gateway_hub_hears_tasks_on_every_master(app: Taskora) -> None:
    tasks = sorted(app.registry.tasks)
    heard: set[str] = set()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            heard.add(json.loads(message["text"])["taskId"])

    hub = Hub(app)
    await hub.start()  # follows the known tasks' streams from their ends
    conn = Connection(send, broadcast=True)
    hub.attach(conn)
    pump = asyncio.create_task(conn.pump())
    try:
        await announce(app, tasks)
        await until(lambda: heard == {f"{task}-1" for task in tasks})
    finally:
        await hub.stop()
        await pump


async def test_the_board_stream_shows_events_of_tasks_on_every_master(app: Taskora) -> None:
    tasks = sorted(app.registry.tasks)
    settings = BoardSettings(stats_interval_s=0.5)
    frames = Live(BoardContext(app, settings, Redactor(()))).frames()
    seen: set[str] = set()

    async def read() -> None:
        async for text in frames:
            kind, _, data = text.partition("\ndata: ")
            if kind == "event: job":
                seen.add(json.loads(data)["task"])
                if seen == set(tasks):
                    return

    reading = asyncio.create_task(read())
    try:
        # the stream follows from when it starts reading: announce until every task is heard
        async with asyncio.timeout(20):
            while not reading.done():
                await announce(app, tasks)
                await asyncio.wait({reading}, timeout=0.2)
        reading.result()
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
        await frames.aclose()
