"""`taskora schedules add` and `schedules update` end to end through the real entry point."""

from __future__ import annotations

import json

import pytest

from .conftest import Project

pytestmark = pytest.mark.cli_in_process  # `project.taskora` runs in-process


def test_schedules_add_stores_a_schedule_and_update_changes_it(project: Project) -> None:
    added = project.taskora(
        "schedules", "add", "sum", "--task", "add", "--every", "5m", "-d", '{"a": 1, "b": 2}',
        "--json",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    info = json.loads(added.stdout)
    assert (info["name"], info["task"], info["data"]) == ("sum", "add", {"a": 1, "b": 2})
    assert (info["every_ms"], info["cron"], info["paused"]) == (300_000, None, False)
    again = project.taskora("schedules", "add", "sum", "--task", "add", "--every", "1m")
    assert again.returncode == 2 and "exists already" in again.stderr
    updated = project.taskora(
        "schedules", "update", "sum", "--cron", "0 9 * * MON-FRI", "--timezone", "Europe/Berlin",
        "--json",
    )  # fmt: skip
    assert updated.returncode == 0, updated.stderr
    changed = json.loads(updated.stdout)
    assert (changed["cron"], changed["timezone"], changed["every_ms"]) == (
        "0 9 * * MON-FRI", "Europe/Berlin", None,
    )  # fmt: skip
    assert changed["data"] == {"a": 1, "b": 2}  # what was not given stays
    fired = project.taskora("schedules", "trigger", "sum", "--json")
    assert fired.returncode == 0, fired.stderr


def test_schedules_add_and_update_refuse_bad_input(project: Project) -> None:
    both = project.taskora("schedules", "add", "x", "--task", "add", "--every", "5m",
                           "--cron", "* * * * *")  # fmt: skip
    assert both.returncode == 2 and "exactly one of --every and --cron" in both.stderr
    no_task = project.taskora("schedules", "add", "x", "--every", "5m")
    assert no_task.returncode == 2 and "needs --task" in no_task.stderr
    typo = project.taskora("schedules", "add", "x", "--task", "ad", "--every", "5m")
    assert typo.returncode == 2 and "'ad'" in typo.stderr and "Traceback" not in typo.stderr
    bad_cron = project.taskora("schedules", "add", "x", "--task", "add", "--cron", "every day")
    assert bad_cron.returncode == 2 and "Traceback" not in bad_cron.stderr
    unknown = project.taskora("schedules", "update", "nope", "--every", "1m")
    assert unknown.returncode == 2 and "unknown schedule 'nope'" in unknown.stderr
    nothing = project.taskora("schedules", "update", "nope")
    assert nothing.returncode == 2 and "nothing to change" in nothing.stderr
    kept = project.taskora("schedules", "add", "x", "--task", "add", "--every", "5m")
    assert kept.returncode == 0, kept.stderr
    retyped = project.taskora("schedules", "update", "x", "--task", "ad", "--json")
    assert retyped.returncode == 2 and "unknown task 'ad'" in retyped.stderr, retyped.stderr
    assert retyped.stdout == ""
    shown = json.loads(project.taskora("schedules", "show", "x", "--json").stdout)
    assert shown["task"] == "add"  # the typo changed nothing
