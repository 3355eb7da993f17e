"""Test your tasks on the real engine with virtual time: ``TaskRunner`` (and the pytest
fixture ``taskora_runner``, registered when taskora is installed).

Example:
    def test_flaky_task_completes(taskora_runner):
        execution = taskora_runner.execute(flaky, {"n": 1})
        assert execution.state == "completed" and execution.attempts == 3
"""

from .clock import VirtualClock
from .runner import Execution, Step, TaskRunner

__all__ = ["Execution", "Step", "TaskRunner", "VirtualClock"]
