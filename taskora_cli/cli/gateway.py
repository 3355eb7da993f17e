"""``taskora gateway``: serve the TaskManager's WebSocket gateway (docs/gateway.md).

Thin: the gateway lives in taskora_cli/gateway/; uvicorn and websockets are imported only
when this command runs, so no other command pays for them.
"""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer

from .common import ConfigOption, load, load_app

TOKEN_ENV = "TASKORA_GATEWAY_TOKEN"


def gateway(
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port.")] = 4000,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar=TOKEN_ENV,
            help=f"Shared secret clients present (?token=... or Authorization: Bearer); "
            f"default ${TOKEN_ENV}, none = no check.",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the WebSocket gateway until Ctrl-C: clients send {"type": "emit", "event",
    "queue", "data", "options"} and hear task_update, task_retry and task_finished for their
    jobs (every job with the header x-get-broadcast: true). Workers (`taskora work`) run the
    handlers; this process only emits and listens."""
    app = load_app(load(config))

    async def run() -> None:
        from ..errors import UsageError
        from ..gateway import Gateway, GatewayServer
        from ..manager import TaskManager

        try:
            manager = TaskManager.current()  # the task modules made one
        except UsageError:
            manager = TaskManager.init(db=app)
        server = GatewayServer(
            Gateway(manager.app, manager.aemit, token or os.environ.get(TOKEN_ENV)),
            host, port, own_signals=True,
        )  # fmt: skip
        await server.start()
        print(f"taskora gateway on {server.url}", flush=True)
        try:
            await server.wait()
        finally:
            await server.stop()
            await manager.aclose()
            await app.aclose()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        return
