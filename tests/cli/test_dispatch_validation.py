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

TYPED = """
from typing import TypedDict
from taskora_cli import task


class Order(TypedDict):
    sku: str
    qty: int


@task("order")
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
