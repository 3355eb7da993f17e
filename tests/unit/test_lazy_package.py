"""``import taskora_cli`` loads nothing until a name is used (PEP 562), yet every public name
means what it always did, also ``task`` once the submodule ``taskora_cli.task`` is imported."""

from __future__ import annotations

import subprocess
import sys
import types

CHECK = """
import sys, types
import taskora_cli.testing.plugin  # what pytest imports in every run where taskora is installed
loaded = sorted(m for m in sys.modules if m.startswith("taskora_cli"))
assert loaded == ["taskora_cli", "taskora_cli.testing", "taskora_cli.testing.plugin"], loaded
import taskora_cli.task  # the submodule first: it must not take the decorator's name
from taskora_cli import task
assert not isinstance(task, types.ModuleType) and task.__module__ == "taskora_cli.app", task
assert taskora_cli.task is task
"""


def test_the_plugin_imports_nothing_more_and_task_stays_the_decorator() -> None:
    subprocess.run([sys.executable, "-c", CHECK], check=True)


def test_every_public_name_loads() -> None:
    import taskora_cli

    for name in taskora_cli.__all__:
        assert getattr(taskora_cli, name) is not None
    assert not isinstance(taskora_cli.task, types.ModuleType)
    assert set(taskora_cli.__all__) <= set(dir(taskora_cli))
