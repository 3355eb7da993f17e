"""What both lean connections (the async :mod:`.wire` and the blocking :mod:`.blocking_wire`)
share, free of asyncio and redis-py: RESP out (:func:`pack`), where to connect and how to log in
(:class:`Target`), and when a failed call is tried again (:func:`retry_wait`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from .failures import RECONNECT_ATTEMPTS, ServerLink, backoff_s, is_outage, kinds

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
    if may_have_run and (isinstance(exc, kinds().timeout) or not resend):
        raise link.maybe_ran(exc) from exc
    limit = RECONNECT_ATTEMPTS if connected_once else FIRST_CONNECT_ATTEMPTS
    wait = backoff_s(failures)
    if failures > limit or wait >= time_left or not is_outage(exc):
        return None
    return wait


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
