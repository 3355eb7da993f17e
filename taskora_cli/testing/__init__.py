"""Test your tasks on the real engine with virtual time: ``TaskRunner`` (and the pytest
fixture ``taskora_runner``, registered when taskora is installed).

Example:
    def test_flaky_task_completes(taskora_runner):
        execution = taskora_runner.execute(flaky, {"n": 1})
        assert execution.state == "completed" and execution.attempts == 3

The names load their modules on first use (PEP 562): the pytest plugin, a submodule of this
package, is imported into every pytest run where taskora is installed, and costs it nothing
more than itself.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .clock import VirtualClock
    from .runner import Execution, Step, TaskRunner

_EXPORTS = {
    "Execution": "runner",
    "Step": "runner",
    "TaskRunner": "runner",
    "VirtualClock": "clock",
}

__all__ = ["Execution", "Step", "TaskRunner", "VirtualClock"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
