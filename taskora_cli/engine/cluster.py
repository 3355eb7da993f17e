"""Redis Cluster and Valkey Cluster: tell a cluster node from a standalone server, learn which
master serves which slot, and route each call of the lean wire to its slot's master.

Every key of one task shares the hash tag ``{task}`` (see :mod:`.keys`), so a script's first
key names the slot all its keys are in. :class:`ClusterWire` keeps one pipelined
:class:`~.wire.Wire` per master and follows the cluster's redirections: ``MOVED`` (the slot
lives elsewhere for good: the slot map is read again) and ``ASK`` (the slot is migrating: the
call is sent once to the node named, after ``ASKING``). The redis-py side of the engine (reads
and plain writes) uses redis-py's own cluster client, which does the same (see
:mod:`.connection`).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlparse, urlunparse

from ..errors import ServerError
from ..urls import mask_url
from .failures import REPLY_TIMEOUT_S, ServerLink, is_outage, kinds
from .scripts import Script
from .slots import key_slot
from .wire import Wire
from .wire_errors import AskRedirect, ClusterBusy, MovedRedirect

MAX_REDIRECTS = 5
"""Redirections one call follows before it fails (a slot map that keeps changing)."""

SETTLE_S = 0.25
"""The wait before retrying a call the cluster refused while it settles (TRYAGAIN during a
migration, CLUSTERDOWN while a replica is promoted)."""

SETTLE_ATTEMPTS = 24
"""Retries of a refused call: ~6 s, the time a cluster takes to promote a replica."""


slot_of = key_slot
"""The cluster slot of ``key`` (CRC16 of its hash tag, or of the whole key)."""


def node_url(seed: str, host: str, port: int) -> str:
    """``seed`` (its scheme, login and options) pointed at another node."""
    parsed = urlparse(seed)
    login = parsed.netloc.rpartition("@")[0]
    where = f"[{host}]" if ":" in host else host
    netloc = f"{login}@{where}:{port}" if login else f"{where}:{port}"
    return urlunparse(parsed._replace(netloc=netloc, path=""))


class SlotMap:
    """Which master serves which slot, from CLUSTER SLOTS."""

    def __init__(self, ranges: Sequence[tuple[int, int, str, int]]) -> None:
        ordered = sorted(ranges)
        self._starts = [first for first, _, _, _ in ordered]
        self._ranges = ordered

    @classmethod
    def from_reply(cls, reply: Sequence[Any], seed_host: str) -> SlotMap:
        """Parse CLUSTER SLOTS: ``[[first, last, [host, port, id...], replicas...], ...]``."""
        ranges = []
        for first, last, master, *_ in reply:
            host = str(master[0]) or seed_host  # "" or "?" means: the node you asked
            ranges.append((int(first), int(last), host, int(master[1])))
        return cls(ranges)

    def master_of(self, slot: int) -> tuple[str, int] | None:
        """The (host, port) serving ``slot``, or None if no master holds it."""
        index = bisect.bisect_right(self._starts, slot) - 1
        if index < 0:
            return None
        first, last, host, port = self._ranges[index]
        return (host, port) if first <= slot <= last else None

    def masters(self) -> list[tuple[str, int]]:
        """Every master, each once."""
        return sorted({(host, port) for _, _, host, port in self._ranges})


class ClusterWire:
    """The lean wire for a cluster: one pipelined :class:`Wire` per master, each call sent to
    the master of its first key's slot. Same face as :class:`Wire` (``call``, ``evalsha``,
    ``close``) where a call names its key.

    Args:
        url: any node of the cluster (``redis://``).
        blocking: connections for blocking commands (see :class:`Wire`).
        reply_timeout_s: see :class:`Wire`.
    """

    def __init__(
        self, url: str, *, blocking: bool = False, reply_timeout_s: float = REPLY_TIMEOUT_S
    ) -> None:
        self.url = url
        self.reply_timeout_s = reply_timeout_s
        self._blocking = blocking
        self._link = ServerLink(url)
        self._map: SlotMap | None = None
        self._refreshing: asyncio.Future[SlotMap] | None = None
        self._wires: dict[tuple[str, int], Wire] = {}
        self._seed = urlparse(url)

    @property
    def shown(self) -> str:
        """The seed URL, password masked."""
        return mask_url(self.url)

    def wire_for(self, node: tuple[str, int]) -> Wire:
        """The connection to ``node`` (opened on first use)."""
        wire = self._wires.get(node)
        if wire is None:
            url = node_url(self.url, *node)
            wire = Wire(url, blocking=self._blocking, reply_timeout_s=self.reply_timeout_s)
            self._wires[node] = wire
        return wire

    async def node_of(self, key: str | None) -> tuple[str, int]:
        """The master serving ``key``'s slot (any master for no key)."""
        slots = self._map or await self.refresh()
        if key is None:
            return slots.masters()[0]
        node = slots.master_of(slot_of(key))
        if node is None:  # a slot no master holds (a failover under way): look again
            node = (await self.refresh()).master_of(slot_of(key))
        if node is None:
            raise ClusterBusy(f"no master serves slot {slot_of(key)} of {key!r}")
        return node

    async def refresh(self) -> SlotMap:
        """Read the slot map again (calls that ask at once share one read)."""
        if self._refreshing is None:
            self._refreshing = asyncio.ensure_future(self._read_map())
        refreshing = self._refreshing
        try:
            self._map = await asyncio.shield(refreshing)
            return self._map
        finally:
            if refreshing.done() and self._refreshing is refreshing:
                self._refreshing = None

    async def _read_map(self) -> SlotMap:
        """CLUSTER SLOTS from the first node that answers: the known masters, then the seed."""
        seed = (self._seed.hostname or "localhost", self._seed.port or 6379)
        candidates = [*(self._map.masters() if self._map else []), seed]
        failure: BaseException | None = None
        for node in dict.fromkeys(candidates):
            try:
                reply = await self.wire_for(node).call("CLUSTER", "SLOTS", resend=True)
            except kinds().failure_or_ours as exc:
                failure = exc
                continue
            slots = SlotMap.from_reply(reply, node[0])
            if slots.masters():
                return slots
        raise ServerError(
            f"cannot read the slot map of the cluster at {self.shown} ({failure}); "
            "check that its nodes run and that the URL points at one of them"
        )

    async def call(
        self,
        *args: Any,
        key: str | None = None,
        reply_timeout: float | None = None,
        resend: bool = False,
    ) -> Any:
        """Send one command to the master of ``key``'s slot; see :meth:`Wire.call`."""

        def send(wire: Wire, asking: bool) -> Awaitable[Any]:
            return wire.call(*args, reply_timeout=reply_timeout, resend=resend, asking=asking)

        return await self._routed(key, send, resend)

    async def evalsha(
        self, script: Script, keys: Sequence[str], args: Sequence[Any], *, resend: bool = False
    ) -> Any:
        """Run a script on the master of its first key's slot; see :meth:`Wire.evalsha`."""

        def send(wire: Wire, asking: bool) -> Awaitable[Any]:
            return wire.evalsha(script, keys, args, resend=resend, asking=asking)

        return await self._routed(keys[0] if keys else None, send, resend)

    async def _routed(
        self, key: str | None, send: Callable[[Wire, bool], Awaitable[Any]], resend: bool
    ) -> Any:
        node = await self.node_of(key)
        asking = False
        redirects = settles = 0
        while True:
            try:
                return await send(self.wire_for(node), asking)
            except AskRedirect as exc:  # MovedRedirect too (a subclass)
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    raise ServerError(
                        f"the cluster at {self.shown} kept redirecting a call ({exc}); "
                        "is it being resharded?"
                    ) from exc
                asking = not isinstance(exc, MovedRedirect)
                if not asking:
                    await self.refresh()
                node = (str(exc.host), int(exc.port))
            except ClusterBusy as exc:
                settles += 1
                if settles > SETTLE_ATTEMPTS:
                    raise self._link.error(exc) from exc
                await asyncio.sleep(SETTLE_S)
                node = await self._after_outage(key)
                asking = False
            except ServerError as exc:
                # The master may have died and a replica taken its slots: if the slot map
                # names another master now, a call that may run twice goes there (any other
                # may have run on the dead master, as the error says).
                settles += 1
                if not resend or not is_outage(exc.__cause__ or exc):
                    raise
                moved = await self._moved_since(key, node)
                if moved is None or settles > SETTLE_ATTEMPTS:
                    raise
                node, asking = moved, False

    async def _after_outage(self, key: str | None) -> tuple[str, int]:
        with contextlib.suppress(ServerError):
            await self.refresh()
        return await self.node_of(key)

    async def _moved_since(self, key: str | None, node: tuple[str, int]) -> tuple[str, int] | None:
        """The master now serving ``key`` when it is another than ``node``, waiting up to
        ~6 s for a replica to take over a dead master's slots; None when it stays."""
        for _ in range(SETTLE_ATTEMPTS):
            with contextlib.suppress(ServerError):
                slots = await self.refresh()
                now = slots.master_of(slot_of(key)) if key else slots.masters()[0]
                if now is not None and now != node:
                    return now
            await asyncio.sleep(SETTLE_S)
        return None

    def nodes(self) -> list[tuple[str, int]]:
        """The masters this wire has connections to."""
        return list(self._wires)

    def master_urls(self) -> list[str]:
        """The URL of every master of the last slot map read (the seed's until one was)."""
        if self._map is None:
            return [self.url]
        return [node_url(self.url, *node) for node in self._map.masters()]

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._link.closed

    async def close(self) -> None:
        """Close every connection."""
        self._link.closed = True
        for wire in self._wires.values():
            await wire.close()
        self._wires.clear()


async def read_streams(
    client: Any, cursors: Mapping[str, str], *, count: int, block: int | None, cluster: bool
) -> list[Any]:
    """XREAD of ``cursors`` (stream -> the entry id to read after) as one reply list.

    A cluster refuses an XREAD of streams in different slots: there each slot's streams are
    read at once on their own connection (redis-py's cluster client holds one per node),
    without blocking first; only when none holds anything new does each block, and the reply
    comes when every slot's block has returned (so at most ``block`` ms late for a quiet one).
    """
    if not cluster:
        reply: Any = await client.xread(dict(cursors), count=count, block=block)
        return list(reply or [])
    by_slot: dict[int, dict[str, str]] = {}
    for stream, last in cursors.items():
        by_slot.setdefault(slot_of(stream), {})[stream] = last

    async def read(group: dict[str, str], wait: int | None) -> list[Any]:
        found: Any = await client.xread(group, count=count, block=wait)
        return list(found or [])

    groups = list(by_slot.values())
    replies = await asyncio.gather(*(read(group, None) for group in groups))
    if block is not None and not any(replies):
        replies = await asyncio.gather(*(read(group, block) for group in groups))
    return [item for reply in replies for item in reply]
