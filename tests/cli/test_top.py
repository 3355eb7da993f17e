"""`taskora top` end to end: plain output without a terminal, and the live dashboard driven
through tmux (send-keys, capture-pane) against a real worker and server."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

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
        raise RuntimeError("flaky is broken")
    return "fixed"
"""


@pytest.fixture
def client(project: Project, redis_url: str) -> Iterator[redis.Redis]:
    (project.root / "flakytasks.py").write_text(textwrap.dedent(FLAKY))
    toml = project.root / "taskora.toml"
    toml.write_text(toml.read_text().replace('["mytasks"]', '["mytasks", "flakytasks"]'))
    made = redis.Redis.from_url(redis_url, decode_responses=True)
    yield made
    made.close()


def test_top_once_prints_the_overview_as_plain_text(project: Project) -> None:
    for _ in range(2):
        assert project.taskora("dispatch", "add", "-d", '{"a": 1, "b": 2}').returncode == 0
    done = project.taskora("top", "--once")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("taskora top  ")
    assert "clients" in lines[1] and "workers 0 live" in lines[1]
    add = next(line for line in lines if line.startswith("add "))
    assert add.split()[:2] == ["add", "2"]  # two waiting
    assert "\x1b" not in done.stdout  # no colours or cursor moves in a pipe


def test_top_without_a_terminal_prints_one_block_per_refresh(project: Project) -> None:
    done = project.taskora("top", "--iterations", "3", "--interval", "100ms", "--task", "add")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("taskora top  ") == 3
    tasks_listed = [
        [row.split()[0] for row in block.split("\nTASK ")[1].strip().splitlines()[1:]]
        for block in done.stdout.split("taskora top  ")[1:]
    ]
    assert tasks_listed == [["add"]] * 3  # only the task asked for, and no total


def test_ctrl_c_between_plain_refreshes_ends_top_without_an_error(project: Project) -> None:
    out = project.root / "top.out"
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "taskora_cli", "top", "--interval", "1m"],
            cwd=project.root, env=project.env, stdout=sink, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            wait_for(lambda: "TASK" in out.read_text())
            proc.send_signal(signal.SIGINT)
            _, errors = proc.communicate(timeout=20)
        finally:
            proc.kill()
    assert (proc.returncode, errors) == (0, "")
    assert out.read_text().count("taskora top  ") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--task", "nope"), "unknown task 'nope'; known tasks: add, aslow,"),
        (("--interval", "10ms"), "--interval must be at least 100ms"),
        (("--interval", "soon"), "--interval: cannot read 'soon' as a duration"),
    ],
)
def test_top_rejects_bad_options_in_one_line(
    project: Project, args: tuple[str, ...], message: str
) -> None:
    done = project.taskora("top", "--once", *args)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith(f"taskora: {message}") and done.stderr.count("\n") == 1


def test_top_exits_3_when_the_server_cannot_be_reached(project: Project) -> None:
    toml = project.root / "taskora.toml"
    lines = toml.read_text().splitlines()
    toml.write_text("\n".join(['url = "redis://127.0.0.1:1"', *lines[1:]]) + "\n")
    done = project.taskora("top", "--once")
    assert done.returncode == 3 and "cannot reach the server" in done.stderr


class Tmux:
    """One tmux server of our own (a private socket), running `taskora top` at 80x24."""

    def __init__(self, root: Path, env: dict[str, str], interval: str = "200ms") -> None:
        self.socket = f"taskora-top-{os.getpid()}-{time.monotonic_ns()}"
        self.env = {**env, "TERM": "xterm-256color"}
        top = f"{shlex.quote(sys.executable)} -m taskora_cli top --interval {interval}"
        # after top: its exit code, and whether the terminal is back in line mode ("icanon")
        mode = "$(stty -a | tr ' ;' '\\n\\n' | grep -x -- '-\\?icanon')"
        shell = f"cd {shlex.quote(str(root))} && {top} 2>top.err; echo EXITED $? {mode}; sleep 600"
        self.run("new-session", "-d", "-s", "top", "-x", "80", "-y", "24", shell)

    def run(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.run("send-keys", "-t", "top", key)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "top")

    def wait_for(self, *texts: str, timeout: float = 20.0, last_line: int | None = None) -> str:
        """The screen once it shows every one of ``texts`` (the last of them on line
        ``last_line``, if given); fail with the screen after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            lines = shown.splitlines()
            placed = last_line is None or (len(lines) > last_line and texts[-1] in lines[last_line])
            if placed and all(text in shown for text in texts):
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"never showed {texts!r}; the screen:\n{shown}")
            time.sleep(0.05)

    def close(self) -> None:
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"], env=self.env, capture_output=True
        )


@pytest.mark.skipif(
    shutil.which("tmux") is None,
    reason="tmux is not installed (apt-get install -y tmux) to drive the dashboard end to end",
)
def test_top_retries_a_dead_letter_pauses_a_queue_cancels_a_job_and_drains_a_worker(
    project: Project, client: redis.Redis
) -> None:
    (project.root / "broken").write_text("")
    project.start_worker()
    dispatched = project.taskora("dispatch", "flaky")
    assert dispatched.returncode == 0, dispatched.stderr
    job_id = dispatched.stdout.strip()
    wait_for(lambda: client.zcard(TaskKeys("", "flaky").failed) == 1)

    tmux = Tmux(project.root, project.env)
    try:
        tmux.wait_for("1 Overview", "flaky", "workers 1 live")
        tmux.keys("3")
        tmux.wait_for("1 dead letter", "RuntimeError: flaky is broken", job_id)
        (project.root / "broken").unlink()
        tmux.keys("r")
        tmux.wait_for(f"retried job {job_id} (flaky): waiting again")
        wait_for(lambda: client.hget(TaskKeys("", "flaky").job(job_id), "state") == "completed")
        tmux.keys("2", "l", "l", "l")  # Jobs, then waiting -> delayed -> active -> completed
        tmux.wait_for(job_id, '"fixed"', "ENDED")

        # typed ahead: p acts once the Overview is read; its first task, add, is in "default"
        tmux.keys("1", "p")
        tmux.wait_for("[y/N] pause queue default")
        tmux.keys("y")
        tmux.wait_for("paused queue default", "add [paused]")
        tmux.keys("p")
        tmux.wait_for("resumed queue default")

        later = project.taskora("dispatch", "add", "-d", '{"a": 1, "b": 1}', "--delay", "1h")
        tmux.keys("2", "h", "h")  # Jobs, from the completed tab back to delayed
        tmux.wait_for(later.stdout.strip(), "DUE")
        tmux.keys("c")
        tmux.wait_for(f"[y/N] cancel job {later.stdout.strip()} of add?")
        tmux.keys("y")
        tmux.wait_for(f"cancelled job {later.stdout.strip()} (add)")

        tmux.keys("4", "D")
        tmux.wait_for("[y/N] drain worker")
        tmux.keys("y")
        tmux.wait_for("draining worker", "no workers registered")
        wait_for(lambda: project.workers[0].poll() is not None)
        tmux.keys("q")
        tmux.wait_for("EXITED 0 icanon")
    finally:
        tmux.close()
    assert (project.root / "top.err").read_text() == ""


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_ctrl_c_leaves_top_with_the_terminal_restored(project: Project) -> None:
    tmux = Tmux(project.root, project.env)
    try:
        tmux.wait_for("1 Overview", "add")
        tmux.keys("C-c")
        tmux.wait_for("EXITED 0 icanon")
    finally:
        tmux.close()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_top_redraws_at_once_when_the_terminal_is_resized(project: Project) -> None:
    hints = "↑↓ select  enter jobs of task"
    tmux = Tmux(project.root, project.env, interval="1m")  # no refresh would redraw it
    try:
        tmux.wait_for("TOTAL", hints, last_line=23)  # read: no refresh until a minute passes
        tmux.run("resize-window", "-t", "top", "-x", "100", "-y", "30")
        tmux.wait_for(hints, last_line=29)
        tmux.keys("q")
        tmux.wait_for("EXITED 0 icanon")
    finally:
        tmux.close()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_top_pauses_a_schedule_with_p_and_triggers_one_with_t(
    project: Project, client: redis.Redis
) -> None:
    toml = project.root / "taskora.toml"
    toml.write_text(toml.read_text() + '\n[schedules.digest]\ntask = "echo"\nevery = "1h"\n')
    project.start_worker("--task", "echo")  # stores the declared schedule, and runs its fires
    tmux = Tmux(project.root, project.env)
    try:
        tmux.wait_for("1 Overview", "echo")  # keys sent before top runs would go to the shell
        tmux.keys("5")
        tmux.wait_for("5 Schedules", "digest", "active", "every 1h")
        tmux.keys("p")
        tmux.wait_for("[y/N] pause schedule digest (every 1h)?")
        tmux.keys("y")
        tmux.wait_for("paused schedule digest: it does not fire until resumed", "paused")
        assert "paused" in client.hgetall("taskora:{_schedules}:s:digest")
        tmux.keys("t")
        tmux.wait_for("triggered schedule digest: job")
        tmux.wait_for("completed")  # the triggered run's job ran: its outcome shows
        tmux.keys("p")
        tmux.wait_for("resumed schedule digest: next run")
        tmux.keys("q")
        tmux.wait_for("EXITED 0 icanon")
    finally:
        tmux.close()
    assert (project.root / "top.err").read_text() == ""
