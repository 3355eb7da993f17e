"""Who listens to which job events (what they receive is in event.py).

``task.on("completed", fn)`` and ``app.on("task:failed", fn)`` add listeners here; worker
processes read the event streams and call them (see views/job_events.py).
"""

from __future__ import annotations

import contextlib
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from .errors import UsageError
from .moments import to_datetime

LISTENABLE = (
    "waiting",
    "delayed",
    "active",
    "progress",
    "completed",
    "failed",
    "retrying",
    "stalled",
    "cancelled",
    "expired",
)
"""The events a listener can subscribe to."""

WORKER_EVENTS = ("worker:ready", "worker:error", "worker:closing")
"""The app's own events (``app.on("worker:ready", fn)``): a worker in this process has started
(claiming), hit an error outside any job (a server hiccup in a background loop; the worker goes
on), or begins to stop. The listener gets a WorkerEvent."""

Listener = Callable[..., Any]
Unsubscribe = Callable[[], None]


def clamped(ms: int) -> datetime:
    moment = to_datetime(ms)
    if moment is not None:
        return moment
    return (datetime.max if ms > 0 else datetime.min).replace(tzinfo=UTC)


def check_event(name: str) -> str:
    if name not in LISTENABLE:
        raise UsageError(f"unknown event {name!r}; listen to one of {', '.join(LISTENABLE)}")
    return name


class Listeners:
    """Who listens to what: per task, and for every task (key None)."""

    def __init__(self) -> None:
        self._by: dict[tuple[str | None, str], list[Listener]] = defaultdict(list)
        self.generation = 0
        """Counts the listeners added and removed: a reader of the streams compares it to see
        which streams to read now."""
        self._watchers: list[Callable[[], None]] = []
        self._followed = -1
        self._followed_changed = threading.Condition()

    def followed(self, generation: int) -> None:
        """A reader of the streams now reads every task the listeners of ``generation`` hear."""
        with self._followed_changed:
            self._followed = max(self._followed, generation)
            self._followed_changed.notify_all()

    def renew_after_fork(self) -> None:
        """In a forked child: a fresh condition (the parent's may have been held by a thread
        the child does not have), and no reader follows yet (the child starts its own)."""
        self._followed_changed = threading.Condition()
        self._followed = -1

    def wait_followed(self, timeout: float) -> bool:
        """Wait until a reader reads the streams for every listener added so far (False when
        ``timeout`` seconds pass first)."""
        with self._followed_changed:
            return self._followed_changed.wait_for(
                lambda: self._followed >= self.generation, timeout
            )

    def watch(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` after each listener is added (the runtime then starts following the
        streams if it is connected and does not yet)."""
        self._watchers.append(fn)

    def __bool__(self) -> bool:
        return self.listens_to_jobs()

    def add(self, task: str | None, event: str, fn: Listener) -> Unsubscribe:
        """Add ``fn``; returns the function that removes it again (calling it twice is fine)."""
        if not callable(fn):
            raise UsageError(f"a listener must be callable, got {fn!r}")
        if event not in WORKER_EVENTS:
            check_event(event)
        added = self._by[(task, event)]
        added.append(fn)
        self.generation += 1
        for watcher in self._watchers:
            watcher()

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                added.remove(fn)
                self.generation += 1  # a reader may now stop reading this task's stream

        return unsubscribe

    def for_event(self, task: str, event: str) -> list[Listener]:
        return [*self._by.get((task, event), ()), *self._by.get((None, event), ())]

    def own(self, task: str, event: str) -> bool:
        """Whether ``task`` has a listener of ``event`` of its own (``task.on(event, fn)``)."""
        return bool(self._by.get((task, event)))

    def for_worker(self, event: str) -> list[Listener]:
        """The listeners of one of the app's own WORKER_EVENTS."""
        return list(self._by.get((None, event), ()))

    def listens_to_jobs(self) -> bool:
        """Whether any listener hears job events (what makes a process follow the streams)."""
        return any(fns for (_, event), fns in self._by.items() if event not in WORKER_EVENTS)

    def tasks(self, known: Iterable[str]) -> list[str]:
        """The tasks whose streams must be read: those listened to, or all if any listener
        is for every task."""
        jobs = {key: fns for key, fns in self._by.items() if fns and key[1] not in WORKER_EVENTS}
        if any(task is None for task, _ in jobs):
            return sorted(set(known))
        return sorted({task for task, _ in jobs if task is not None})


def parse_app_event(name: str) -> str:
    """``app.on`` names: "task:completed" (or just "completed") -> "completed"; the worker's
    own events ("worker:ready", ...) as they are."""
    if name in WORKER_EVENTS:
        return name
    if name.startswith("worker:"):
        raise UsageError(f"unknown event {name!r}; worker events: {', '.join(WORKER_EVENTS)}")
    event = name.removeprefix("task:")
    return check_event(event)


ListenerDecorator = Callable[[Listener], Listener]


def register(
    listeners: Listeners, task: str | None, event: str, fn: Listener | None
) -> Unsubscribe | ListenerDecorator:
    """Add ``fn`` and return its unsubscribe function, or (without ``fn``) return a decorator
    that adds the function it decorates and gives it back unchanged."""
    if task is not None or event not in WORKER_EVENTS:
        check_event(event)  # a task has no worker events of its own: app.on("worker:...")
    if fn is not None:
        return listeners.add(task, event, fn)

    def decorate(f: Listener) -> Listener:
        listeners.add(task, event, f)
        return f

    return decorate
