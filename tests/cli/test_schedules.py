"""`taskora schedules`: the real entry point against schedules a real worker registered."""

from __future__ import annotations

import json
import os
import signal

import pytest

from .conftest import Project, wait_for

pytestmark = pytest.mark.cli_in_process  # `project.taskora` runs in-process


def with_schedules(project: Project) -> None:
    config = project.root / "taskora.toml"
    config.write_text(
        config.read_text()
        + '\n[schedules.hourly-echo]\ntask = "echo"\nevery = "1h"\ndata = { hello = "world" }\n'
        + '\n[schedules.berlin]\ntask = "add"\ncron = "30 2 * * *"\n'
        + 'timezone = "Europe/Berlin"\ndata = { a = 1, b = 2 }\n'
    )


def test_schedules_ls_show_and_next(project: Project) -> None:
    with_schedules(project)
    project.start_worker()
    listed = json.loads(project.taskora("schedules", "ls", "--json").stdout)
    assert [s["name"] for s in listed] == ["berlin", "hourly-echo"]
    assert listed[1]["every_ms"] == 3_600_000 and listed[1]["paused"] is False

    table = project.taskora("schedules", "ls")
    assert table.returncode == 0
    assert "hourly-echo" in table.stdout and "every 1h" in table.stdout

    shown = project.taskora("schedules", "show", "berlin")
    assert "cron 30 2 * * * (Europe/Berlin)" in shown.stdout
    assert json.loads(project.taskora("schedules", "show", "berlin", "--json").stdout)["data"] == {
        "a": 1,
        "b": 2,
    }

    upcoming = json.loads(
        project.taskora("schedules", "next", "berlin", "-n", "3", "--json").stdout
    )
    assert len(upcoming) == 3
    assert all(t["at"].endswith(("+01:00", "+02:00")) and "T02:30:00" in t["at"] for t in upcoming)
    assert all(t["utc"].endswith("+00:00") for t in upcoming)
    people = project.taskora("schedules", "next", "berlin", "--count", "2")
    assert "Europe/Berlin" in people.stdout and "UTC" in people.stdout


def test_pause_resume_and_trigger_with_wait(project: Project) -> None:
    with_schedules(project)
    project.start_worker()
    paused = project.taskora("schedules", "pause", "hourly-echo", "--json")
    assert json.loads(paused.stdout)["paused"] is True
    resumed = project.taskora("schedules", "resume", "hourly-echo")
    assert resumed.returncode == 0 and resumed.stdout.startswith("resumed hourly-echo")

    triggered = project.taskora("schedules", "trigger", "hourly-echo", "--wait", "--timeout", "30s")
    assert triggered.returncode == 0, triggered.stderr
    assert json.loads(triggered.stdout) == {"hello": "world"}
    shown = json.loads(project.taskora("schedules", "show", "hourly-echo", "--json").stdout)
    assert shown["last_job_id"] is not None


def test_rm_needs_yes_without_a_terminal_and_unknown_names_exit_2(project: Project) -> None:
    with_schedules(project)
    project.start_worker()
    refused = project.taskora("schedules", "rm", "berlin")
    assert refused.returncode == 2
    assert "pass --yes" in refused.stderr

    removed = project.taskora("schedules", "rm", "berlin", "--yes")
    assert removed.returncode == 0 and removed.stdout.strip() == "removed berlin"
    names = [s["name"] for s in json.loads(project.taskora("schedules", "ls", "--json").stdout)]
    assert names == ["hourly-echo"]

    unknown = project.taskora("schedules", "pause", "nope")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == (
        "taskora: unknown schedule 'nope'; known schedules: hourly-echo"
    )


def test_a_worker_fires_a_schedule_declared_in_toml(project: Project) -> None:
    config = project.root / "taskora.toml"
    config.write_text(
        config.read_text()
        + '\n[scheduler]\npoll_interval = "100ms"\n'
        + '\n[schedules.pulse]\ntask = "slow"\nevery = "1s"\ndata = 0.01\n'
    )
    project.start_worker()
    wait_for(lambda: (project.root / "done").is_dir() and any((project.root / "done").iterdir()))
    done = [p.name for p in (project.root / "done").iterdir()]
    assert all(name.startswith("pulse@") for name in done)


def test_a_killed_leader_is_replaced_and_every_fire_still_runs_once(project: Project) -> None:
    config = project.root / "taskora.toml"
    config.write_text(
        config.read_text()
        + '\n[worker]\nheartbeat = "200ms"\n'  # a killed worker's job is recovered in ~1 s
        + '\n[scheduler]\npoll_interval = "100ms"\nlease = "1s"\n'
        + '\n[schedules.pulse]\ntask = "echo"\nevery = "1s"\non_missed = "catch-up"\n'
        + "overlap = true\n"
    )

    def jobs(state: str) -> list[int]:
        args = ("jobs", "ls", "--task", "echo", "--state", state, "--limit", "1000", "--json")
        return sorted(int(j["id"].split("@")[1]) for j in json.loads(project.taskora(*args).stdout))

    first = project.start_worker()
    wait_for(lambda: "took the lease" in first.log.read_text())  # type: ignore[attr-defined]
    second = project.start_worker()
    wait_for(lambda: len(jobs("completed")) >= 2)
    os.kill(first.pid, signal.SIGKILL)
    wait_for(lambda: "took the lease" in second.log.read_text())  # type: ignore[attr-defined]
    before = len(jobs("completed"))
    wait_for(lambda: len(jobs("completed")) >= before + 3)
    assert project.taskora("schedules", "pause", "pulse").returncode == 0
    wait_for(lambda: not jobs("waiting") and not jobs("active"), 30)
    seen = jobs("completed")
    # one job per fire time, none doubled, none lost across the takeover
    assert seen == list(range(seen[0], seen[-1] + 1, 1000))
