"""The session login: a server-rendered form at ``{base}/login`` that posts ``username`` and
``password`` to ``{base}/auth/login``, and ``{base}/auth/logout``."""

from __future__ import annotations

import html
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .context import BoardContext
from .guard import accepted, same_origin, set_session
from .settings import SessionAuth

MAX_FORM = 16_384
"""The largest login form read: a username and a password."""

FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} — log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
:root {{ color-scheme: light dark; font-family: system-ui, sans-serif; }}
body {{ display: grid; place-items: center; min-height: 90vh; }}
form {{ display: grid; gap: .6rem; min-width: 16rem; }}
.error {{ color: #c0392b; }}
</style></head>
<body><form method="post" action="{action}">
<h1>{title}</h1>{error}
<label>Username <input name="username" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"
 required></label>
<input type="hidden" name="redirect" value="{redirect}">
<button type="submit">Log in</button>
</form></body></html>
"""


class Login:
    """The login form and its two actions, for a board with session auth."""

    def __init__(self, board: BoardContext) -> None:
        self.board = board
        assert isinstance(board.settings.auth, SessionAuth)
        self.auth: SessionAuth = board.settings.auth

    def routes(self) -> list[Route]:
        return [
            Route("/login", self.form, methods=["GET"]),
            Route("/auth/login", self.login, methods=["POST"]),
            Route("/auth/logout", self.logout, methods=["POST"]),
        ]

    def _page(
        self, request: Request, redirect: str, error: str = "", status: int = 200
    ) -> Response:
        prefix = self.board.prefix(request)
        shown = f'<p class="error">{html.escape(error)}</p>' if error else ""
        body = FORM.format(
            title=html.escape(self.board.settings.title), action=f"{prefix}/auth/login",
            error=shown, redirect=html.escape(redirect),
        )  # fmt: skip
        return HTMLResponse(body, status, headers={"Cache-Control": "no-store"})

    async def form(self, request: Request) -> Response:
        return self._page(request, request.query_params.get("redirect", ""))

    def _landing(self, request: Request, asked: str) -> str:
        """Where to go after logging in: the page asked for when it is one of the board's
        (never another site: no open redirect), else the board's front page."""
        prefix = self.board.prefix(request)
        if asked.startswith(prefix + "/") and not asked.startswith("//") and "\\" not in asked:
            return asked
        return prefix + "/"

    async def login(self, request: Request) -> Response:
        if not same_origin(request):
            return self.board.error(403, "cross-site request refused (Origin mismatch)")
        body = await request.body()
        if len(body) > MAX_FORM:
            return self.board.error(413, "login form too large")
        fields = parse_qs(body.decode("utf-8", "replace"))
        username = fields.get("username", [""])[0]
        password = fields.get("password", [""])[0]
        redirect = fields.get("redirect", [""])[0]
        if not username or not await accepted(self.auth, username, password):
            return self._page(request, redirect, "Wrong username or password.", 401)
        response = RedirectResponse(self._landing(request, redirect), status_code=303)
        set_session(self.board, request, response, username)
        return response

    async def logout(self, request: Request) -> Response:
        if not same_origin(request):
            return self.board.error(403, "cross-site request refused (Origin mismatch)")
        prefix = self.board.prefix(request)
        response = RedirectResponse(f"{prefix}/login", status_code=303)
        response.delete_cookie(
            self.auth.cookie_name, path=prefix or "/", httponly=True, samesite="lax"
        )
        return response
