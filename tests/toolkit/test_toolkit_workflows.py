"""Workflows under the test toolkit: process_all runs every step a workflow dispatches."""

from __future__ import annotations

from taskora_cli import Taskora, chain, group
from taskora_cli.testing import TaskRunner


def test_process_all_runs_a_workflow_to_its_end(app: Taskora, runner: TaskRunner) -> None:
    @app.task("add")
    async def add(data: dict[str, int]) -> int:
        return data["a"] + data["b"]

    @app.task("double")
    async def double(n: int) -> int:
        return n * 2

    handle = chain(
        add.s({"a": 3, "b": 4}), group(double.s(), double.s()), add.s({"a": 0, "b": 0})
    ).dispatch()
    assert [(s.node_index, s.task, s.state) for s in runner.steps] == [
        (0, "add", "waiting"), (1, "double", "pending"), (2, "double", "pending"),
        (3, "add", "pending"),
    ]  # fmt: skip
    runner.process_all()
    assert {(s.workflow_id, s.state) for s in runner.steps} == {(handle.id, "completed")}
    assert handle.state() == "completed"
    assert handle.result(0) == 0
    info = app.workflows().get(handle.id)
    assert info is not None and [n.result for n in info.nodes] == [7, 14, 14, 0]
