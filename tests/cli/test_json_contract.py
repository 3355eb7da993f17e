"""The `--json` output of the operating commands is a contract for scripts: these tests pin
the keys each document has, so a change to them is a deliberate one (and goes in the
CHANGELOG)."""

from __future__ import annotations

import json
from typing import Any

from .conftest import Project

JOB_KEYS = {
    "id", "task", "state", "data", "result", "error", "attempt", "priority", "progress",
    "stalls", "cancel_reason", "timeline", "logs",
}  # fmt: skip
TASK_STATS_KEYS = {
    "task", "waiting", "delayed", "active", "completed", "failed", "expired", "cancelled",
    "latency",
}  # fmt: skip
EVENT_KEYS = {"event", "task", "job", "at", "attempt", "result", "error", "progress"}
QUEUE_KEYS = {"name", "paused", "tasks", "waiting", "delayed", "active", "failed", "latency"}
WORKER_KEYS = {
    "id", "host", "pid", "tasks", "queues", "slots", "active", "processed", "failed",
    "started_ms", "beat_ms", "heartbeat_ms", "age", "gone", "draining",
}  # fmt: skip


def parsed(project: Project, *args: str) -> Any:
    done = project.taskora(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_json_documents_keep_their_keys(project: Project) -> None:
    project.start_worker("--task", "add", "--task", "explode")
    job = parsed(project, "dispatch", "add", "--data", '{"a": 1, "b": 1}', "--wait")
    assert set(job) == {"id", "task", "state", "result"}
    project.taskora("dispatch", "explode", "--wait")

    stats = parsed(project, "stats")
    assert set(stats) == {"tasks", "total", "last_minute", "last_hour"}
    assert all(set(row) == TASK_STATS_KEYS for row in [*stats["tasks"], stats["total"]])
    assert set(stats["last_hour"]) == {"completed", "failed"}

    shown = parsed(project, "jobs", "show", job["id"])
    assert set(shown) == JOB_KEYS
    assert set(shown["timeline"]) == {"dispatched_at", "run_at", "started_at", "finished_at"}
    assert all(set(row) == JOB_KEYS for row in parsed(project, "jobs", "ls"))

    assert all(set(row) == QUEUE_KEYS for row in parsed(project, "queues", "ls"))
    assert all(set(row) == WORKER_KEYS for row in parsed(project, "workers", "ls"))
    [letter] = parsed(project, "dlq", "ls")
    assert set(letter) == {"id", "task", "failed_at_ms", "attempts", "error"}
    assert letter["error"] == {"type": "ValueError", "message": "boom"}

    events = [json.loads(line) for line in project.taskora("events").stdout.splitlines()]
    assert events and all(set(e) >= EVENT_KEYS for e in events)
