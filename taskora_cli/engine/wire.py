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
from urllib.parse import parse_qs, unquote, urlparse

import hiredis
from redis.exceptions import (
    AskError,
    AuthenticationError,
    BusyLoadingError,
    ClusterDownError,
    ExecAbortError,
    MaxClientsReachedError,
    MovedError,
    NoPermissionError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .failures import (
    BLOCK_MARGIN_S,
    CONNECT_TIMEOUT_S,
    PROBE_TIMEOUT_S,
    RECONNECT_ATTEMPTS,
    RECONNECT_WINDOW_S,
    REPLY_TIMEOUT_S,
    SILENCE_PROBE_S,
    ServerLink,
    backoff,
    is_outage,
)
from .scripts import Script

FIRST_CONNECT_ATTEMPTS = 2
"""Retries before a server that has never answered is reported unreachable (~0.1 s): there is
no restart to ride out yet, and a wrong URL should fail at once, not after ~16 s."""


def supports(url: str) -> bool:
    """Whether :class:`Wire` can serve ``url`` (plain TCP or a unix socket, not TLS)."""
    return url.startswith(("redis://", "unix://"))


def pack(args: Sequence[Any]) -> bytes:
    """One command in RESP: an array of bulk strings."""
    parts = [f"*{len(args)}\r\n"]
    for arg in args:
        kind = type(arg)
        if kind is str:
            # the common case is ASCII, one byte per character; other text (a binary payload
            # too: see _Protocol) is counted in bytes and encoded with the rest in one go
            size = len(arg) if arg.isascii() else len(arg.encode("utf-8", "surrogateescape"))
            parts.append(f"${size}\r\n{arg}\r\n")
        elif kind is int:
            text = str(arg)
            parts.append(f"${len(text)}\r\n{text}\r\n")
        else:
            return _pack_any(args)
    return "".join(parts).encode("utf-8", "surrogateescape")


def _pack_any(args: Sequence[Any]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            data = arg.encode("utf-8", "surrogateescape")  # binary payloads: see _Protocol
        elif isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, int) and not isinstance(arg, bool):
            data = b"%d" % arg
        elif isinstance(arg, float):
            data = repr(arg).encode()
        else:
            raise TypeError(f"cannot send {type(arg).__name__} {arg!r} to the server")
        out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)


PROBE = pack(("EVAL", "return 1", 0))
"""What a silent connection's probe asks (see Wire._probe_silence)."""


ASKING = pack(("ASKING",))
"""Sent in the same write before a call a cluster redirected with ASK (see cluster.py)."""


ERROR_CODES: dict[str, type[RedisError]] = {
    "NOSCRIPT": NoScriptError,
    "LOADING": BusyLoadingError,
    "READONLY": ReadOnlyError,
    "OOM": OutOfMemoryError,
    "EXECABORT": ExecAbortError,
    "NOAUTH": AuthenticationError,
    "WRONGPASS": AuthenticationError,
    "NOPERM": NoPermissionError,
    "MOVED": MovedError,
    "ASK": AskError,
    "TRYAGAIN": TryAgainError,
    "CLUSTERDOWN": ClusterDownError,
}
"""Error replies by their first word, as the exception redis-py's own clients raise (the
classes are redis.exceptions' public ones): the codes whose kind matters to us, a script to
load again (NOSCRIPT), a server to wait for (LOADING: an outage, see failures.is_outage), a
login refused, or a cluster's redirection or refusal (see cluster.ClusterWire). Any other
reply is a plain ResponseError (WRONGTYPE, ERR...)."""

ERR_MESSAGES: dict[str, type[RedisError]] = {
    "max number of clients reached": MaxClientsReachedError,
    "invalid password": AuthenticationError,
    "Client sent AUTH, but no password is set": AuthenticationError,
    "AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?": AuthenticationError,
}
"""``ERR`` replies told apart by their whole message (servers older than WRONGPASS)."""


def reply_error(message: str) -> RedisError:
    """The exception redis-py raises for this error reply (NOSCRIPT, LOADING, WRONGTYPE...)."""
    code, _, rest = message.partition(" ")
    if code == "ERR":  # redis-py drops the generic code from the message
        return ERR_MESSAGES.get(rest, ResponseError)(rest)
    kind = ERROR_CODES.get(code)
    return ResponseError(message) if kind is None else kind(rest)


def retry_wait(
    exc: BaseException,
    link: ServerLink,
    *,
    written: bool,
    resend: bool,
    failures: int,
    connected_once: bool,
    time_left: float,
) -> float | None:
    """How long to wait before trying again a call that failed with ``exc`` (its
    ``failures``-th failure), or None to give up and raise ``exc``. Both lean connections,
    the async :class:`Wire` and the blocking one, decide here.

    Raises:
        ServerError: the call was written and the server may have run it, and it must not
            be sent again (a reply timeout, or a call not marked ``resend``).
    """
    may_have_run = written and is_outage(exc)
    if may_have_run and (isinstance(exc, RedisTimeoutError) or not resend):
        raise link.maybe_ran(exc) from exc
    limit = RECONNECT_ATTEMPTS if connected_once else FIRST_CONNECT_ATTEMPTS
    wait = BACKOFF.compute(failures)
    if failures > limit or wait >= time_left or not is_outage(exc):
        return None
    return wait


BACKOFF = backoff()
"""The wait between reconnect attempts (stateless: it computes from the failure count)."""


class Target:
    """Where to connect and how to log in, from a redis:// or unix:// URL."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        query = parse_qs(parsed.query)
        self.path = unquote(parsed.path) if parsed.scheme == "unix" else None
        self.host = parsed.hostname or "localhost"
        self.port = parsed.port or 6379
        self.username = unquote(parsed.username) if parsed.username else None
        self.password = unquote(parsed.password) if parsed.password else None
        if "password" in query:
            self.password = query["password"][0]
        db = query["db"][0] if "db" in query else ""
        if parsed.scheme == "redis" and not db:
            db = parsed.path.lstrip("/")
        self.db = int(db or 0)

    def login(self) -> list[tuple[Any, ...]]:
        commands: list[tuple[Any, ...]] = []
        if self.password is not None:
            user = (self.username,) if self.username else ()
            commands.append(("AUTH", *user, self.password))
        if self.db:
            commands.append(("SELECT", self.db))
        return commands


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
            raise RedisConnectionError(f"connection lost: {self.lost}")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self.pending:
            self.heard_at = loop.time()
        self.transport.write(packed)
        if self.transport.is_closing():
            # The write failed at once (EPIPE: the server died while the connection idled):
            # nothing reached the server, so the caller may send it again.
            self.lost = self.lost or RedisConnectionError("the server closed the connection")
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
                self.abort(RedisConnectionError(f"protocol error: {exc}"))
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
        self.lost = self.lost or RedisConnectionError(f"the server closed the connection ({exc})")
        self._fail_pending()

    def _fail_pending(self) -> None:
        while self.pending:
            future = self.pending.popleft()[0]
            if not future.done():
                future.set_exception(self.lost or RedisConnectionError("connection lost"))


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
            NoScriptError: EVALSHA of a script the server does not hold (evalsha loads it).
            AskError: a cluster node redirected the call (MOVED or ASK; see ClusterWire).
            TryAgainError, ClusterDownError: a cluster node refused it while it settles.
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
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
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
        except NoScriptError:
            await self.call("SCRIPT", "LOAD", script.source, resend=True)
        try:
            return await self.call(*call, resend=resend, asking=asking)
        except NoScriptError as exc:  # the server restarted again in between: give up
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
                proto.abort(RedisConnectionError("a blocking call was cancelled"))
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
            proto.abort(RedisTimeoutError("the server sent no reply in time"))
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
                proto.abort(RedisTimeoutError("the connection went silent (half-open)"))
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
        except (RedisError, OSError, TimeoutError):
            return False
        finally:
            if probe is not None:
                probe.abort(RedisConnectionError("the probe is over"))

    async def _open(self, within: float) -> _Protocol:
        """The connection, opened (or its opening by another call awaited) within ``within``
        seconds; an opening this caller stops waiting for goes on for the others."""
        if self._closed:
            raise RedisConnectionError("the connection is closed")
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._connect())
        opening = self._opening
        try:
            return await asyncio.wait_for(asyncio.shield(opening), max(within, 0.001))
        except TimeoutError as exc:
            raise RedisTimeoutError("the server did not accept the connection in time") from exc
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
            raise RedisConnectionError(f"cannot connect to {where}: {exc}") from exc
        try:
            # No watchdog watches a connection not yet in use: a hung server is timed here.
            for command in target.login():
                due_at = loop.time() + self.reply_timeout_s
                await asyncio.wait_for(proto.send(pack(command), due_at), self.reply_timeout_s)
        except TimeoutError as exc:
            proto.abort(RedisTimeoutError("no reply to the login in time"))
            raise RedisTimeoutError("the server did not answer the login in time") from exc
        except BaseException:
            proto.abort(RedisConnectionError("login failed"))
            raise
        return proto

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
            self._proto.abort(RedisConnectionError("the connection was closed"))
            self._proto = None
