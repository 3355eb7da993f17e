"""Who decides how many jobs of a task one worker process runs at once (``task_slots`` in
worker/pool.py), first answer wins: ``--queue NAME=N``, then the concurrency the worker was
started with (``taskora work -c``, ``run_worker(concurrency=)``, ``app.worker(concurrency=)``),
then the task's own ``concurrency=``, then [worker], then [defaults]. ``taskora work -c`` is in
tests/cli/test_work.py, ``run_worker`` in test_launch.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from support import make_app

from taskora_cli import Taskora
from taskora_cli.config import load_config
from taskora_cli.worker.pool import task_slots

UNUSED_URL = "redis://127.0.0.1:6379/0"
"""The resolver reads only the config and the task: nothing connects."""


@pytest.mark.parametrize(
    ("queue_slots", "started_with", "own", "in_worker_config", "expected"),
    [
        (5, 4, 3, 2, 5),  # --queue q=5
        (None, 4, 3, 2, 4),  # -c 4 beats the code's concurrency=3
        (None, None, 3, 2, 3),  # the code's concurrency=3 beats [worker]
        (None, None, None, 2, 2),  # [worker] concurrency beats [defaults]
        (None, None, None, None, 6),  # [defaults] concurrency
    ],
)
def test_the_first_answer_wins(
    tmp_path: Path,
    queue_slots: int | None,
    started_with: int | None,
    own: int | None,
    in_worker_config: int | None,
    expected: int,
) -> None:
    toml = "[defaults]\nconcurrency = 6\n"
    if in_worker_config is not None:
        toml += f"[worker]\nconcurrency = {in_worker_config}\n"
    (tmp_path / "taskora.toml").write_text(toml)
    app = Taskora(UNUSED_URL, config=load_config(env={}, cwd=tmp_path))

    @app.task("t", concurrency=own)
    async def t(data: object) -> None:
        return None

    slots = {"t": queue_slots} if queue_slots is not None else None
    assert task_slots(t, app.runtime.config, slots=slots, concurrency=started_with) == expected


async def test_app_worker_concurrency_beats_the_tasks_own(redis_url: str, tmp_path: Path) -> None:
    app = make_app(redis_url, tmp_path)
    running = peak = 0
    everyone_in = asyncio.Event()

    @app.task("gather", concurrency=1)
    async def gather(want: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        if running >= want:
            everyone_in.set()
        try:
            await asyncio.wait_for(everyone_in.wait(), 20)  # one at a time: fails, never hangs
            return peak
        finally:
            running -= 1

    assert app.worker().concurrency_for(gather) == 1  # not given: the task's own
    handles = [await gather.adispatch(3) for _ in range(3)]
    worker = app.worker(concurrency=3)
    await worker.start()
    try:
        assert [await h.aresult(30) for h in handles] == [3, 3, 3]  # all three at once
    finally:
        await worker.stop()
        await app.aclose()
