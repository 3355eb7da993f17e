"""The WebSocket gateway end to end: a real client (the ``websockets`` package) talks to
``TaskManager.start(expose=...)`` served by uvicorn, with a worker in this process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from taskora_cli import Taskora
from taskora_cli.config import load_config
from taskora_cli.manager import ManagerContext, ManagerJob, Sdk, TaskManager
from taskora_cli.worker.pool import Worker

TOKEN = "s3cret"


@pytest.fixture
async def manager(tmp_path: Path, redis_url: str) -> AsyncIterator[TaskManager]:
    """A manager with a flaky handler (fails its first attempt) and a gateway on a free port
    with a token."""
    app = Taskora(redis_url, prefix=f"gw-{tmp_path.name}", config=load_config(env={}, cwd=tmp_path))
    tm = TaskManager.init(db=app, processor={"retry": {"max_retries": 5, "retry_delay_ms": 10}})

    async def report(job: ManagerJob, ctx: ManagerContext) -> str:
        ctx.socket.update("started", 0)
        if job.attempt == 1:
            raise RuntimeError("flaky")
        ctx.socket.update({"step": "done"}, 100)
        return "ok"

    tm.register_handler(report, event="report", options={"attempts": 2})
    await tm.astart(expose={"port": 0, "token": TOKEN})
    try:
        yield tm
    finally:
        await tm.aclose()
        await app.aclose()


async def until(condition: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll ``condition`` every 10 ms until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value if isinstance(value, bool) else await value:
            return
        assert time.monotonic() < deadline, f"condition not met within {timeout}s"
        await asyncio.sleep(0.01)


def _url(tm: TaskManager, token: str = TOKEN) -> str:
    assert tm.gateway is not None
    return f"{tm.gateway.url}/?token={token}"


async def _receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await ws.recv())
    return message


async def _until_finished(ws: ClientConnection) -> list[dict[str, Any]]:
    got = []
    while not got or got[-1]["type"] != "task_finished":
        got.append(await _receive(ws))
    return got


async def test_a_client_hears_its_task_update_retry_and_finish_in_order(
    manager: TaskManager,
) -> None:
    async with connect(_url(manager)) as ws:
        await ws.send(json.dumps({"type": "emit", "event": "report", "data": {"n": 1}}))
        emitted = await _receive(ws)
        assert emitted["type"] == "emitted"
        task_id = emitted["taskId"]
        got = await _until_finished(ws)
    assert got == [
        {"type": "task_update", "taskId": task_id, "data": "started", "progress": 0},
        {"type": "task_retry", "taskId": task_id, "error": "flaky", "errorType": "RuntimeError",
         "retryCount": 2},
        {"type": "task_update", "taskId": task_id, "data": "started", "progress": 0},
        {"type": "task_update", "taskId": task_id, "data": {"step": "done"}, "progress": 100},
        {"type": "task_finished", "taskId": task_id, "status": "completed"},
    ]  # fmt: skip


async def test_broadcast_hears_every_task_and_a_plain_client_only_its_own(
    manager: TaskManager,
) -> None:
    url = _url(manager)
    async with (
        connect(url, additional_headers={"x-get-broadcast": "true"}) as watcher,
        connect(url) as bystander,
        connect(url) as emitter,
    ):
        await emitter.send(json.dumps({"type": "emit", "event": "report", "data": {"n": 2}}))
        task_id = (await _receive(emitter))["taskId"]
        await _until_finished(emitter)
        seen = await _until_finished(watcher)
        assert {m["taskId"] for m in seen} == {task_id}
        assert seen[-1]["status"] == "completed"
        # the bystander heard nothing of it: its own next message is its own emit's reply
        await bystander.send(json.dumps({"type": "bogus"}))
        assert (await _receive(bystander))["code"] == "unknown_type"


async def test_bad_messages_get_errors_and_the_connection_stays(manager: TaskManager) -> None:
    async with connect(_url(manager)) as ws:
        await ws.send("{not json")
        assert (await _receive(ws))["code"] == "bad_json"
        await ws.send(json.dumps({"type": "emit", "event": "nobody-handles-this", "id": 7}))
        reply = await _receive(ws)
        assert (reply["code"], reply["id"]) == ("unknown_event", 7)
        await ws.send(json.dumps({"type": "emit", "event": "report", "options": {"nope": 1}}))
        assert (await _receive(ws))["code"] == "bad_request"
        await ws.send(json.dumps({"type": "emit", "event": "report", "data": {"n": 3}}))
        assert (await _receive(ws))["type"] == "emitted"


async def test_a_bad_token_is_refused(manager: TaskManager) -> None:
    async with connect(_url(manager, token="wrong")) as ws:
        assert (await _receive(ws))["code"] == "unauthorized"
        await ws.wait_closed()
        assert ws.close_code == 1008


DOOMED_WORKER = """
import asyncio, sys
from pathlib import Path
from taskora_cli import Taskora
from taskora_cli.config import load_config
from taskora_cli.manager import TaskManager
from taskora_cli.worker.pool import Worker

url, prefix, root = sys.argv[1:4]
app = Taskora(url, prefix=prefix, config=load_config(env={}, cwd=Path(root)))
tm = TaskManager.init(db=app)


async def slow(job, ctx):
    ctx.socket.update("first run", 1)
    await asyncio.sleep(60)


tm.register_handler(slow, event="slow")


async def main():
    worker = Worker(app, app.registry.to_run(["slow"]), lock_ttl_ms=400, heartbeat_ms=100)
    await worker.start()
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_a_killed_workers_task_still_finishes_on_the_socket(
    tmp_path: Path, redis_url: str
) -> None:
    prefix = f"gwk-{tmp_path.name}"
    app = Taskora(redis_url, prefix=prefix, config=load_config(env={}, cwd=tmp_path))
    tm = TaskManager.init(db=app)
    await tm.astart(expose={"port": 0})  # the gateway alone: no worker in this process yet
    doomed = subprocess.Popen(
        [sys.executable, "-c", DOOMED_WORKER, redis_url, prefix, str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        stderr=subprocess.DEVNULL,
    )
    survivor: Worker | None = None
    try:

        async def rerun(job: ManagerJob, ctx: ManagerContext) -> str:
            ctx.socket.update("rerun", job.attempt)
            return "ok"

        tm.register_handler(rerun, event="slow")
        assert tm.gateway is not None
        async with connect(tm.gateway.url) as ws:
            await ws.send(json.dumps({"type": "emit", "event": "slow", "data": {}}))
            task_id = (await _receive(ws))["taskId"]
            assert (await _receive(ws))["data"] == "first run"  # the doomed worker runs it
            doomed.kill()  # SIGKILL: its lock lapses, and the stall sweep recovers the job
            assert doomed.wait(10) == -9
            survivor = Worker(
                app, app.registry.to_run(["slow"]), lock_ttl_ms=400, heartbeat_ms=100,
                stall_interval_ms=100,
            )  # fmt: skip
            await survivor.start()
            got = await _until_finished(ws)
        assert [m["type"] for m in got] == ["task_update", "task_finished"]
        assert got[0]["data"] == "rerun"
        assert got[1] == {"type": "task_finished", "taskId": task_id, "status": "completed"}
    finally:
        if doomed.poll() is None:
            doomed.kill()
        doomed.wait(10)
        if survivor is not None:
            await survivor.stop(1000)
        await tm.aclose()
        await app.aclose()


async def test_a_client_gone_mid_task_leaves_nothing_behind(manager: TaskManager) -> None:
    assert manager.gateway is not None
    hub = manager.gateway.gateway.hub
    async with connect(_url(manager)) as ws:
        await ws.send(json.dumps({"type": "emit", "event": "report", "data": {"n": 4}}))
        task_id = (await _receive(ws))["taskId"]
        assert any(job == task_id for _, job in hub.routes)
    await until(lambda: not hub.connections and not hub.routes)  # its routes went with it
    sdk = Sdk(manager.app)

    async def completed() -> bool:
        document = await sdk.aget_job(task_id, "default")
        return document is not None and document["status"] == "completed"

    await until(completed)  # and the job ran on as any other
