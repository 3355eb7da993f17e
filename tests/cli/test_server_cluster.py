"""``taskora server start --cluster N``: a local Valkey Cluster for experiments (the suite's
cluster fixture's launcher), which status shows, a job runs through, and stop ends."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from taskora_cli import Taskora
from taskora_cli.config import load_config
from taskora_cli.engine.embedded import pid_alive
from taskora_cli.engine.local_cluster import STARTING, find_cluster, wait_until

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


def nodes_on(ports: list[int]) -> list[str]:
    """The live processes (ps) serving any of ``ports`` as a valkey node."""
    listing = subprocess.run(["ps", "-eo", "stat,args"], capture_output=True, text=True).stdout
    titles = [line for line in listing.splitlines() if not line.lstrip().startswith("Z")]
    return [t for t in titles if any(f"127.0.0.1:{port} " in t for port in ports)]


START = ("server", "start", "--cluster", "2", "--replicas", "0")


def start_in_background(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "taskora_cli", *START], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip


def first_node_launched(directory: Path) -> bool:
    cluster = find_cluster(directory)
    return cluster is not None and cluster.nodes[0].pidfile_pid() is not None


def test_a_start_killed_half_way_is_found_and_ended_by_stop(tmp_path: Path) -> None:
    env = clean_env() | {"TASKORA_STATE_DIR": str(tmp_path / "state")}
    directory = tmp_path / "state" / "cluster"
    starting = start_in_background(tmp_path, env)
    wait_until(lambda: first_node_launched(directory), "the first node launched")
    os.killpg(starting.pid, signal.SIGTERM)  # as `timeout` or a closed terminal (SIGHUP) would
    starting.communicate(timeout=30)
    cluster = find_cluster(directory)
    assert cluster is not None
    ports = [node.port for node in cluster.nodes]
    try:
        status = run_taskora_in_process("server", "status", "--json", cwd=tmp_path, env=env)
        assert json.loads(status.stdout)["cluster"]["state"] in (STARTING, "running")
    finally:
        stopped = run_taskora_in_process("server", "stop", "--cluster", cwd=tmp_path, env=env)
    assert stopped.stdout.strip() == "stopped", stopped.stderr
    assert nodes_on(ports) == []
    assert find_cluster(directory) is None


def test_two_starts_at_once_give_one_cluster_that_one_stop_ends(tmp_path: Path) -> None:
    env = clean_env() | {"TASKORA_STATE_DIR": str(tmp_path / "state")}
    directory = tmp_path / "state" / "cluster"
    first = start_in_background(tmp_path, env)
    ports: list[int] = []
    try:
        wait_until(lambda: find_cluster(directory) is not None, "the first start under way")
        second = run_taskora_in_process(*START, cwd=tmp_path, env=env)  # waits for the first
        out, err = first.communicate(timeout=60)
        assert (first.returncode, second.returncode) == (0, 0), (err, second.stderr)
        assert out.strip() == second.stdout.strip()
        cluster = find_cluster(directory)
        assert cluster is not None and cluster.running()
        ports = [node.port for node in cluster.nodes]
    finally:
        stopped = run_taskora_in_process("server", "stop", "--cluster", cwd=tmp_path, env=env)
    assert stopped.stdout.strip() == "stopped", stopped.stderr
    assert len(ports) == 2 and nodes_on(ports) == []
