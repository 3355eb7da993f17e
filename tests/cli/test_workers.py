"""`taskora workers ls` end to end through the real entry point: live, stopped, killed."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import pytest

from .conftest import Project, wait_for

pytestmark = pytest.mark.cli_in_process  # `project.taskora` runs in-process


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


def test_drain_lets_the_running_job_finish_then_the_worker_exits(project: Project) -> None:
    fast_heartbeat(project)
    worker = project.start_worker("--task", "slow")
    job_id = project.taskora("dispatch", "slow", "--data", "1.5").stdout.strip()
    wait_for(lambda: listed(project)[0]["active"] == 1)
    drained = project.taskora("workers", "drain", str(listed(project)[0]["id"]), "--wait",
                              "--timeout", "30s", "--json")  # fmt: skip
    assert drained.returncode == 0, drained.stderr
    assert json.loads(drained.stdout)["still_running"] == []
    assert worker.wait(10) == 0
    shown = json.loads(project.taskora("jobs", "show", job_id, "--json").stdout)
    assert shown["state"] == "completed"  # finished, not handed back
    assert project.taskora("workers", "ls").stdout.strip() == "no workers"


def test_a_drained_child_is_not_restarted_by_its_supervisor(project: Project) -> None:
    fast_heartbeat(project)
    supervisor = project.start_worker("--task", "add", "--processes", "2")
    wait_for(lambda: len(listed(project)) == 2)
    victim, survivor = sorted(row["id"] for row in listed(project))
    drained = project.taskora("workers", "drain", victim, "--wait", "--timeout", "30s")
    assert drained.returncode == 0, drained.stderr
    assert drained.stdout.strip() == f"{victim} exited"
    log = supervisor.log  # type: ignore[attr-defined]
    wait_for(lambda: "drained by request; not restarting it" in log.read_text())
    assert [row["id"] for row in listed(project)] == [survivor]
    assert supervisor.poll() is None
    done = project.taskora("dispatch", "add", "--data", '{"a": 2, "b": 3}', "--wait")
    assert (done.returncode, done.stdout.strip()) == (0, "5")


def test_draining_an_unknown_node_is_a_usage_error(project: Project) -> None:
    done = project.taskora("workers", "drain", "nowhere")
    assert done.returncode == 2
    assert "no live worker has id or host 'nowhere'" in done.stderr


WEDGE = """

@task("wedge", timeout="200ms", concurrency=2)
def wedge(data, ctx):
    time.sleep(data)  # deaf to its timeout: the thread runs on, stuck
    return data
"""


def test_stuck_threads_show_then_too_many_make_the_worker_exit_5(project: Project) -> None:
    fast_heartbeat(project)
    with (project.root / "mytasks.py").open("a") as module:
        module.write(WEDGE)
    worker = project.start_worker("--task", "wedge")
    project.taskora("dispatch", "wedge", "--data", "60")
    wait_for(lambda: listed(project)[0]["stuck"] == 1)  # replaced: still healthy, still working
    [row] = listed(project)
    assert row["healthy"] is True and worker.poll() is None
    table = project.taskora("workers", "ls").stdout
    assert "STUCK" in table.splitlines()[0] and "live" in table

    project.taskora("dispatch", "wedge", "--ndjson", "-", input="60\n60\n")
    assert worker.wait(30) == 5  # 3 stuck, 2 replaced: it leaves so a fresh process takes over
    log = worker.log.read_text()  # type: ignore[attr-defined]
    assert "thread handlers are stuck past their timeout" in log
    assert "exit code 5" in log


def test_a_supervisor_says_a_child_left_for_stuck_threads_not_that_it_crashed(
    project: Project,
) -> None:
    fast_heartbeat(project)
    with (project.root / "mytasks.py").open("a") as module:
        module.write(WEDGE)
    supervisor = project.start_worker("--task", "wedge", "--processes", "2")
    # 6 wedged jobs on 2 children replacing 2 stuck threads each: one child gets a third
    project.taskora("dispatch", "wedge", "--ndjson", "-", input="60\n" * 6)
    log = supervisor.log  # type: ignore[attr-defined]
    wait_for(lambda: "left with more stuck thread handlers" in log.read_text(), 60)
    assert "exited with code 5" not in log.read_text()


def test_ls_shows_which_worker_holds_the_scheduler_lease(project: Project) -> None:
    workers = [project.start_worker("--task", "add") for _ in range(2)]
    wait_for(lambda: len(listed(project)) == 2 and any(r["scheduler"] for r in listed(project)))
    [leader] = [row for row in listed(project) if row["scheduler"]]
    assert leader["pid"] in {w.pid for w in workers}
    table = project.taskora("workers", "ls", "--wide").stdout.splitlines()
    assert "SCHED" in table[0].split()
    [marked] = [line for line in table[1:] if " yes " in line]
    assert str(leader["pid"]) in marked.split()
