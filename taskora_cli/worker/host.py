"""What a task's runner needs of the worker that hosts it.

The pool (pool.py) builds the runners and satisfies this protocol; the runners (runner.py,
slots.py) depend only on it, so the arrows inside the worker run one way.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import asyncio

    from ..engine.engine import Engine
    from ..engine.records import ClaimedJob, Retention
    from ..retry import Retry
    from ..runtime import Runtime
    from ..task import Task
    from .execute import Outcome


class WorkerHost(Protocol):
    """The worker side of a runner: identity, connection, limits and bookkeeping."""

    runtime: Runtime
    engine: Engine
    id: str
    lock_ttl_ms: int
    retention: Retention
    state: SimpleNamespace
    """The worker's shared namespace (``ctx.state``; see worker/lifespan.py)."""

    @property
    def executor(self) -> Executor: ...

    on_start: Callable[[str, ClaimedJob], None] | None
    too_stuck: asyncio.Event

    def retry_for(self, task: Task) -> Retry: ...

    def timeout_ms_for(self, task: Task) -> int: ...

    def lock_ttl_ms_for(self, task: Task) -> int: ...

    def note_stuck(self, thread: Future[Any]) -> None: ...

    def reserve_claims(self, want: int) -> int: ...

    def unclaim(self, count: int) -> None: ...

    def report(self, task: str, outcome: Outcome, settled: bool) -> None: ...
