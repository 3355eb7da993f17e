"""Queues: a task's ``queue`` option groups it with others, so an operator can pause and
resume them together. A paused queue still accepts dispatches; workers everywhere stop
claiming its jobs within a control tick (0.5 s) and start again on resume. Jobs already
running finish normally.

``app.queues()`` returns the manager; blocking methods have async twins.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..blocking import blocking_twin
from ..names import check_queue_name
from .inspector import TaskStats

if TYPE_CHECKING:
    from ..task_registry import Parts
    from .inspector import Stats


@dataclass(frozen=True)
class QueueInfo:
    """One queue: its tasks and their summed counts; ``latency`` is the age in seconds of the
    oldest waiting job of any of its tasks (None when nothing waits)."""

    name: str
    paused: bool
    tasks: list[str] = field(default_factory=list)
    waiting: int = 0
    delayed: int = 0
    active: int = 0
    failed: int = 0
    latency: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


class Queues:
    """List, pause and resume queues."""

    def __init__(self, app: Parts) -> None:
        self.runtime = app.runtime
        self.registry = app.registry

    async def alist(self, stats: Stats | None = None) -> builtins.list[QueueInfo]:
        """Every known queue (of tasks registered here or on the server, and any paused one),
        sorted by name. ``stats``: counts already read with
        ``app.inspect().stats()``, so they are not read again."""
        engine = await self.runtime.engine()
        queue_of = await engine.task_queues()
        for name, task in self.registry.tasks.items():
            queue_of[name] = task.options.queue
        paused = await engine.control.paused_queues()
        if stats is None:
            counts = await engine.task_counts(sorted(queue_of), self.runtime.clock())
            per_task = [TaskStats.from_counts(c) for c in counts]
        else:
            per_task = stats.tasks
        by_task = {s.task: s for s in per_task}
        members: dict[str, list[str]] = {queue: [] for queue in paused}
        for task_name, queue in sorted(queue_of.items()):
            members.setdefault(queue, []).append(task_name)
        out = []
        for queue, tasks in sorted(members.items()):
            rows = [by_task[t] for t in tasks if t in by_task]
            latencies = [r.latency for r in rows if r.latency is not None]
            out.append(
                QueueInfo(
                    queue,
                    queue in paused,
                    tasks,
                    waiting=sum(r.waiting for r in rows),
                    delayed=sum(r.delayed for r in rows),
                    active=sum(r.active for r in rows),
                    failed=sum(r.failed for r in rows),
                    latency=max(latencies) if latencies else None,
                )
            )
        return out

    list = blocking_twin(alist)

    async def apause(self, name: str) -> bool:
        """Pause queue ``name``; False if it already was. Dispatch still works."""
        engine = await self.runtime.engine()
        return await engine.control.pause_queue(check_queue_name(name))

    pause = blocking_twin(apause)

    async def aresume(self, name: str) -> bool:
        """Resume queue ``name``; False if it was not paused."""
        engine = await self.runtime.engine()
        return await engine.control.resume_queue(check_queue_name(name))

    resume = blocking_twin(aresume)

    async def ais_paused(self, name: str) -> bool:
        """Whether queue ``name`` is paused."""
        engine = await self.runtime.engine()
        return check_queue_name(name) in await engine.control.paused_queues()

    is_paused = blocking_twin(ais_paused)
