"""What a listener receives: one job's transition (:class:`Event`), or a worker's own event
(:class:`WorkerEvent`). Built by the events follower (views/job_events.py); apart from the
listener registry (listeners.py) so a one-shot command that imports tasks does not build
these dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .moments import to_datetime

if TYPE_CHECKING:
    from .remote_error import RemoteError


@dataclass(frozen=True)
class WorkerEvent:
    """A worker's own event (see WORKER_EVENTS).

    Attributes:
        name: "worker:ready", "worker:error" or "worker:closing".
        worker_id: the worker's id (as ``taskora workers ls`` shows it).
        error: what went wrong ("worker:error"), else None.
    """

    name: str
    worker_id: str
    error: BaseException | None = None


@dataclass(frozen=True)
class Event:
    """One job's transition.

    Attributes:
        name: the event (see LISTENABLE; a reader may also see "promoted" and "purged").
        task / job_id: whose.
        at: when the transition was recorded (UTC); clamped to the last (or first) moment a
            datetime holds when the stream's entry id lies past it (see ``at_ms``).
        attempt: the attempt it concerns ("active", "completed", "failed", "retrying").
        result: the handler's return value ("completed").
        error: how the attempt failed ("failed", "retrying").
        progress: the value the handler reported ("progress").
        at_ms: the same moment as stored, in ms since the epoch (None for an event built by
            hand): a stream entry id written by something other than taskora may lie past the
            year 9999, and this is then the one honest value.
        details: the event's own fields: "will_retry" ("failed": "1" when another attempt
            follows, "0" when the job failed for good), "at" (when a retry runs, ms),
            "duration_ms" ("completed": how long the attempt ran), "reason" ("cancelled": why;
            "waiting": why a job is waiting again), "action" and "count" ("stalled":
            "recovered" or "failed", and how many times the job has stalled).
    """

    name: str
    task: str
    job_id: str
    at: datetime
    attempt: int | None = None
    result: Any = None
    error: RemoteError | None = None
    progress: Any = None
    details: dict[str, str] | None = None
    at_ms: int | None = None

    @property
    def will_retry(self) -> bool | None:
        """For a "failed" event: whether another attempt follows (None for other events)."""
        flag = (self.details or {}).get("will_retry")
        return None if flag is None else flag == "1"

    def _at_shown(self) -> str | int:
        # ISO 8601; the stored ms when no datetime can hold it (as a job's timeline does)
        if self.at_ms is not None and to_datetime(self.at_ms) is None:
            return self.at_ms
        return self.at.isoformat()

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        error = self.error
        return {
            "event": self.name,
            "task": self.task,
            "job": self.job_id,
            "at": self._at_shown(),
            "attempt": self.attempt,
            "result": self.result,
            "error": None if error is None else _error_dict(error),
            "progress": self.progress,
            **(self.details or {}),
        }


def _error_dict(error: RemoteError) -> dict[str, Any]:
    """An event's error for JSON: type and message, and the bad fields of a validation error."""
    out = error.as_dict()
    del out["traceback"]  # an event names what happened; `taskora jobs show` has the rest
    return out
