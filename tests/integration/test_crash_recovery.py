"""A worker process killed with SIGKILL mid-job: another worker completes the job after the
stall window, and the crashed run does not use up an attempt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import make_app, until

from taskora_cli import Retry
from taskora_cli.worker.pool import Worker

ROOT = Path(__file__).resolve().parents[2]
LOCK_TTL_MS = 400
HEARTBEAT_MS = 100
STALL_INTERVAL_MS = 100

# A worker whose handler never finishes: it holds the job (and heartbeats its lock) until killed.
HANGING_WORKER = f"""
import asyncio, sys
from pathlib import Path
from taskora_cli import Retry, Taskora
from taskora_cli.config import load_config
from taskora_cli.worker.pool import Worker

app = Taskora(sys.argv[1], config=load_config(env={{}}, cwd=Path(sys.argv[2])))

@app.task("fragile", retry=Retry(attempts=1))
async def fragile(data, ctx):
    await asyncio.Event().wait()

async def main():
    worker = Worker(app, [fragile], lock_ttl_ms={LOCK_TTL_MS}, heartbeat_ms={HEARTBEAT_MS},
                    stall_interval_ms={STALL_INTERVAL_MS})
    await worker.start()
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_a_job_whose_worker_was_killed_completes_on_another_worker(
    redis_url: str, tmp_path: Path, spawn: list[subprocess.Popen[bytes]]
) -> None:
    app = make_app(redis_url, tmp_path)
    ran: list[tuple[str, int]] = []

    @app.task("fragile", retry=Retry(attempts=1))
    async def fragile(data: dict[str, str], ctx: object) -> str:
        ran.append((ctx.id, ctx.attempt))  # type: ignore[attr-defined]
        return f"done by the survivor: {data['name']}"

    handle = await fragile.adispatch({"name": "x"})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    doomed = subprocess.Popen(
        [sys.executable, "-c", HANGING_WORKER, redis_url, str(tmp_path)],
        env=env,
        stderr=subprocess.PIPE,
    )
    spawn.append(doomed)
    await until(lambda: _active_in(handle.astate(), doomed), timeout=30)
    engine = await app.connect()
    assert await engine.counts("fragile") == _state(active=1)

    doomed.kill()  # SIGKILL: no shutdown, no hand-back, the lock simply stops being renewed
    assert doomed.wait(10) == -9

    survivor = Worker(
        app,
        [fragile],
        lock_ttl_ms=LOCK_TTL_MS,
        heartbeat_ms=HEARTBEAT_MS,
        stall_interval_ms=STALL_INTERVAL_MS,
    )
    await survivor.start()
    try:
        assert await handle.aresult(10) == "done by the survivor: x"
    finally:
        await survivor.stop()
    assert ran == [(handle.id, 1)]  # the killed run was not counted as an attempt
    engine = await app.connect()
    record = await engine.job("fragile", handle.id)
    assert record is not None
    assert (record.state, record.attempt, record.stalls) == ("completed", 1, 1)
    assert await engine.counts("fragile") == _state(completed=1)
    await app.aclose()


async def _active_in(state: object, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        _, err = process.communicate()
        raise AssertionError(f"the worker process exited early: {err.decode()[-2000:]}")
    return await state == "active"  # type: ignore[misc,no-any-return]


def _state(**nonzero: int) -> dict[str, int]:
    base = {"waiting": 0, "delayed": 0, "active": 0, "completed": 0, "failed": 0}
    return {**base, **nonzero}
