"""Retry policy: how many attempts, how long between them, and which errors deserve another."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .durations import Duration, to_ms
from .errors import RetryError, TaskTimeoutError, UsageError

Backoff = Literal["fixed", "linear", "exponential"] | Callable[[int], float]
ErrorTypes = tuple[type[BaseException], ...]


@dataclass(frozen=True)
class Retry:
    """How a task retries.

    Args:
        attempts: total attempts, the first included (1 = never retry).
        backoff: "fixed" (delay), "linear" (delay * attempt), "exponential"
            (delay * 2 ** (attempt - 1)), or a callable(attempt) -> seconds.
        delay: the base delay (seconds or "500ms", "1s", ...).
        max_delay: a hard upper bound on any computed delay, jitter included.
        jitter: spread each delay by ±25% so retries of a burst do not arrive together.
        retry_on: if given, only these exception types are retried.
        no_retry_on: these exception types are never retried.
    """

    attempts: int = 3
    backoff: Backoff = "exponential"
    delay: Duration = "1s"
    max_delay: Duration | None = None
    jitter: bool = True
    retry_on: ErrorTypes = ()
    no_retry_on: ErrorTypes = ()

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise UsageError(f"Retry(attempts=...) must be an int >= 1, got {self.attempts!r}")
        if self.attempts < 1:
            raise UsageError(f"Retry(attempts=...) must be >= 1, got {self.attempts}")
        if not callable(self.backoff) and self.backoff not in ("fixed", "linear", "exponential"):
            raise UsageError(
                f"Retry(backoff=...) must be 'fixed', 'linear', 'exponential' or a callable, "
                f"got {self.backoff!r}"
            )
        to_ms(self.delay, what="Retry(delay=...)")
        if self.max_delay is not None:
            to_ms(self.max_delay, what="Retry(max_delay=...)")
        for name in ("retry_on", "no_retry_on"):
            for kind in getattr(self, name):
                if not (isinstance(kind, type) and issubclass(kind, BaseException)):
                    raise UsageError(f"Retry({name}=...) must hold exception classes, got {kind!r}")

    def delay_ms(self, attempt: int) -> int:
        """The wait before the attempt after ``attempt`` (1-based) failed."""
        base = to_ms(self.delay)
        if callable(self.backoff):
            raw = float(self.backoff(attempt)) * 1000
        elif self.backoff == "fixed":
            raw = base
        elif self.backoff == "linear":
            raw = base * attempt
        else:
            raw = base * 2 ** (attempt - 1)
        if self.jitter:
            import random  # here, not at import: a dispatching process never needs it

            raw *= 0.75 + random.random() * 0.5
        if self.max_delay is not None:
            # after the jitter: max_delay is a hard cap, never exceeded by a quarter
            raw = min(raw, to_ms(self.max_delay))
        return max(0, round(raw))

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """Whether ``error`` on attempt ``attempt`` (1-based) earns another attempt."""
        if attempt >= self.attempts:
            return False
        if isinstance(error, RetryError):
            return True  # an explicit ctx.retry() always retries while attempts remain
        if isinstance(error, TaskTimeoutError):
            return bool(self.retry_on) and isinstance(error, self.retry_on)
        if self.no_retry_on and isinstance(error, self.no_retry_on):
            return False
        return not self.retry_on or isinstance(error, self.retry_on)


NO_RETRY = Retry(attempts=1)
