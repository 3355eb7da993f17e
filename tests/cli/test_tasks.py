"""`taskora tasks ls|show` end to end: published contracts (published here with the engine, as
a worker of the new version would), tasks known by name only, jobs per payload version, shell
completion of task names; and job views that decode non-JSON payloads and show a validation
error's bad fields."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from taskora_cli.contract import define_task
from taskora_cli.engine.engine import Engine
from taskora_cli.engine.records import Failure, NewJob

from .conftest import Project

pytestmark = pytest.mark.cli_in_process  # `project.taskora` runs in-process

SCHEMA = {
    "type": "object",
    "properties": {"to": {"type": "string"}, "cc": {"type": "string"}},
    "required": ["to"],
}
NOW = 1_700_000_000_000


def on_server(redis_url: str, work: object) -> None:
    """Run ``work(engine)`` against the test server, as a worker or producer elsewhere would."""

    async def run() -> None:
        engine = Engine(redis_url)
        await engine.connect(NOW)
        try:
            await work(engine)  # type: ignore[operator]
        finally:
            await engine.close()

    asyncio.run(run())


def publish_send_email(redis_url: str, *versions: str) -> None:
    """Publish ``send-email`` (version 2, since 1, singleton, ttl 10m) and enqueue a waiting
    job per version given."""
    contract = define_task(
        "send-email", queue="mail", version=2, since=1, singleton=True, ttl="10m"
    )
    document = contract.document(input_schema=SCHEMA, published_at_ms=NOW).to_json()

    async def work(engine: Engine) -> None:
        await engine.publish_contracts({"send-email": document})
        for n, version in enumerate(versions):
            extra = json.dumps({"v": version})
            await engine.enqueue("send-email", NewJob(f"j{n}", '{"to": "a"}', extra=extra), NOW)

    on_server(redis_url, work)


def test_tasks_ls_lists_published_local_and_name_only_tasks(
    project: Project, redis_url: str
) -> None:
    publish_send_email(redis_url)
    on_server(redis_url, lambda engine: engine.register_tasks({"legacy": "old"}))
    done = project.taskora("tasks", "ls", "--json")
    assert done.returncode == 0, done.stderr
    listed = {entry["name"]: entry for entry in json.loads(done.stdout)}
    sent = listed["send-email"]
    assert (sent["source"], sent["queue"], sent["version"], sent["since"]) == (
        "published", "mail", 2, 1,
    )  # fmt: skip
    assert sent["options"]["singleton"] is True and sent["has_input_schema"] is True
    assert sent["workers"] == []
    assert (listed["legacy"]["source"], listed["legacy"]["queue"]) == ("name", "old")
    assert (listed["mail"]["source"], listed["mail"]["queue"]) == ("local", "emails")
    table = project.taskora("tasks", "ls", "--wide")
    assert table.returncode == 0, table.stderr
    row = next(line.split() for line in table.stdout.splitlines() if line.startswith("send-"))
    assert row[:5] == ["send-email", "mail", "1..2", "0", "published"]
    assert "singleton" in row and "ttl=10m" in row


def test_tasks_show_prints_the_contract_schema_and_jobs_per_version(
    project: Project, redis_url: str
) -> None:
    publish_send_email(redis_url, "1", "2", "2")
    shown = project.taskora("tasks", "show", "send-email")
    assert shown.returncode == 0, shown.stderr
    assert "{cc, to*}" in shown.stdout  # (published with its keys sorted)
    assert "v1: 1 (1 waiting)" in shown.stdout and "v2: 2 (2 waiting)" in shown.stdout
    assert "cannot be raised above 1 yet: jobs at version 1" in shown.stdout
    as_json = json.loads(project.taskora("tasks", "show", "send-email", "--json").stdout)
    assert as_json["input_schema"] == SCHEMA and as_json["output_schema"] is None
    assert as_json["migrations"]["waiting"] == {"1": 1, "2": 2}
    assert as_json["migrations"]["can_raise"] is False
    schema = project.taskora("tasks", "show", "send-email", "--schema")
    assert schema.returncode == 0 and json.loads(schema.stdout) == SCHEMA
    none = project.taskora("tasks", "show", "add", "--schema")
    assert none.returncode == 2 and "has no input schema" in none.stderr


def test_tasks_show_of_an_unknown_task_exits_2_listing_the_known_ones(project: Project) -> None:
    done = project.taskora("tasks", "show", "sned-email")
    assert done.returncode == 2
    assert "unknown task 'sned-email'; known tasks: " in done.stderr and "add" in done.stderr
    assert "Traceback" not in done.stderr


def test_tasks_help_explains_every_flag(project: Project) -> None:
    done = project.taskora("tasks", "show", "--help")
    for flag in ("--schema", "--json", "--config"):
        assert flag in done.stdout
    assert "Examples:" in done.stdout


def test_tasks_show_completes_task_names(project: Project, redis_url: str) -> None:
    publish_send_email(redis_url)
    env = project.env | {
        "_TASKORA_COMPLETE": "complete_bash",
        "COMP_WORDS": "taskora tasks show s",
        "COMP_CWORD": "3",
    }
    done = subprocess.run(
        [sys.executable, "-m", "taskora_cli"], cwd=project.root, env=env, capture_output=True,
        text=True, timeout=30,
    )  # fmt: skip
    assert done.stdout.split() == ["send-email", "slow"]


def test_jobs_show_decodes_msgpack_data_and_lists_a_validation_errors_fields(
    project: Project, redis_url: str
) -> None:
    pytest.importorskip("msgspec")
    from taskora_cli.serialization import Msgpack, Payloads

    data = Payloads(Msgpack()).dumps({"to": "a@example.com", "blob": b"\x00\xff"})
    error = {
        "type": "ValidationError",
        "message": "data for task 'echo' is invalid: to: expected str; qty: required",
        "traceback": None,
        "issues": [
            {"path": "to", "message": "expected str"},
            {"path": "qty", "message": "required"},
        ],
    }

    async def work(engine: Engine) -> None:
        await engine.register_tasks({"echo": "default"})
        await engine.enqueue("echo", NewJob("packed", data), NOW)
        (job,) = await engine.claim("echo", "w", 1, NOW, 30_000)
        await engine.fail_and_claim(
            "echo", Failure(job.id, job.token, json.dumps(error), None), "w", 0, NOW, 30_000
        )

    on_server(redis_url, work)
    as_json = project.taskora("jobs", "show", "packed", "--json")
    assert as_json.returncode == 0, as_json.stderr
    shown = json.loads(as_json.stdout)
    assert shown["data"] == {"to": "a@example.com", "blob": "base64:AP8="}
    assert shown["error"]["issues"] == error["issues"]
    human = project.taskora("jobs", "show", "packed")
    assert "  to: expected str" in human.stdout and "  qty: required" in human.stdout
    assert '"to": "a@example.com"' in human.stdout
    dlq = project.taskora("dlq", "ls", "--wide")
    assert "ValidationError: to: expected str; qty: required" in dlq.stdout
    listed = json.loads(project.taskora("dlq", "ls", "--json").stdout)
    assert listed[0]["error"]["issues"] == error["issues"]
    events = project.taskora("events", "--task", "echo", "--json").stdout.splitlines()
    failed = [json.loads(line) for line in events if '"failed"' in line]
    assert failed[-1]["error"]["issues"] == error["issues"]
