"""`taskora dlq` end to end: the real entry point, a real worker failing jobs, a real server."""

from __future__ import annotations

import json
import textwrap

import pytest
import redis

from taskora_cli.engine.keys import TaskKeys

from .conftest import Project, wait_for

pytestmark = pytest.mark.cli_in_process  # `project.taskora` runs in-process

FLAKY = """
from pathlib import Path
from taskora_cli import task

BROKEN = Path(__file__).parent / "broken"


@task("flaky")
def flaky(data, ctx):
    if BROKEN.exists():
        raise RuntimeError(f"flaky is broken ({data})")
    return "fixed"
"""

KEYS = TaskKeys("", "flaky")


@pytest.fixture
def client(project: Project, redis_url: str) -> redis.Redis:
    (project.root / "dlqtasks.py").write_text(textwrap.dedent(FLAKY))
    toml = project.root / "taskora.toml"
    toml.write_text(toml.read_text().replace('["mytasks"]', '["mytasks", "dlqtasks"]'))
    return redis.Redis.from_url(redis_url, decode_responses=True)


def fail_jobs(project: Project, client: redis.Redis, n: int = 3) -> list[str]:
    """Dispatch ``n`` flaky jobs while it is broken and wait until a worker failed them all."""
    (project.root / "broken").write_text("")
    project.start_worker()
    lines = "".join(f"{i}\n" for i in range(n))
    done = project.taskora("dispatch", "flaky", "--ndjson", "-", input=lines)
    assert done.returncode == 0, done.stderr
    wait_for(lambda: client.zcard(KEYS.failed) == n)
    return done.stdout.split()


def test_dlq_ls_shows_dead_jobs_as_a_table_as_json_and_grouped(
    project: Project, client: redis.Redis
) -> None:
    ids = fail_jobs(project, client)
    table = project.taskora("dlq", "ls")
    assert table.returncode == 0, table.stderr
    assert "RuntimeError: flaky is broken (2)" in table.stdout
    assert all(job_id in table.stdout for job_id in ids)

    listed = json.loads(project.taskora("dlq", "ls", "--json", "--task", "flaky").stdout)
    assert sorted(row["id"] for row in listed) == sorted(ids)
    times = [row["failed_at_ms"] for row in listed]
    assert times == sorted(times, reverse=True)  # newest first
    last = ids.index(listed[0]["id"])
    assert listed[0]["task"] == "flaky" and listed[0]["attempts"] == 1
    assert listed[0]["error"] == {"type": "RuntimeError", "message": f"flaky is broken ({last})"}

    one = json.loads(project.taskora("dlq", "ls", "--json", "--limit", "1").stdout)
    assert one == listed[:1]
    # the messages differ only in a number: one group, which --error-match can retry whole
    [grouped] = json.loads(project.taskora("dlq", "ls", "--group", "--json").stdout)
    assert grouped["error"] == {"type": "RuntimeError", "message": "flaky is broken (<n>)"}
    assert (grouped["count"], grouped["tasks"]) == (3, ["flaky"])
    assert grouped["sample"] == f"flaky is broken ({last})"
    would = project.taskora(
        "dlq", "retry-all", "--error-match", grouped["error_match"], "--dry-run", "--json"
    )
    assert json.loads(would.stdout)["matched"] == 3
    table = project.taskora("dlq", "ls", "--group").stdout.splitlines()
    assert table[0].split() == ["COUNT", "NEWEST", "TASKS", "ERROR"]
    assert table[1].split()[0] == "3" and table[1].endswith("RuntimeError: flaky is broken (<n>)")


def test_dlq_retry_sends_one_job_back_and_it_completes(
    project: Project, client: redis.Redis
) -> None:
    ids = fail_jobs(project, client)
    (project.root / "broken").unlink()
    done = project.taskora("dlq", "retry", ids[0])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"retried {ids[0]} (task flaky;")
    wait_for(lambda: client.hget(KEYS.job(ids[0]), "state") == "completed")
    assert client.zcard(KEYS.failed) == 2


def test_dlq_retry_of_an_unknown_or_live_job_is_one_line_and_exit_2(
    project: Project, client: redis.Redis
) -> None:
    missing = project.taskora("dlq", "retry", "nope")
    assert missing.returncode == 2
    assert missing.stderr == (
        "taskora: no job 'nope' in any task (never dispatched, or trimmed by retention)\n"
    )
    queued = project.taskora("dispatch", "flaky").stdout.strip()
    live = project.taskora("dlq", "retry", queued)
    assert live.returncode == 2 and "is waiting, not a dead letter" in live.stderr
    assert "Traceback" not in live.stderr


@pytest.mark.parametrize("verb", ["retry-all", "purge"])
def test_bulk_actions_refuse_without_yes_when_stdin_is_not_a_terminal(
    project: Project, client: redis.Redis, verb: str
) -> None:
    fail_jobs(project, client, 1)
    done = project.taskora("dlq", verb, input="")
    assert done.returncode == 2
    assert "pass --yes" in done.stderr and len(done.stderr.splitlines()) == 1
    assert client.zcard(KEYS.failed) == 1


def test_retry_all_dry_run_then_yes_retries_the_matching_jobs(
    project: Project, client: redis.Redis
) -> None:
    ids = fail_jobs(project, client, 4)
    (project.root / "broken").unlink()
    args = ("dlq", "retry-all", "--task", "flaky", "--error-match", r"broken \([0-2]\)")
    dry = project.taskora(*args, "--dry-run", "--json", input="")
    assert json.loads(dry.stdout) == {
        "matched": 3,
        "done": 0,
        "dry_run": True,
        "by_task": {"flaky": 3},
    }
    assert project.taskora(*args, "--dry-run").stdout.startswith("would retry 3 dead jobs")
    done = project.taskora(*args, "--since", "1h", "--yes", "--json", input="")
    assert json.loads(done.stdout)["done"] == 3, done.stderr
    wait_for(lambda: all(client.hget(KEYS.job(i), "state") == "completed" for i in ids[:3]))
    assert client.zrange(KEYS.failed, 0, -1) == [ids[3]]


def test_purge_yes_deletes_the_dead_jobs(project: Project, client: redis.Redis) -> None:
    ids = fail_jobs(project, client)
    done = project.taskora("dlq", "purge", "--yes", "--limit", "2", input="")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "purged 2 dead jobs\n  flaky: 2\n"
    (kept,) = client.zrange(KEYS.failed, 0, -1)
    gone = [job_id for job_id in ids if job_id != kept]
    assert not client.exists(*(KEYS.job(i) for i in gone), *(KEYS.logs(i) for i in gone))
    assert project.taskora("dlq", "purge", "-y").stdout.startswith("purged 1 dead job")
    assert project.taskora("dlq", "ls").stdout == "no dead letters\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (("retry-all", "--error-match", "(", "--yes"), "not a valid regular expression"),
        (("retry-all", "--since", "soon", "--yes"), "cannot read 'soon' as a duration"),
        (("ls", "--task", "nope"), "unknown task 'nope'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    project: Project, client: redis.Redis, args: tuple[str, ...], message: str
) -> None:
    done = project.taskora("dlq", *args, input="")
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and len(done.stderr.splitlines()) == 1


@pytest.mark.parametrize("answer, left", [("n", 2), ("y", 0)])
def test_bulk_actions_on_a_terminal_ask_first(
    project: Project, client: redis.Redis, answer: str, left: int
) -> None:
    import os
    import pty
    import subprocess
    import sys

    fail_jobs(project, client, 2)
    main, tty = pty.openpty()  # stdin is a terminal: the command asks instead of refusing
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "taskora_cli", "dlq", "purge"],
            cwd=project.root,
            env=project.env,
            stdin=tty,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(main, f"{answer}\n".encode())
        out, err = proc.communicate(timeout=30)
    finally:
        os.close(main)
        os.close(tty)
    assert proc.returncode == 0, err
    assert "Purge 2 dead jobs? [y/N]" in err
    assert out.splitlines()[0] == ("purged nothing (2 dead jobs matched)" if left else
                                   "purged 2 dead jobs")  # fmt: skip
    assert client.zcard(KEYS.failed) == left
