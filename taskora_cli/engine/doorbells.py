"""Idle workers' wake-ups: one connection per server (per master on a cluster) for all of a
process's tasks.

A worker with nothing to do waits for its task's marker (:attr:`.keys.TaskKeys.marker`):
scripts make it when work arrives (score 0) or a delayed job will be due (score t). Blocking
in BZPOPMIN on it holds a connection per task (a block holds its connection, and a cluster
refuses one BZPOPMIN of keys in different slots, each task's keys having a slot of their
own). So the scripts also ring a doorbell when they make a marker (a sharded pub/sub message
on the channel named like it: ``mark_work`` in lua/lib/common.lua), and :class:`Doorbells`
subscribes, on one connection per server (per master), to the doorbells of every task waited
for there. A server without sharded pub/sub (Redis before 7) refuses the subscription: the
engine then blocks on the markers themselves (see Engine.wait_for_work).

A wait empties its bell, pops the marker without blocking (ZPOPMIN), and if there was none
waits for the bell: a marker made after the pop rings it, one made before was popped. A
doorbell is a message, lost while its connection is down: a listener that fails rings every
bell it served, so each waiter looks at its marker again and subscribes anew (on the master
the slot map names then); and a worker looks for work every few seconds anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, cast

from redis.exceptions import ResponseError

from ..errors import ServerError
from .cluster import ClusterWire, node_url
from .connection import open_client
from .failures import SILENCE_PROBE_S, kinds

if TYPE_CHECKING:
    from redis.asyncio.cluster import RedisCluster

    from .runner import Runner

log = logging.getLogger("taskora.worker")

POLL_S = 0.5
"""How long one read of a listener waits for a message before it looks at ``closed``."""

PING_S = SILENCE_PROBE_S
"""A listener that heard nothing for this long sends PING: a half-open connection (its peer
gone without a FIN or RST) never fails a read, it only stays silent. As soon as the other
connections' silence probe: an idle worker must notice a dead network as fast as a busy one."""

PONG_TIMEOUT_S = 2.0
"""A PING unanswered this long ends the listener (and its waiters subscribe anew). Sooner
than the reply timeout: a wrong guess on a stalled server costs only a new subscription."""

RETURN_S = 0.5
"""How long closing waits for the markers cancelled waits are putting back: with the server
gone, a stop must not wait for them (the other workers look again after a few seconds)."""

RETRY_S = 0.5
"""How long a failed listener waits before its waiters subscribe again."""


class Doorbells:
    """The doorbells of the markers an engine waits for: a pub/sub connection for the server,
    or per master of a cluster, opened on first use.

    Args:
        runner: the engine's connections: the markers' ZPOPMIN goes over them, and a
            cluster's slot map comes from them.

    Attributes:
        unsupported: the server has no sharded pub/sub (Redis before 7) or refuses it to this
            user (an ACL without ``+@pubsub`` and ``&taskora:*``): wait otherwise.
    """

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self._bells: dict[str, asyncio.Event] = {}
        """Marker -> rung since its waiter last emptied it."""
        self._ready: dict[str, asyncio.Event] = {}
        """Marker -> set once its doorbell is subscribed to (absent: to subscribe)."""
        self._listeners: dict[tuple[str, int] | None, _Listener] = {}
        """Per master of a cluster; under None, the standalone server's."""
        self._returning: set[asyncio.Task[None]] = set()
        """Markers a cancelled wait is putting back (held: the loop keeps weak references)."""
        self.unsupported = False

    async def wait(self, marker: str, timeout_s: float) -> float | None:
        """Pop ``marker``, waiting up to ``timeout_s`` for it to be made.

        Returns:
            Its score (0 = work now, else the ms time the next delayed job is due), or None
            when the time passed with no marker.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        bell = self._bells.setdefault(marker, asyncio.Event())
        while True:
            ready = await self._subscribe(marker, deadline)
            bell.clear()
            popped = await self._pop(marker)
            if popped is not None or self.unsupported or loop.time() >= deadline:
                return popped
            if ready is None or self._ready.get(marker) is not ready or not ready.is_set():
                continue  # its listener failed meanwhile (a bell rung then was just emptied)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):
                    await bell.wait()
            if not bell.is_set():
                return None

    async def _pop(self, marker: str) -> float | None:
        # A worker stopping while the pop is on its way: the server may take the marker all
        # the same and the reply is dropped, so the wake-up would be lost to the task's other
        # idle workers (until their next look). So a marker goes back, in a task of its own
        # that a second cancel (a hurried stop) does not cut short.
        if self.runner.wire is None:
            # TLS: redis-py may drop the connection of a cancelled call and send the next on
            # another, so nothing could follow the pop in order: the pop runs on as a task of
            # its own (an event-loop step more per pop), and only what it took goes back
            pop = asyncio.ensure_future(self._pop_once(marker))
            try:
                return await asyncio.shield(pop)
            except asyncio.CancelledError:
                await self._in_background(self._put_back_popped(marker, pop))
                raise
        try:
            return await self._pop_once(marker)
        except asyncio.CancelledError:
            # Sent on the pop's own connection, so the server runs it after the pop. Score 0
            # ("look now"), as the popped score is unknown: a look that finds nothing due
            # leaves the marker at the right time again (a claim's rearm_marker).
            await self._in_background(self._put_back(marker, 0.0))
            raise

    async def _in_background(self, putting_back: Coroutine[Any, Any, None]) -> None:
        returned = asyncio.ensure_future(putting_back)
        self._returning.add(returned)
        returned.add_done_callback(self._returning.discard)
        await asyncio.shield(returned)

    async def _put_back_popped(self, marker: str, pop: asyncio.Future[float | None]) -> None:
        with contextlib.suppress(Exception):
            popped = await pop
            if popped is not None:
                await self._put_back(marker, popped)

    async def _put_back(self, marker: str, score: float) -> None:
        """Make ``marker`` again as a script would (``mark_work`` in lua/lib/common.lua, with
        ``lt``): a marker someone made meanwhile keeps the earlier time, and a new one rings.
        Errors are dropped: the other workers look again after a few seconds anyway."""
        due = f"{score:.17g}"  # as the scripts write it: "0", or a time in ms
        wire = self.runner.wire
        with contextlib.suppress(Exception):
            if isinstance(wire, ClusterWire):
                if await wire.call("ZADD", marker, "LT", due, "0", key=marker):
                    await wire.call("SPUBLISH", marker, due, key=marker)
            elif wire is not None:
                if await wire.call("ZADD", marker, "LT", due, "0"):
                    await wire.call("SPUBLISH", marker, due)
            elif await self.runner.client.zadd(marker, {"0": score}, lt=True):  # TLS: redis-py
                await self.runner.client.spublish(marker, due)

    async def _pop_once(self, marker: str) -> float | None:
        # sent again after a dropped connection: a marker popped twice costs a wake-up
        wire = self.runner.wire
        if isinstance(wire, ClusterWire):
            popped = await wire.call("ZPOPMIN", marker, key=marker, resend=True)
        elif wire is not None:
            popped = await wire.call("ZPOPMIN", marker, resend=True)
        else:  # TLS: redis-py (routed by slot on a cluster)
            found: Any = await self.runner.client.zpopmin(marker)  # [(member, score)]
            return float(found[0][1]) if found else None
        return float(popped[1]) if popped else None

    async def _node(self, marker: str) -> tuple[str, int] | None:
        """The master serving ``marker``'s slot; None for a standalone server."""
        wire = self.runner.wire
        if isinstance(wire, ClusterWire):
            return await wire.node_of(marker)
        if not self.runner.cluster:
            return None
        client = cast("RedisCluster", self.runner.client)
        await client.initialize()  # the slot map, once
        node = client.get_node_from_key(marker)
        if node is None:
            raise ServerError(f"no master of the cluster at {self.url} serves {marker!r}")
        return (str(node.host), int(node.port))

    @property
    def url(self) -> str:
        """The server's URL (any node of a cluster)."""
        return self.runner.url

    async def refresh(self) -> None:
        """Read a cluster's slot map again (a listener failed: its master may be gone)."""
        wire = self.runner.wire
        with contextlib.suppress(*kinds().failure_or_ours):
            if isinstance(wire, ClusterWire):
                await wire.refresh()
            elif self.runner.cluster:
                await cast("RedisCluster", self.runner.client).nodes_manager.initialize()

    async def _subscribe(self, marker: str, deadline: float) -> asyncio.Event | None:
        """Subscribe to ``marker``'s doorbell on its master (once), waiting for the server to
        confirm until ``deadline`` at most (a later confirmation still counts).

        Returns:
            The subscription's readiness (set once confirmed; dropped from ``_ready`` when its
            listener fails), or None where the server has no sharded pub/sub.
        """
        if self.unsupported:
            return None
        ready = self._ready.get(marker)
        if ready is None:
            ready = self._ready[marker] = asyncio.Event()
            try:
                node = await self._node(marker)
            except Exception:
                del self._ready[marker]  # the next wait asks again
                raise
            listener = self._listeners.get(node)
            if listener is None:
                url = self.url if node is None else node_url(self.url, *node)
                listener = _Listener(self, node, url)
                self._listeners[node] = listener
            await listener.add(marker)
        if not ready.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):
                    await ready.wait()
        return ready

    def heard(self, listener: _Listener, message: dict[str, Any]) -> None:
        """One message of a listener's connection."""
        kind, channel = message.get("type"), str(message.get("channel") or "")
        if kind == "smessage":
            bell = self._bells.get(channel)
            if bell is not None:
                bell.set()
        elif kind == "ssubscribe":
            ready = self._ready.get(channel)
            if ready is not None:
                ready.set()
            # Also a subscription the client made again by itself after a reconnect (redis-py
            # does, and the listener never sees it fail): a marker made while it was away rang
            # for nobody, and later jobs only update it (no new ring), so look now.
            bell = self._bells.get(channel)
            if bell is not None:
                bell.set()
        elif kind == "sunsubscribe":  # the slot moved to another master: subscribe there
            listener.channels.discard(channel)
            self._forget([channel])

    def lost(self, listener: _Listener) -> None:
        """A listener's connection failed: its waiters look again and subscribe anew."""
        if self._listeners.get(listener.node) is listener:
            del self._listeners[listener.node]
        self._forget(listener.channels)

    def _forget(self, channels: set[str] | list[str]) -> None:
        for channel in channels:
            ready = self._ready.pop(channel, None)
            if ready is not None:
                ready.set()  # its waiters stop waiting for a confirmation that cannot come
            bell = self._bells.get(channel)
            if bell is not None:
                bell.set()

    async def close(self) -> None:
        """Close every listener's connection, once the markers being put back are (or
        RETURN_S passed)."""
        if self._returning:
            await asyncio.wait(self._returning, timeout=RETURN_S)
        listeners = list(self._listeners.values())
        self._listeners.clear()
        for listener in listeners:
            await listener.close()


class _Listener:
    """One master's pub/sub connection, subscribed to the doorbells of the markers it serves;
    ends (and tells its :class:`Doorbells`) at the first failure."""

    def __init__(self, owner: Doorbells, node: tuple[str, int] | None, url: str) -> None:
        self.owner = owner
        self.node = node
        self.channels: set[str] = set()
        self.closed = False
        self._client = open_client(url, blocking=True)
        self._pubsub = self._client.pubsub()
        self._reader: asyncio.Task[None] | None = None
        self._adding = asyncio.Lock()
        """One subscribe at a time: two on a pub/sub not yet connected would open two
        connections."""

    async def add(self, channel: str) -> None:
        """Subscribe to one more doorbell (the reader hears the confirmation)."""
        self.channels.add(channel)
        try:
            async with self._adding:
                # Bounded: a connection opened into a dead network (half-open) neither
                # connects nor fails for the client's own timeouts (seconds), and its waiters
                # wait on it. Sent while the reader waits on the same connection: only it reads.
                async with asyncio.timeout(PONG_TIMEOUT_S):
                    await self._pubsub.ssubscribe(channel)
        except kinds().failure_or_ours as exc:  # TimeoutError is an OSError
            await self._failed(exc)
            return
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        heard = loop.time()
        pinged: float | None = None
        try:
            while not self.closed:
                message = await self._pubsub.get_message(timeout=POLL_S)
                if message is not None:
                    heard, pinged = loop.time(), None
                    self.owner.heard(self, message)
                elif pinged is None and loop.time() - heard > PING_S:
                    pinged = loop.time()
                    async with self._adding:
                        await self._pubsub.ping()
                elif pinged is not None and loop.time() - pinged > PONG_TIMEOUT_S:
                    raise ServerError(f"no answer to PING in {PONG_TIMEOUT_S:g} s")
        except asyncio.CancelledError:
            raise
        except kinds().failure_or_ours as exc:
            await self._failed(exc)

    async def _failed(self, exc: BaseException) -> None:
        if self.closed:
            return
        self.closed = True
        unknown = isinstance(exc, ResponseError) and "unknown command" in str(exc).lower()
        if unknown or isinstance(exc, kinds().no_permission):
            # no sharded pub/sub here (before Redis 7), or not for this ACL user
            self.owner.unsupported = True
        log.debug("taskora: a doorbell connection failed (%s); subscribing again", exc)
        await asyncio.sleep(RETRY_S)
        await self.owner.refresh()
        self.owner.lost(self)
        await self._shut()

    async def close(self) -> None:
        self.closed = True
        reader, self._reader = self._reader, None
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        await self._shut()

    async def _shut(self) -> None:
        with contextlib.suppress(*kinds().failure_or_ours, RuntimeError):
            await self._pubsub.aclose()
            await self._client.aclose()
