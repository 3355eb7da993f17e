"""A small TCP proxy the test controls, between a worker and its server: it cuts, slows or
silently swallows the traffic on command.

Clients connect to ``proxy.url`` (redis://127.0.0.1:PORT); each connection is forwarded to the
real server (a unix socket path or host:port) by two pump threads. Faults:

- ``drop()``: close every open connection, both ways (a server restart, a NAT reset);
- ``delay(seconds)``: hold every chunk that long before forwarding it (a slow network);
- ``half_open()``: stop forwarding without closing anything (a peer that vanished, a cable
  pulled): bytes are read and discarded, no FIN or RST is ever sent. New connections are
  accepted and swallowed too until ``heal()``; connections opened during the cut stay dead.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field

CHUNK = 65536


@dataclass
class _Link:
    client: socket.socket
    upstream: socket.socket
    dead: bool = False
    """Half-open: this connection swallows everything for good, even after heal()."""

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


@dataclass
class FaultProxy:
    """Forward 127.0.0.1:<port> to ``target`` (a unix socket path, or "host:port")."""

    target: str
    delay_s: float = 0.0
    cut: bool = False
    links: list[_Link] = field(default_factory=list)
    accepted: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _listener: socket.socket | None = None
    _closed: bool = False

    def start(self) -> FaultProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._listener is not None
        return f"redis://127.0.0.1:{self._listener.getsockname()[1]}"

    # -- faults ------------------------------------------------------------------------------

    def drop(self) -> int:
        """Close every open connection; returns how many there were."""
        with self._lock:
            links, self.links = self.links, []
        for link in links:
            link.close()
        return len(links)

    def delay(self, seconds: float) -> None:
        self.delay_s = seconds

    def half_open(self) -> None:
        with self._lock:
            self.cut = True
            for link in self.links:
                link.dead = True

    def heal(self) -> None:
        """Forward new connections normally again (and no delay); dead ones stay dead."""
        self.cut = False
        self.delay_s = 0.0

    def close(self) -> None:
        self._closed = True
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
        self.drop()

    # -- forwarding --------------------------------------------------------------------------

    def _connect_upstream(self) -> socket.socket:
        if ":" in self.target and not self.target.startswith("/"):
            host, _, port = self.target.rpartition(":")
            return socket.create_connection((host, int(port)), timeout=5)
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(self.target)
        return upstream

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = self._connect_upstream()
            except OSError:
                client.close()  # the server is down: the client sees a refused connection
                continue
            upstream.settimeout(None)
            link = _Link(client, upstream, dead=self.cut)
            with self._lock:
                self.links.append(link)
                self.accepted += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(link, src, dst), daemon=True).start()

    def _pump(self, link: _Link, src: socket.socket, dst: socket.socket) -> None:
        while True:
            try:
                data = src.recv(CHUNK)
            except OSError:
                data = b""
            if not data:
                if not link.dead:  # a dead link never tells the other side anything
                    link.close()
                return
            if link.dead:
                continue
            if self.delay_s:
                time.sleep(self.delay_s)
            try:
                dst.sendall(data)
            except OSError:
                link.close()
                return
