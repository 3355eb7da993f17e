"""The pytest plugin (entry point ``pytest11``): the ``taskora_runner`` fixture.

It makes no runner and starts no server until a test asks for the fixture, so installing
taskora costs other projects' test runs only an import.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .runner import TaskRunner


@pytest.fixture
def taskora_app() -> Any:
    """The app ``taskora_runner`` runs: None for the default app (``@task``). Override this
    fixture in a conftest.py to return your own ``Taskora(...)``."""
    return None


@pytest.fixture
def taskora_runner(taskora_app: Any) -> Iterator[TaskRunner]:
    """A TaskRunner for one test: a private embedded server emptied for it (started once per
    session), a virtual clock, and the app given back its server and clock afterwards."""
    from .runner import TaskRunner

    runner = TaskRunner(taskora_app)
    try:
        yield runner
    finally:
        runner.close()


@pytest.fixture(scope="session", autouse=True)
def _taskora_private_server() -> Iterator[None]:
    """Stops the private server at the end of the session, if a test started it (a session
    that never asked for a runner imports nothing more)."""
    yield
    server = sys.modules.get("taskora_cli.testing.server")
    if server is not None:
        server.stop_private_server()
