"""The TaskManager's decisions, as pure functions: a job's id, whether a failed attempt is
retried (the spec's two levels, both must allow), and whether a job that failed for good
stays as a dead letter."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .options import DlqOptions, EmitOptions, HandlerOptions, RetryOptions


def content_id(event: str, data: Any) -> str:
    """The default job id: a hash of the event and its data (keys sorted, so two dicts with
    the same items give the same id)."""
    text = json.dumps([event, data], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def retry_budget(emit: EmitOptions, handler: HandlerOptions | None) -> int:
    """How many retries a job gets: the emit's ``retry_count``/``attempts``, else the
    handler's ``attempts``, else none."""
    own = emit.retries
    if own is not None:
        return own
    return (handler.attempts or 0) if handler is not None else 0


def retry_delay_ms(emit: EmitOptions, retry: RetryOptions) -> int:
    """The wait before each retry: the job's own, else the processor's default."""
    return emit.retry_delay_ms if emit.retry_delay_ms is not None else retry.retry_delay_ms


def should_retry(error: BaseException, attempt: int, retries: int, retry: RetryOptions) -> bool:
    """Whether attempt ``attempt`` (1-based) that raised ``error`` is retried: the job still
    has retries left (``retries`` in all, one spent per earlier attempt) and the processor's
    ``max_retries`` is above 0; then ``should_retry(error, attempt)``, if set, has the last
    word."""
    retries_left = retries - (attempt - 1)
    if retries_left <= 0 or retry.max_retries <= 0:
        return False
    return retry.should_retry is None or bool(retry.should_retry(error, attempt))


def send_to_dlq(
    dlq: DlqOptions | None, job: dict[str, Any], error: BaseException, attempts: int
) -> bool:
    """Whether a job that failed for good stays as a dead letter: always without a ``dlq``
    option; never when it is disabled; else as ``should_send_to_dlq(job, error, attempts)``
    says (yes when it is not set)."""
    if dlq is None:
        return True
    if not dlq.enabled:
        return False
    return dlq.should_send_to_dlq is None or bool(dlq.should_send_to_dlq(job, error, attempts))
