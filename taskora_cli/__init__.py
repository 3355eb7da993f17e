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
from .views.job_events import Event, WorkerEvent
from .views.queues import QueueInfo, Queues
from .views.schedule_manager import ScheduleInfo, ScheduleManager
from .views.worker_registry import WorkerInfo
from .views.workflows import NodeInfo, WorkflowInfo, Workflows
from .workflow import WorkflowHandle
from .workflow_graph import chain, chord, group

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
    "NodeInfo",
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
    "WorkerEvent",
    "WorkerInfo",
    "WorkflowHandle",
    "WorkflowInfo",
    "Workflows",
    "__version__",
    "chain",
    "chord",
    "default_app",
    "define_task",
    "group",
    "task",
]
