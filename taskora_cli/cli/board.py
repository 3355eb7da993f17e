"""``taskora board``: serve the web dashboard, its REST API, live events and metrics.

Starlette and uvicorn are imported inside the command, so other commands start as fast as
before."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import USAGE, error_line, fail, load, load_app, print_json, report_check
from .options import ConfigOption, JsonOption

if TYPE_CHECKING:
    import socket

LOCAL_NAMES = ("127.0.0.1", "localhost")
"""The Host names a board without a login on loopback answers to."""
GRACE_S = 2
"""How long Ctrl-C waits for open requests (live streams) before closing them."""
BACKLOG = 2048
"""Connections the listening sockets queue before accepting them (uvicorn's default)."""


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def board(
    host: Annotated[
        str | None,
        typer.Option(
            help="Interface to listen on (default 127.0.0.1). Another one needs a login "
            "([board] in the config, TASKORA_BOARD_*) or --insecure.",
            show_default=False,
        ),
    ] = None,
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8080,
    base_path: Annotated[
        str, typer.Option("--base-path", help="Where the page and its API live.")
    ] = "/board",
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Refuse every change (403): look, do not touch.")
    ] = False,
    redact: Annotated[
        list[str] | None,
        typer.Option(
            "--redact",
            metavar="KEY",
            help="Mask this field (any case, any depth) in job data, results, errors and logs; "
            "repeatable, added to [board] redact.",
            show_default=False,
        ),
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Serve on a non-loopback --host without any login (anyone who "
            "can reach it can retry, cancel and read every job).",
        ),
    ] = False,
    max_latency: Annotated[
        str | None,
        typer.Option(
            "--max-latency",
            metavar="DURATION",
            help="/healthz answers 503 when a task's oldest waiting job is older than this.",
            show_default=False,
        ),
    ] = None,
    max_depth: Annotated[
        int | None,
        typer.Option(
            "--max-depth",
            min=0,
            help="/healthz answers 503 when more than this many jobs of a task wait.",
            show_default=False,
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Check the config, the login, the server and the host, print where the "
            "board would serve, and exit (for deploy scripts).",
        ),
    ] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Serve the board: the dashboard at --base-path, its REST API under BASE/api, live
    events at BASE/api/events, and /metrics (Prometheus) and /healthz at the root.

    Without a login it listens on 127.0.0.1 only. A login is configured in [board] (user,
    password and secret, or authenticate = "module:attr"), or with TASKORA_BOARD_USER,
    TASKORA_BOARD_PASSWORD and TASKORA_BOARD_SECRET.
    """
    from ..board import HealthThresholds, auth_from_config, create_board
    from ..durations import to_ms

    latency_ms = None if max_latency is None else to_ms(max_latency, what="--max-latency")
    cfg = load(config)
    app = load_app(cfg)
    auth = auth_from_config(cfg)
    bind = host or "127.0.0.1"
    if auth is None and not _loopback(bind):
        if not insecure:
            fail(USAGE, f"no login is configured, so the board serves on 127.0.0.1 only; "
                 f"configure one ([board] in the config, or TASKORA_BOARD_USER, "
                 f"TASKORA_BOARD_PASSWORD and TASKORA_BOARD_SECRET), or add --insecure to "
                 f"serve {bind} to anyone who can reach it")  # fmt: skip
        error_line(f"warning: serving {bind} with no login (--insecure): anyone who can reach "
                   "it can read every job and change them")  # fmt: skip
    asgi = create_board(
        app,
        base_path=base_path,
        read_only=read_only,
        auth=auth,
        redact=[*cfg.board.redact, *(redact or [])],
        health=HealthThresholds(latency_ms, max_depth),
        # no login on loopback: only pages this machine names as itself (no DNS rebinding)
        allowed_hosts=LOCAL_NAMES if auth is None and _loopback(bind) else None,
    )
    serving = {"host": bind, "port": port, "base_path": asgi.state.board.settings.base_path,
               "login": auth is not None, "read_only": read_only}  # fmt: skip
    if check:
        _resolve(bind, port)  # a host that names no address fails the check; a port in use
        # does not: it may be the board this check comes before a restart of
        report_check(app, serving, as_json, _where(serving))
        return
    _serve(asgi, serving, as_json)


def _resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    """The addresses ``host`` names for listening on ``port`` (each to bind a socket to)."""
    import socket

    name = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        found = socket.getaddrinfo(
            name or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except OSError as exc:
        fail(USAGE, f"--host {host!r} names no address here ({exc.strerror or exc}); give "
             "one of this machine's names or addresses")  # fmt: skip
    return list(dict.fromkeys(found))


def _listen(host: str, port: int) -> list[socket.socket]:
    """Sockets listening on every address ``host`` names, as uvicorn would bind them, but bound
    here: a taken port is then one line and exit 2 (uvicorn logs it, exits from inside its task
    and leaves a traceback)."""
    import socket

    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in _resolve(host, port):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # its own socket, beside the IPv4 one
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(BACKLOG)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        fail(USAGE, f"the board cannot listen on {host} port {port}: {exc.strerror or exc}; "
             "pick another --port, or stop what serves there")  # fmt: skip
    return sockets


def _where(serving: dict[str, Any]) -> str:
    host = serving["host"] if ":" not in serving["host"] else f"[{serving['host']}]"
    notes = "login required" if serving["login"] else "no login"
    notes += ", read-only" if serving["read_only"] else ""
    return f"http://{host}:{serving['port']}{serving['base_path'] or ''}/ ({notes})"


def _serve(asgi: Any, serving: dict[str, Any], as_json: bool) -> None:
    import asyncio

    import uvicorn

    sockets = _listen(serving["host"], serving["port"])
    # open SSE streams never end by themselves: Ctrl-C closes them after a short grace
    settings = uvicorn.Config(asgi, log_level="warning", timeout_graceful_shutdown=GRACE_S)
    server = uvicorn.Server(settings)

    async def run() -> None:
        task = asyncio.create_task(server.serve(sockets=sockets))
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        if server.started:
            shown = serving | {"port": sockets[0].getsockname()[1]}
            if as_json:
                print_json(shown)
            else:
                print(f"taskora board on {_where(shown)}; Ctrl-C stops it", flush=True)
        await task

    asyncio.run(run())
