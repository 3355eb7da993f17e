"""The lean connection of :mod:`.wire`, blocking: for plain code that calls the server on its
own thread (the blocking ``task.dispatch()``), with no event loop to hand the call to.

It speaks the same RESP (:func:`.resp.pack` out, hiredis in, :func:`.wire_errors.reply_error`
for error replies) and decides retries as :class:`.wire.Wire` does (:func:`.resp.retry_wait`):
a call that could not be written is tried again while the server restarts, one that was
written is sent again only when ``resend`` says that is harmless, and every failure reaches
the caller as our ServerError (a dead embedded server restarted first). One call at a time:
a connection belongs to one thread of one process (see :class:`.blocking_runner.Connections`).
Unlike the async wire it does not probe a silent connection: the reply timeout judges.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from typing import Any

import hiredis

from .failures import CONNECT_TIMEOUT_S, RECONNECT_WINDOW_S, REPLY_TIMEOUT_S, ServerLink
from .resp import Target, pack, retry_wait
from .scripts import Script
from .wire_errors import ErrorReply, LinkDown, LinkTimeout, NoScriptReply, reply_error

READ_SIZE = 65536


class BlockingWire:
    """A connection opened on first use and reopened after it breaks; blocking calls.

    Args:
        url: a ``redis://`` or ``unix://`` URL.
        reply_timeout_s: how long a reply (and the login) may take.
    """

    def __init__(self, url: str, *, reply_timeout_s: float = REPLY_TIMEOUT_S) -> None:
        self.reply_timeout_s = reply_timeout_s
        self._target = Target(url)
        self._link = ServerLink(url)
        self._sock: socket.socket | None = None
        self._reader: Any = None
        self._connected_once = False
        self._closed = False

    def call(self, *args: Any, resend: bool = False) -> Any:
        """Send one command and return its reply (see :meth:`.wire.Wire.call`).

        Raises:
            ServerError: the server cannot be reached (and, if it is the embedded one, could
                not be restarted), did not answer in time, or replied with an error.
            NoScriptReply: EVALSHA of a script the server does not hold (evalsha loads it).
        """
        packed = pack(args)
        return self._link.guard_blocking(lambda: self._call(packed, resend))

    def call_many(self, commands: Sequence[Sequence[Any]], *, resend: bool = False) -> list[Any]:
        """Send several commands in one write and return their replies, in order (one round
        trip). An error reply to any of them is raised once every reply has been read, so the
        connection stays in step.

        Raises:
            ServerError: as :meth:`call`.
        """
        packed = b"".join(pack(args) for args in commands)
        count = len(commands)
        replies: list[Any] = self._link.guard_blocking(lambda: self._call(packed, resend, count))
        return replies

    def evalsha(
        self, script: Script, keys: Sequence[str], args: Sequence[Any], *, resend: bool = False
    ) -> Any:
        """Run a script by SHA, loading it first if the server does not hold it (see
        :meth:`.wire.Wire.evalsha`)."""
        try:
            return self.call("EVALSHA", script.sha, len(keys), *keys, *args, resend=resend)
        except NoScriptReply:
            self.call("SCRIPT", "LOAD", script.source, resend=True)
        try:
            return self.call("EVALSHA", script.sha, len(keys), *keys, *args, resend=resend)
        except NoScriptReply as exc:  # the server restarted again in between: give up
            raise script.unknown(self._link.shown) from exc

    def _call(self, packed: bytes, resend: bool, count: int = 0) -> Any:
        """Send ``packed`` and read its reply; with ``count``, that many replies (a list)."""
        give_up_at = time.monotonic() + self.reply_timeout_s + RECONNECT_WINDOW_S
        failures = 0
        while True:
            written = False
            try:
                sock = self._sock
                if sock is None:
                    sock = self._open()
                sock.sendall(packed)
                written = True
                return self._read(sock) if not count else self._read_many(sock, count)
            except (LinkDown, LinkTimeout, OSError) as exc:
                self.drop()
                failures += 1
                wait = retry_wait(
                    exc,
                    self._link,
                    written=written,
                    resend=resend,
                    failures=failures,
                    connected_once=self._connected_once,
                    time_left=give_up_at - time.monotonic(),
                )
                if wait is None or self._link.closed:
                    raise
                time.sleep(wait)
            except ErrorReply:  # an error reply (NOSCRIPT, WRONGTYPE...): the connection is fine
                raise
            except BaseException:
                # Interrupted (Ctrl-C) between sending and reading: the reply would be read
                # as the next call's, so the connection goes.
                if written:
                    self.drop()
                raise

    def _read_many(self, sock: socket.socket, count: int) -> list[Any]:
        replies: list[Any] = []
        refused: ErrorReply | None = None
        for _ in range(count):
            try:
                replies.append(self._read(sock))
            except ErrorReply as exc:  # read the rest: they belong to this call
                refused = refused or exc
                replies.append(None)
        if refused is not None:
            raise refused
        return replies

    def _read(self, sock: socket.socket) -> Any:
        reader = self._reader
        while True:
            try:
                reply = reader.gets()
            except hiredis.ProtocolError as exc:
                raise LinkDown(f"protocol error: {exc}") from exc
            if reply is not False:
                break
            try:
                data = sock.recv(READ_SIZE)
            except TimeoutError as exc:
                raise LinkTimeout("the server sent no reply in time") from exc
            if not data:
                raise LinkDown("the server closed the connection")
            reader.feed(data)
        if isinstance(reply, hiredis.ReplyError):
            raise reply_error(str(reply))
        return reply

    def _open(self) -> socket.socket:
        if self._closed:
            raise LinkDown("the connection is closed")
        target = self._target
        where = target.path or f"{target.host}:{target.port}"
        try:
            if target.path is not None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(CONNECT_TIMEOUT_S)
                try:
                    sock.connect(target.path)
                except BaseException:
                    sock.close()
                    raise
            else:
                sock = socket.create_connection((target.host, target.port), CONNECT_TIMEOUT_S)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            raise LinkDown(f"cannot connect to {where}: {exc}") from exc
        sock.settimeout(self.reply_timeout_s)
        # surrogateescape, as the other connections: see wire._Protocol
        self._reader = hiredis.Reader(encoding="utf-8", errors="surrogateescape")
        self._sock = sock
        try:
            for command in target.login():
                sock.sendall(pack(command))
                self._read(sock)
        except BaseException:
            self.drop()
            raise
        self._connected_once = True
        return sock

    def drop(self) -> None:
        """Close the socket (the next call opens a new one)."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def close(self) -> None:
        """Close the connection for good: a later call fails with ServerError. Safe on one
        inherited across ``fork``: closing this process's copy of the socket leaves the
        parent's connection open."""
        self._closed = self._link.closed = True
        self.drop()
