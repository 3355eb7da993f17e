"""Workflows as an operator reads them: the stored workflows and each one's graph.

``app.workflows()`` returns the view; ``list``/``get`` have async twins ``alist``/``aget``.
Records are plain dataclasses with ``to_dict()`` (JSON-ready) for ``--json`` output.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..blocking import blocking_twin
from ..engine.records import JobRecord
from ..workflow_graph import node_job_id

if TYPE_CHECKING:
    from ..task_registry import Parts

WORKFLOW_STATES = ("running", "completed", "failed", "cancelled")


@dataclass(frozen=True)
class NodeInfo:
    """One node of a workflow.

    Attributes:
        index: its place in the graph (0-based).
        task: the task it runs.
        job_id: its job's id (``<workflow id>.<index>``); the job exists once the node is
            queued.
        state: its job's state (waiting, active, completed, failed, cancelled, ...) once it has
            a job; else ``pending`` (waiting for its dependencies) or ``cancelled`` (the
            workflow stopped before it ran).
        deps: the indexes of the nodes it waits for.
        attempt: its job's attempt count (None without a job, or in a list).
        duration_ms: how long its last attempt ran, once it ended (None otherwise).
        result: its result, decoded, once done (None otherwise).
        error: its job's error (JSON text), if it failed.
    """

    index: int
    task: str
    job_id: str
    state: str
    deps: list[int] = field(default_factory=list)
    attempt: int | None = None
    duration_ms: int | None = None
    result: Any = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (every field)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class WorkflowInfo:
    """One workflow.

    Attributes:
        id: its id.
        name: its label (the first task's name unless dispatched with ``name=``).
        state: running, completed, failed or cancelled.
        created_ms / finished_ms: when it was dispatched / ended (epoch ms; None if running).
        total / done: how many nodes it has / have completed.
        nodes: every node, in graph order (dependencies first).
        result: its result, decoded, once completed.
        error: the error (JSON text) of the node that failed it; ``failed_node`` its index.
        reason: why it was cancelled ("" if no reason was given; "ttl" when its ttl passed).
        expires_ms: when it is cancelled if still running (its ``ttl``; None = never).
    """

    id: str
    name: str
    state: str
    created_ms: int
    finished_ms: int | None
    total: int
    done: int
    nodes: list[NodeInfo] = field(default_factory=list)
    result: Any = None
    error: str | None = None
    failed_node: int | None = None
    reason: str | None = None
    expires_ms: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (nodes as dicts)."""
        found = {name: getattr(self, name) for name in self.__dataclass_fields__}
        found["nodes"] = [node.to_dict() for node in self.nodes]
        return found


class Workflows:
    """List the stored workflows and read one with its nodes' jobs."""

    def __init__(self, app: Parts) -> None:
        self.runtime = app.runtime

    async def alist(self, state: str | None = None) -> builtins.list[WorkflowInfo]:
        """Every stored workflow, newest first, maybe only those in ``state``. Nodes carry
        what the workflow itself stores (no attempt or duration: :meth:`aget` reads those)."""
        engine = await self.runtime.engine()
        ids = await engine.workflows.ids()
        found: list[WorkflowInfo] = []
        gone: list[str] = []
        for workflow_id in ids:
            stored = await engine.workflows.read(workflow_id)
            if not stored:
                gone.append(workflow_id)  # trimmed by retention: drop it from the list
                continue
            info = _info(workflow_id, stored, {})
            if state is None or info.state == state:
                found.append(info)
        await engine.workflows.forget(gone)
        return found

    list = blocking_twin(alist)

    async def aget(self, workflow_id: str) -> WorkflowInfo | None:
        """One workflow with its nodes' jobs (state, attempt, duration, error); None if there
        is no such workflow (or it was trimmed by retention)."""
        engine = await self.runtime.engine()
        stored = await engine.workflows.read(workflow_id)
        if not stored:
            return None
        jobs: dict[int, JobRecord] = {}
        for index in range(int(stored.get("n", 0))):
            task = stored.get(f"t:{index}", "")
            if stored.get(f"s:{index}") in ("pending", None):
                continue
            record = await engine.job(task, node_job_id(workflow_id, index))
            if record is not None:
                jobs[index] = record
        return _info(workflow_id, stored, jobs)

    get = blocking_twin(aget)


def _int(text: str | None) -> int | None:
    try:
        return None if text is None else int(text)
    except ValueError:
        return None


def _json(text: str | None) -> Any:
    try:
        return None if text is None else json.loads(text)
    except ValueError:
        return text


def _info(workflow_id: str, stored: dict[str, str], jobs: dict[int, JobRecord]) -> WorkflowInfo:
    nodes = []
    for index in range(int(stored.get("n", 0))):
        job = jobs.get(index)
        state = stored.get(f"s:{index}", "pending")
        if job is not None:
            state = job.state
        elif state in ("ready", "queued"):
            state = "waiting"
        elif state == "done":
            state = "completed"
        duration = None
        if job is not None and job.started_at_ms is not None and job.finished_at_ms is not None:
            duration = job.finished_at_ms - job.started_at_ms
        deps = [int(d) for d in stored.get(f"p:{index}", "").split(",") if d]
        nodes.append(
            NodeInfo(
                index=index,
                task=stored.get(f"t:{index}", ""),
                job_id=node_job_id(workflow_id, index),
                state=state,
                deps=deps,
                attempt=job.attempt if job is not None else None,
                duration_ms=duration,
                result=_json(stored.get(f"r:{index}")),
                error=job.error if job is not None else None,
            )
        )
    return WorkflowInfo(
        id=workflow_id,
        name=stored.get("name", ""),
        state=stored.get("state", ""),
        created_ms=_int(stored.get("created")) or 0,
        finished_ms=_int(stored.get("finished")),
        total=int(stored.get("n", 0)),
        done=int(stored.get("done", 0)),
        nodes=nodes,
        result=_json(stored.get("result")),
        error=stored.get("error"),
        failed_node=_int(stored.get("failed_node")),
        reason=stored.get("reason"),
        expires_ms=_int(stored.get("exp")),
    )
