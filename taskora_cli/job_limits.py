"""Per-dispatch retry and timeout: what a dispatch stores with its job (the job hash's
``limits`` field, JSON) and what the worker runs it with instead of the task's own.

Exception classes and backoff functions cannot travel through the server: a per-dispatch
retry sets attempts, backoff (by name), delay, max_delay and jitter, and keeps the task's
``retry_on`` and ``no_retry_on``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from typing import Any

from .durations import Duration, to_ms
from .errors import UsageError
from .retry import Retry


def encode_limits(retry: Retry | int | None, timeout: Duration | None) -> dict[str, str]:
    """The job hash field for a dispatch's overrides: ``{"limits": json}``, or {} for none.

    Args:
        retry: a :class:`Retry` (its attempts, backoff, delay, max_delay and jitter), or an
            int: just the number of attempts, the rest as the task's.
        timeout: how long one attempt of this job may run.

    Raises:
        UsageError: a Retry with a backoff function or exception classes (they cannot be
            stored), a bad attempts count or a bad timeout.
    """
    limits: dict[str, Any] = {}
    if isinstance(retry, bool):
        raise UsageError(f"retry must be a Retry(...) or a number of attempts, got {retry!r}")
    if isinstance(retry, int):
        limits["retry"] = {"attempts": Retry(attempts=retry).attempts}
    elif isinstance(retry, Retry):
        if callable(retry.backoff) or retry.retry_on or retry.no_retry_on:
            raise UsageError(
                "a per-dispatch retry cannot carry a backoff function, retry_on or no_retry_on "
                "(they cannot be stored with the job); set those on the task"
            )
        limits["retry"] = {
            "attempts": retry.attempts, "backoff": retry.backoff,
            "delay_ms": to_ms(retry.delay), "jitter": retry.jitter,
            "max_delay_ms": None if retry.max_delay is None else to_ms(retry.max_delay),
        }  # fmt: skip
    elif retry is not None:
        raise UsageError(f"retry must be a Retry(...) or a number of attempts, got {retry!r}")
    if timeout is not None:
        timeout_ms = to_ms(timeout, what="timeout")
        if timeout_ms < 1:
            raise UsageError("timeout must be at least 1ms")
        limits["timeout_ms"] = timeout_ms
    return {"limits": json.dumps(limits, separators=(",", ":"))} if limits else {}


@lru_cache(maxsize=256)
def job_limits(task_retry: Retry, task_timeout_s: float, raw: str) -> tuple[Retry, float]:
    """The retry policy and timeout (s) a job with stored ``limits`` ``raw`` runs with; what
    the field leaves out stays the task's. A field this version cannot read is ignored (the
    task's limits apply), never a failed job."""
    try:
        limits = json.loads(raw)
        retry = task_retry
        if isinstance(limits.get("retry"), dict):
            given = limits["retry"]
            changes: dict[str, Any] = {"attempts": int(given["attempts"])}
            if "backoff" in given:
                changes |= {"backoff": given["backoff"], "jitter": bool(given["jitter"])}
                changes["delay"] = given["delay_ms"] / 1000
                max_ms = given.get("max_delay_ms")
                changes["max_delay"] = None if max_ms is None else max_ms / 1000
            retry = replace(task_retry, **changes)
        timeout_ms = limits.get("timeout_ms")
        timeout_s = task_timeout_s if timeout_ms is None else int(timeout_ms) / 1000
    except (ValueError, TypeError, KeyError, AttributeError, UsageError):
        return task_retry, task_timeout_s
    return retry, timeout_s
