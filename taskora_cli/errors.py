"""Every error taskora raises, in one tree rooted at TaskoraError."""

from __future__ import annotations

from dataclasses import dataclass


class TaskoraError(Exception):
    """Base class of every error taskora raises on purpose."""


class ConfigError(TaskoraError):
    """The configuration (file, environment or flags) is invalid."""


class UsageError(TaskoraError):
    """A call to the library was made with bad arguments."""


class UnknownTaskError(UsageError):
    """A task name that no app has registered."""


class UnknownScheduleError(UsageError):
    """A schedule name the server does not hold."""


class SerializationError(UsageError):
    """Job data or a result could not be serialised to JSON."""


@dataclass(frozen=True)
class Issue:
    """One reason a value failed its schema.

    Attributes:
        path: where, as dotted keys and indexes ("items.0.qty"; "" for the value itself).
        message: what is wrong there, in words a user can act on.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '(root)'}: {self.message}"


class ValidationError(UsageError):
    """A job's data (or a handler's result) does not match the task's schema.

    Never retried: the same data fails the same way. ``issues`` lists every problem found.
    """

    def __init__(self, task: str, issues: list[Issue], *, what: str = "data") -> None:
        self.task = task
        self.issues = list(issues)
        self.what = what
        listed = "; ".join(str(issue) for issue in self.issues) or "rejected by its schema"
        super().__init__(f"{what} for task {task!r} is invalid: {listed}")


class ServerError(TaskoraError):
    """The Redis/Valkey server cannot be reached or refused a command."""


class EmbeddedServerError(ServerError):
    """The embedded Valkey server failed to start or stop."""


class WireFormatError(ServerError):
    """The server holds data written in an incompatible wire format."""


class JobError(TaskoraError):
    """Base class of errors that describe how a job ended."""

    def __init__(self, message: str, job_id: str | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id


class JobFailedError(JobError):
    """The job failed permanently; `remote_error` holds the handler's error."""

    def __init__(
        self,
        message: str,
        job_id: str | None = None,
        remote_type: str | None = None,
        remote_traceback: str | None = None,
        issues: tuple[Issue, ...] = (),
    ) -> None:
        super().__init__(message, job_id)
        self.remote_type = remote_type
        self.remote_traceback = remote_traceback
        self.issues = issues
        """For a job that failed its schema: every bad field (path, message)."""


class CancelledError(JobError):
    """The job was cancelled before it completed."""


class ExpiredError(JobError):
    """The job expired (its TTL passed) before a worker started it."""


class NotCancellableError(JobError):
    """The job already ended (completed, failed, expired or cancelled); `state` says how."""

    def __init__(self, message: str, job_id: str | None = None, state: str = "") -> None:
        super().__init__(message, job_id)
        self.state = state


class JobNotFoundError(JobError):
    """No job with this id exists (never dispatched, or trimmed by retention)."""


class JobActiveError(UsageError):
    """The job is running now, so it cannot be deleted; cancel it first, or wait for it."""

    def __init__(self, message: str, job_id: str | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id


class DispatchRejectedError(TaskoraError):
    """Flow control turned a dispatch away (raised only with ``throw_on_reject=True``)."""

    def __init__(self, message: str, key: str, job_id: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.job_id = job_id


class ThrottledError(DispatchRejectedError):
    """The throttle key already accepted its maximum in the window; `retry_after` in seconds."""

    def __init__(
        self, message: str, key: str, job_id: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, key, job_id)
        self.retry_after = retry_after


class DuplicateJobError(DispatchRejectedError):
    """A job holding the deduplication key is still pending; `existing_id` is that job."""

    def __init__(
        self, message: str, key: str, job_id: str | None = None, existing_id: str = ""
    ) -> None:
        super().__init__(message, key, job_id)
        self.existing_id = existing_id


class RetryError(TaskoraError):
    """Raised by a handler (usually via `ctx.retry()`) to ask for another attempt."""

    def __init__(self, reason: str | None = None, delay: float | None = None) -> None:
        super().__init__(reason or "retry requested")
        self.reason = reason
        self.delay = delay


class TaskTimeoutError(TaskoraError, TimeoutError):
    """A handler ran longer than its task's timeout."""


class JobVersionError(UsageError):
    """A job was dispatched at a payload version older than its task's ``since``: no migration
    leads from it to the current version any more. Never retried: no worker of this version
    can run it. Keep the old migrations (a lower ``since``) until such jobs are drained."""

    def __init__(self, task: str, job_version: int, since: int) -> None:
        self.task = task
        self.job_version = job_version
        self.since = since
        super().__init__(
            f"job of task {task!r} has payload version {job_version}, older than the oldest "
            f"this worker supports (since={since}); no migration is available for it"
        )


class NotRetriedError(TaskoraError):
    """A TaskManager job's failed attempt that the manager's retry policy does not retry
    (``processor.retry.max_retries`` is 0, or ``should_retry`` said no) although the job had
    retries left; the message is the handler's error. Never retried."""
