"""``taskora workflows ls|show|cancel|wait``: the workflows (chains, groups, chords) on the
server, thin over ``app.workflows()`` and ``app.workflow(id)``."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .. import documents
from .common import JOB_FAILED, TIMED_OUT, USAGE, fail, opened_app, print_json, print_table, shown
from .options import ConfigOption, JsonOption, WideOption

if TYPE_CHECKING:
    from ..views.workflows import NodeInfo, WorkflowInfo

app = typer.Typer(
    help="The workflows on the server (chain, group, chord): list, inspect, cancel, wait.",
    no_args_is_help=True,
)

IdArgument = Annotated[str, typer.Argument(metavar="ID", help="The workflow's id.")]


class StateChoice(StrEnum):
    """The states ``ls --state`` filters on (views.workflows.WORKFLOW_STATES)."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@app.command("ls")
def ls(
    state: Annotated[
        StateChoice | None,
        typer.Option(help="Only the workflows in this state.", show_default=False),
    ] = None,
    as_json: JsonOption = False,
    wide: WideOption = False,
    config: ConfigOption = None,
) -> None:
    """List the stored workflows, newest first: state, progress (done/total nodes), age."""
    with opened_app(config) as tk:
        found = tk.workflows().list(None if state is None else state.value)
    if as_json:
        print_json([documents.workflow_summary(info) for info in found])
    elif not found:
        print("no workflows" + ("" if state is None else f" {state.value}"))
    else:
        rows = [
            (i.id, i.name, i.state, f"{i.done}/{i.total}", _iso(i.created_ms),
             _iso(i.finished_ms))
            for i in found
        ]  # fmt: skip
        print_table(("ID", "NAME", "STATE", "DONE", "CREATED", "FINISHED"), rows, wide=wide)


@app.command("show")
def show(workflow_id: IdArgument, as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """One workflow as a tree of its nodes (task, state, attempt, duration; a node that waits
    for several others is listed under the last of them with "after ..."), then its result or
    the error that failed it. --json: every stored field, nodes as a list."""
    with opened_app(config) as tk:
        info = tk.workflows().get(workflow_id)
    if info is None:
        fail(USAGE, f"no workflow {workflow_id}; check the id (`taskora workflows ls`)")
    if as_json:
        print_json(info.to_dict())
        return
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    console.print(workflow_tree(info))
    for line in outcome_lines(info):
        console.print(line, markup=False)


@app.command("cancel")
def cancel(
    workflow_id: IdArgument,
    reason: Annotated[
        str | None, typer.Option(help="Why; stored with the workflow.", show_default=False)
    ] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Cancel a running workflow: its pending nodes never run, its queued ones are cancelled
    and its active ones stopped by their workers.

    Exit codes: 0 cancelled; 1 the workflow already ended; 2 no such workflow.
    """
    from ..errors import JobNotFoundError

    with opened_app(config) as tk:
        try:
            state = tk.workflow(workflow_id).cancel(reason=reason)
        except JobNotFoundError:
            fail(USAGE, f"no workflow {workflow_id}; check the id (`taskora workflows ls`)")
    if as_json:
        print_json(documents.workflow_cancelled(workflow_id, state))
    else:
        print(f"{workflow_id} cancelled")


@app.command("wait")
def wait(
    workflow_id: IdArgument,
    timeout: Annotated[
        str | None,
        typer.Option(help='Give up after this long, e.g. "30s" (exit 124).', show_default=False),
    ] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Wait for a workflow to end and print its result (JSON); with --json one document
    {id, state, result or error}.

    Exit codes as `dispatch --wait`: 0 completed; 1 failed or cancelled; 124 the timeout
    passed first (it keeps running); 2 no such workflow.
    """
    from ..durations import to_seconds
    from ..errors import JobError, JobNotFoundError
    from .dispatch_job import _state_of

    timeout_s = to_seconds(timeout, what="--timeout") if timeout is not None else None
    with opened_app(config) as tk:
        handle = tk.workflow(workflow_id)
        try:
            result = handle.result(timeout=timeout_s)
        except JobNotFoundError:
            fail(USAGE, f"no workflow {workflow_id}; check the id (`taskora workflows ls`)")
        except TimeoutError:
            if as_json:
                print_json({"id": workflow_id, "state": "timeout"})
            fail(TIMED_OUT, f"workflow {workflow_id} did not end within {timeout_s:g}s; "
                 "it keeps running")  # fmt: skip
        except JobError as exc:
            if as_json:
                print_json({"id": workflow_id, "state": _state_of(exc), "error": str(exc)})
            fail(JOB_FAILED, str(exc))
    if as_json:
        print_json({"id": workflow_id, "state": "completed", "result": result})
    else:
        print(json.dumps(result, ensure_ascii=False), flush=True)


def _iso(ms: int | None) -> str:
    if ms is None:
        return "-"
    from ..views.schedule_manager import iso

    return iso(ms)


def node_label(node: NodeInfo) -> str:
    """One node as a line: index, task, state, attempt, duration, and its other deps."""
    parts = [f"#{node.index} {node.task}", node.state]
    if node.attempt is not None:
        parts.append(f"attempt {node.attempt}")
    if node.duration_ms is not None:
        parts.append(f"{node.duration_ms / 1000:.2f}s")
    if len(node.deps) > 1:
        parts.append("after " + ", ".join(f"#{d}" for d in node.deps))
    return "  ".join(parts)


def workflow_tree(info: WorkflowInfo) -> Any:
    """The workflow as a rich Tree: each node under the last node it waits for (the graph is
    a DAG; a join is listed once, with "after ..." naming all its dependencies)."""
    from rich.markup import escape
    from rich.tree import Tree

    root = Tree(escape(f"{info.id}  {info.name}  {info.state}  {info.done}/{info.total} done"))
    branches: dict[int, Any] = {}
    for node in info.nodes:  # graph order: dependencies come first
        parent = branches.get(max(node.deps)) if node.deps else None
        branches[node.index] = (parent or root).add(escape(node_label(node)))
    return root


def outcome_lines(info: WorkflowInfo) -> list[str]:
    """The result, or the error that failed it, or why it was cancelled."""
    from ..remote_error import parse_remote_error

    if info.state == "completed":
        return [f"result: {shown(info.result)}"]
    if info.state == "failed":
        error = parse_remote_error(info.error)
        what = "?" if error is None else f"{error.type or 'Error'}: {error.message}"
        return [f"failed at node #{info.failed_node}: {what}"]
    if info.state == "cancelled":
        return [f"cancelled: {info.reason or '(no reason given)'}"]
    return []
