"""The WebSocket gateway of the TaskManager (issue 15): clients emit jobs over a socket and
hear ``task_update`` / ``task_retry`` / ``task_finished`` for them. A plain ASGI app
(:class:`Gateway`) served by uvicorn (:class:`GatewayServer`); see docs/gateway.md."""

from __future__ import annotations

from .asgi import TOKEN_ENV, Gateway
from .server import GatewayServer

__all__ = ["TOKEN_ENV", "Gateway", "GatewayServer"]
