"""`taskora queues` end to end: a paused queue starts nothing until resumed; dispatch still
works while it is paused; the listing and its JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import Project, wait_for

pytestmark = pytest.mark.cli_in_process  # `project.taskora` runs in-process


def queues(project: Project) -> dict[str, dict[str, Any]]:
    done = project.taskora("queues", "ls", "--json")
    assert done.returncode == 0, done.stderr
    return {row["name"]: row for row in json.loads(done.stdout)}


def state(project: Project, job_id: str) -> str:
    done = project.taskora("jobs", "show", job_id, "--json")
    assert done.returncode == 0, done.stderr
    found: str = json.loads(done.stdout)["state"]
    return found


def test_a_paused_queue_starts_nothing_until_resumed(project: Project) -> None:
    paused = project.taskora("queues", "pause", "emails")
    assert (paused.returncode, paused.stdout.strip()) == (0, "queue emails paused")
    again = project.taskora("queues", "pause", "emails", "--json")
    assert json.loads(again.stdout) == {"queue": "emails", "state": "paused", "changed": False}
    held = project.taskora("dispatch", "mail", "--data", '"ada@example.com"').stdout.strip()
    project.start_worker("--task", "mail", "--task", "add")
    # The same worker runs a job of a running queue dispatched after the paused one...
    control = project.taskora("dispatch", "add", "--data", '{"a": 1, "b": 2}', "--wait")
    assert control.returncode == 0, control.stderr
    # ...and still has not started the paused queue's job, which it saw first.
    assert state(project, held) == "waiting"
    listed = queues(project)
    assert listed["emails"]["paused"] is True and listed["emails"]["waiting"] == 1
    assert listed["emails"]["tasks"] == ["mail"] and listed["default"]["paused"] is False

    resumed = project.taskora("queues", "resume", "emails")
    assert (resumed.returncode, resumed.stdout.strip()) == (0, "queue emails running")
    waited = project.taskora("jobs", "wait", held, "--timeout", "15s")
    assert waited.returncode == 0, waited.stdout + waited.stderr
    assert queues(project)["emails"]["paused"] is False


def test_pausing_a_running_worker_stops_it_claiming_until_resumed(project: Project) -> None:
    project.start_worker("--task", "mail", "--task", "add")
    first = project.taskora("dispatch", "mail", "--data", '"a@x"', "--wait", "--timeout", "15s")
    assert first.returncode == 0, first.stderr
    assert project.taskora("queues", "pause", "emails").returncode == 0
    worker_log = project.workers[0].log  # type: ignore[attr-defined]
    wait_for(lambda: "queue emails paused" in worker_log.read_text(), 10)
    held = project.taskora("dispatch", "mail", "--data", '"b@x"').stdout.strip()
    # the same worker runs a job of a running queue dispatched after the held one...
    control = project.taskora("dispatch", "add", "--data", '{"a": 1, "b": 2}', "--wait")
    assert control.returncode == 0, control.stderr
    table = project.taskora("queues", "ls")
    assert table.returncode == 0 and "paused" in table.stdout
    assert state(project, held) == "waiting"  # ...and has still not started the held one
    assert project.taskora("queues", "resume", "emails").returncode == 0
    waited = project.taskora("jobs", "wait", held, "--timeout", "15s")
    assert waited.returncode == 0, waited.stdout + waited.stderr


def test_a_bad_queue_name_is_a_usage_error(project: Project) -> None:
    done = project.taskora("queues", "pause", " ")
    assert done.returncode == 2
    assert "queue name" in done.stderr and "Traceback" not in done.stderr


def test_a_queue_name_a_task_could_not_use_is_refused(project: Project) -> None:
    done = project.taskora("queues", "pause", "emails:urgent")
    assert done.returncode == 2
    assert "a queue name has no spaces, ':', '=' or braces, got 'emails:urgent'" in done.stderr


def test_pausing_or_resuming_an_unknown_queue_is_refused_unless_forced(
    project: Project, redis_url: str
) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    assert project.taskora("queues", "ls").returncode == 0  # connected once: the handshake
    before = sorted(client.keys())
    for verb in ("pause", "resume"):
        refused = project.taskora("queues", verb, "nosuchq")
        assert refused.returncode == 2, refused
        assert refused.stderr.count("\n") == 1
        assert "unknown queue 'nosuchq'; the known queues are: default, emails, fragile" in (
            refused.stderr
        )
    assert sorted(client.keys()) == before
    listed = json.loads(project.taskora("queues", "ls", "--json").stdout)
    assert "nosuchq" not in [q["name"] for q in listed]

    forced = project.taskora("queues", "pause", "nosuchq", "--force")
    assert (forced.returncode, forced.stdout.strip()) == (0, "queue nosuchq paused")
    resumed = project.taskora("queues", "resume", "nosuchq")  # a paused one is known
    assert (resumed.returncode, resumed.stdout.strip()) == (0, "queue nosuchq running")
    client.close()
