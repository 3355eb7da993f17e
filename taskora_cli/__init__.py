"""taskora: a command-line-first job runner for Python on Redis.

Define tasks with ``@task``, dispatch jobs with ``.dispatch()``, run workers with
``taskora work``. Importing the package imports nothing more: each name below loads its
module on first use (PEP 562), so the pytest plugin, task modules and ``taskora`` commands pay
only for what they use. Redis loads with the engine, on first connect.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import Taskora, default_app, task
    from .context import CancelSignal, JobContext
    from .contract import TaskContract, define_task
    from .engine.records import WireMigration
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
    from .event import Event, WorkerEvent
    from .flow import CollectInfo
    from .handle import JobHandle
    from .job_state import JobState
    from .retry import Retry
    from .schedule_spec import ScheduleSpec
    from .task import Task
    from .views.dead_letters import DeadGroup, DeadLetter, DeadLetters
    from .views.inspector import Inspector, JobInfo, Minute, Stats, TaskStats
    from .views.queues import QueueInfo, Queues
    from .views.schedule_manager import ScheduleInfo, ScheduleManager
    from .views.worker_registry import WorkerInfo
    from .views.workflows import NodeInfo, WorkflowInfo, Workflows
    from .workflow import WorkflowHandle
    from .workflow_graph import chain, chord, group

_EXPORTS = {
    "CancelSignal": "context",
    "CancelledError": "errors",
    "CollectInfo": "flow",
    "ConfigError": "errors",
    "DeadGroup": "views.dead_letters",
    "DeadLetter": "views.dead_letters",
    "DeadLetters": "views.dead_letters",
    "DispatchRejectedError": "errors",
    "DuplicateJobError": "errors",
    "EmbeddedServerError": "errors",
    "Event": "event",
    "ExpiredError": "errors",
    "Inspector": "views.inspector",
    "Issue": "errors",
    "JobActiveError": "errors",
    "JobContext": "context",
    "JobError": "errors",
    "JobFailedError": "errors",
    "JobHandle": "handle",
    "JobInfo": "views.inspector",
    "JobNotFoundError": "errors",
    "JobState": "job_state",
    "Minute": "views.inspector",
    "NodeInfo": "views.workflows",
    "NotCancellableError": "errors",
    "QueueInfo": "views.queues",
    "Queues": "views.queues",
    "Retry": "retry",
    "RetryError": "errors",
    "ScheduleInfo": "views.schedule_manager",
    "ScheduleManager": "views.schedule_manager",
    "ScheduleSpec": "schedule_spec",
    "SerializationError": "errors",
    "ServerError": "errors",
    "Stats": "views.inspector",
    "Task": "task",
    "TaskContract": "contract",
    "TaskStats": "views.inspector",
    "TaskTimeoutError": "errors",
    "Taskora": "app",
    "TaskoraError": "errors",
    "ThrottledError": "errors",
    "UnknownScheduleError": "errors",
    "UnknownTaskError": "errors",
    "UsageError": "errors",
    "ValidationError": "errors",
    "WireFormatError": "errors",
    "WireMigration": "engine.records",
    "WorkerEvent": "event",
    "WorkerInfo": "views.worker_registry",
    "WorkflowHandle": "workflow",
    "WorkflowInfo": "views.workflows",
    "Workflows": "views.workflows",
    "chain": "workflow_graph",
    "chord": "workflow_graph",
    "default_app": "app",
    "define_task": "contract",
    "group": "workflow_graph",
    "task": "app",
}
"""Each public name: the module (under this package) that defines it."""

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
    "WireMigration",
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # the next lookup finds it without this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


class _Package(types.ModuleType):
    """This package's module type. Importing a submodule sets it as an attribute of the
    package; ``taskora_cli.task`` (the module) would then shadow ``task`` (the decorator) for
    whoever imports the name after that. Exported names keep their meaning: a submodule of the
    same name is left to ``sys.modules`` (where ``import taskora_cli.task`` finds it)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
