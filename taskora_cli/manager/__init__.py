"""The spec's TaskManager API on taskora's engine: ``TaskManager`` (handlers per queue and
event, ``emit``, two retry levels, the dead-letter predicate) and ``Sdk`` (admin of their jobs
and queues), and ``DefaultTaskManager``, the older manager with a master, ``create``/``commit``
and ``process``. See docs/manager.md."""

from __future__ import annotations

from ..errors import NotRetriedError
from .job import ManagerContext, ManagerJob, ManagerSocket
from .legacy import DefaultTaskManager, LegacyWorker
from .legacy_task import LegacyTask, Notification, WorkItem
from .options import DlqOptions, EmitOptions, HandlerOptions, ProcessorOptions, RetryOptions
from .sdk import Sdk
from .task_manager import TaskManager

__all__ = [
    "DefaultTaskManager",
    "DlqOptions",
    "EmitOptions",
    "HandlerOptions",
    "LegacyTask",
    "LegacyWorker",
    "ManagerContext",
    "ManagerJob",
    "ManagerSocket",
    "NotRetriedError",
    "Notification",
    "ProcessorOptions",
    "RetryOptions",
    "Sdk",
    "TaskManager",
    "WorkItem",
]
