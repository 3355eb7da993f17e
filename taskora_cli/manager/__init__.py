"""The spec's TaskManager API on taskora's engine: ``TaskManager`` (handlers per queue and
event, ``emit``, two retry levels, the dead-letter predicate) and ``Sdk`` (admin of their jobs
and queues). See docs/manager.md."""

from __future__ import annotations

from ..errors import NotRetriedError
from .job import ManagerContext, ManagerJob, ManagerSocket
from .options import DlqOptions, EmitOptions, HandlerOptions, ProcessorOptions, RetryOptions
from .sdk import Sdk
from .task_manager import TaskManager

__all__ = [
    "DlqOptions",
    "EmitOptions",
    "HandlerOptions",
    "ManagerContext",
    "ManagerJob",
    "ManagerSocket",
    "NotRetriedError",
    "ProcessorOptions",
    "RetryOptions",
    "Sdk",
    "TaskManager",
]
