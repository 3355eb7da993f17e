"""Who may do what: the login (session cookie or the app's own hook), read-only mode, and the
same-origin check that keeps other sites from making a logged-in browser change anything."""

from __future__ import annotations

import base64
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .context import BoardContext
from .session import sign, verify
from .settings import SessionAuth

Handler = Callable[[Request], Awaitable[Response]]


def now_ms() -> int:
    return int(time.time() * 1000)


def session_user(board: BoardContext, request: Request) -> str | None:
    """The logged-in user the request's session cookie names, or None."""
    auth = board.settings.auth
    if not isinstance(auth, SessionAuth):
        return None
    value = request.cookies.get(auth.cookie_name)
    return verify(auth.secret, value, now_ms()) if value else None


def set_session(board: BoardContext, request: Request, response: Response, user: str) -> None:
    """Give the browser a (fresh) session cookie for ``user``."""
    auth = board.settings.auth
    assert isinstance(auth, SessionAuth)
    expires = None if auth.ttl_ms is None else now_ms() + auth.ttl_ms
    response.set_cookie(
        auth.cookie_name,
        sign(auth.secret, user, expires),
        max_age=None if auth.ttl_ms is None else auth.ttl_ms // 1000,
        path=board.prefix(request) or "/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


async def _hook(board: BoardContext, request: Request) -> Response | None:
    auth = board.settings.auth
    assert callable(auth) and not isinstance(auth, SessionAuth)
    outcome: Any = auth(request)
    if inspect.isawaitable(outcome):
        outcome = await outcome
    return outcome if isinstance(outcome, Response) else None


def same_origin(request: Request) -> bool:
    """Whether a state-changing request comes from the board's own pages: its Origin (else
    Referer) names this host. A request with neither is not a browser's (browsers send Origin
    with every cross-site POST), so tools like curl pass."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if not claimed:
        return True
    if claimed == "null":  # sandboxed frames, file:// pages: never the board's own
        return False
    parts = urlsplit(claimed)
    host = request.headers.get("host", "")
    return parts.netloc == host and parts.scheme in ("http", "https")


def api(board: BoardContext, handler: Handler, *, mutation: bool = False) -> Handler:
    """``handler`` behind the login (401 without it), and for a mutation behind read-only
    mode and the same-origin check (403)."""

    async def guarded(request: Request) -> Response:
        auth = board.settings.auth
        user: str | None = None
        if isinstance(auth, SessionAuth):
            user = session_user(board, request)
            if user is None:
                return board.error(401, "Unauthorized")
        elif auth is not None:
            refused = await _hook(board, request)
            if refused is not None:
                return refused
        if mutation:
            if board.settings.read_only:
                return board.error(403, "the board is read-only")
            if not same_origin(request):
                return board.error(403, "cross-site request refused (Origin mismatch)")
        response = await handler(request)
        if user is not None and isinstance(auth, SessionAuth) and auth.ttl_ms is not None:
            set_session(board, request, response, user)  # rolling expiry
        return response

    return guarded


def page(board: BoardContext, handler: Handler) -> Handler:
    """``handler`` (an HTML page) behind the session login: without one, a redirect to the
    login form that comes back here. A custom hook guards the API only."""

    async def guarded(request: Request) -> Response:
        if isinstance(board.settings.auth, SessionAuth) and session_user(board, request) is None:
            back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            login = f"{board.prefix(request)}/login?redirect={quote(back, safe='')}"
            return RedirectResponse(login, status_code=303)
        return await handler(request)

    return guarded


async def metrics_allowed(board: BoardContext, request: Request) -> Response | None:
    """None when ``/metrics`` may answer: no login configured; a session cookie or HTTP
    Basic credentials ``authenticate`` accepts (Prometheus' ``basic_auth``); or the hook lets
    the request through. Else the refusal."""
    auth = board.settings.auth
    if auth is None:
        return None
    if not isinstance(auth, SessionAuth):
        return await _hook(board, request)
    if session_user(board, request) is not None:
        return None
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            username, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            username = password = ""
        if username and await accepted(auth, username, password):
            return None
    return Response(
        "Unauthorized", 401, headers={"WWW-Authenticate": 'Basic realm="taskora board"'}
    )


async def accepted(auth: SessionAuth, username: str, password: str) -> bool:
    """Whether ``authenticate`` lets ``username`` in (a plain one runs in a thread: it may
    hash slowly or ask a database)."""
    import asyncio

    if inspect.iscoroutinefunction(auth.authenticate):
        outcome = await auth.authenticate(username, password)
    else:
        outcome = await asyncio.to_thread(auth.authenticate, username, password)
        if inspect.isawaitable(outcome):
            outcome = await outcome
    return bool(outcome)
