"""What a TaskManager handler receives: ``job`` (name, queue, data, logger) and ``ctx`` (the
user's context plus ``emit``)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..context import JobContext


class ManagerJob:
    """One job as a handler sees it.

    Attributes:
        id: the job id.
        name: the event.
        queue: the queue.
        data: the emitted data.
        attempt: which attempt this is, 1-based.
        context: taskora's own job context (progress, cancellation, ...).
    """

    __slots__ = ("attempt", "context", "data", "id", "name", "queue")

    def __init__(self, name: str, queue: str, data: Any, context: JobContext) -> None:
        self.id = context.id
        self.name = name
        self.queue = queue
        self.data = data
        self.attempt = context.attempt
        self.context = context

    def logger(self, message: str | Mapping[str, Any]) -> None:
        """Store a log line with the job (a string, or an object stored as its JSON); a plain
        call, from async and plain handlers alike. The oldest lines go first past
        ``processor.max_logs_per_task``."""
        if isinstance(message, str):
            self.context.log.info(message)
        else:
            self.context.log.info(json.dumps(message, default=str, sort_keys=True))

    def __repr__(self) -> str:
        return f"ManagerJob(id={self.id!r}, name={self.name!r}, queue={self.queue!r})"


class ManagerSocket:
    """``ctx.socket``: ``update(data, progress)`` sends ``data`` to the WebSocket gateway's
    clients that follow the job (its emitter, and broadcast connections) as ``task_update``.

    It travels in the job's event stream on the server, so it works from a handler in any
    worker process, whether or not a gateway runs (then nobody receives it). Outside a
    handler (``get_context()``) there is no job to update.
    """

    __slots__ = ("_context",)

    def __init__(self, context: JobContext | None) -> None:
        self._context = context

    def update(self, data: Any, progress: float | int | dict[str, Any] | None = None) -> None:
        """Send ``data`` (any JSON value) with ``progress`` (stored as the job's progress too,
        when given); a plain call from async and plain handlers alike.

        Raises:
            UsageError: called outside a handler.
        """
        if self._context is None:
            from ..errors import UsageError

            raise UsageError("ctx.socket.update works inside a handler, for the job it runs")
        self._context.announce(data, progress)


class ManagerContext(dict[str, Any]):
    """The user's context (read as ``ctx["db"]`` or ``ctx.db``) plus ``ctx.emit(...)`` (plain,
    returns the job id), ``await ctx.aemit(...)`` and ``ctx.socket.update(data, progress)``.

    ``emit`` here never blocks the event loop: called on the worker's loop (from an ``async``
    handler) it enqueues in the background and the job does not end before that enqueue has;
    from a plain handler (a thread) it waits for the enqueue.
    """

    def __init__(
        self,
        values: Mapping[str, Any],
        emit: Callable[..., str],
        aemit: Callable[..., Awaitable[str]],
        socket: ManagerSocket | None = None,
    ) -> None:
        super().__init__(values)
        self.__dict__["emit"] = emit
        self.__dict__["aemit"] = aemit
        self.__dict__["socket"] = socket or ManagerSocket(None)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"the context has no {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value
