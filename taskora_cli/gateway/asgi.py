"""The gateway as a plain ASGI application: WebSocket sessions, the token check, and emits.

A plain ASGI callable, with no web framework: uvicorn serves it (``taskora gateway``,
``TaskManager.start(expose=...)``), and a Starlette app mounts it as it is
(``WebSocketRoute("/ws", gateway)`` or ``Mount("/ws", gateway)``). Mounted, it gets no
lifespan events: the hub starts with the first connection, and the host calls
:meth:`Gateway.aclose` when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from ..errors import TaskoraError
from . import protocol
from .hub import Connection, Hub

if TYPE_CHECKING:
    from ..task_registry import Parts

log = logging.getLogger("taskora.gateway")

Emit = Callable[[str, str | None, Any, Mapping[str, Any]], Awaitable[str]]
"""Enqueue a job: ``(event, queue, data, options) -> job id`` (``TaskManager.aemit``)."""

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

TOKEN_ENV = "TASKORA_GATEWAY_TOKEN"
"""The environment variable the shared token is read from when none is given."""


class Gateway:
    """The WebSocket gateway (ASGI). One per process is plenty: it reads the event streams
    once for all of its connections.

    Args:
        parts: the app (its runtime and task registry).
        emit: how an ``emit`` message enqueues a job (``TaskManager.aemit``).
        token: the shared secret clients must present (``?token=`` in the URL, or an
            ``Authorization: Bearer`` or ``x-taskora-token`` header); None lets everyone in.
    """

    def __init__(self, parts: Parts, emit: Emit, token: str | None = None) -> None:
        self.hub = Hub(parts)
        self._emit = emit
        self._token = token or None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket":
            await self._session(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "http":
            await _upgrade_required(send)

    async def aclose(self) -> None:
        """Stop reading the streams and close every connection."""
        await self.hub.stop()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.hub.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _session(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        headers = {name.decode("latin-1").lower(): value for name, value in scope["headers"]}
        await send({"type": "websocket.accept"})
        if not self._allowed(scope, headers):
            await send({"type": "websocket.send", "text": protocol.error(
                "unauthorized", "a valid token is needed: ?token=... or Authorization: Bearer"
            )})  # fmt: skip
            await send({"type": "websocket.close", "code": 1008, "reason": "unauthorized"})
            return
        await self.hub.start()
        broadcast = headers.get("x-get-broadcast", b"").strip().lower() == b"true"
        conn = Connection(send, broadcast)
        self.hub.attach(conn)
        writer = asyncio.get_running_loop().create_task(_pump(conn))
        try:
            while not writer.done():
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message["type"] == "websocket.receive":
                    text = message.get("text")
                    await self._handle(conn, text if text is not None else message.get("bytes"))
        finally:
            self.hub.detach(conn)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    def _allowed(self, scope: Scope, headers: dict[str, bytes]) -> bool:
        if self._token is None:
            return True
        given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[-1]
        bearer = headers.get("authorization", b"").decode("latin-1")
        if bearer.lower().startswith("bearer "):
            given = given or bearer[7:].strip()
        given = given or headers.get("x-taskora-token", b"").decode("latin-1")
        return hmac.compare_digest(given.encode(), self._token.encode())

    async def _handle(self, conn: Connection, frame: str | bytes | None) -> None:
        """One client message: an emit, or an error reply (never an exception out of here)."""
        request: protocol.EmitRequest | None = None
        try:
            request = protocol.parse(frame or "")
            if not await self.hub.is_known(request.event):
                raise protocol.ProtocolError(
                    "unknown_event", f"no handler or worker knows the event {request.event!r}"
                )
            emit = request
            await self.hub.emit(
                conn,
                emit.event,
                lambda: self._emit(emit.event, emit.queue, emit.data, emit.options),
                emit.request_id,
            )
        except protocol.ProtocolError as exc:
            conn.push(protocol.error(exc.code, str(exc), _request_id(request)))
        except TaskoraError as exc:
            conn.push(protocol.error("emit_failed", str(exc), _request_id(request)))
        except Exception as exc:
            log.exception("taskora gateway: an emit failed")
            conn.push(protocol.error("internal", f"{type(exc).__name__}: {exc}"))


def _request_id(request: protocol.EmitRequest | None) -> Any:
    return None if request is None else request.request_id


async def _pump(conn: Connection) -> None:
    with contextlib.suppress(OSError, RuntimeError):  # the client went: nothing to send to
        await conn.pump()


async def _upgrade_required(send: Send) -> None:
    body = b"taskora gateway: connect with a WebSocket client\n"
    await send({
        "type": "http.response.start", "status": 426,
        "headers": [(b"content-type", b"text/plain"), (b"upgrade", b"websocket")],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})
