"""Checks for the per-dispatch options a caller chooses: the job's id and when it runs."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from .durations import MAX_MS, format_ms
from .errors import UsageError

_JOB_ID = r"[A-Za-z0-9][A-Za-z0-9_:@/+=-]{0,199}"  # compiled on first use (re caches it)
"""Letters, digits and ``_ : @ / + = -``, up to 200: no spaces (the event stream joins ids
with spaces), no braces (they would move a job's key to another cluster slot) and no dots
(a dotted id is a workflow node's, ``<workflow id>.<node index>``: its worker would try to
advance a workflow)."""


def check_job_id(job_id: object) -> str:
    """``job_id`` if it can name a job.

    Raises:
        UsageError: not a string of the allowed characters, or one that ends in ``:logs``
            (the suffix of every job's log key).
    """
    if not isinstance(job_id, str) or not re.fullmatch(_JOB_ID, job_id) or job_id.endswith(":logs"):
        raise UsageError(
            f"job_id must be 1-200 letters, digits or _ : @ / + = - (starting with a letter "
            f"or digit, not ending in ':logs'; no '.': dotted ids name workflow nodes), "
            f"got {job_id!r}"
        )
    return job_id


def delay_until(run_at: object, now_ms: int) -> int:
    """How long from ``now_ms`` until ``run_at`` (a datetime; a naive one is read as UTC), in
    ms; 0 for a moment already past.

    Raises:
        UsageError: not a datetime, or further away than the longest delay (3650d).
    """
    if not isinstance(run_at, datetime):
        raise UsageError(f"run_at must be a datetime, got {run_at!r}")
    if run_at.tzinfo is None:
        run_at = run_at.replace(tzinfo=UTC)
    delay_ms = max(0, round(run_at.timestamp() * 1000) - now_ms)
    if delay_ms > MAX_MS:
        raise UsageError(
            f"run_at: {run_at.isoformat()} is further away than the longest delay taskora "
            f"accepts, {format_ms(MAX_MS)} (about 10 years)"
        )
    return delay_ms


def parse_moment(text: str, *, what: str = "--at") -> datetime:
    """An ISO 8601 date-time as the CLI reads it: ``2026-12-24T09:00Z``,
    ``2026-12-24 09:00:00+01:00``; without an offset, UTC.

    Raises:
        UsageError: it cannot be read.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{what}: cannot read {text!r} as a date and time; use ISO 8601, e.g. "
            "2026-12-24T09:00Z or 2026-12-24T10:00+01:00"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
