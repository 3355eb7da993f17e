"""A user's project, as pip installs taskora: its tests get the fixture with no configuration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TASKS = """
from taskora_cli import Retry, task

attempts = []


@task("charge", retry=Retry(attempts=3, delay="1h", jitter=False))
def charge(amount: int) -> str:
    attempts.append(amount)
    if len(attempts) < 3:
        raise ConnectionError("the bank is down")
    return f"charged {amount}"
"""

TESTS = """
from tasks import attempts, charge


def test_charge_retries_until_the_bank_answers(taskora_runner):
    execution = taskora_runner.execute(charge, 10)
    assert execution.state == "completed", execution.error
    assert (execution.result, execution.attempts) == ("charged 10", 3)


def test_each_test_starts_from_an_empty_server(taskora_runner):
    assert taskora_runner.jobs == []
"""


def test_a_user_project_uses_the_fixture_without_configuration(tmp_path: Path) -> None:
    (tmp_path / "tasks.py").write_text(TASKS)
    (tmp_path / "test_tasks.py").write_text(TESTS)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
