"""`taskora doctor --max-latency/--max-depth` end to end through the real entry point."""

from __future__ import annotations

import json

import pytest

from .conftest import Project

pytestmark = pytest.mark.cli_in_process  # `project.taskora` runs in-process


def test_doctor_passes_within_the_thresholds_and_fails_naming_the_task_over_them(
    project: Project,
) -> None:
    project.taskora("dispatch", "add", "--ndjson", "-", input='{"a": 1, "b": 2}\n' * 3)
    within = project.taskora("doctor", "--max-latency", "60s", "--max-depth", "500")
    assert within.returncode == 0, within.stderr
    assert "queues" in within.stdout
    over = project.taskora("doctor", "--max-depth", "2")
    assert over.returncode == 1
    assert "'add': 3 jobs waiting" in over.stderr
    late = project.taskora("doctor", "--max-latency", "0s", "--json")
    assert late.returncode == 1
    assert json.loads(late.stdout.splitlines()[-1])["checks"][-1]["check"] == "queues"


def test_doctor_without_thresholds_ignores_the_queues(project: Project) -> None:
    project.taskora("dispatch", "add", "--ndjson", "-", input='{"a": 1, "b": 2}\n' * 3)
    done = project.taskora("doctor")
    assert done.returncode == 0, done.stderr
    assert "queues" not in done.stdout


def test_doctor_rejects_a_malformed_latency_as_a_usage_error(project: Project) -> None:
    done = project.taskora("doctor", "--max-latency", "soon")
    assert done.returncode == 2
    assert "--max-latency" in done.stderr and "ok" not in done.stdout
