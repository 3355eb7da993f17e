"""A lean, pipelined connection for the hot path: script calls and the idle worker's block.

redis-py's asyncio client spends ~100 µs of CPU on every command (connection pool, retry
wrapper, per-call timeout, instrumentation) — more than the server spends running a script.
This connection writes RESP straight to the transport and parses replies with hiredis as they
arrive, so a call costs a few µs of client CPU, and any number of calls may be in flight at once
(replies come back in order). It keeps redis-py's behaviour where it matters: reconnecting
with the same backoff after a server restart (or while it loads its AOF), a reply timeout for a
server that stopped answering; unlike redis-py it never sends again a command the server may
have run unless the caller says that is harmless (see `Wire.call`); like the redis-py clients
it reports every failure through
:mod:`.failures` (a dead embedded server restarted, anything else a ServerError). TLS
(``rediss://``) stays with redis-py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence
from typing import Any

import hiredis

from .failures import (
    BLOCK_MARGIN_S,
    CONNECT_TIMEOUT_S,
    PROBE_TIMEOUT_S,
    RECONNECT_WINDOW_S,
    REPLY_TIMEOUT_S,
    SILENCE_PROBE_S,
    ServerLink,
)
from .resp import ASKING, PROBE, Target, pack, retry_wait
from .scripts import Script
from .wire_errors import LinkDown, LinkTimeout, NoScriptReply, WireError, reply_error


class _Protocol(asyncio.Protocol):
    """One connection: writes packed commands, settles their futures as replies arrive."""

    def __init__(self) -> None:
        # surrogateescape, as the redis-py connections: bytes that are not UTF-8 (a msgpack
        # payload) come back as the very str that was sent (see serialization.text_from_bytes)
        self.reader = hiredis.Reader(encoding="utf-8", errors="surrogateescape")
        self.pending: deque[tuple[asyncio.Future[Any], float]] = deque()
        """Calls in flight, oldest first: each future and the loop time its reply is due by."""
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None
        self.heard_at = 0.0
        """Loop time of the last sign of life: a reply, or a call sent while none was in
        flight (the silence that counts starts there)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.heard_at = asyncio.get_running_loop().time()

    def send(self, packed: bytes, due_at: float, *, skip: int = 0) -> asyncio.Future[Any]:
        """Write ``packed``; the future of its last reply (``skip`` replies before it, of
        commands written with it, are dropped)."""
        if self.lost is not None or self.transport is None:
            raise LinkDown(f"connection lost: {self.lost}")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self.pending:
            self.heard_at = loop.time()
        self.transport.write(packed)
        if self.transport.is_closing():
            # The write failed at once (EPIPE: the server died while the connection idled):
            # nothing reached the server, so the caller may send it again.
            self.lost = self.lost or LinkDown("the server closed the connection")
            raise self.lost
        for _ in range(skip):
            dropped: asyncio.Future[Any] = loop.create_future()
            dropped.cancel()  # settled: its reply is read and dropped in order
            self.pending.append((dropped, due_at))
        self.pending.append((future, due_at))
        return future

    def data_received(self, data: bytes) -> None:
        self.heard_at = asyncio.get_running_loop().time()
        self.reader.feed(data)
        while True:
            try:
                reply = self.reader.gets()
            except hiredis.ProtocolError as exc:
                self.abort(LinkDown(f"protocol error: {exc}"))
                return
            if reply is False:
                return
            future = self.pending.popleft()[0]
            if future.done():
                continue  # its caller gave up; the reply is dropped in order
            if isinstance(reply, hiredis.ReplyError):
                future.set_exception(reply_error(str(reply)))
            else:
                future.set_result(reply)

    def abort(self, exc: BaseException) -> None:
        self.lost = self.lost or exc
        if self.transport is not None:
            self.transport.abort()
        self._fail_pending()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = self.lost or LinkDown(f"the server closed the connection ({exc})")
        self._fail_pending()

    def _fail_pending(self) -> None:
        while self.pending:
            future = self.pending.popleft()[0]
            if not future.done():
                future.set_exception(self.lost or LinkDown("connection lost"))


class Wire:
    """A pipelined connection, opened on first use and reopened after it breaks.

    Args:
        url: a ``redis://`` or ``unix://`` URL.
        blocking: for a connection that waits in blocking commands (each call passes its
            ``reply_timeout``: the block time plus a margin): a call whose caller is cancelled
            drops the connection (so the server forgets the block and no later reply is
            consumed by nobody).
        reply_timeout_s: how long a reply to a non-blocking call (and to the login) may take.
    """

    def __init__(
        self, url: str, *, blocking: bool = False, reply_timeout_s: float = REPLY_TIMEOUT_S
    ) -> None:
        self.reply_timeout_s = reply_timeout_s
        self._target = Target(url)
        self._blocking = blocking
        self._proto: _Protocol | None = None
        self._opening: asyncio.Future[_Protocol] | None = None
        self._link = ServerLink(url)
        self._watchdog: asyncio.TimerHandle | None = None
        self._silence_s = SILENCE_PROBE_S
        """How long the connection may stay silent with a call in flight before it is probed."""
        self._probe: asyncio.Task[None] | None = None
        self._closed = False
        self._connected_once = False

    async def call(
        self,
        *args: Any,
        reply_timeout: float | None = None,
        resend: bool = False,
        asking: bool = False,
    ) -> Any:
        """Send one command and return its reply.

        A call that could not be written (no connection yet, the server restarting) is tried
        again for up to ~2.3 s. Once written, the server may have run it: a lost connection
        sends it again only when ``resend`` says running it twice is harmless (a claim carries
        a request id, see lua/claim.lua); a reply that does not come in time ends the call
        (a paused server would run every copy once it wakes up). ``asking`` sends ASKING
        before it in the same write (a cluster's ASK redirection, see cluster.ClusterWire).

        Raises:
            ServerError: the server cannot be reached (and, if it is the embedded one, could
                not be restarted), did not answer in time, or replied with an error.
            NoScriptReply: EVALSHA of a script the server does not hold (evalsha loads it).
            AskRedirect: a cluster node redirected the call (MOVED or ASK; see ClusterWire).
            ClusterBusy: a cluster node refused it while it settles (TRYAGAIN, CLUSTERDOWN).
        """
        packed = ASKING + pack(args) if asking else pack(args)
        skip = 1 if asking else 0
        if reply_timeout is None:
            reply_timeout = self.reply_timeout_s
        timeout = reply_timeout
        return await self._link.guard(lambda: self._call(packed, timeout, resend, skip))

    async def _call(self, packed: bytes, reply_timeout: float, resend: bool, skip: int) -> Any:
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + reply_timeout + RECONNECT_WINDOW_S
        failures = 0
        while True:
            written = False
            try:
                proto = self._proto
                if proto is None or proto.lost is not None:
                    proto = await self._open(give_up_at - loop.time())
                future = proto.send(packed, loop.time() + reply_timeout, skip=skip)
                written = True
                return await self._reply(proto, future, reply_timeout)
            except (LinkDown, LinkTimeout, OSError) as exc:
                failures += 1
                wait = retry_wait(
                    exc,
                    self._link,
                    written=written,
                    resend=resend,
                    failures=failures,
                    connected_once=self._connected_once,
                    time_left=give_up_at - loop.time(),
                )
                if wait is None or self._closed:
                    raise
                await asyncio.sleep(wait)

    async def evalsha(
        self,
        script: Script,
        keys: Sequence[str],
        args: Sequence[Any],
        *,
        resend: bool = False,
        asking: bool = False,
    ) -> Any:
        """Run a script by SHA, loading it first if the server does not know it (yet, or any
        more: after SCRIPT FLUSH or a restart). ``resend``, ``asking``: see :meth:`call`."""
        call = ("EVALSHA", script.sha, len(keys), *keys, *args)
        try:
            return await self.call(*call, resend=resend, asking=asking)
        except NoScriptReply:
            await self.call("SCRIPT", "LOAD", script.source, resend=True)
        try:
            return await self.call(*call, resend=resend, asking=asking)
        except NoScriptReply as exc:  # the server restarted again in between: give up
            raise script.unknown(self._link.shown) from exc

    async def _reply(self, proto: _Protocol, future: asyncio.Future[Any], timeout: float) -> Any:
        # A blocking command is silent for its block time by design (its timeout is that plus
        # BLOCK_MARGIN_S); any other reply takes milliseconds.
        self._silence_s = SILENCE_PROBE_S
        if self._blocking:
            self._silence_s += max(0.0, timeout - BLOCK_MARGIN_S)
        if self._watchdog is None:
            delay = min(timeout, self._silence_s)
            self._watchdog = asyncio.get_running_loop().call_later(delay, self._check_replies)
        if self._blocking:
            try:
                return await future
            except asyncio.CancelledError:
                proto.abort(LinkDown("a blocking call was cancelled"))
                raise
        return await future

    def _check_replies(self) -> None:
        """Drop the connection when the oldest reply is overdue; probe it when it has been
        silent too long; else look again later."""
        self._watchdog = None
        proto = self._proto
        if proto is None or not proto.pending:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        overdue_at = proto.pending[0][1]
        if now >= overdue_at:
            proto.abort(LinkTimeout("the server sent no reply in time"))
            return
        probe_at = proto.heard_at + self._silence_s
        if now >= probe_at:
            if self._probe is None:
                self._probe = loop.create_task(self._probe_silence(proto))
            probe_at = now + SILENCE_PROBE_S
        self._watchdog = loop.call_at(min(overdue_at, probe_at), self._check_replies)

    async def _probe_silence(self, proto: _Protocol) -> None:
        """Ask the server a trivial script on a fresh connection: if it answers while ``proto``
        stays silent, ``proto`` is half-open (its replies go nowhere), so drop it; its calls
        fail as timed out, like at the reply timeout. No answer tells nothing: the network may
        still be out, or the server stalls (busy in a long script, stopped, or paused: a script
        waits out CLIENT PAUSE WRITE, where a PING would not), and the reply timeout judges."""
        asked_at = asyncio.get_running_loop().time()
        try:
            if not await self._answers_probe():
                return
            # Whatever held the server (a pause ending, a long script returning) released the
            # probe and ``proto``'s reply together, and either may arrive first: a live
            # connection speaks within a moment of the probe's answer, a half-open one never.
            await asyncio.sleep(SILENCE_PROBE_S)
            if proto.pending and proto.heard_at < asked_at:
                proto.abort(LinkTimeout("the connection went silent (half-open)"))
        finally:
            self._probe = None

    async def _answers_probe(self) -> bool:
        """Whether the server runs a trivial script on a fresh connection within
        PROBE_TIMEOUT_S (the connection is closed again either way)."""
        probe: _Protocol | None = None
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S):
                probe = await self._dial()
                due_at = asyncio.get_running_loop().time() + PROBE_TIMEOUT_S
                return bool(await probe.send(PROBE, due_at) == 1)
        except (WireError, OSError, TimeoutError):
            return False
        finally:
            if probe is not None:
                probe.abort(LinkDown("the probe is over"))

    async def _open(self, within: float) -> _Protocol:
        """The connection, opened (or its opening by another call awaited) within ``within``
        seconds; an opening this caller stops waiting for goes on for the others."""
        if self._closed:
            raise LinkDown("the connection is closed")
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._connect())
        opening = self._opening
        try:
            return await asyncio.wait_for(asyncio.shield(opening), max(within, 0.001))
        except TimeoutError as exc:
            raise LinkTimeout("the server did not accept the connection in time") from exc
        finally:
            if opening.done() and self._opening is opening:
                self._opening = None

    async def _connect(self) -> _Protocol:
        proto = await self._dial()
        self._proto = proto
        self._connected_once = True
        return proto

    async def _dial(self) -> _Protocol:
        """A new connection, logged in (not yet this wire's)."""
        loop = asyncio.get_running_loop()
        target = self._target
        try:
            if target.path is not None:
                connecting = loop.create_unix_connection(_Protocol, target.path)
            else:
                connecting = loop.create_connection(_Protocol, target.host, target.port)
            _, proto = await asyncio.wait_for(connecting, CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            where = target.path or f"{target.host}:{target.port}"
            raise LinkDown(f"cannot connect to {where}: {exc}") from exc
        try:
            # No watchdog watches a connection not yet in use: a hung server is timed here.
            for command in target.login():
                due_at = loop.time() + self.reply_timeout_s
                await asyncio.wait_for(proto.send(pack(command), due_at), self.reply_timeout_s)
        except TimeoutError as exc:
            proto.abort(LinkTimeout("no reply to the login in time"))
            raise LinkTimeout("the server did not answer the login in time") from exc
        except BaseException:
            proto.abort(LinkDown("login failed"))
            raise
        return proto

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (a later call fails with ServerError)."""
        return self._closed

    async def close(self) -> None:
        """Close the connection; calls in flight fail with ServerError."""
        self._closed = True
        self._link.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._probe is not None:
            self._probe.cancel()
        if self._opening is not None:
            self._opening.cancel()
            with contextlib.suppress(BaseException):
                await self._opening
            self._opening = None
        if self._proto is not None:
            self._proto.abort(LinkDown("the connection was closed"))
            self._proto = None
