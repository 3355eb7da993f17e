"""`taskora jobs rm` and `taskora jobs clean` end to end through the real entry point."""

from __future__ import annotations

import json

import pytest

from taskora_cli import Taskora

from .conftest import Project

pytestmark = pytest.mark.cli_in_process  # `project.taskora` runs in-process


def _claim_one(producer: Taskora) -> None:
    """Make the oldest waiting echo job active, as a worker's claim does."""

    async def claim() -> None:
        engine = await producer.connect()
        assert len(await engine.claim("echo", "w1", 1, producer.clock(), 60_000)) == 1

    producer.runtime.call(claim())


def test_jobs_rm_deletes_a_queued_job_and_refuses_an_active_or_unknown_one(
    project: Project, producer: Taskora
) -> None:
    active = producer.dispatch("echo", 1).id
    _claim_one(producer)
    queued = producer.dispatch("echo", 2).id
    producer.close()
    done = project.taskora("jobs", "rm", queued)
    assert (done.returncode, done.stdout) == (0, f"{queued} deleted (it was waiting)\n"), (
        done.stderr
    )
    again = project.taskora("jobs", "rm", queued, "--json")
    assert again.returncode == 2 and "no job" in again.stderr and again.stdout == ""
    refused = project.taskora("jobs", "rm", active)
    assert refused.returncode == 2, refused.stderr
    assert "is active" in refused.stderr and f"taskora jobs cancel {active}" in refused.stderr
    assert "Traceback" not in refused.stderr
    shown = json.loads(project.taskora("jobs", "show", active, "--json").stdout)
    assert shown["state"] == "active"


def test_jobs_clean_counts_asks_and_deletes_old_finished_jobs(
    project: Project, producer: Taskora
) -> None:
    ids = [producer.dispatch("echo", n).id for n in range(2)]
    for job_id in ids:
        producer.cancel(job_id)
    producer.close()
    args = ("jobs", "clean", "--state", "cancelled", "--older-than", "0s")
    dry = project.taskora(*args, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout) == {
        "state": "cancelled", "matched": 2, "deleted": 0, "dry_run": True,
        "by_task": {"echo": 2},
    }  # fmt: skip
    unasked = project.taskora(*args)  # stdin is no terminal: no one to confirm
    assert unasked.returncode == 2 and "--yes" in unasked.stderr
    done = project.taskora(*args, "--yes")
    assert (done.returncode, done.stdout) == (0, "deleted 2 cancelled jobs\n  echo: 2\n")
    assert project.taskora("jobs", "show", ids[0]).returncode == 2
    bad_age = project.taskora("jobs", "clean", "--state", "failed", "--older-than", "a week")
    assert bad_age.returncode == 2 and "--older-than: cannot read 'a week'" in bad_age.stderr
    bad_state = project.taskora("jobs", "clean", "--state", "active", "--older-than", "1d")
    assert bad_state.returncode == 2 and "cannot clean 'active'" in bad_state.stderr
