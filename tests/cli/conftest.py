"""Fixtures for CLI tests: a project folder wired to the test server, and the real `taskora`."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from taskora_cli import Taskora
from taskora_cli.config import load_config

TASKS = """
import os, time
from pathlib import Path
from taskora_cli import Retry, task

HERE = Path(__file__).parent


@task("add")
def add(data, ctx):
    return data["a"] + data["b"]


@task("echo")
async def echo(data, ctx):
    return data


@task("explode")
def explode(data, ctx):
    raise ValueError("boom")


@task("slow", concurrency=4)
def slow(data, ctx):
    time.sleep(data or 0.2)
    (HERE / "done").mkdir(exist_ok=True)
    (HERE / "done" / ctx.id).write_text(str(ctx.attempt))
    return "slow done"


@task("aslow")
async def aslow(data, ctx):
    import asyncio

    await asyncio.sleep(data)
    return "aslow done"


@task("mail", queue="emails")
def mail(data, ctx):
    return f"sent to {data}"


@task("crash-once", queue="fragile")
def crash_once(data, ctx):
    marker = HERE / "crashed-once"
    if not marker.exists():
        (HERE / "victim.pid").write_text(str(os.getpid()))
        marker.write_text("")
        time.sleep(60)  # the test kills this process here
    return "survived"
"""


def run_taskora(
    *args: str, cwd: Path, env: dict[str, str], input: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the real entry point (`python -m taskora_cli`) and capture everything."""
    return subprocess.run(
        [sys.executable, "-m", "taskora_cli", *args],
        cwd=cwd,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_taskora_in_process(
    *args: str, cwd: Path, env: dict[str, str], input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real entry point (``taskora_cli.cli.main``) in this process, as `run_taskora`
    would in a child: argv, cwd and the whole environment are the child's, stdout and stderr
    are captured, and what the run leaves behind (the default app, imported task modules,
    sys.path entries, the global flags) is undone. Some 50x cheaper than a fresh interpreter,
    for commands whose behaviour holds in either (exit code, one-line stderr, output); each
    property keeps a real-subprocess test too."""
    from taskora_cli import app as app_module
    from taskora_cli.cli import main
    from taskora_cli.cli.common import GLOBAL_FLAGS

    out, err = io.StringIO(), io.StringIO()
    modules, path, flags = set(sys.modules), list(sys.path), dict(GLOBAL_FLAGS)
    GLOBAL_FLAGS.clear()  # `--app` and the like, remembered for the rest of a process
    code: int | str | None = 0
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app_module, "_default_app", None)
        patch.setattr(sys, "argv", ["taskora", *args])
        patch.setattr(sys, "stdin", io.StringIO(input or ""))
        patch.chdir(cwd)
        for name in list(os.environ):
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                main()
        except SystemExit as done:
            code = done.code
        finally:
            ran_app = vars(app_module)["_default_app"]
            if ran_app is not None:
                ran_app.close()
            for name in set(sys.modules) - modules:  # the project's task modules
                if str(getattr(sys.modules[name], "__file__", "")).startswith(str(cwd)):
                    del sys.modules[name]
            sys.path[:] = path
            GLOBAL_FLAGS.clear()
            GLOBAL_FLAGS.update(flags)
    returncode = code if isinstance(code, int) else (0 if code is None else 1)
    return subprocess.CompletedProcess(
        ["taskora", *args], returncode, out.getvalue(), err.getvalue()
    )


@dataclass
class Project:
    """A folder with a taskora.toml on the test server and a `mytasks` module."""

    root: Path
    env: dict[str, str]
    workers: list[subprocess.Popen[str]] = field(default_factory=list)
    in_process: bool = False
    """`taskora` runs in this process (the module is marked ``cli_in_process``)."""

    def taskora(
        self, *args: str, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        if self.in_process:
            return self.taskora_in_process(*args, input=input)
        return self.taskora_child(*args, input=input, timeout=timeout)

    def taskora_child(
        self, *args: str, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """`taskora` in a real child process, whatever the module's marker says."""
        return run_taskora(*args, cwd=self.root, env=self.env, input=input, timeout=timeout)

    def taskora_in_process(
        self, *args: str, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`taskora` run through its real entry point in this process (`run_taskora_in_process`)."""
        return run_taskora_in_process(*args, cwd=self.root, env=self.env, input=input)

    def start_worker(self, *args: str) -> subprocess.Popen[str]:
        """Start `taskora work` and wait until it reports started."""
        log = self.root / f"worker{len(self.workers)}.log"
        with log.open("w") as stderr:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(
                [sys.executable, "-m", "taskora_cli", "work", *args],
                cwd=self.root,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                text=True,
            )
        proc.log = log  # type: ignore[attr-defined]
        self.workers.append(proc)
        wait_for(lambda: "started for" in log.read_text() or proc.poll() is not None, 30)
        assert proc.poll() is None, log.read_text()
        return proc

    def stop_workers(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll ``condition`` every 20 ms; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.02)


def clean_env() -> dict[str, str]:
    """The environment without any TASKORA_* variable, so only the test's config counts."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TASKORA_")}


@pytest.fixture
def project(tmp_path: Path, redis_url: str, request: pytest.FixtureRequest) -> Iterator[Project]:
    """The project; in a module marked ``cli_in_process``, its `taskora` commands run in this
    process through the real entry point (workers stay real processes)."""
    (tmp_path / "mytasks.py").write_text(textwrap.dedent(TASKS))
    (tmp_path / "taskora.toml").write_text(
        f'url = "{redis_url}"\nmodules = ["mytasks"]\n\n[defaults]\nstall_interval = "1s"\n'
    )
    in_process = request.node.get_closest_marker("cli_in_process") is not None
    proj = Project(tmp_path, clean_env(), in_process=in_process)
    try:
        yield proj
    finally:
        proj.stop_workers()


@pytest.fixture
def producer(project: Project, redis_url: str, tmp_path: Path) -> Iterator[Taskora]:
    """An app in the test process that queues `echo` jobs (no worker runs them)."""
    app = Taskora(redis_url, config=load_config(env={}, cwd=tmp_path / "producer"))

    @app.task("echo")
    async def echo(data: object) -> object:
        return data

    yield app
    app.close()
