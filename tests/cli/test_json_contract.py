"""The `--json` output of the operating commands is a contract for scripts: these tests pin
the keys each document has, so a change to them is a deliberate one (and goes in the
CHANGELOG)."""

from __future__ import annotations

import json
from typing import Any

from .conftest import Project

JOB_KEYS = {
    "id", "task", "state", "data", "result", "error", "attempt", "priority", "progress",
    "stalls", "cancel_reason", "timeline", "logs", "attempts", "workflow",
}  # fmt: skip
TASK_STATS_KEYS = {
    "task", "waiting", "delayed", "active", "completed", "failed", "expired", "cancelled",
    "latency", "paused",
}  # fmt: skip
EVENT_KEYS = {"event", "task", "job", "at", "attempt", "result", "error", "progress"}
QUEUE_KEYS = {"name", "paused", "tasks", "waiting", "delayed", "active", "failed", "latency"}
WORKER_KEYS = {
    "id", "host", "pid", "tasks", "queues", "slots", "active", "processed", "failed",
    "started_ms", "beat_ms", "heartbeat_ms", "age", "gone", "draining", "stuck", "healthy",
    "scheduler",
}  # fmt: skip


def parsed(project: Project, *args: str) -> Any:
    """The --json document of a command run in a real child process (the walk of every
    command below runs in this process)."""
    done = project.taskora(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_json_documents_keep_their_keys(project: Project) -> None:
    project.start_worker("--task", "add", "--task", "explode")
    job = parsed(project, "dispatch", "add", "--data", '{"a": 1, "b": 1}', "--wait")
    assert set(job) == {"id", "task", "state", "result"}
    project.taskora("dispatch", "explode", "--wait")

    stats = parsed(project, "stats")
    assert set(stats) == {"tasks", "total", "last_minute", "last_hour", "retention"}
    assert set(stats["retention"]) == {
        "completed_max_items", "completed_max_age_ms", "failed_max_items", "failed_max_age_ms",
    }  # fmt: skip
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

    events = [json.loads(line) for line in project.taskora("events", "--json").stdout.splitlines()]
    assert events and all(set(e) >= EVENT_KEYS for e in events)


def leaf_commands() -> set[str]:
    """Every runnable command, as "jobs ls", "work", ... (the one walker, in test_secrets)."""
    from .test_secrets import every_command

    return set(every_command())


STREAMING = {"events"}
"""Commands whose --json is JSON Lines, as their --help says (so is `jobs logs --follow`)."""


def test_every_command_prints_one_json_document_with_json(project: Project) -> None:
    config = project.root / "taskora.toml"
    config.write_text(
        config.read_text()
        + '\n[schedules.tick]\ntask = "add"\nevery = "1h"\ndata = { a = 1, b = 1 }\n'
    )
    (project.root / "nourl.toml").write_text('modules = ["mytasks"]\n')
    ran: dict[str, Any] = {}

    def run(  # in this process, through the real entry point: ~50 commands
        *args: str, ok: tuple[int, ...] = (0,), input: str | None = None
    ) -> Any:
        done = project.taskora_in_process(*args, "--json", input=input)
        assert done.returncode in ok, (args, done.stderr)
        words = [a for a in args if not a.startswith("-")]
        command = next(c for c in sorted(leaf_commands(), key=len, reverse=True)
                       if words[: len(c.split())] == c.split())  # fmt: skip
        if command in STREAMING:
            value = [json.loads(line) for line in done.stdout.splitlines()]
        else:
            value = json.loads(done.stdout)  # one document: fails on JSON Lines or nothing
        ran[command] = value
        return value

    assert run("init", "--path", "other.toml", "-m", "mytasks")["written"] is True
    assert run("config")["values"]["modules"] == ["mytasks"]
    assert run("dispatch", "add", "--ndjson", "-", input="") == []
    ids = [run("dispatch", "add", "--data", '{"a": 1, "b": 2}')["id"] for _ in range(2)]
    assert run("work", "--burst", "--task", "add") == {
        "jobs": 2, "completed": 2, "failed": 0, "duration_s": ran["work"]["duration_s"],
    }  # fmt: skip
    assert run("jobs", "logs", ids[0]) == []
    assert [j["state"] for j in run("jobs", "wait", *ids)] == ["completed", "completed"]
    assert run("jobs", "show", ids[0])["result"] == 3
    assert len(run("jobs", "ls", "--task", "add")) == 2
    queued = run("dispatch", "add", "--data", '{"a": 1, "b": 2}')["id"]
    assert run("jobs", "cancel", queued)["state"] == "cancelled"
    assert run("jobs", "retry", queued)["state"] == "waiting"
    assert run("jobs", "rm", queued) == {"id": queued, "was": "waiting", "deleted": True}
    assert run("jobs", "clean", "--state", "completed", "--older-than", "1h", "--dry-run")[
        "dry_run"
    ]
    flow, stopped = _workflows(project)
    assert run("workflows", "cancel", stopped)["state"] == "cancelled"
    project.start_worker()
    assert run("workflows", "wait", flow)["result"] == 3
    assert {w["id"] for w in run("workflows", "ls")} == {flow, stopped}
    assert len(run("workflows", "show", flow)["nodes"]) == 2
    assert run("dispatch", "explode", "--wait", ok=(1,))["state"] == "failed"
    [dead] = run("dlq", "ls")
    assert run("dlq", "ls", "--group")[0]["count"] == 1
    assert run("dlq", "retry", dead["id"])["retried"] is True
    assert run("dlq", "retry-all", "--dry-run")["dry_run"] is True
    assert run("dlq", "purge", "--dry-run")["dry_run"] is True
    assert set(run("stats")) >= {"tasks", "total", "retention"}
    assert all(isinstance(event, dict) for event in run("events", "--task", "add"))
    assert set(run("top")) >= {"tasks", "queues", "workers", "throughput"}
    assert run("doctor", ok=(0, 1))
    assert run("queues", "ls")
    assert run("queues", "pause", "default")["state"] == "paused"
    assert run("queues", "resume", "default")["state"] == "running"
    added = run("schedules", "add", "extra", "--task", "add", "--every", "1h", "-d", "{}")
    assert added["every_ms"] == 3_600_000
    assert run("schedules", "update", "extra", "--every", "2h")["every_ms"] == 7_200_000
    assert run("schedules", "rm", "extra", "--yes")["removed"] is True
    [tick] = run("schedules", "ls")
    assert run("schedules", "show", "tick")["name"] == tick["name"]
    assert len(run("schedules", "next", "tick", "-n", "2")) == 2
    assert run("schedules", "pause", "tick")["paused"] is True
    assert run("schedules", "resume", "tick")["paused"] is False
    assert run("schedules", "trigger", "tick", "--wait")["result"] == 2
    assert run("schedules", "rm", "tick", "--yes") == {"name": "tick", "removed": True}
    [worker] = run("workers", "ls")
    listed = {entry["name"]: entry for entry in run("tasks", "ls")}
    assert listed["add"]["workers"] == [worker["id"]]
    assert run("tasks", "show", "add")["migrations"]["task"] == "add"
    assert run("workers", "drain", worker["id"])["draining"] == [worker["id"]]
    assert run("server", "status", "--config", "nourl.toml")["running"] is False
    assert run("server", "start", "--config", "nourl.toml")["running"] is True
    assert run("server", "migrate", "--yes")["outcome"] == "current"
    assert run("server", "stop", "--config", "nourl.toml")["stopped"] is True
    assert run("board", "--check")["checked"] is True
    assert run("gateway", "--check")["checked"] is True
    assert set(ran) == leaf_commands()


def _workflows(project: Project) -> tuple[str, str]:
    """Two chains of add then echo, dispatched from the test process: their ids."""
    from taskora_cli import Taskora, chain
    from taskora_cli.config import load_config

    url = load_config(env={}, cwd=project.root).url
    app = Taskora(url, config=load_config(env={}, cwd=project.root / "producer"))
    try:
        add = app.task("add")(lambda data: data["a"] + data["b"])
        echo = app.task("echo")(lambda data: data)
        return tuple(  # type: ignore[return-value]
            chain(add.s({"a": 1, "b": 2}), echo.s()).dispatch().id for _ in range(2)
        )
    finally:
        app.close()
