"""The TaskManager's option objects, in Python form: each is a frozen dataclass, and every
place that takes one also takes a plain dict with the same snake_case keys."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from ..errors import UsageError

ShouldRetry = Callable[[BaseException, int], bool]
"""``should_retry(error, attempt)``: False skips the retry (``attempt`` is 1-based)."""
ShouldSendToDlq = Callable[[dict[str, Any], BaseException, int], bool]
"""``should_send_to_dlq(job, error, attempts)``: ``job`` is the job's Sdk document."""

DEFAULT_RETRY_DELAY_MS = 1000
"""The wait before a retry when neither the job nor the processor sets one."""

Opts = TypeVar("Opts")

_MISPLACED = {
    ("EmitOptions", "should_retry"): "should_retry is a processor callback: "
    "TaskManager.init(processor={'retry': {'should_retry': fn}})",
    ("EmitOptions", "debounce"): "debounce is per handler: "
    "register_handler(..., options={'debounce': ms}) or processor={'debounce': ms}",
}
"""Options the spec documents as common mistakes, and where they belong."""


def coerce(kind: type[Opts], value: object, what: str) -> Opts:
    """``value`` as a ``kind``: the object itself, a dict of its fields, or None (defaults).

    Raises:
        UsageError: a dict with a key ``kind`` has no field for (the message lists them), or
            a value of another type.
    """
    if value is None:
        return kind()
    if isinstance(value, kind):
        return value
    if not isinstance(value, Mapping):
        raise UsageError(f"{what} must be a {kind.__name__} or a dict, got {value!r}")
    names = [f.name for f in dataclasses.fields(kind)]  # type: ignore[arg-type]
    for key in value:
        hint = _MISPLACED.get((kind.__name__, str(key)))
        if hint is not None:
            raise UsageError(f"{what}: {hint}")
        if key not in names:
            raise UsageError(f"{what}: unknown option {key!r}; the options are {', '.join(names)}")
    return kind(**value)


def _count(value: object, what: str, *, low: int = 0) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UsageError(f"{what} must be an int >= {low}, got {value!r}")
    return value


def _repeat(value: object, what: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("pattern"), str):
        raise UsageError(f'{what} must be a dict like {{"pattern": "0 0 * * *"}}, got {value!r}')
    return dict(value)


@dataclass(frozen=True)
class RetryOptions:
    """``processor.retry``: the processor level of the two retry levels.

    Args:
        max_retries: the global switch: jobs retry only when it is above 0 (how many times
            is the job's own ``attempts``/``retry_count``).
        retry_delay_ms: the wait before a retry when the job sets no ``retry_delay_ms``.
        should_retry: ``fn(error, attempt)``; False: no retry (the job fails for good).
    """

    max_retries: int = 0
    retry_delay_ms: int = DEFAULT_RETRY_DELAY_MS
    should_retry: ShouldRetry | None = None

    def __post_init__(self) -> None:
        _count(self.max_retries, "processor.retry.max_retries")
        _count(self.retry_delay_ms, "processor.retry.retry_delay_ms")
        if self.should_retry is not None and not callable(self.should_retry):
            raise UsageError(f"processor.retry.should_retry must be callable, got {self!r}")


@dataclass(frozen=True)
class DlqOptions:
    """``processor.dlq``: which jobs that failed for good stay as dead letters.

    Args:
        enabled: False: no job is kept as a dead letter (one that fails for good ends
            ``cancelled``, its error in the reason). Without a ``dlq`` option every such job
            is one (taskora's own default).
        stream_key: accepted for compatibility; the dead letters are taskora's failed jobs
            (``taskora dlq``), not a stream of their own.
        should_send_to_dlq: ``fn(job, error, attempts)``: False ends the job ``cancelled``
            instead of ``failed``.
    """

    enabled: bool = True
    stream_key: str | None = None
    should_send_to_dlq: ShouldSendToDlq | None = None

    def __post_init__(self) -> None:
        if self.should_send_to_dlq is not None and not callable(self.should_send_to_dlq):
            raise UsageError("processor.dlq.should_send_to_dlq must be callable")


@dataclass(frozen=True)
class ProcessorOptions:
    """``TaskManager.init(processor=...)``.

    Args:
        retry: a RetryOptions or its dict.
        dlq: a DlqOptions or its dict; None keeps every job that fails for good.
        debounce: the debounce window (ms) of handlers that set none.
        max_logs_per_task: keep at most this many ``job.logger`` entries per job, the oldest
            dropped first (default: the config's ``[retention] max_logs_per_job``).
    """

    retry: RetryOptions = field(default_factory=RetryOptions)
    dlq: DlqOptions | None = None
    debounce: int | None = None
    max_logs_per_task: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "retry", coerce(RetryOptions, self.retry, "processor.retry"))
        if self.dlq is not None:
            object.__setattr__(self, "dlq", coerce(DlqOptions, self.dlq, "processor.dlq"))
        _count(self.debounce, "processor.debounce", low=1)
        _count(self.max_logs_per_task, "processor.max_logs_per_task", low=1)


@dataclass(frozen=True)
class HandlerOptions:
    """``register_handler(options=...)``.

    Args:
        attempts: how many times a failed job of this handler is retried (the spec's
            meaning: ``attempts=3`` is 3 retries), when the processor allows retries.
        debounce: a window (ms): emits of this event within it collapse into one job, run
            with the last emit's data once the window after it passes.
        repeat: ``{"pattern": cron}`` (5 fields, or 6 with leading seconds): run the handler
            on that schedule, with data ``{}``.
    """

    attempts: int | None = None
    debounce: int | None = None
    repeat: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        _count(self.attempts, "options.attempts")
        _count(self.debounce, "options.debounce", low=1)
        object.__setattr__(self, "repeat", _repeat(self.repeat, "options.repeat"))


@dataclass(frozen=True)
class EmitOptions:
    """``emit(options=...)``.

    Args:
        id: the job's id (default: a hash of the event and data, so an identical emit while
            the first is pending is the same job).
        priority: 0..255, higher first.
        delay_until: run no sooner than this datetime (naive = UTC).
        retry_count: how many times the job is retried if it fails (overrides the
            handler's ``attempts``); ``attempts`` is the same, give one of them.
        retry_delay_ms: the wait before each retry (default: the processor's, else 1000).
        attempts: the same as ``retry_count``.
        repeat: ``{"pattern": cron}``: emit this event with this data on that schedule
            (a schedule named ``<event>-<id>``).
    """

    id: str | None = None
    priority: int = 0
    delay_until: datetime | None = None
    retry_count: int | None = None
    retry_delay_ms: int | None = None
    attempts: int | None = None
    repeat: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        _count(self.retry_count, "options.retry_count")
        _count(self.attempts, "options.attempts")
        _count(self.retry_delay_ms, "options.retry_delay_ms")
        if self.retry_count is not None and self.attempts is not None:
            raise UsageError(
                "options.attempts and options.retry_count are the same setting: give one"
            )
        if self.delay_until is not None and not isinstance(self.delay_until, datetime):
            raise UsageError(f"options.delay_until must be a datetime, got {self.delay_until!r}")
        object.__setattr__(self, "repeat", _repeat(self.repeat, "options.repeat"))

    @property
    def retries(self) -> int | None:
        """The job's own retry budget, if it sets one."""
        return self.retry_count if self.retry_count is not None else self.attempts
