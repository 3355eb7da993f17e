"""A password in the server URL never reaches the terminal: every command, live or not; and
every command takes --json, and fails against an unreachable server in one line, no traceback.

The one walker of the command tree (``every_command``); test_bad_input.py checks its hostile
rows cover every command with it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from taskora_cli.cli import build_command

from .conftest import TASKS, clean_env, run_taskora_in_process

SECRET = "hunter2"

ARGS: dict[str, list[str]] = {
    "work": ["--burst"],
    "dispatch": ["echo", "--data", "1"],
    "init": ["--path", "init-out.toml"],
    "config": [],
    "doctor": [],
    "stats": [],
    "events": [],
    "top": ["--once"],
    "board": ["--check"],
    "gateway": ["--check"],
    "server status": [],
    "server start": [],
    "server stop": [],
    "server migrate": ["--yes"],
    "dlq ls": [],
    "dlq retry": ["nosuchjob"],
    "dlq retry-all": ["--yes"],
    "dlq purge": ["--yes"],
    "jobs ls": [],
    "jobs show": ["nosuchjob"],
    "jobs logs": ["nosuchjob"],
    "jobs retry": ["nosuchjob"],
    "jobs cancel": ["nosuchjob"],
    "jobs rm": ["nosuchjob"],
    "jobs clean": ["--state", "completed", "--older-than", "1d", "--yes"],
    "jobs wait": ["nosuchjob", "--timeout", "1s"],
    "tasks ls": [],
    "tasks show": ["echo"],
    "workers ls": [],
    "workers drain": ["nosuchworker"],
    "queues ls": [],
    "queues pause": ["default"],
    "queues resume": ["default"],
    "schedules ls": [],
    "schedules show": ["nightly"],
    "schedules next": ["nightly"],
    "schedules pause": ["nightly"],
    "schedules resume": ["nightly"],
    "schedules trigger": ["nightly"],
    "schedules rm": ["nightly", "--yes"],
    "schedules add": ["extra", "--task", "echo", "--every", "1h"],
    "schedules update": ["nightly", "--every", "2h"],
    "workflows ls": [],
    "workflows show": ["nosuch"],
    "workflows cancel": ["nosuch"],
    "workflows wait": ["nosuch", "--timeout", "1s"],
}
"""Arguments that make each command do its work (and end); every command must be listed."""


def every_command() -> list[str]:
    """Every runnable (leaf) command of the Typer tree, as "jobs ls", "work", ...: the one
    walker, which test_bad_input.py and test_json_contract.py use too."""

    def walk(command: object, path: list[str]) -> Iterator[str]:
        subcommands = getattr(command, "commands", None)
        if not subcommands:
            yield " ".join(path)
            return
        for name, sub in subcommands.items():
            yield from walk(sub, [*path, name])

    return list(walk(build_command(), []))


RUNS_EVERY_COMMAND = pytest.mark.timeout(180)
"""Every command of the table runs, some in fresh processes: too near the suite's 60 s
per-test timeout on two loaded cores."""


def test_the_table_lists_every_command() -> None:
    assert sorted(ARGS) == sorted(every_command())


def test_every_command_takes_json() -> None:
    """The README: "Every command takes --json" (work: with --burst or --max-jobs)."""
    missing = [n for n in every_command() if not any("--json" in p.opts for p in _params(n))]
    assert not missing, f"{missing} take no --json"


NEEDS_NO_SERVER = {"init", "config", "server status", "server start", "server stop"}
"""Commands that do their work without the configured server (the server commands manage the
embedded one; with TASKORA_URL set they refuse, exit 2)."""


@dataclass(frozen=True)
class Ran:
    """One command run by the walker."""

    command: str
    args: list[str]
    code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"$ taskora {' '.join(self.args)} -> {self.code}\n{self.stdout}{self.stderr}"


def _argvs(names: list[str]) -> list[tuple[str, list[str]]]:
    """The table's commands ``names``, each twice: as text and with --json."""
    return [
        (name, [*name.split(), *ARGS[name], *(["--json"] if as_json else [])])
        for name in names
        for as_json in [False, True]
    ]


def run_all_in_process(root: Path, url: str) -> list[Ran]:
    """Every command (each twice: as text and with --json), as it ran, in table order, each
    through the real entry point in this process: a child each cost seconds on two loaded
    cores. What a command writes past ``sys.stdout``/``sys.stderr`` (a logging handler made
    before the run, a child process of its own) escapes this capture: `run_in_children`
    walks the commands that could."""
    env = {**clean_env(), "TASKORA_URL": url}
    runs = []
    for name, args in _argvs(every_command()):
        done = run_taskora_in_process(*args, cwd=root, env=env)
        runs.append(Ran(name, args, done.returncode, done.stdout, done.stderr))
    return runs


IN_A_CHILD = ["work", "config", "dispatch", "doctor", "jobs ls", "dlq ls", "server status"]
"""Commands the live walk runs again in real child processes: the worker (its logging and
banner), the commands that show where they connect, and one reader of each kind."""


def run_in_children(root: Path, url: str, names: list[str]) -> list[Ran]:
    """The commands ``names`` (each twice: as text and with --json), each in a real child
    process, as they ran, in order; a command still running after 20 s is stopped with
    SIGINT and its output kept. Four run at once: the commands are independent (each
    asserts only on its own output)."""
    env = {**clean_env(), "TASKORA_URL": url}
    argvs = _argvs(names)

    def run(name: str, args: list[str]) -> Ran:
        proc = subprocess.Popen(
            [sys.executable, "-m", "taskora_cli", *args],
            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            stdout, stderr = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate()
        return Ran(name, args, proc.returncode, stdout, stderr)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda argv: run(*argv), argvs))


def shown(runs: list[Ran]) -> str:
    return "\n".join(map(str, runs))


def _params(name: str) -> list[Any]:
    command: Any = build_command()
    for word in name.split():
        command = command.commands[word]
    return list(command.params)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "mytasks.py").write_text(textwrap.dedent(TASKS))
    (tmp_path / "taskora.toml").write_text(
        'modules = ["mytasks"]\n\n[schedules.nightly]\ntask = "echo"\nevery = "1h"\n'
    )
    return tmp_path


def dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@RUNS_EVERY_COMMAND
def test_no_command_shows_the_password_of_an_unreachable_server(folder: Path) -> None:
    url = f"redis://user:{SECRET}@127.0.0.1:{dead_port()}/0"
    runs = run_all_in_process(folder, url)
    text = shown(runs)
    assert SECRET not in text, text
    assert "user:****@127.0.0.1" in text  # the URL still shows, masked
    # and the README's "Errors are one line on stderr, never a traceback", for every command
    for ran in runs:
        assert "Traceback" not in ran.stdout + ran.stderr, ran
        if ran.command not in NEEDS_NO_SERVER:
            assert ran.code == 3, ran  # UNREACHABLE
        if ran.code != 0:
            [line] = ran.stderr.splitlines()  # exactly one line
            assert line.startswith("taskora"), ran


@RUNS_EVERY_COMMAND
def test_no_command_shows_the_password_of_a_live_server(
    folder: Path, restartable_valkey: Any
) -> None:
    client = redis.Redis.from_url(restartable_valkey.url)
    client.config_set("requirepass", SECRET)
    client.close()
    url = f"{restartable_valkey.url}?password={SECRET}"
    try:
        text = shown(run_all_in_process(folder, url))
        assert SECRET not in text, text
        assert "password=****" in text  # `taskora config` shows where it connects
        assert "dispatch echo --data 1 -> 0" in text  # and the commands did reach the server
        children = run_in_children(folder, url, IN_A_CHILD)
        text = shown(children)
        assert SECRET not in text, text
        assert "password=****" in text
        assert "dispatch echo --data 1 -> 0" in text
        # in real processes, a refusal is still one line on stderr, never a traceback
        for ran in children:
            assert "Traceback" not in ran.stdout + ran.stderr, ran
            if ran.code not in (0, 1):  # 1: doctor's findings, a report and not an error
                [line] = ran.stderr.splitlines()
                assert line.startswith("taskora"), ran
    finally:
        client = redis.Redis.from_url(url)
        client.config_set("requirepass", "")
        client.close()
