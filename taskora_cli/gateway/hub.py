"""One reader of the job event streams per gateway process, fanning messages out to sockets.

The hub follows the event streams of every task the server knows (one events follower,
whatever the number of clients: one blocking XREAD, or on a cluster one per slot, see
:func:`~taskora_cli.engine.cluster.read_streams`), turns the entries that matter into protocol
messages once, and queues each message on the connections that should get it: the client
that emitted the job (a route per job) and every broadcast connection. Each connection has a
bounded queue drained by its own writer, so a slow client never holds up the reader or the
other clients; one that falls too far behind is closed (code 1013) instead of growing memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..errors import ServerError, TaskoraError
from . import protocol

if TYPE_CHECKING:
    from ..engine.events import Follower, RawEvent
    from ..task_registry import Parts

log = logging.getLogger("taskora.gateway")

BLOCK_MS = 500
"""How long one read of the streams waits for new entries before newly known tasks are
looked at again."""

REFRESH_S = 5.0
"""How often the tasks the server knows are read again (a task first dispatched by someone
else is followed from then on)."""

MISS_REFRESH_S = 1.0
"""How soon after the last read of the known tasks an emit of an unknown one reads them again."""

QUEUE_LIMIT = 1000
"""Messages waiting for one slow client before it is closed with code 1013."""

_FINAL = {"completed": "completed", "cancelled": "cancelled", "expired": "expired"}
"""Stream events that end a job, and the status ``task_finished`` reports."""

Send = Callable[[dict[str, Any]], Awaitable[None]]
"""The ASGI ``send`` of one connection."""

_OVERFLOW = object()
_CLOSE = object()


class Connection:
    """One client socket: whether it hears every task, the jobs it emitted, and its queue of
    outgoing text frames, drained by :meth:`pump` (the only sender on the socket)."""

    __slots__ = ("_queue", "_send", "broadcast", "closed", "routes")

    def __init__(self, send: Send, broadcast: bool, limit: int = QUEUE_LIMIT) -> None:
        self._send = send
        self.broadcast = broadcast
        self.routes: set[tuple[str, str]] = set()
        self.closed = False
        self._queue: asyncio.Queue[object] = asyncio.Queue(limit + 1)  # +1: room for a close

    def push(self, text: str) -> None:
        """Queue one frame; a client whose queue is full is dropped (its writer closes it)."""
        if self.closed:
            return
        if self._queue.qsize() >= self._queue.maxsize - 1:
            self.closed = True
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(_OVERFLOW)
            return
        self._queue.put_nowait(text)

    def close(self, code: int, reason: str) -> None:
        """Send what is queued, then close the socket."""
        if not self.closed:
            self.closed = True
            self._queue.put_nowait((_CLOSE, code, reason))

    async def pump(self) -> None:
        """Send queued frames until the connection closes (or the client goes)."""
        while True:
            item = await self._queue.get()
            if item is _OVERFLOW:
                reason = f"too slow: over {self._queue.maxsize - 1} messages waiting"
                await self._send({"type": "websocket.close", "code": 1013, "reason": reason})
                return
            if isinstance(item, tuple):
                _, code, reason = item
                await self._send({"type": "websocket.close", "code": code, "reason": reason})
                return
            await self._send({"type": "websocket.send", "text": item})


class Hub:
    """Routes job events to connections; one per gateway, started on first use."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.routes: dict[tuple[str, str], set[Connection]] = {}
        self.broadcast: set[Connection] = set()
        self.connections: set[Connection] = set()
        self.known: set[str] = set()
        self._follower: Follower | None = None
        self._reader: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()
        self._emitting: dict[str, int] = defaultdict(int)
        self._held: dict[str, list[tuple[str, str, bool]]] = defaultdict(list)
        self._refreshed = 0.0
        self._retries: dict[str, int] = {}
        self._added = asyncio.Event()
        self._stopping = False
        """Set by stop(): the reader leaves its loop even if its cancel was swallowed."""

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start reading the streams (from their current ends); again does nothing."""
        async with self._start_lock:
            if self._reader is not None:
                return
            engine = await self.parts.runtime.engine()
            names = await self.parts.registry.known_names()
            self.known = set(names)
            self._follower = engine.events.follow(await engine.events.latest_ids(names))
            self._refreshed = time.monotonic()
            self._stopping = False
            self._reader = asyncio.get_running_loop().create_task(self._read())

    async def stop(self) -> None:
        """Stop reading and close every connection (code 1001, going away)."""
        reader, self._reader = self._reader, None
        if reader is not None:
            # The flag too: a cancel can be swallowed below us (on Python 3.11, asyncio.wait_for
            # inside redis-py drops one that lands as its read completes), and a reader that
            # lived on would keep this stop, and the manager's close, waiting for ever.
            self._stopping = True
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        for conn in list(self.connections):
            conn.close(1001, "the gateway is stopping")
        follower, self._follower = self._follower, None
        if follower is not None:
            with contextlib.suppress(Exception):
                await follower.close()

    # -- connections -------------------------------------------------------------------------

    def attach(self, conn: Connection) -> None:
        self.connections.add(conn)
        if conn.broadcast:
            self.broadcast.add(conn)

    def detach(self, conn: Connection) -> None:
        """Forget a connection and its routes (a client gone mid-task costs nothing more)."""
        self.connections.discard(conn)
        self.broadcast.discard(conn)
        for key in conn.routes:
            owners = self.routes.get(key)
            if owners is not None:
                owners.discard(conn)
                if not owners:
                    del self.routes[key]
        conn.routes.clear()

    async def is_known(self, task: str) -> bool:
        """Whether a handler or worker knows ``task`` (read again from the server on a miss,
        at most once a second: a client sending unknown events cannot make it a flood)."""
        if task in self.known:
            return True
        if task in self.parts.registry.tasks:  # registered in this process since the last read
            return True
        if time.monotonic() - self._refreshed > MISS_REFRESH_S:
            await self._refresh()
        return task in self.known

    async def emit(
        self,
        conn: Connection,
        task: str,
        emit: Callable[[], Awaitable[str]],
        request_id: Any = None,
    ) -> str:
        """Run ``emit`` (which returns the job id) with ``task``'s stream followed, queue the
        ``emitted`` reply, and route the job's messages to ``conn`` from then on: messages
        read while the emit was on its way are held and sent now, so a job that ends before
        its emit returns still reaches its client, in order."""
        await self._follow([task])
        self._emitting[task] += 1
        try:
            job_id = await emit()
        except BaseException:
            self._settle(task)
            raise
        conn.push(protocol.emitted(job_id, request_id))
        key = (task, job_id)
        finished = False
        for held_id, text, final in self._held.get(task, ()):
            if held_id == job_id and not finished:
                if not conn.broadcast:  # a broadcast connection heard it as it came
                    conn.push(text)
                finished = final
        if not finished and not conn.closed:
            self.routes.setdefault(key, set()).add(conn)
            conn.routes.add(key)
        self._settle(task)
        return job_id

    def _settle(self, task: str) -> None:
        self._emitting[task] -= 1
        if self._emitting[task] <= 0:
            del self._emitting[task]
            self._held.pop(task, None)

    # -- reading -----------------------------------------------------------------------------

    async def _follow(self, tasks: list[str]) -> None:
        """Read these tasks' streams too, from their current ends."""
        new = [task for task in tasks if task not in self.known]
        if not new or self._follower is None:
            return
        engine = await self.parts.runtime.engine()
        self._follower.add(await engine.events.latest_ids(new))
        self.known.update(new)
        self._added.set()

    async def _refresh(self) -> None:
        self._refreshed = time.monotonic()
        await self._follow(await self.parts.registry.known_names())

    async def _read(self) -> None:
        assert self._follower is not None
        while not self._stopping:
            try:
                if time.monotonic() - self._refreshed > REFRESH_S:
                    await self._refresh()
                if not self.known:  # no stream to read yet: wait for a task to follow
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._added.wait(), BLOCK_MS / 1000)
                    self._added.clear()
                    continue
                raws = await self._follower.read(BLOCK_MS)
                for raw in raws:
                    await self._route(raw)
            except asyncio.CancelledError:
                raise
            except (ServerError, TaskoraError, OSError) as exc:
                log.warning("taskora gateway: reading events failed (%s); trying again", exc)
                await asyncio.sleep(0.5)
            except Exception:  # a bug in one message must not end the gateway
                log.exception("taskora gateway: an event could not be routed")

    async def _route(self, raw: RawEvent) -> None:
        key = (raw.task, raw.job_id)
        owners = self.routes.get(key)
        holding = raw.task in self._emitting
        if not owners and not self.broadcast and not holding:
            return  # nobody listens: skip the work
        made = await self._message(raw, routed=bool(owners))
        if made is None:
            return
        text, final = made
        for conn in self.broadcast:
            conn.push(text)
        if owners:
            for conn in owners:
                if not conn.broadcast:
                    conn.push(text)
            if final:
                del self.routes[key]
                for conn in owners:
                    conn.routes.discard(key)
        elif holding:
            self._held[raw.task].append((raw.job_id, text, final))

    async def _message(self, raw: RawEvent, *, routed: bool) -> tuple[str, bool] | None:
        """The protocol message for one stream entry and whether it ends the job, or None
        for an entry clients do not hear about."""
        name = raw.event
        if name == "progress":
            return protocol.task_update(raw.job_id, raw.fields), False
        if name in _FINAL:
            return protocol.task_finished(raw.job_id, _FINAL[name]), True
        if name == "failed":
            if raw.fields.get("will_retry") != "1":
                return protocol.task_finished(raw.job_id, "failed"), True
            return await self._retry(raw), False
        if name == "purged" and routed:  # deleted before it ended: its client stops waiting
            return protocol.task_finished(raw.job_id, "deleted"), True
        return None

    async def _retry(self, raw: RawEvent) -> str:
        """``task_retry``: the attempt's error and the retries left (the job's own budget,
        else its task's)."""
        engine = await self.parts.runtime.engine()
        record = await engine.job(raw.task, raw.job_id)
        attempt = int(raw.fields.get("attempt") or (record.attempt if record else 1) or 1)
        total = _own_attempts(record.extra.get("limits") if record else None)
        if total is None:
            total = await self._task_attempts(raw.task)
        return protocol.task_retry(
            raw.job_id, record.error if record else None, max(0, total - attempt)
        )

    async def _task_attempts(self, task: str) -> int:
        cached = self._retries.get(task)
        if cached is not None:
            return cached
        attempts = self.parts.runtime.config.defaults.retry.attempts
        with contextlib.suppress(TaskoraError):
            resolved = await self.parts.registry.resolve(task)
            if resolved.options.retry is not None:
                attempts = resolved.options.retry.attempts
        self._retries[task] = attempts
        return attempts


def _own_attempts(limits: str | None) -> int | None:
    """The attempts a job was dispatched with (its stored ``limits``), if it has its own."""
    if not limits:
        return None
    try:
        return int(json.loads(limits)["retry"]["attempts"])
    except (ValueError, KeyError, TypeError):
        return None
