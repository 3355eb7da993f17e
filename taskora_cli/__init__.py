"""taskora: a command-line-first job runner for Python on Redis.

Define tasks with ``@task``, dispatch jobs with ``.dispatch()``, run workers with
``taskora work``. Importing the package does not import redis (the engine loads on first
connect), so task modules and ``taskora --help`` load fast.
"""

from .app import Taskora, default_app, task
from .context import CancelSignal, JobContext
from .contract import TaskContract, define_task
from .errors import (
    CancelledError,
    ConfigError,
    DispatchRejectedError,
    DuplicateJobError,
    EmbeddedServerError,
    ExpiredError,
    Issue,
    JobActiveError,
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
    UnknownScheduleError,
    UnknownTaskError,
    UsageError,
    ValidationError,
    WireFormatError,
)
from .flow import CollectInfo
from .handle import JobHandle
from .job_state import JobState
from .retry import Retry
from .schedule_spec import ScheduleSpec
from .task import Task
from .views.dead_letters import DeadGroup, DeadLetter, DeadLetters
from .views.inspector import Inspector, JobInfo, Minute, Stats, TaskStats
from .views.job_events import Event
from .views.queues import QueueInfo, Queues
from .views.schedule_manager import ScheduleInfo, ScheduleManager
from .views.worker_registry import WorkerInfo

__version__ = "0.1.0"

__all__ = [
    "CancelSignal",
    "CancelledError",
    "CollectInfo",
    "ConfigError",
    "DeadGroup",
    "DeadLetter",
    "DeadLetters",
    "DispatchRejectedError",
    "DuplicateJobError",
    "EmbeddedServerError",
    "Event",
    "ExpiredError",
    "Inspector",
    "Issue",
    "JobActiveError",
    "JobContext",
    "JobError",
    "JobFailedError",
    "JobHandle",
    "JobInfo",
    "JobNotFoundError",
    "JobState",
    "Minute",
    "NotCancellableError",
    "QueueInfo",
    "Queues",
    "Retry",
    "RetryError",
    "ScheduleInfo",
    "ScheduleManager",
    "ScheduleSpec",
    "SerializationError",
    "ServerError",
    "Stats",
    "Task",
    "TaskContract",
    "TaskStats",
    "TaskTimeoutError",
    "Taskora",
    "TaskoraError",
    "ThrottledError",
    "UnknownScheduleError",
    "UnknownTaskError",
    "UsageError",
    "ValidationError",
    "WireFormatError",
    "WorkerInfo",
    "__version__",
    "default_app",
    "define_task",
    "task",
]
