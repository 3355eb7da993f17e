"""Serve a Gateway with uvicorn in the running event loop, on a socket bound here.

Binding the socket ourselves makes a taken port our error (uvicorn would exit the process)
and lets ``port=0`` pick a free one (tests, benchmarks). uvicorn is imported only here, when
a gateway is started, so no other command pays for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import TaskoraError, UsageError

if TYPE_CHECKING:
    from .asgi import Gateway

BACKLOG = 2048
"""Pending connections the listening socket holds: a burst of 1,000 clients fits."""

START_TIMEOUT_S = 10.0


class GatewayServer:
    """uvicorn serving ``gateway`` on ``host:port`` (``port`` 0: a free one, see
    :attr:`port`).

    Args:
        gateway: the ASGI gateway.
        host / port: where to listen.
        own_signals: let uvicorn take SIGINT/SIGTERM while it serves (the ``taskora
            gateway`` command); embedded in an application, its own handlers stay.
    """

    def __init__(
        self, gateway: Gateway, host: str = "127.0.0.1", port: int = 4000, *,
        own_signals: bool = False,
    ) -> None:  # fmt: skip
        self.gateway = gateway
        self.host = host
        self.port = port
        self._own_signals = own_signals
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen and serve in the running loop; returns once clients can connect.

        Raises:
            UsageError: the address cannot be listened on (a taken port, a bad host), or
                uvicorn or websockets is not installed.
        """
        try:
            import uvicorn
        except ImportError:
            raise UsageError(
                "the gateway needs uvicorn and websockets, taskora's dependencies: reinstall it"
            ) from None
        try:
            sock = socket.create_server((self.host, self.port), backlog=BACKLOG)
        except OSError as exc:
            where = f"{self.host}:{self.port}"
            raise UsageError(f"the gateway cannot listen on {where}: {exc}") from exc
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.gateway, lifespan="off", log_level="warning", ws="websockets-sansio",
            ws_per_message_deflate=False,  # a deflate context per socket: memory, for tiny JSON
            backlog=BACKLOG, timeout_graceful_shutdown=2,
        )  # fmt: skip
        server = _server_class(uvicorn.Server, self._own_signals)(config)
        await self.gateway.hub.start()
        self._server = server
        self._task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        async with asyncio.timeout(START_TIMEOUT_S):
            while not server.started:
                if self._task.done():
                    self._task.result()
                    raise TaskoraError("the gateway stopped while starting")
                await asyncio.sleep(0.01)

    async def wait(self) -> None:
        """Until the server stops (a signal, when it owns them, or :meth:`stop`)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        """Close every connection, stop listening, stop reading the streams."""
        await self.gateway.aclose()
        if self._server is not None:
            self._server.should_exit = True
        task, self._task = self._task, None
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def url(self) -> str:
        """Where clients connect."""
        return f"ws://{self.host}:{self.port}"


def _server_class(base: Any, own_signals: bool) -> Any:
    if own_signals:
        return base

    class EmbeddedServer(base):  # type: ignore[misc]
        """uvicorn without its signal handlers: the application keeps its own."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return EmbeddedServer
