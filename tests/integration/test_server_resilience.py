"""The scripts survive SCRIPT FLUSH, and producers and workers ride out a server restart."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from servers import raw_client
from support import make_app

from taskora_cli import Taskora
from taskora_cli.engine.embedded import embedded_status
from taskora_cli.worker.pool import Worker

if TYPE_CHECKING:
    from conftest import RestartableValkey


def echo_app(url: str, tmp: Path) -> Taskora:
    app = make_app(url, tmp)

    @app.task("echo", concurrency=4)
    async def echo(data: str) -> str:
        return data

    return app


def restart(server: RestartableValkey) -> None:
    before = embedded_status(server.state_dir).pid
    assert server.stop()
    server.start()
    assert embedded_status(server.state_dir).pid not in (None, before)


def flush_scripts(url: str) -> None:
    client = raw_client(url)
    try:
        client.script_flush()
        assert client.script_exists("0" * 40) == [False]
    finally:
        client.close()


async def test_producers_and_workers_reload_scripts_after_script_flush(
    redis_url: str, tmp_path: Path
) -> None:
    app = echo_app(redis_url, tmp_path)
    echo = app.get_task("echo")
    worker = await app.start()
    try:
        assert await (await echo.adispatch("before")).aresult(10) == "before"
        flush_scripts(redis_url)
        assert await (await echo.adispatch("after")).aresult(10) == "after"
        flush_scripts(redis_url)
        handles = await echo.adispatch_many(["bulk-1", "bulk-2"])
        assert [await h.aresult(10) for h in handles] == ["bulk-1", "bulk-2"]
    finally:
        await worker.stop()


async def test_queued_jobs_survive_a_server_restart(
    restartable_valkey: RestartableValkey, tmp_path: Path
) -> None:
    producer = echo_app(restartable_valkey.url, tmp_path)
    handles = await producer.get_task("echo").adispatch_many([f"job-{n}" for n in range(20)])
    await producer.aclose()

    restart(restartable_valkey)  # a fresh process: AOF replayed, no scripts loaded

    app = echo_app(restartable_valkey.url, tmp_path)
    worker = await app.start()
    try:
        results = [await app.handle("echo", h.id).aresult(10) for h in handles]
        assert results == [f"job-{n}" for n in range(20)]
    finally:
        await worker.stop()


async def test_a_running_worker_and_producer_carry_on_after_a_server_restart(
    restartable_valkey: RestartableValkey, tmp_path: Path
) -> None:
    app = echo_app(restartable_valkey.url, tmp_path)
    echo = app.get_task("echo")
    worker = Worker(app, [echo], heartbeat_ms=50, stall_interval_ms=50)
    await worker.start()
    try:
        assert await (await echo.adispatch("before")).aresult(10) == "before"

        restart(restartable_valkey)

        # the same app, engine and worker: connections come back on their own
        assert await (await echo.adispatch("after")).aresult(15) == "after"
        handles = await echo.adispatch_many(["bulk-1", "bulk-2"])
        assert [await h.aresult(10) for h in handles] == ["bulk-1", "bulk-2"]
    finally:
        await worker.stop()
