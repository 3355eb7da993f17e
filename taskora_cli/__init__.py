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
    UnknownScheduleError,
    UnknownTaskError,
    UsageError,
    WireFormatError,
)
from .handle import JobHandle
from .retry import Retry
from .schedule_spec import ScheduleSpec
from .schedules import ScheduleInfo, ScheduleManager
from .task import Task

__version__ = "0.1.0"

__all__ = [
    "CancelSignal",
    "CancelledError",
    "ConfigError",
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
    "ScheduleInfo",
    "ScheduleManager",
    "ScheduleSpec",
    "SerializationError",
    "ServerError",
    "Task",
    "TaskTimeoutError",
    "Taskora",
    "TaskoraError",
    "UnknownScheduleError",
    "UnknownTaskError",
    "UsageError",
    "WireFormatError",
    "__version__",
    "default_app",
    "task",
]
