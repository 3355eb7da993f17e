"""`taskora workflows`: the real entry point against workflows a real worker runs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taskora_cli import Taskora, chain, group
from taskora_cli.config import load_config

from .conftest import Project
from .test_top import Tmux

pytestmark = pytest.mark.cli_in_process  # `project.taskora` runs in-process

WORKFLOW_KEYS = {
    "id", "name", "state", "created_ms", "finished_ms", "total", "done", "result", "error",
    "failed_node", "reason", "expires_ms",
}  # fmt: skip
NODE_KEYS = {
    "index", "task", "job_id", "state", "deps", "attempt", "duration_ms", "result", "error",
}  # fmt: skip


@pytest.fixture
def tasks(project: Project, redis_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The project's tasks, declared on an app in the test process to dispatch workflows."""
    app = Taskora(redis_url, config=load_config(env={}, cwd=tmp_path / "producer"))

    @app.task("add")
    def add(data: dict[str, int]) -> int:
        return data["a"] + data["b"]

    @app.task("echo")
    def echo(data: Any) -> Any:
        return data

    @app.task("explode")
    def explode(data: Any) -> None:
        raise ValueError("boom")

    @app.task("aslow")
    def aslow(data: Any) -> None: ...

    yield {"add": add, "echo": echo, "explode": explode, "aslow": aslow}
    app.close()


def parsed(project: Project, *args: str, code: int = 0) -> Any:
    done = project.taskora(*args, "--json")
    assert done.returncode == code, done.stderr
    return json.loads(done.stdout)


def test_ls_show_and_wait_of_finished_workflows(project: Project, tasks: dict[str, Any]) -> None:
    project.start_worker("--task", "add", "--task", "echo", "--task", "explode")
    add, echo, explode = tasks["add"], tasks["echo"], tasks["explode"]
    good = chain(add.s({"a": 3, "b": 4}), echo.s()).dispatch()
    fan = group(add.s({"a": 1, "b": 1}), add.s({"a": 2, "b": 2})).dispatch(name="fan")
    bad = chain(echo.s(1), explode.s(), echo.s()).dispatch()

    waited = project.taskora("workflows", "wait", good.id, "--timeout", "30s")
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout) == 7
    assert parsed(project, "workflows", "wait", fan.id) == {
        "id": fan.id, "state": "completed", "result": [2, 4],
    }  # fmt: skip
    failed = parsed(project, "workflows", "wait", bad.id, code=1)
    assert failed["state"] == "failed" and "boom" in failed["error"]
    assert "boom" in project.taskora("workflows", "wait", bad.id).stderr

    listed = parsed(project, "workflows", "ls")
    assert {w["id"] for w in listed} == {good.id, fan.id, bad.id}
    assert all(set(w) == WORKFLOW_KEYS for w in listed)
    [only] = parsed(project, "workflows", "ls", "--state", "failed")
    assert only["id"] == bad.id and only["failed_node"] == 1
    table = project.taskora("workflows", "ls", "--state", "completed")
    assert fan.id in table.stdout and "2/2" in table.stdout and bad.id not in table.stdout

    shown = parsed(project, "workflows", "show", good.id)
    assert set(shown) == WORKFLOW_KEYS | {"nodes"}
    assert all(set(n) == NODE_KEYS for n in shown["nodes"])
    assert [(n["task"], n["state"], n["attempt"]) for n in shown["nodes"]] == [
        ("add", "completed", 1), ("echo", "completed", 1),
    ]  # fmt: skip
    tree = project.taskora("workflows", "show", good.id).stdout
    assert "#0 add  completed  attempt 1" in tree and "#1 echo" in tree and "result: 7" in tree
    text = project.taskora("workflows", "show", bad.id).stdout
    assert "#1 explode  failed" in text and "failed at node #1: ValueError: boom" in text


def test_cancel_and_timeout_of_a_running_workflow(project: Project, tasks: dict[str, Any]) -> None:
    # no worker runs aslow: the workflow stays running until cancelled
    stuck = chain(tasks["aslow"].s(30), tasks["echo"].s()).dispatch()
    timed = project.taskora("workflows", "wait", stuck.id, "--timeout", "0.2s", "--json")
    assert timed.returncode == 124
    assert json.loads(timed.stdout) == {"id": stuck.id, "state": "timeout"}
    [running] = parsed(project, "workflows", "ls", "--state", "running")
    assert running["done"] == 0 and running["total"] == 2

    cancelled = parsed(project, "workflows", "cancel", stuck.id, "--reason", "superseded")
    assert cancelled == {"id": stuck.id, "state": "cancelled"}
    again = project.taskora("workflows", "cancel", stuck.id)
    assert again.returncode == 1 and "already ended cancelled" in again.stderr
    assert parsed(project, "workflows", "wait", stuck.id, code=1)["state"] == "cancelled"
    assert "cancelled: superseded" in project.taskora("workflows", "show", stuck.id).stdout
    assert [n["state"] for n in parsed(project, "workflows", "show", stuck.id)["nodes"]] == [
        "cancelled", "cancelled",
    ]  # fmt: skip


@pytest.mark.skipif(
    shutil.which("tmux") is None,
    reason="tmux is not installed (apt-get install -y tmux) to drive the dashboard end to end",
)
def test_top_lists_workflows_on_6_and_cancels_the_selected_one(
    project: Project, tasks: dict[str, Any]
) -> None:
    project.start_worker("--task", "add", "--task", "echo")
    done = chain(tasks["add"].s({"a": 1, "b": 2}), tasks["echo"].s()).dispatch()
    assert done.result(timeout=30) == 3
    stuck = chain(tasks["aslow"].s(30), tasks["echo"].s()).dispatch(name="stuck")  # no worker
    tmux = Tmux(project.root, project.env)
    try:
        tmux.wait_for("1 Overview", "add")  # keys sent before top runs would go to the shell
        tmux.keys("6")
        tmux.wait_for("6 Workflows", stuck.id, "0/2", done.id, "2/2", "#0 aslow waiting")
        tmux.keys("c")
        tmux.wait_for(f"[y/N] cancel workflow {stuck.id} (stuck, 0/2 done)?")
        tmux.keys("y")
        tmux.wait_for(f"cancelled workflow {stuck.id}", "#1 echo cancelled")
        tmux.keys("q")
        tmux.wait_for("EXITED 0 icanon")
    finally:
        tmux.close()
    assert stuck.state() == "cancelled"
    assert (project.root / "top.err").read_text() == ""
