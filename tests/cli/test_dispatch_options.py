"""`taskora dispatch --id` and `--at` end to end through the real entry point."""

from __future__ import annotations

import json

import pytest

from .conftest import Project

pytestmark = pytest.mark.cli_in_process  # `project.taskora` runs in-process


def test_dispatch_id_names_the_job_and_a_second_one_is_rejected_with_it(
    project: Project,
) -> None:
    first = project.taskora("dispatch", "echo", "--id", "order-7", "--data", "1")
    assert (first.returncode, first.stdout) == (0, "order-7\n"), first.stderr
    again = project.taskora("dispatch", "echo", "--id", "order-7", "--data", "2", "--json")
    assert again.returncode == 1
    assert json.loads(again.stdout) == {
        "id": "order-7", "task": "echo", "enqueued": False, "reason": "duplicate",
        "existing_id": "order-7",
    }  # fmt: skip
    assert "a job with id order-7 already exists" in again.stderr
    allowed = project.taskora("dispatch", "echo", "--id", "order-7", "--allow-reject")
    assert (allowed.returncode, allowed.stdout) == (0, "order-7\n")
    shown = json.loads(project.taskora("jobs", "show", "order-7", "--json").stdout)
    assert shown["data"] == 1
    for refused in ("two words", "order-8\n"):  # a trailing newline too: the whole id counts
        bad = project.taskora("dispatch", "echo", "--id", refused)
        assert bad.returncode == 2 and "job_id must be" in bad.stderr, bad.stderr
        assert "Traceback" not in bad.stderr


def test_dispatch_at_delays_the_job_until_then_and_refuses_an_unreadable_moment(
    project: Project,
) -> None:
    at = project.taskora("dispatch", "echo", "--at", "2030-12-24T09:00Z", "--json")
    assert at.returncode == 0, at.stderr
    job_id = json.loads(at.stdout)["id"]
    shown = json.loads(project.taskora("jobs", "show", job_id, "--json").stdout)
    assert shown["state"] == "delayed"
    assert shown["timeline"]["run_at"] == "2030-12-24T09:00:00+00:00"
    past = project.taskora("dispatch", "echo", "--at", "2001-01-01T00:00+01:00", "--json")
    past_id = json.loads(past.stdout)["id"]
    assert json.loads(project.taskora("jobs", "show", past_id, "--json").stdout)["state"] == (
        "waiting"
    )
    bad = project.taskora("dispatch", "echo", "--at", "next tuesday")
    assert bad.returncode == 2 and "--at: cannot read 'next tuesday'" in bad.stderr
    both = project.taskora("dispatch", "echo", "--at", "2030-01-01T00:00Z", "--delay", "5s")
    assert both.returncode == 2 and "run_at= or delay=" in both.stderr
