"""`taskora dispatch` against a task's input schema: bad data exits 2 naming each bad field and
enqueues nothing; --skip-validation enqueues it anyway (the worker still checks it)."""

from __future__ import annotations

import json
import textwrap

import pytest
import redis

from taskora_cli.cli import _report
from taskora_cli.engine.keys import TaskKeys
from taskora_cli.errors import Issue, ValidationError

from .conftest import Project
from .test_tasks import on_server, publish_send_email

pytestmark = pytest.mark.cli_in_process  # `project.taskora` runs in-process

TYPED = """
from typing import TypedDict
from taskora_cli import Retry, task


class Order(TypedDict):
    sku: str
    qty: int


@task("order", retry=Retry(attempts=3))
def order(data: Order) -> int:
    return data["qty"]
"""


def waiting(redis_url: str, task: str) -> int:
    return int(redis.Redis.from_url(redis_url).llen(TaskKeys("", task).wait))


def test_a_validation_error_is_reported_one_line_per_bad_field(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _report(ValidationError("order", [Issue("items.0.qty", "expected int"), Issue("", "bad")]))
    assert capsys.readouterr().err.splitlines() == [
        "taskora: data for task 'order' is invalid:",
        "  items.0.qty: expected int",
        "  (root): bad",
    ]


def test_bad_data_for_a_published_contract_exits_2_naming_the_field(
    project: Project, redis_url: str
) -> None:
    publish_send_email(redis_url)
    on_server(redis_url, lambda engine: engine.register_tasks({"send-email": "mail"}))
    done = project.taskora("dispatch", "send-email", "--data", '{"cc": 3}')
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "taskora: data for task 'send-email' is invalid:"
    assert any(line.startswith("  to: ") for line in lines[1:])
    assert any(line.startswith("  cc: ") for line in lines[1:])
    assert done.stdout == "" and waiting(redis_url, "send-email") == 0


def test_bad_data_for_a_local_typed_task_exits_2_and_skip_validation_enqueues_it(
    project: Project, redis_url: str
) -> None:
    (project.root / "typed.py").write_text(textwrap.dedent(TYPED))
    config = project.root / "taskora.toml"
    config.write_text(config.read_text().replace('["mytasks"]', '["mytasks", "typed"]'))
    (project.root / "bad.json").write_text(json.dumps({"sku": "a", "qty": "two"}))
    done = project.taskora("dispatch", "order", "--data", "@bad.json")
    assert done.returncode == 2 and "  qty: " in done.stderr, done.stderr
    assert waiting(redis_url, "order") == 0
    forced = project.taskora("dispatch", "order", "--data", "@-", "--skip-validation",
                             input='{"qty": "two"}')  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    assert waiting(redis_url, "order") == 1


def test_a_worker_publishes_the_schema_and_fails_a_skipped_bad_payload_with_its_issues(
    project: Project, redis_url: str
) -> None:
    (project.root / "typed.py").write_text(textwrap.dedent(TYPED))
    config = project.root / "taskora.toml"
    config.write_text(config.read_text().replace('["mytasks"]', '["mytasks", "typed"]'))
    project.start_worker("--task", "order")
    listed = json.loads(project.taskora("tasks", "ls", "--json").stdout)
    order = next(row for row in listed if row["name"] == "order")
    assert len(order["workers"]) == 1, order  # published at start, by the live worker
    schema = json.loads(project.taskora("tasks", "show", "order", "--schema").stdout)
    assert schema["required"] == ["sku", "qty"]
    job = project.taskora("dispatch", "order", "--data", '{"qty": "two"}', "--skip-validation")
    assert job.returncode == 0, job.stderr
    waited = project.taskora("jobs", "wait", job.stdout.strip(), "--timeout", "15s")
    assert waited.returncode != 0  # failed for good at its first attempt, not retried
    shown = json.loads(project.taskora("jobs", "show", job.stdout.strip(), "--json").stdout)
    assert shown["state"] == "failed" and len(shown["attempts"]) == 1, shown
    paths = {issue["path"] for issue in shown["error"]["issues"]}
    assert paths == {"sku", "qty"}, shown["error"]
