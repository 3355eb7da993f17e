"""A connection dropped after the server ran a claim but before its reply arrived: the claim
the wire sends again returns the same jobs, and every job runs and completes exactly once."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support import make_app

from taskora_cli import Taskora
from taskora_cli.engine.engine import Engine
from taskora_cli.engine.failures import RECONNECT_WINDOW_S
from taskora_cli.engine.records import NewJob
from taskora_cli.engine.scripts import load_script
from taskora_cli.task import Task
from taskora_cli.worker.pool import Worker

NOW = 1_700_000_000_000
CLAIM = load_script("claim").sha.encode()
"""What a claim's request holds (EVALSHA <sha>): the proxy drops the reply to the first one."""


class DroppingProxy:
    """Forwards TCP connections on 127.0.0.1 to the server's unix socket. Armed with a marker,
    it forwards the next request holding it, then throws the server's reply away and cuts the
    client's connection: the server ran the call, the client never hears of it."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.marker: bytes | None = None
        self.dropped = 0
        self.outage_s = 0.0
        """After the drop, cut every new connection at once for this long."""
        self._refusing_until = 0.0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    def arm(self, marker: bytes, outage_s: float = 0.0) -> None:
        self.marker = marker
        self.outage_s = outage_s

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for pipe in list(self._pipes):
            pipe.cancel()
        for pipe in list(self._pipes):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pipe
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if asyncio.get_running_loop().time() < self._refusing_until:
            client_w.transport.abort()
            return
        self._pipes.add(task)
        server_r, server_w = await asyncio.open_unix_connection(self.socket_path)
        drop_reply = asyncio.Event()

        async def upstream() -> None:
            while data := await client_r.read(65536):
                if self.marker is not None and self.marker in data:
                    self.marker = None
                    drop_reply.set()  # before forwarding: its reply must not slip through
                server_w.write(data)
                await server_w.drain()

        async def downstream() -> None:
            while data := await server_r.read(65536):
                if drop_reply.is_set():
                    self.dropped += 1
                    self._refusing_until = asyncio.get_running_loop().time() + self.outage_s
                    client_w.transport.abort()
                    return
                client_w.write(data)
                await client_w.drain()

        try:
            await asyncio.wait(
                [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())],
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            client_w.transport.abort()
            server_w.transport.abort()
            self._pipes.discard(task)


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[tuple[DroppingProxy, str]]:
    if not redis_url.startswith("unix://"):
        pytest.skip("the dropping proxy stands in front of the embedded server's unix socket")
    running = DroppingProxy(redis_url.removeprefix("unix://"))
    url = await running.start()
    try:
        yield running, url
    finally:
        await running.close()


async def test_a_claim_sent_again_after_its_reply_was_lost_returns_the_same_jobs(
    redis_url: str, proxy: tuple[DroppingProxy, str]
) -> None:
    dropper, url = proxy
    direct, engine = Engine(redis_url), Engine(url)
    try:
        await direct.connect(NOW)
        await engine.connect(NOW)
        await direct.enqueue_bulk("t", [NewJob(i, "{}") for i in ("a", "b", "c")], NOW)
        await engine.claim("t", "w1", 0, NOW, 60_000)  # the script is loaded: no NOSCRIPT reply

        dropper.arm(CLAIM)
        claimed = await engine.claim("t", "w1", 2, NOW + 1, 60_000)

        assert dropper.dropped == 1  # the first run's reply was lost
        assert [job.id for job in claimed] == ["a", "b"]
        active = await direct.client.zrange(direct.keys("t").active, 0, -1)
        assert sorted(active) == ["a", "b"]  # nothing else locked by a second run
        assert (await direct.counts("t"))["waiting"] == 1
    finally:
        await engine.close()
        await direct.close()


async def test_every_job_completes_once_when_a_workers_claim_reply_is_lost(
    redis_url: str, tmp_path: Path, proxy: tuple[DroppingProxy, str]
) -> None:
    dropper, url = proxy
    producer, dispatched, app, count, runs = _counting(redis_url, url, tmp_path)
    handles = await dispatched.adispatch_many(list(range(20)))
    warm = await producer.connect()  # load the script: the first reply is not a NOSCRIPT
    await warm.claim("count", "nobody", 0, NOW, 60_000)
    dropper.arm(CLAIM)  # the worker's first claim: its reply never arrives
    worker = Worker(app, [count], lock_ttl_ms=60_000)
    await worker.start()
    try:
        results = [await h.aresult(10) for h in handles]  # not after the 60 s lock TTL
    finally:
        await worker.stop()
        await app.aclose()
        await producer.aclose()
    assert dropper.dropped == 1
    assert results == list(range(20))
    assert runs == Counter(range(20))  # each exactly once


async def test_a_claim_the_runner_sends_again_after_a_server_error_gets_the_same_jobs(
    redis_url: str, tmp_path: Path, proxy: tuple[DroppingProxy, str]
) -> None:
    # The reply is lost and the connection stays cut for longer than the wire's reconnect
    # attempts: the claim fails with ServerError, and the runner's next claim (same request id)
    # gets the jobs the first run locked, instead of leaving them locked until the 60 s TTL.
    dropper, url = proxy
    producer, dispatched, app, count, runs = _counting(redis_url, url, tmp_path)
    worker = Worker(app, [count], lock_ttl_ms=60_000)
    await worker.start()  # idle: its claims found nothing, and the script is loaded
    try:
        dropper.arm(CLAIM, outage_s=RECONNECT_WINDOW_S + 1)
        handles = await dispatched.adispatch_many(list(range(6)))
        results = [await h.aresult(30) for h in handles]  # not after the 60 s lock TTL
    finally:
        await worker.stop()
        await app.aclose()
        await producer.aclose()
    assert dropper.dropped == 1
    assert results == list(range(6))
    assert runs == Counter(range(6))


def _counting(
    redis_url: str, url: str, tmp_path: Path
) -> tuple[Taskora, Task, Taskora, Task, Counter[int]]:
    """A producer on the server itself, and a worker's app behind the proxy whose `count`
    task counts each run of each job (n -> n)."""
    producer = make_app(redis_url, tmp_path)
    app = make_app(url, tmp_path)
    runs: Counter[int] = Counter()

    @producer.task("count")
    async def dispatched(n: int) -> int:
        return n

    @app.task("count", concurrency=4)
    async def count(n: int) -> int:
        runs[n] += 1
        return n

    return producer, dispatched, app, count, runs
