"""``taskora server start --cluster N``: a local Valkey Cluster for experiments (the suite's
cluster fixture's launcher), which status shows, a job runs through, and stop ends."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from taskora_cli import Taskora
from taskora_cli.config import load_config
from taskora_cli.engine.embedded import pid_alive

from .conftest import clean_env, run_taskora_in_process

pytestmark = [pytest.mark.cli_in_process, pytest.mark.timeout(120)]


async def add_through(url: str, tmp_path: Path) -> int:
    app = Taskora(url, config=load_config(env={}, cwd=tmp_path))
    add = app.task("add")(lambda data: data["a"] + data["b"])
    worker = await app.start()
    try:
        handle = await add.adispatch({"a": 2, "b": 3})
        return int(await handle.aresult(timeout=30))
    finally:
        await worker.stop()
        await app.aclose()


def test_a_local_cluster_starts_runs_a_job_shows_in_status_and_stops(tmp_path: Path) -> None:
    env = clean_env() | {"TASKORA_STATE_DIR": str(tmp_path / "state")}

    def taskora(*args: str) -> subprocess.CompletedProcess[str]:
        return run_taskora_in_process(*args, cwd=tmp_path, env=env)

    started = taskora("server", "start", "--cluster", "2", "--replicas", "0", "--json")
    try:
        assert started.returncode == 0, started.stderr
        cluster = json.loads(started.stdout)
        assert [node["role"] for node in cluster["nodes"]] == ["master", "master"]
        again = taskora("server", "start", "--cluster", "2", "--replicas", "0")
        assert again.stdout.strip() == cluster["url"]  # the one running, not a second
        other = taskora("server", "start", "--cluster", "3")
        assert other.returncode == 2 and "stop it first" in other.stderr, other.stderr
        status = json.loads(taskora("server", "status", "--json").stdout)
        assert status["cluster"]["url"] == cluster["url"] and status["cluster"]["running"]
        assert asyncio.run(add_through(cluster["url"], tmp_path)) == 5
    finally:
        stopped = taskora("server", "stop", "--cluster")
    assert stopped.stdout.strip() == "stopped", stopped.stderr
    assert not any(pid_alive(node["pid"]) for node in cluster["nodes"])
    assert json.loads(taskora("server", "status", "--json").stdout)["cluster"] is None
