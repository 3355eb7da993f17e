"""What the commands print for people: tables that fit the terminal, a job's final outcome,
one-line usage errors."""

from __future__ import annotations

import json

import pytest

from taskora_cli import Taskora

from .conftest import Project

pytestmark = pytest.mark.cli_in_process  # `project.taskora` runs in-process

FLAKY = """

@task("flaky-once", retry=Retry(attempts=2, delay="10ms", jitter=False))
def flaky_once(data, ctx):
    if ctx.attempt == 1:
        raise ValueError("first try fails")
    return "second try works"
"""


def test_a_table_cuts_each_line_to_the_terminal_width_and_wide_shows_every_cell(
    project: Project, producer: Taskora
) -> None:
    payload = "x" * 200_000
    producer.dispatch("echo", {"blob": payload})
    producer.dispatch("echo", "small")
    producer.close()

    piped = project.taskora("jobs", "ls")
    assert piped.returncode == 0, piped.stderr
    lines = piped.stdout.splitlines()
    assert len(lines) == 3 and lines[0].startswith("ID")
    assert all(len(line) <= 80 for line in lines), [len(line) for line in lines]
    assert lines[1].endswith("…") and lines[2].endswith('"small"')

    project.env["COLUMNS"] = "120"
    wider = project.taskora("jobs", "ls").stdout.splitlines()
    assert max(len(line) for line in wider) == 120

    whole = project.taskora("jobs", "ls", "--wide").stdout.splitlines()
    assert payload in whole[1] and not whole[2].endswith(" ")


def test_a_job_that_failed_once_then_completed_shows_its_result_and_the_failure_as_an_attempt(
    project: Project,
) -> None:
    (project.root / "mytasks.py").write_text((project.root / "mytasks.py").read_text() + FLAKY)
    project.start_worker("--task", "flaky-once")
    done = project.taskora("dispatch", "flaky-once", "--wait", "--json")
    assert done.returncode == 0, done.stderr
    job_id = json.loads(done.stdout)["id"]

    listed = project.taskora("jobs", "ls", "--task", "flaky-once", "--wide")
    [row] = listed.stdout.splitlines()[1:]
    assert row.endswith('"second try works"') and "ValueError" not in row

    shown = project.taskora("jobs", "show", job_id).stdout
    assert 'result:     "second try works"' in shown
    assert "error:" not in shown and "Traceback" not in shown
    assert "  #1:       retried: ValueError: first try fails" in shown
    assert "  #2:       completed" in shown

    as_json = json.loads(project.taskora("jobs", "show", job_id, "--json").stdout)
    assert as_json["error"] is None
    first, second = as_json["attempts"]
    assert (first["outcome"], first["error"]["message"]) == ("retried", "first try fails")
    assert second == {"attempt": 2, "outcome": "completed", "error": None}


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("dispatch", "echo", "--dely", "3"),
            "taskora dispatch: no such option --dely (did you mean --delay?); "
            "see 'taskora dispatch --help'",
        ),
        (("jbos",), "taskora: no such command 'jbos' (did you mean 'jobs'?); see 'taskora --help'"),
        (("dispatch",), "taskora dispatch: missing argument 'TASK'; see 'taskora dispatch --help'"),
        (
            ("jobs", "ls", "--state"),
            "taskora jobs ls: option '--state' requires an argument; see 'taskora jobs ls --help'",
        ),
    ],
)
def test_a_usage_error_is_one_line_naming_the_fix_and_exits_2(
    project: Project, args: tuple[str, ...], line: str
) -> None:
    done = project.taskora(*args)
    assert (done.returncode, done.stderr, done.stdout) == (2, line + "\n", "")


def test_dispatch_wait_prints_a_string_result_as_json_or_raw_and_stats_names_the_retention_cap(
    project: Project,
) -> None:
    project.start_worker("--task", "mail")
    quoted = project.taskora("dispatch", "mail", "--data", '"bob"', "--wait")
    assert (quoted.returncode, quoted.stdout) == (0, '"sent to bob"\n'), quoted.stderr
    raw = project.taskora("dispatch", "mail", "--data", '"bob"', "--wait", "--raw")
    assert (raw.returncode, raw.stdout) == (0, "sent to bob\n"), raw.stderr
    assert "--raw" in project.taskora("dispatch", "--help").stdout
    alone = project.taskora("dispatch", "mail", "--raw")
    assert (alone.returncode, alone.stdout) == (2, "")

    said = project.taskora("stats").stdout
    assert (
        "COMPLETED and FAILED count what retention keeps: completed up to 10,000 per task for 1d"
        in said
    )


def test_work_json_without_an_end_is_a_usage_error(project: Project) -> None:
    done = project.taskora("work", "--json")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith(
        "taskora: --json prints a summary when the worker exits by itself"
    )
