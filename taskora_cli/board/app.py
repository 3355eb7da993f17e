"""``create_board(app, ...)``: the board as one ASGI app (Starlette), to serve with
``taskora board`` or mount in your own server."""

from __future__ import annotations

import contextlib
import html
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from .api import Api
from .context import BoardContext
from .errors import handlers
from .guard import api as api_guard
from .guard import page
from .live import Live
from .login import Login
from .metrics import Metrics
from .redaction import Redactor
from .settings import AuthHook, BoardSettings, HealthThresholds, SessionAuth, normalized_base

if TYPE_CHECKING:
    from ..app_client import AppClient

STATIC = Path(__file__).parent / "static"


class _Root:
    """Remembers where the board is mounted (its ``root_path``) before routing strips it,
    so redirects and cookies name the path the browser sees."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = dict(scope)
            scope.setdefault("taskora.board.root", scope.get("root_path", ""))
        await self.inner(scope, receive, send)


def create_board(
    app: AppClient,
    *,
    base_path: str = "",
    read_only: bool = False,
    auth: SessionAuth | AuthHook | None = None,
    redact: Sequence[str] = (),
    health: HealthThresholds | None = None,
    stats_interval_s: float = 3.0,
    title: str = "taskora",
    extra_routes: Sequence[BaseRoute] = (),
    allowed_hosts: Sequence[str] | None = None,
) -> Starlette:
    """The board for ``app``: the page, the REST API under ``{base_path}/api``, live events
    at ``{base_path}/api/events``, and ``/metrics`` and ``/healthz`` at its root.

    Mount it in your server (``app.mount("/board", create_board(taskora_app))``) or serve it
    alone (``taskora board``). docs/board.md lists every endpoint.

    Args:
        app: the taskora app (``Taskora``) whose server the board reads.
        base_path: where the page and API live inside this ASGI app ("" = its root; the CLI
            uses "/board").
        read_only: answer every mutation 403.
        auth: a :class:`SessionAuth` (login form, signed cookie), or a hook of your own run
            on every API request (None lets it through, a Response answers instead). None:
            no login; serve it on a trusted interface only.
        redact: field names masked (any case, any depth) in everything the board sends.
        health: the thresholds over which ``/healthz`` answers 503.
        stats_interval_s: how often the live stream sends counts.
        title: the page's title.
        extra_routes: more routes served by the same app (e.g. a WebSocket gateway), at its
            root, behind your own checks.
        allowed_hosts: answer only requests whose Host header names one of these (400
            otherwise): against DNS rebinding, a board without a login on 127.0.0.1 takes
            ["127.0.0.1", "localhost"] (``taskora board`` does). None: any.

    Raises:
        ConfigError: a session secret shorter than 32 characters (from SessionAuth).
    """
    settings = BoardSettings(
        base_path=normalized_base(base_path), read_only=read_only, auth=auth,
        redact=tuple(redact), health=health or HealthThresholds(),
        stats_interval_s=stats_interval_s, title=title,
    )  # fmt: skip
    board = BoardContext(app, settings, Redactor(settings.redact))
    metrics = Metrics(board)
    api = Api(board)
    live = Live(board)
    events = Route("/events", api_guard(board, live.events), methods=["GET"])
    prefixed: list[BaseRoute] = [Mount("/api", routes=[*api.routes(), events])]
    if isinstance(auth, SessionAuth):
        prefixed += Login(board).routes()
    if STATIC.is_dir():
        prefixed.append(Mount("/static", app=StaticFiles(directory=STATIC), name="static"))
    index = page(board, _index(board))
    prefixed += [Route("/", index, methods=["GET"]), Route("/{path:path}", index, methods=["GET"])]

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await metrics.aclose()

    routes: list[BaseRoute] = [
        Route("/metrics", metrics.metrics, methods=["GET"]),
        Route("/healthz", metrics.healthz, methods=["GET"]),
        *extra_routes,
    ]
    if settings.base_path:
        routes.append(Mount(settings.base_path, routes=prefixed))
    else:
        routes += prefixed
    asgi = Starlette(routes=routes, exception_handlers=handlers(), lifespan=lifespan)
    asgi.state.board = board
    asgi.state.metrics = metrics
    asgi.add_middleware(_Root)
    if allowed_hosts is not None:
        asgi.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    return asgi


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""The page runs only its own script and styles, and no other site may frame it."""


def _index(board: BoardContext) -> Callable[[Request], Awaitable[Response]]:
    async def index(request: Request) -> Response:
        page_file = STATIC / "index.html"
        if not page_file.is_file():
            return Response("the board's page is not installed; the API is at ./api\n", 404)
        base = html.escape(board.prefix(request), quote=True)
        # the files' age in their URLs: a browser never runs an upgraded page with old script
        version = str(max(int(f.stat().st_mtime) for f in STATIC.iterdir()))
        text = page_file.read_text(encoding="utf-8").replace("__BASE__", base)
        text = text.replace("__VERSION__", version)
        return HTMLResponse(text, headers=SECURITY_HEADERS)

    return index
