"""The Sdk's job documents: plain dicts, as the spec's AdminJobData, built from what the
inspector reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..views.inspector import JobInfo


def job_document(info: JobInfo, queue: str) -> dict[str, Any]:
    """``info`` as a plain dict: ``id``, ``queue``, ``event``, ``status``, ``data``, ``logs``,
    ``attempts`` (started so far), ``priority``, ``progress``, ``result``, ``error`` (the
    outcome's: type, message, traceback; None once completed), ``cancel_reason`` and the
    ISO 8601 times ``dispatched_at``, ``started_at``, ``finished_at``, ``run_at``."""
    error = info.outcome_error
    return {
        "id": info.id,
        "queue": queue,
        "event": info.task,
        "status": info.state,
        "data": info.data,
        "logs": info.logs,
        "attempts": info.attempt,
        "priority": info.priority,
        "progress": info.progress,
        "result": info.result,
        "error": None if error is None else error.as_dict(),
        "cancel_reason": info.cancel_reason,
        **info.timeline.as_dict(),
    }
