"""Job events: listen with ``task.on("completed", fn)`` or ``app.on("task:failed", fn)``, or read
them with ``app.events()``.

Every transition the scripts make is appended to its task's capped event stream, so every
process that reads the streams sees every event (fan-out, not a work queue). Listeners are
called by worker processes (``taskora work``, ``app.start()``), and by a process that only
dispatches (a web app), which follows the streams on the runtime's background loop from its
first connection on (the CLI's one-shot commands do not). Each reads the streams of the tasks
someone listens to and calls the listeners: an ``async`` one in its event loop, a plain one in
a thread (so a slow one cannot hold up the worker). One that raises is logged and the rest
still run. Events that happen while no process follows are not replayed to listeners;
``taskora events`` shows the recent past. The worker's own events ("worker:ready", ...) go
to ``app.on`` listeners as WorkerEvents (notify_worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from ..errors import UnknownTaskError
from ..event import Event, WorkerEvent
from ..listeners import LISTENABLE, Listener, Listeners, clamped
from ..remote_error import decode_stored, parse_remote_error

if TYPE_CHECKING:
    from ..engine.events import Follower, RawEvent
    from ..task_registry import Parts

__all__ = ["LISTENABLE", "Event", "WorkerEvent", "deliver", "events", "notify_worker"]

log = logging.getLogger("taskora.events")

_DETAILED = frozenset({"completed", "failed", "retrying", "progress", "active", "cancelled"})
"""Events whose listeners get fields read from the job (result, error, progress, attempt,
duration, cancel reason)."""

BLOCK_MS = 1000
"""How long one read waits for new entries before the stop flag (and new listeners) are
looked at again."""

IDLE_S = 0.2
"""How often a delivery with no job listener yet looks for one."""


async def _enrich(app: Parts, raws: list[RawEvent]) -> list[Event]:
    engine = await app.runtime.engine()
    wanted = [(r.task, r.job_id) for r in raws if r.event in _DETAILED]
    details = await engine.events.job_details(wanted) if wanted else {}
    out = []
    for raw in raws:
        row = details.get((raw.task, raw.job_id), {})
        attempt = raw.fields.get("attempt") or row.get("attempt")
        out.append(
            Event(
                raw.event,
                raw.task,
                raw.job_id,
                clamped(raw.at_ms),
                attempt=int(attempt) if attempt else None,
                result=decode_stored(row.get("result"), app.runtime.payloads)
                if raw.event == "completed"
                else None,
                error=parse_remote_error(row.get("error"))
                if raw.event in ("failed", "retrying")
                else None,
                progress=_progress(raw, row),
                details=_details(raw, row),
                at_ms=raw.at_ms,
            )
        )
    return out


_OWN_FIELDS = frozenset({"attempt", "progress"})
"""Entry fields an Event carries as attributes of its own, not in ``details``."""


def _details(raw: RawEvent, row: dict[str, str | None]) -> dict[str, str] | None:
    """The entry's own fields, plus what the job adds: how long a completed attempt ran
    (``duration_ms``) and why a job was cancelled (``reason``). These are read from the job
    rather than written into the stream, so the finishing scripts stay as they are."""
    out = {k: v for k, v in raw.fields.items() if k not in _OWN_FIELDS}
    started, finished = row.get("started"), row.get("finished")
    if raw.event == "completed" and started and finished:
        out["duration_ms"] = str(max(0, int(finished) - int(started)))
    if raw.event == "cancelled" and "reason" not in out:
        out["reason"] = row.get("cancel") or "cancelled"
    return out or None


def _progress(raw: RawEvent, row: dict[str, str | None]) -> Any:
    """The value a progress event announced; an entry written before events carried it falls
    back to the job's progress now."""
    if raw.event != "progress":
        return None
    return decode_stored(raw.fields.get("progress", row.get("progress")))


async def events(
    app: Parts,
    tasks: Iterable[str] | None = None,
    *,
    recent: int = 0,
    follow: bool = True,
    following: asyncio.Event | None = None,
) -> AsyncIterator[Event]:
    """The events of ``tasks`` (default: every known task): the last ``recent`` of each task's
    stream first, then, with ``follow``, new ones as they come, until the caller stops.
    ``following`` is set once the streams' current ends are known: every later event comes
    (the iteration starts at the first ``anext``, so a caller that must not miss one waits
    for it).

    Raises:
        UnknownTaskError: a task neither this app nor the server knows (a typo, most likely).
    """
    engine = await app.runtime.engine()
    known = await app.registry.known_names()
    names = list(tasks) if tasks is not None else known
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise UnknownTaskError(
            f"unknown task {unknown[0]!r}; known tasks: {', '.join(known) or 'none'}"
        )
    if recent:
        past = await engine.events.recent(names, recent)
        # follow from the newest entry printed, so nothing written meanwhile shows twice
        cursors = {name: "0-0" for name in names} | {raw.task: raw.entry_id for raw in past}
        if following is not None:
            following.set()  # before the past events: a caller may wait for it to read them
        for event in await _enrich(app, past):
            yield event
    else:
        if follow:
            cursors = await engine.events.latest_ids(names)
        if following is not None:
            following.set()
    if not follow or not names:
        return
    follower = engine.events.follow(cursors)
    try:
        while True:
            raws = await follower.read(BLOCK_MS)
            for event in await _enrich(app, raws):
                yield event
    finally:
        await follower.close()


STOP_TRIES = 50
"""Cancels (0.1 s apart) sent to a read in flight before giving up on it (stop_reading)."""


async def stop_reading(
    pending: asyncio.Future[Any] | None, stream: AsyncIterator[Event] | None
) -> tuple[None, None]:
    """Stop following: cancel ``pending`` (the ``anext`` of ``stream`` in flight) and close
    ``stream`` (its server connection). The cancel is sent again until the read ends: a
    blocking read can turn one cancel into its own timeout and read on (Python 3.11's
    ``asyncio.timeout``), and a follow would then never end."""
    if pending is not None:
        for _ in range(STOP_TRIES):
            pending.cancel()
            # waited on, not awaited: its CancelledError is its own, never the caller's
            await asyncio.wait({pending}, timeout=0.1)
            if pending.done():
                if not pending.cancelled():
                    pending.exception()  # retrieved: an ended stream is no error to log
                break
    if stream is not None:
        closer = getattr(stream, "aclose", None)
        if closer is not None:
            with contextlib.suppress(Exception):
                await closer()
    return None, None


class EventReader:
    """Reads a stream of events with one read always in flight, so a wait for the next event
    can end at a deadline or on a signal without losing the read (``taskora events --follow``
    and the board's live stream).

    Args:
        stream: what ``app.events()`` returned; its first read starts now.
    """

    def __init__(self, stream: AsyncIterator[Event]) -> None:
        self.stream = stream
        self.pending: asyncio.Future[Event] = asyncio.ensure_future(anext(stream))
        self.ended = False
        """The stream has no more events (it was not following, or was closed)."""

    async def next(
        self, timeout: float | None = None, stop: asyncio.Future[Any] | None = None
    ) -> Event | None:
        """The next event; None when ``timeout`` (seconds) passed or ``stop`` completed first
        (the read stays in flight for the next call), or when the stream ended (``ended``).

        Raises:
            TaskoraError: the read failed (a ServerError: the server is gone); the reader is
                spent, close it.
        """
        if self.ended:
            return None
        waited: set[asyncio.Future[Any]] = {self.pending} if stop is None else {self.pending, stop}
        await asyncio.wait(waited, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if not self.pending.done():
            return None
        try:
            event = self.pending.result()
        except StopAsyncIteration:
            self.ended = True
            return None
        self.pending = asyncio.ensure_future(anext(self.stream))
        return event

    async def close(self) -> None:
        """Stop the read in flight and close the stream (see :func:`stop_reading`)."""
        self.ended = True
        await stop_reading(self.pending, self.stream)


async def deliver(app: Parts, stop: asyncio.Event, following: asyncio.Event | None = None) -> None:
    """Call the app's listeners for every new event of the tasks they listen to, until
    ``stop`` is set; ``following`` is set once the streams' current ends are known (every
    later event is delivered). Runs inside a worker."""
    listeners: Listeners = app.runtime.listeners
    follower: Follower | None = None
    seen = -1  # the listeners' generation the streams read were computed for
    names: list[str] = []
    pending: list[RawEvent] = []  # read, not yet delivered: kept across a failed enrichment
    try:
        while not stop.is_set():
            try:
                if seen != listeners.generation:  # listeners changed: the tasks to read too
                    generation = listeners.generation
                    follower = await _follow_wanted(app, follower, names)
                    seen = generation
                    listeners.followed(generation)
                    if following is not None:
                        following.set()
                if follower is None:  # no job listener yet: wait for one (or the stop)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), IDLE_S)
                    continue
                if not pending:
                    raws = await follower.read(BLOCK_MS)
                    pending = [r for r in raws if listeners.for_event(r.task, r.event)]
                found = await _enrich(app, pending) if pending else []
                pending = []
            except Exception as exc:  # a server hiccup must not end the delivery for good
                log.warning("taskora: reading events failed (%s); trying again", exc)
                await asyncio.sleep(0.5)
                continue
            for event in found:
                for fn in listeners.for_event(event.task, event.name):
                    await _call(fn, event)
    finally:
        if following is not None:
            following.set()  # a worker waiting for this must not wait out its timeout
        if follower is not None:
            with contextlib.suppress(Exception):
                await follower.close()


async def _follow_wanted(
    app: Parts, follower: Follower | None, names: list[str]
) -> Follower | None:
    """Read the streams of the tasks listened to now: those ``names`` lacks from now on, and
    no longer those nobody listens to (``names`` is updated to match once that is done, so a
    call that fails changes nothing and the next one tries it all again). Returns the
    follower, started if there was none and one is wanted, closed and None once none is."""
    engine = await app.runtime.engine()
    listeners = app.runtime.listeners
    # no job listener (a worker starting, most often): no task is wanted, whatever the server
    # knows; skip asking it, a round trip on a connection of its own before the first claim
    known = await app.registry.known_names() if listeners.listens_to_jobs() else []
    wanted = listeners.tasks(known)
    new = [name for name in wanted if name not in names]
    gone = [name for name in names if name not in wanted]
    kept = [name for name in names if name in wanted]
    if not kept and not new:  # nobody listens to any task's events now
        names.clear()
        if follower is not None:
            await follower.close()
        return None
    cursors = await engine.events.latest_ids(new) if new else {}
    if follower is None:
        follower = engine.events.follow(cursors)
    else:
        follower.drop(gone)
        follower.add(cursors)
    names[:] = kept + new
    return follower


async def notify_worker(
    listeners: Listeners, name: str, worker_id: str, error: BaseException | None = None
) -> None:
    """Call the listeners of one of the app's worker events ("worker:ready", ...)."""
    fns = listeners.for_worker(name)
    if fns:
        event = WorkerEvent(name, worker_id, error)
        for fn in fns:
            await _call(fn, event)


async def _call(fn: Listener, event: Event | WorkerEvent) -> None:
    """Run one listener: an ``async`` one in the worker's loop, a plain one in a thread, so a
    slow one (a mail, an HTTP call) cannot stall the heartbeats and claims."""
    try:
        if inspect.iscoroutinefunction(fn):
            await fn(event)
            return
        outcome = await asyncio.to_thread(fn, event)
        if inspect.isawaitable(outcome):
            await outcome
    except (asyncio.CancelledError, GeneratorExit):  # this coroutine is being stopped
        raise
    except BaseException:  # sys.exit() in a listener must not end the worker either
        log.exception("taskora: the %s listener %r failed", event.name, fn)
