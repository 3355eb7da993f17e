"""`taskora workers ls` end to end through the real entry point: live, stopped, killed."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

from .conftest import Project, wait_for


def fast_heartbeat(project: Project) -> None:
    """Beat every 200 ms, so a killed worker is gone after 0.6 s (the lock TTL stays 30 s)."""
    config = project.root / "taskora.toml"
    config.write_text(config.read_text() + '\n[worker]\nheartbeat = "200ms"\n')


def listed(project: Project) -> list[dict[str, Any]]:
    done = project.taskora("workers", "ls", "--json")
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def test_a_running_worker_is_listed_live_with_its_pid(project: Project) -> None:
    fast_heartbeat(project)
    worker = project.start_worker("--task", "add")
    [row] = listed(project)
    assert (row["pid"], row["tasks"], row["gone"]) == (worker.pid, ["add"], False)
    assert row["slots"] >= 1 and row["active"] == 0 and row["started_ms"] <= row["beat_ms"]
    table = project.taskora("workers", "ls")
    assert table.returncode == 0, table.stderr
    assert str(worker.pid) in table.stdout and "live" in table.stdout


def test_a_stopped_worker_removes_itself(project: Project) -> None:
    fast_heartbeat(project)
    worker = project.start_worker("--task", "add")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    assert project.taskora("workers", "ls").stdout.strip() == "no workers"


def test_a_killed_worker_is_listed_gone_and_its_job_recovered_by_another(
    project: Project,
) -> None:
    fast_heartbeat(project)
    victim = project.start_worker("--queue", "fragile")
    job_id = project.taskora("dispatch", "crash-once").stdout.strip()
    pid_file = project.root / "victim.pid"
    wait_for(lambda: pid_file.exists() and pid_file.read_text() != "")
    wait_for(lambda: listed(project)[0]["active"] == 1)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(10)
    wait_for(lambda: listed(project)[0]["gone"])
    assert listed(project)[0]["pid"] == victim.pid
    rescuer = project.start_worker("--queue", "fragile")
    # The lock TTL is 30 s: a result inside 15 s shows the rescuer's sweep reaped the victim.
    waited = project.taskora("jobs", "wait", job_id, "--timeout", "15s")
    assert waited.returncode == 0, waited.stdout + waited.stderr
    assert [row["pid"] for row in listed(project)] == [rescuer.pid]
