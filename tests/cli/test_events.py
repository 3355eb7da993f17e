"""`taskora events` end to end: recent events as JSON lines, and following new ones."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from .conftest import Project


def test_events_prints_the_recent_past_as_json_lines(project: Project) -> None:
    project.start_worker("--task", "add")
    done = project.taskora("dispatch", "add", "--data", '{"a": 2, "b": 2}', "--json", "--wait")
    job_id = json.loads(done.stdout)["id"]
    printed = project.taskora("events", "--task", "add", "--limit", "10", "--json")
    assert printed.returncode == 0, printed.stderr
    lines = [json.loads(line) for line in printed.stdout.splitlines()]
    mine = [line for line in lines if line["job"] == job_id]
    assert [line["event"] for line in mine] == ["waiting", "active", "completed"]
    assert mine[-1]["result"] == 4 and mine[-1]["task"] == "add" and mine[1]["attempt"] == 1
    assert project.taskora("events", "--task", "add", "--limit", "0", "--json").stdout == ""
    text = project.taskora("events", "--task", "add").stdout
    assert f"completed add {job_id} attempt 1 → 4" in " ".join(text.split())


def test_events_follow_prints_new_events_until_ctrl_c(project: Project) -> None:
    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "taskora_cli",
            "events",
            "--follow",
            "--task",
            "explode",
            "-n",
            "0",
            "--json",
        ],
        cwd=project.root,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert follower.stdout is not None
    project.start_worker("--task", "explode")
    # the follower may start reading after this dispatch: dispatch until it hears one fail
    job_ids = set()
    while True:
        job_ids.add(project.taskora("dispatch", "explode").stdout.strip())
        line = json.loads(follower.stdout.readline())
        if line["event"] == "waiting":
            break
    while line["event"] != "failed":
        line = json.loads(follower.stdout.readline())
    assert line["job"] in job_ids and line["error"] == {"type": "ValueError", "message": "boom"}
    follower.send_signal(signal.SIGINT)
    _, err = follower.communicate(timeout=20)
    assert (follower.returncode, err) == (0, "")


def test_events_of_an_unknown_task_is_a_usage_error_naming_the_known_ones(
    project: Project,
) -> None:
    done = project.taskora("events", "--task", "ad")
    assert done.returncode == 2 and done.stdout == ""
    assert "unknown task 'ad'; known tasks: add, aslow" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_event_stored_past_the_year_9999_prints_as_stored(
    project: Project, redis_url: str
) -> None:
    """Anything may XADD to the stream: an entry id no datetime can hold (and every later one,
    stream ids only grow) still prints, with its time as stored."""
    import redis

    from taskora_cli.engine.keys import TaskKeys

    assert project.taskora("dispatch", "add", "--data", '{"a": 1, "b": 1}').returncode == 0
    far = 10**17
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.xadd(TaskKeys("", "add").events, {"event": "waiting", "job": "j1"}, id=f"{far}-0")
    client.close()
    text = project.taskora("events", "--task", "add")
    assert text.returncode == 0, text.stderr
    assert f"{far}ms (out of range) waiting   add j1" in text.stdout
    as_json = project.taskora("events", "--task", "add", "--json")
    assert as_json.returncode == 0, as_json.stderr
    last = json.loads(as_json.stdout.splitlines()[-1])
    assert (last["job"], last["at"]) == ("j1", far)
