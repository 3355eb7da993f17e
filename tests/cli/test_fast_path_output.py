"""The one-shot commands print the same bytes (and exit with the same code) whichever reader
read their command line: the fast path (cli/fast_path.py) or typer."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from taskora_cli.cli import fast_path

from .conftest import Project

pytestmark = pytest.mark.cli_in_process  # `project.taskora` runs in-process


def both(
    project: Project, *args: str, undo: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """``taskora args`` through the fast path, checked against the same line through typer
    (after ``taskora undo``, for a command that changes what it reports)."""
    assert fast_path.parse(args) is not None, args  # the fast path takes it
    fast = project.taskora(*args)
    if undo:
        assert project.taskora(*undo).returncode == 0
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fast_path, "fast_command", lambda _args: None)
        slow = project.taskora(*args)
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        slow.returncode,
        slow.stdout,
        slow.stderr,
    ), args
    return fast


def test_jobs_show_stats_and_queues_print_the_same_either_way(project: Project) -> None:
    # delayed, not waiting: no queue latency that grows between the two runs
    job_id = project.taskora("dispatch", "mail", "--data", '"a@example.com"', "--delay", "1h")
    job = job_id.stdout.strip()
    assert both(project, "jobs", "show", job).returncode == 0
    both(project, "jobs", "show", job, "--json", "--task", "mail")
    assert both(project, "jobs", "show", "no-such-job").returncode == 2
    assert both(project, "stats").returncode == 0
    both(project, "stats", "--json", "--wide")
    assert both(project, "stats", "--interval", "1ms").returncode == 2
    paused = both(project, "queues", "pause", "emails", undo=("queues", "resume", "emails"))
    assert paused.stdout == "queue emails paused\n"
    both(project, "queues", "resume", "emails", "--json", undo=("queues", "pause", "emails"))
    assert both(project, "queues", "pause", "nosuch").returncode == 2
    both(project, "--app", "mytasks:nothing", "queues", "pause", "emails")


def test_dispatch_prints_the_same_either_way(project: Project) -> None:
    project.taskora("dispatch", "echo", "--id", "same-id")
    assert both(project, "dispatch", "echo", "--id", "same-id", "--json").returncode == 1
    assert both(project, "dispatch", "nosuch").returncode == 2
    assert both(project, "dispatch", "echo", "--data", "{bad").returncode == 2


LOADED = """
import sys
from taskora_cli.cli import main
try:
    main()
finally:
    heavy = ("redis", "asyncio", "typer", "click", "rich", "pydantic", "hashlib")
    print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)
"""


def loaded(project: Project, *args: str) -> list[str]:
    """The heavy packages a fresh process running ``taskora args`` imported."""
    done = subprocess.run(
        [sys.executable, "-c", LOADED, *args],
        cwd=project.root, env=project.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found: list[str] = ast.literal_eval(done.stderr.strip().splitlines()[-1])
    return found


def test_the_one_shot_commands_load_neither_redis_py_nor_asyncio_nor_typer(
    project: Project,
) -> None:
    # nor hashlib (it loads OpenSSL): 3-6 ms of a call that takes ~90
    assert loaded(project, "dispatch", "echo", "--data", "1", "--id", "seen") == []
    # the others read over the same lean blocking connection (engine/read_steps.py)
    assert loaded(project, "jobs", "show", "seen") == []
    assert loaded(project, "stats") == []
    assert loaded(project, "queues", "pause", "emails") == []
