"""The JSON documents taskora prints with ``--json`` and the board serves from its API.

One home for each document's shape, so the CLI and the board (and anyone scripting against
either) read the same fields: the CLI prints what these functions return, the board answers
with it. Each function takes what the views read and returns JSON-ready data; nothing here
reads the server, so callers fetch in whichever way suits them (blocking or async).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import RetentionConfig
    from .handle import JobHandle
    from .views.dead_letters import DeadLetter
    from .views.inspector import JobInfo, Minute, Stats
    from .views.queues import QueueInfo
    from .views.worker_registry import WorkerInfo
    from .views.workflows import WorkflowInfo


def json_text(value: Any) -> str:
    """``value`` as compact JSON; what a non-JSON serializer carries beyond JSON (bytes,
    datetimes, a payload no reader here decodes) as readable text (see display_default)."""
    from .serialization import display_default

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=display_default)


def workflow_link(job_id: str) -> dict[str, Any] | None:
    """The workflow a node's job belongs to (``{"id", "node"}``), None for a plain job."""
    from .workflow_graph import parse_node_job_id

    node = parse_node_job_id(job_id)
    return None if node is None else {"id": node[0], "node": node[1]}


def job(info: JobInfo) -> dict[str, Any]:
    """One job (``jobs show --json``, ``jobs ls --json`` items, the board's job detail):
    everything stored about it, and the workflow it is a node of (null for a plain job)."""
    return info.as_dict() | {"workflow": workflow_link(info.id)}


def stats(found: Stats, minutes: Sequence[Minute], retention: RetentionConfig) -> dict[str, Any]:
    """Counts, latency and the last hour's throughput (``taskora stats --json``);
    ``minutes`` are the last hour's per-minute counts, oldest first."""
    last = minutes[-1] if minutes else None
    return {
        "tasks": [s.as_dict() for s in found.tasks],
        "total": found.total.as_dict(),
        "last_minute": {
            "completed": last.completed if last else 0,
            "failed": last.failed if last else 0,
        },
        "last_hour": {
            "completed": sum(m.completed for m in minutes),
            "failed": sum(m.failed for m in minutes),
        },
        # completed/failed above count only what retention keeps: say where the cap is
        "retention": {
            "completed_max_items": retention.completed_max_items,
            "completed_max_age_ms": retention.completed_max_age_ms,
            "failed_max_items": retention.failed_max_items,
            "failed_max_age_ms": retention.failed_max_age_ms,
        },
    }


def overview(
    taken_ms: int,
    server: dict[str, str] | None,
    found: Stats,
    queues: Iterable[QueueInfo],
    throughput: Iterable[Minute],
    workers: Iterable[WorkerInfo],
) -> dict[str, Any]:
    """The Overview (``top --json``, the board's ``GET /api/overview``): server, counts per
    task, queues, per-minute throughput (oldest first) and workers."""
    return {
        "taken_ms": taken_ms,
        "server": server,
        "tasks": [s.as_dict() for s in found.tasks],
        "total": found.total.as_dict(),
        "queues": [q.as_dict() for q in queues],
        "throughput": [m.as_dict() for m in throughput],
        "workers": [w.as_dict() for w in workers],
    }


def job_retried(job_id: str, task: str, was: str) -> dict[str, Any]:
    """A job run again (``jobs retry --json``)."""
    return {"id": job_id, "task": task, "was": was, "state": "waiting"}


def job_cancelled(job_id: str, state: str) -> dict[str, Any]:
    """A cancel asked (``jobs cancel --json``): "cancelled", or "cancelling" while its worker
    stops it."""
    return {"id": job_id, "state": state}


def dead_retried(letter: DeadLetter) -> dict[str, Any]:
    """One dead letter retried (``dlq retry --json``)."""
    return {"id": letter.id, "task": letter.task, "retried": True}


def queue_switched(queue: str, *, paused: bool, changed: bool) -> dict[str, Any]:
    """A queue paused or resumed (``queues pause|resume --json``)."""
    return {"queue": queue, "state": "paused" if paused else "running", "changed": changed}


def workers_drained(asked: list[str], still_running: list[str] | None) -> dict[str, Any]:
    """Workers asked to drain (``workers drain --json``); ``still_running`` is null unless
    someone waited for them."""
    return {"draining": asked, "still_running": still_running}


def dispatched(handle: JobHandle) -> dict[str, Any]:
    """A dispatch's outcome (``dispatch --json``, ``schedules trigger --json``)."""
    out: dict[str, Any] = {"id": handle.id, "task": handle.task, "enqueued": handle.enqueued}
    if not handle.enqueued:
        out |= {"reason": handle.reason, "existing_id": handle.existing_id}
        if handle.retry_after is not None:
            out["retry_after"] = handle.retry_after
    if handle.replaced_id:
        out["replaced_id"] = handle.replaced_id
    return out


def workflow_summary(info: WorkflowInfo) -> dict[str, Any]:
    """A listed workflow (``workflows ls --json``): its fields without the per-node detail
    (``workflows show`` has that)."""
    found = info.to_dict()
    del found["nodes"]
    return found


def workflow_cancelled(workflow_id: str, state: str) -> dict[str, Any]:
    """A workflow cancel asked (``workflows cancel --json``)."""
    return {"id": workflow_id, "state": state}
