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

from ..blocking import driven_twins
from ..engine import read_steps
from ..names import check_queue_name

if TYPE_CHECKING:
    from ..engine.steps import Driver, Operation, Steps
    from ..task_registry import Parts
    from .inspector import Stats, TaskStats


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

    def _known(self, driver: Driver) -> Steps[tuple[dict[str, str], set[str]]]:
        """Each known task's queue (this process's tasks over the server's records) and the
        paused queues."""
        queue_of = yield from read_steps.task_queues(driver.prefix)
        for name, task in self.registry.tasks.items():
            queue_of[name] = task.options.queue
        paused = yield from read_steps.paused_queues(driver.prefix)
        return queue_of, paused

    def _list(self, stats: Stats | None = None) -> Operation[builtins.list[QueueInfo]]:
        """Every known queue (of tasks registered here or on the server, and any paused one),
        sorted by name. ``stats``: counts already read with
        ``app.inspect().stats()``, so they are not read again."""

        def steps(driver: Driver) -> Steps[builtins.list[QueueInfo]]:
            queue_of, paused = yield from self._known(driver)
            if stats is None:
                now_ms = self.runtime.clock()
                counts = yield from read_steps.task_counts(driver.keys, sorted(queue_of), now_ms)
                # imported here: `queues pause|resume` need none of the inspector's classes
                from .inspector import TaskStats

                per_task = [TaskStats.from_counts(c) for c in counts]
            else:
                per_task = stats.tasks
            return _queues(queue_of, paused, per_task)

        return steps

    alist, list = driven_twins(_list, "list")

    def _names(self) -> Operation[builtins.list[str]]:
        """The names of every known queue, as :meth:`list` gives them, without reading any
        task's counts (what ``queues pause|resume`` check a name against)."""

        def steps(driver: Driver) -> Steps[builtins.list[str]]:
            queue_of, paused = yield from self._known(driver)
            return sorted(set(queue_of.values()) | paused)

        return steps

    anames, names = driven_twins(_names, "names")

    def _pause(self, name: str) -> Operation[bool]:
        """Pause queue ``name``; False if it already was. Dispatch still works."""
        queue = check_queue_name(name)
        return lambda driver: read_steps.pause_queue(driver.prefix, queue)

    apause, pause = driven_twins(_pause, "pause")

    def _resume(self, name: str) -> Operation[bool]:
        """Resume queue ``name``; False if it was not paused."""
        queue = check_queue_name(name)
        return lambda driver: read_steps.resume_queue(driver.prefix, queue)

    aresume, resume = driven_twins(_resume, "resume")

    def _is_paused(self, name: str) -> Operation[bool]:
        """Whether queue ``name`` is paused."""
        queue = check_queue_name(name)

        def steps(driver: Driver) -> Steps[bool]:
            paused = yield from read_steps.paused_queues(driver.prefix)
            return queue in paused

        return steps

    ais_paused, is_paused = driven_twins(_is_paused, "is_paused")


def _queues(
    queue_of: dict[str, str], paused: set[str], per_task: builtins.list[TaskStats]
) -> builtins.list[QueueInfo]:
    """The queues, by name, from each task's queue, the paused ones and each task's counts."""
    by_task = {s.task: s for s in per_task}
    members: dict[str, builtins.list[str]] = {queue: [] for queue in paused}
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
