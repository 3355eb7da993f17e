"""The worker launcher through ``Taskora.run_worker`` (``taskora work`` is tests/cli/test_work.py):
it serves (its ``concurrency=`` beating a task's own), drains on SIGTERM and exits 0; bad
options are refused before anything starts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from servers import raw_client
from support import make_app, until

from taskora_cli.config import load_config
from taskora_cli.errors import UsageError
from taskora_cli.worker.launch import WorkOptions, child_command

ROOT = Path(__file__).resolve().parents[2]

APP_MODULE = """
import asyncio, logging, sys
from pathlib import Path
from taskora_cli import Taskora
from taskora_cli.config import load_config

HERE = Path(__file__).parent
app = Taskora(sys.argv[1], config=load_config(env={}, cwd=HERE))


@app.task("double")
async def double(n):
    return n * 2


@app.task("until-file")
async def until_file(name):
    (HERE / f"{name}.started").touch()  # the handler runs, not just "claimed"
    while not (HERE / name).exists():
        await asyncio.sleep(0.01)
    return "finished"


running, peak, everyone_in = 0, 0, asyncio.Event()


@app.task("gather", concurrency=1)  # run_worker(concurrency=3) below beats the code's 1
async def gather(want):
    global running, peak
    running += 1
    peak = max(peak, running)
    if running >= want:
        everyone_in.set()
    try:
        await asyncio.wait_for(everyone_in.wait(), 20)  # one at a time: fails, never hangs
        return peak
    finally:
        running -= 1


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # to see "draining"
    sys.exit(app.run_worker(grace="30s", concurrency=3))
"""


async def test_run_worker_serves_jobs_and_a_sigterm_lets_the_running_one_finish_then_exits_0(
    redis_url: str, tmp_path: Path, spawn: list[subprocess.Popen[bytes]]
) -> None:
    module = tmp_path / "appmod.py"
    module.write_text(APP_MODULE)
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(module), redis_url],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stderr=out,
        )
    spawn.append(process)
    app = make_app(redis_url, tmp_path)
    double = app.task("double")(_unused)
    until_file = app.task("until-file")(_unused)
    gather = app.task("gather")(_unused)
    try:
        assert await (await double.adispatch(21)).aresult(30) == 42
        gathered = [await gather.adispatch(3) for _ in range(3)]
        assert [await h.aresult(30) for h in gathered] == [3, 3, 3]  # 3 at once, not 1
        running = await until_file.adispatch("go")
        # "active" on the server is not enough: a job claimed but not yet begun when the
        # signal lands is handed back, by design; only a handler that runs finishes in grace
        await until(lambda: (tmp_path / "go.started").exists(), timeout=30)
        process.send_signal(signal.SIGTERM)
        await until(lambda: "draining" in log.read_text(), timeout=30)
        (tmp_path / "go").touch()  # only now: the job runs on inside the grace
        await until(lambda: process.poll() is not None, timeout=30)
        assert process.returncode == 0, log.read_text()
        assert await running.astate() == "completed"
        assert await running.aresult(5) == "finished"
    finally:
        await app.aclose()


def _unused(data: Any) -> Any:
    raise AssertionError("the worker process runs this task, not the test")


@pytest.mark.parametrize(
    "options",
    [
        {"concurrency": 0},
        {"concurrency": True},
        {"processes": -1},
        {"max_jobs": "3"},
        {"grace": "nan"},
        {"tasks": "double"},
        {"queues": {"default": 0}},
        {"queues": {"": None}},
    ],
)
def test_a_bad_option_is_refused_with_a_usage_error(options: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        WorkOptions(**options)


def test_run_worker_refuses_a_bad_option_before_anything_connects(
    redis_url: str, tmp_path: Path
) -> None:
    app = make_app(redis_url, tmp_path)

    @app.task("double")
    async def double(n: int) -> int:
        return n * 2

    with pytest.raises(UsageError, match="concurrency must be an int >= 1, got 0"):
        app.run_worker(concurrency=0)
    with pytest.raises(UsageError, match="unknown task"):
        app.run_worker(["nope"])
    assert not app.runtime.connected
    client = raw_client(redis_url)
    try:
        assert client.dbsize() == 0  # no worker record, no task registered on the server
    finally:
        client.close()


def test_a_child_gets_the_options_given_and_reads_the_rest_from_the_config(
    tmp_path: Path,
) -> None:
    (tmp_path / "taskora.toml").write_text("[worker]\nconcurrency = 7\n")
    config = load_config(env={}, cwd=tmp_path)
    options = WorkOptions(
        tasks=("a", "b"), queues={"q": None, "r": 3}, grace=1.5, max_jobs=10, burst=True
    )
    argv = child_command(options, config, ["--log-format", "json"])
    assert argv[:4] == [sys.executable, "-m", "taskora_cli", "work"]
    assert argv[4:] == [
        "--log-format", "json", "--config", str(tmp_path / "taskora.toml"),
        "--queue", "q", "--queue", "r=3", "--task", "a", "--task", "b", "--burst",
        "--max-jobs", "10", "--grace", "1500ms",
    ]  # fmt: skip
