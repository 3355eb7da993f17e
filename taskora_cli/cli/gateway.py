"""``taskora gateway``: serve the TaskManager's WebSocket gateway (docs/gateway.md).

Thin: the gateway lives in taskora_cli/gateway/; uvicorn and websockets are imported only
when this command runs, so no other command pays for them.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from .common import USAGE, error_line, fail, load, load_app, print_json, report_check
from .options import ConfigOption, JsonOption

TOKEN_ENV = "TASKORA_GATEWAY_TOKEN"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


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
    insecure: Annotated[
        bool,
        typer.Option("--insecure", help="Serve a non-loopback --host with no --token."),
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Check the config and the server, print where the gateway would serve, and "
            "exit (for deploy scripts).",
        ),
    ] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Serve the WebSocket gateway until Ctrl-C: clients send {"type": "emit", "event",
    "queue", "data", "options"} and hear task_update, task_retry and task_finished for their
    jobs (every job with the header x-get-broadcast: true). Workers (`taskora work`) run the
    handlers; this process only emits and listens."""
    app = load_app(load(config))
    secret = token or os.environ.get(TOKEN_ENV)
    if not secret and host not in LOOPBACK:
        if not insecure:
            fail(USAGE, f"no --token (or ${TOKEN_ENV}) is set, so the gateway serves on "
                 f"127.0.0.1 only; set one, or add --insecure to let anyone who can reach "
                 f"{host} emit jobs")  # fmt: skip
        error_line(f"warning: serving {host} with no token (--insecure): anyone who can reach "
                   "it can emit jobs")  # fmt: skip
    serving = {"host": host, "port": port, "token": bool(secret)}
    if check:
        report_check(app, serving, as_json, f"ws://{host}:{port}")
        return

    async def run() -> None:
        from ..errors import UsageError
        from ..gateway import Gateway, GatewayServer
        from ..manager import TaskManager

        try:
            manager = TaskManager.current()  # the task modules made one
        except UsageError:
            manager = TaskManager.init(db=app)
        server = GatewayServer(
            Gateway(manager.app, manager.aemit, secret),
            host, port, own_signals=True,
        )  # fmt: skip
        try:
            await server.start()
        except BaseException:  # refused (a taken port): the manager made here goes too
            await manager.aclose()
            await app.aclose()
            raise
        if as_json:
            print_json(serving | {"port": server.port, "url": server.url})
        else:
            print(f"taskora gateway on {server.url}", flush=True)
        try:
            await server.wait()
        finally:
            await server.stop()
            await manager.aclose()
            await app.aclose()

    import asyncio  # here, not at the top: `taskora --help` imports every command's module

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        return
