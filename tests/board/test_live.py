"""The board served by a real uvicorn server: the SSE stream shows a job completing, and
/metrics parses with prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpx
import pytest
import uvicorn
from board_support import until
from prometheus_client.parser import text_string_to_metric_families

from taskora_cli import ServerError, Taskora
from taskora_cli.board import MASK, create_board
from taskora_cli.engine.events import Events, Follower, RawEvent


@pytest.fixture
async def served(app: Taskora) -> AsyncIterator[str]:
    """The board on uvicorn, on a free port of 127.0.0.1; its base URL."""
    board = create_board(app, base_path="/board", redact=["token"], stats_interval_s=0.5)
    config = uvicorn.Config(board, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    running = asyncio.create_task(server.serve())
    await until(lambda: _started(server, running))
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await running


async def _started(server: uvicorn.Server, running: asyncio.Task[None]) -> bool:
    if running.done():
        running.result()  # a failed start fails the test with its error
    return server.started


async def test_the_stream_shows_a_completed_job_and_stats(app: Taskora, served: str) -> None:
    worker = await app.start(["signup"])
    try:
        async with (
            httpx.AsyncClient(base_url=served, timeout=10) as http,
            http.stream("GET", "/board/api/events") as stream,
        ):
            assert stream.headers["content-type"].startswith("text/event-stream")
            frames = _frames(stream.aiter_lines())
            kind, first = await anext(frames)
            assert kind == "stats" and "tasks" in first
            handle = await app.adispatch("signup", {"name": "cy", "password": "pw", "plan": "x"})
            seen: list[dict[str, Any]] = []
            async with asyncio.timeout(15):
                async for kind, data in frames:
                    if kind == "job" and data["job"] == handle.id:
                        seen.append(data)
                        if data["event"] == "completed":
                            break
            assert seen[-1]["result"] == {"name": "cy", "token": MASK, "nested": [{"api_key": "k"}]}
            assert seen[-1]["task"] == "signup"
    finally:
        await worker.stop()


async def test_every_event_after_the_first_frame_is_shown(
    app: Taskora, served: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stream's follower learns where the streams end only after the job below completed
    # (or after a second): a frame sent before that point would lose the job's events.
    completed = asyncio.Event()
    latest_ids = Events.latest_ids

    async def late(self: Events, tasks: Iterable[str]) -> dict[str, str]:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await completed.wait()
        return await latest_ids(self, tasks)

    monkeypatch.setattr(Events, "latest_ids", late)
    worker = await app.start(["signup"])
    try:
        async with _job_frames(served) as frames:
            kind, _ = await anext(frames)
            assert kind == "stats"
            handle = await app.adispatch("signup", {"name": "ed", "password": "pw", "plan": "x"})
            await handle.aresult(timeout=10)
            completed.set()
            await _until_completed(frames, handle.id)
    finally:
        await worker.stop()


async def test_a_follower_that_loses_the_server_is_an_error_frame_and_starts_again(
    app: Taskora, served: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stream's first events read fails as when the server goes away; the stream must stay
    # open (docs/board.md), say so, and follow again from the next stats frame.
    read = Follower.read
    failed: list[bool] = []

    async def lost_once(self: Follower, block_ms: int) -> list[RawEvent]:
        if not failed:
            failed.append(True)
            raise ServerError("cannot reach the server at redis://gone (connection refused)")
        return await read(self, block_ms)

    monkeypatch.setattr(Follower, "read", lost_once)
    worker = await app.start(["signup"])
    try:
        async with _job_frames(served) as frames:
            kinds: list[str] = []
            async with asyncio.timeout(15):
                async for kind, data in frames:
                    kinds.append(kind)
                    if kind == "error":
                        assert "cannot reach the server" in data["error"]
                    if kind == "stats" and "error" in kinds:
                        break  # a new follower knows where the streams end
            assert kinds[0] == "stats"
            handle = await app.adispatch("signup", {"name": "fi", "password": "pw", "plan": "x"})
            await _until_completed(frames, handle.id)
    finally:
        await worker.stop()


async def test_metrics_parse_and_healthz_follows_the_thresholds(app: Taskora, served: str) -> None:
    worker = await app.start(["signup"])
    try:
        async with httpx.AsyncClient(base_url=served, timeout=10) as http:
            await http.get("/metrics")  # starts counting events
            handle = await app.adispatch("signup", {"name": "di", "password": "pw", "plan": "x"})
            await handle.aresult(timeout=10)
            for _ in range(3):
                await app.adispatch("idle", None)

            async def counted() -> bool:
                text = (await http.get("/metrics")).text
                return 'taskora_job_duration_seconds_count{task="signup"} 1.0' in text

            await until(counted)
            answer = await http.get("/metrics")
            assert answer.headers["content-type"].startswith("text/plain")
            families = {f.name: f for f in text_string_to_metric_families(answer.text)}
            jobs = {
                (s.labels["task"], s.labels["state"]): s.value
                for s in families["taskora_jobs"].samples
            }
            assert jobs[("signup", "completed")] == 1 and jobs[("idle", "waiting")] == 3
            assert families["taskora_workers_live"].samples[0].value == 1
            queues = {s.labels["queue"] for s in families["taskora_queue_latency_seconds"].samples}
            assert queues == {"default", "slow"}
            events = families["taskora_job_events"].samples
            assert any(s.labels == {"task": "signup", "event": "completed"} for s in events)
            assert "taskora_job_duration_seconds" in families

            assert (await http.get("/healthz")).json() == {"ok": True}
            over = await http.get("/healthz?max_depth=2")
            assert over.status_code == 503 and "idle" in over.json()["reason"]
            assert (await http.get("/healthz?max_latency=1h")).status_code == 200
            assert (await http.get("/healthz?max_latency=soon")).status_code == 400
    finally:
        await worker.stop()


@contextlib.asynccontextmanager
async def _job_frames(served: str) -> AsyncIterator[AsyncIterator[tuple[str, Any]]]:
    """The board's live stream, as (event, parsed data) per frame."""
    async with (
        httpx.AsyncClient(base_url=served, timeout=10) as http,
        http.stream("GET", "/board/api/events") as stream,
    ):
        yield _frames(stream.aiter_lines())


async def _until_completed(frames: AsyncIterator[tuple[str, Any]], job_id: str) -> None:
    """Read frames until the one saying the job completed (at most 15 s)."""
    async with asyncio.timeout(15):
        async for kind, data in frames:
            if kind == "job" and data["job"] == job_id and data["event"] == "completed":
                return
    raise AssertionError(f"the stream ended before job {job_id} completed")


async def _frames(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, Any]]:
    """(event, parsed data) per SSE frame."""
    kind = ""
    async for line in lines:
        if line.startswith("event: "):
            kind = line[len("event: ") :]
        elif line.startswith("data: "):
            yield kind, json.loads(line[len("data: ") :])
