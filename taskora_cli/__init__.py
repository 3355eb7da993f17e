"""taskora: a command-line-first job runner for Python on Redis.

Define tasks with ``@task``, dispatch jobs with ``.dispatch()``, run workers with
``taskora work``. Importing the package does not import redis (the engine loads on first
connect), so task modules and ``taskora --help`` load fast.
"""

from .app import Taskora, default_app, task
from .context import CancelSignal, JobContext
from .errors import (
    CancelledError,
    ConfigError,
    DispatchRejectedError,
    DuplicateJobError,
    EmbeddedServerError,
    ExpiredError,
    JobError,
    JobFailedError,
    JobNotFoundError,
    NotCancellableError,
    RetryError,
    SerializationError,
    ServerError,
    TaskoraError,
    TaskTimeoutError,
    ThrottledError,
    UnknownTaskError,
    UsageError,
    WireFormatError,
)
from .flow import CollectInfo
from .handle import JobHandle
from .retry import Retry
from .task import Task

__version__ = "0.1.0"

__all__ = [
    "CancelSignal",
    "CancelledError",
    "CollectInfo",
    "ConfigError",
    "DispatchRejectedError",
    "DuplicateJobError",
    "EmbeddedServerError",
    "ExpiredError",
    "JobContext",
    "JobError",
    "JobFailedError",
    "JobHandle",
    "JobNotFoundError",
    "NotCancellableError",
    "Retry",
    "RetryError",
    "SerializationError",
    "ServerError",
    "Task",
    "TaskTimeoutError",
    "Taskora",
    "TaskoraError",
    "ThrottledError",
    "UnknownTaskError",
    "UsageError",
    "WireFormatError",
    "__version__",
    "default_app",
    "task",
]
