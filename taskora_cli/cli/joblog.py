"""One line per job start and finish on stderr, as text or JSON lines (``--log-format``).

A failed attempt's line carries its traceback (once: indented under the text line, or the
JSON line's ``traceback`` field), as the library's default error log does, unless the task has a
``failed`` listener of its own, which then reports its failures itself.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..engine.records import ClaimedJob
    from ..listeners import Listeners
    from ..worker.execute import Outcome
    from ..worker.pool import Worker


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JobLog:
    """Writes a line when a job starts and when it finishes (completed, cancelled, retrying,
    failed)."""

    def __init__(self, fmt: str) -> None:
        self.json = fmt == "json"
        self._started: dict[str, float] = {}
        self._listeners: Listeners | None = None

    def attach(self, worker: Worker) -> None:
        """Hook this log into ``worker``'s start and finish callbacks."""
        worker.on_start = self.started
        worker.on_finish = self.finished
        self._listeners = worker.runtime.listeners

    def started(self, task: str, job: ClaimedJob) -> None:
        self._started[job.id] = time.monotonic()
        self._write({"event": "started", "task": task, "id": job.id, "attempt": job.attempt})

    def finished(self, task: str, outcome: Outcome, settled: bool) -> None:
        began = self._started.pop(outcome.job.id, None)
        line: dict[str, Any] = {"task": task, "id": outcome.job.id, "attempt": outcome.job.attempt}
        if began is not None:
            line["duration_ms"] = round((time.monotonic() - began) * 1000, 1)
        if not settled:
            line["event"] = "lost"  # the lock was taken over: another worker owns the job now
        elif outcome.cancelled:
            line["event"] = "cancelled"
        elif outcome.ok:
            line["event"] = "completed"
        elif outcome.retry_at_ms is not None:
            line["event"] = "retrying"
            line["error"] = outcome.error_summary
        else:
            line["event"] = "failed"
            line["error"] = outcome.error_summary
        if "error" in line and outcome.exception is not None and not self._listened(task):
            line["traceback"] = "".join(traceback.format_exception(outcome.exception))
        self._write(line)

    def _listened(self, task: str) -> bool:
        return self._listeners is not None and self._listeners.own(task, "failed")

    def _write(self, fields: dict[str, Any]) -> None:
        if self.json:
            text = json.dumps({"ts": _now(), **fields}, ensure_ascii=False)
        else:
            text = _as_text(fields)
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def _as_text(fields: dict[str, Any]) -> str:
    parts = [_now(), f"{fields['event']:<9}", fields["task"], fields["id"]]
    parts.append(f"attempt {fields['attempt']}")
    if "duration_ms" in fields:
        parts.append(f"{fields['duration_ms']:g}ms")
    if "error" in fields:
        parts.append(f"— {fields['error']}")
    text = " ".join(parts)
    if "traceback" in fields:
        text += "\n" + "".join(f"    {line}\n" for line in fields["traceback"].splitlines())
        text = text.rstrip("\n")
    return text


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "ts": _now(),
                "event": "log",
                "level": record.levelname.lower(),
                "message": record.getMessage().removeprefix("taskora: "),
            }
        )


def setup_logging(fmt: str) -> None:
    """Send taskora's own warnings (lost locks, recovered stalls, ...) to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("taskora")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
