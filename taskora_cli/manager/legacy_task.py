"""The legacy manager's tasks: the one ``create`` builds and ``commit`` queues (LegacyTask),
the one a ``process`` handler receives (WorkItem), and the notifications listeners get."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..blocking import blocking_twin
from ..errors import TaskoraError, UsageError
from ..moments import to_datetime

if TYPE_CHECKING:
    from ..context import JobContext
    from ..event import Event
    from ..handle import JobHandle
    from ..remote_error import RemoteError
    from ..runtime import Runtime
    from ..task import Task

log = logging.getLogger("taskora.manager")

Callback = Callable[[Any], Any]

OUTCOMES = ("success", "failure")
"""What ``task.on`` listens to: the task's result, or how it failed for good."""

NOTIFICATIONS = {
    "queued": ("waiting", "delayed"),
    "started": ("active",),
    "updated": ("progress",),
    "failed": ("failed",),
    "completed": ("completed",),
}
"""Each notification of the legacy manager, and the taskora job events it is made of."""


@dataclass(frozen=True)
class Notification:
    """One notification (``manager.on(name, fn)``).

    Attributes:
        name: "queued", "started", "updated", "failed" or "completed".
        task_id: the task's id (``task.id`` of ``create``).
        attempt: the attempt it concerns ("started", "failed", "completed").
        result: what the handler returned ("completed").
        error: how the task failed for good ("failed").
        progress: what the handler reported with ``task.update`` ("updated").
        event: taskora's job event underneath.
    """

    name: str
    task_id: str
    attempt: int | None
    result: Any
    error: RemoteError | None
    progress: Any
    event: Event

    @classmethod
    def of(cls, name: str, event: Event) -> Notification:
        """The notification ``name`` made of taskora's ``event``."""
        return cls(
            name, event.job_id, event.attempt, event.result, event.error, event.progress, event
        )


class WorkItem:
    """A task as the ``process`` handler receives it.

    Attributes:
        id: the task's id.
        payload: what ``create`` was given.
        attempt: which attempt this is, 1-based.
        context: taskora's own job context (cancellation, logs, ...).
    """

    __slots__ = ("attempt", "context", "id", "payload")

    def __init__(self, payload: Any, context: JobContext) -> None:
        self.id = context.id
        self.payload = payload
        self.attempt = context.attempt
        self.context = context

    def update(self, progress: float | int | dict[str, Any]) -> None:
        """Report progress (a number or a dict): listeners get an "updated" notification.
        A plain call, from ``async`` and plain handlers alike."""
        self.context.progress(progress)

    def log(self, message: str) -> None:
        """Store a log line with the task (``taskora jobs show``)."""
        self.context.log.info(message)

    def __repr__(self) -> str:
        return f"WorkItem(id={self.id!r})"


class Watchers:
    """The committed tasks whose ``success``/``failure`` callbacks wait for their end, on the
    event loop each was committed on; a shutdown stops those still waiting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: set[tuple[asyncio.AbstractEventLoop, asyncio.Task[None]]] = set()

    def watch(self, handle: JobHandle, callbacks: dict[str, list[Callback]]) -> None:
        """Wait (in the background of the running loop) for ``handle``'s job to end, then
        call the ``success`` callbacks with its result or the ``failure`` ones with the error
        (JobFailedError, CancelledError, ExpiredError)."""
        loop = asyncio.get_running_loop()
        entry = (loop, loop.create_task(self._wait(handle, callbacks)))
        with self._lock:
            self._waiting.add(entry)
        entry[1].add_done_callback(lambda _: self._forget(entry))

    def _forget(self, entry: tuple[asyncio.AbstractEventLoop, asyncio.Task[None]]) -> None:
        with self._lock:
            self._waiting.discard(entry)

    @staticmethod
    async def _wait(handle: JobHandle, callbacks: dict[str, list[Callback]]) -> None:
        value: Any
        try:
            value = await handle.aresult()
            outcome = "success"
        except TaskoraError as error:
            value, outcome = error, "failure"
        for fn in callbacks[outcome]:
            await call(fn, value, f"{outcome} callback of task {handle.id}")

    async def acancel(self) -> None:
        """Stop every wait still running (their tasks keep running; nobody is called)."""
        with self._lock:
            waiting = list(self._waiting)
        here = asyncio.get_running_loop()
        mine = []
        for loop, task in waiting:
            if loop is here:
                task.cancel()
                mine.append(task)
            else:
                with contextlib.suppress(RuntimeError):  # that loop is closed: nothing runs
                    loop.call_soon_threadsafe(task.cancel)
        await asyncio.gather(*mine, return_exceptions=True)


async def call(fn: Callable[[Any], Any], value: Any, what: str) -> None:
    """Run a user's callback: an ``async`` one in this loop, a plain one in a thread (a slow
    one must not hold the loop up); one that raises is logged."""
    try:
        if inspect.iscoroutinefunction(fn):
            await fn(value)
            return
        outcome = await asyncio.to_thread(fn, value)
        if inspect.isawaitable(outcome):
            await outcome
    except (asyncio.CancelledError, GeneratorExit):
        raise
    except BaseException:  # a callback must not end the manager's loop
        log.exception("taskora: the %s %r failed", what, fn)


class LegacyTask:
    """A task ``create`` made: set it up, then :meth:`commit` queues it (nothing is stored
    before that). The setters return the task, so they chain.

    Attributes:
        id: the task's id, known before it is committed.
        payload: what the handler receives as ``task.payload`` (anything JSON can hold).
        committed: whether :meth:`commit` queued it.
    """

    def __init__(self, task: Task, watchers: Watchers, payload: Any) -> None:
        from ..task import new_job_id

        self.id = new_job_id()
        self.payload = payload
        self.committed = False
        self._task = task
        self._watchers = watchers
        self._timeout_ms: int | None = None
        self._run_at: datetime | None = None
        self._callbacks: dict[str, list[Callback]] = {name: [] for name in OUTCOMES}

    @property
    def runtime(self) -> Runtime:
        """The runtime the task is queued through."""
        return self._task.runtime

    def _unsent(self, what: str) -> None:
        if self.committed:
            raise UsageError(f"task {self.id} is committed already: {what} before commit()")

    def with_timeout(self, ms: int) -> LegacyTask:
        """Fail the task (with a TimeoutError, not retried) if one attempt runs longer than
        ``ms`` milliseconds.

        Raises:
            UsageError: not a positive number of ms, or the task is committed already.
        """
        self._unsent("with_timeout")
        if isinstance(ms, bool) or not isinstance(ms, int | float) or ms <= 0:
            raise UsageError(f"with_timeout takes milliseconds > 0, got {ms!r}")
        self._timeout_ms = int(ms)
        return self

    def with_delay_until(self, when: datetime | int) -> LegacyTask:
        """Run the task no sooner than ``when``: a datetime (a naive one is read as UTC) or
        epoch milliseconds (what JavaScript's ``Date.parse`` gives); a moment past runs now.

        Raises:
            UsageError: neither, or the task is committed already.
        """
        self._unsent("with_delay_until")
        moment = when if isinstance(when, datetime) else None
        if isinstance(when, int) and not isinstance(when, bool):
            moment = to_datetime(when)
        if moment is None:
            raise UsageError(f"with_delay_until takes a datetime or epoch ms, got {when!r}")
        self._run_at = moment
        return self

    def on(self, outcome: str, fn: Callback) -> LegacyTask:
        """Call ``fn(result)`` when the task completes ("success"), or ``fn(error)`` when it
        fails for good, is cancelled or expires ("failure"; a JobFailedError, CancelledError
        or ExpiredError). Called in this process, wherever the task ran; ``fn`` may be
        ``async``.

        Raises:
            UsageError: another outcome, or the task is committed already.
        """
        self._unsent("on(...)")
        if outcome not in OUTCOMES:
            raise UsageError(f"a task's on() takes 'success' or 'failure', got {outcome!r}")
        if not callable(fn):
            raise UsageError(f"on({outcome!r}, fn) needs a callable, got {fn!r}")
        self._callbacks[outcome].append(fn)
        return self

    async def acommit(self) -> LegacyTask:
        """Queue the task for a worker; its callbacks wait for its end in the background (of
        the running loop; the blocking ``commit``'s on the runtime's background loop).

        Raises:
            UsageError: committed already.
        """
        self._unsent("commit")
        timeout = None if self._timeout_ms is None else self._timeout_ms / 1000
        handle = await self._task.adispatch(
            self.payload, job_id=self.id, run_at=self._run_at, timeout=timeout
        )
        self.committed = True
        if any(self._callbacks.values()):
            self._watchers.watch(handle, self._callbacks)
        return self

    commit = blocking_twin(acommit)

    def __repr__(self) -> str:
        state = "committed" if self.committed else "not committed"
        return f"LegacyTask(id={self.id!r}, {state})"
