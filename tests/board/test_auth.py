"""The board's login: the session form and its signed cookie, the custom hook, /metrics'
Basic credentials, and the secret's minimum length."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from board_support import SECRET, client
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from taskora_cli import ConfigError, Taskora
from taskora_cli.board import SessionAuth, auth_from_config, create_board
from taskora_cli.config import load_config


def check(username: str, password: str) -> bool:
    return (username, password) == ("ops", "right")


def test_a_short_secret_is_a_startup_error() -> None:
    with pytest.raises(ConfigError, match="at least 32 characters"):
        SessionAuth("short", check)


async def test_session_login_guards_pages_api_and_metrics(app: Taskora) -> None:
    board = create_board(app, base_path="/board", auth=SessionAuth(SECRET, check))
    async with client(board) as http:
        page = await http.get("/board/jobs?state=failed")
        assert page.status_code == 303
        assert page.headers["location"] == "/board/login?redirect=%2Fboard%2Fjobs%3Fstate%3Dfailed"
        assert "<form" in (await http.get("/board/login")).text
        assert (await http.get("/board/api/overview")).json() == {"error": "Unauthorized"}
        assert (await http.get("/board/api/overview")).status_code == 401
        assert (await http.post("/board/api/queues/slow/pause")).status_code == 401
        assert (await http.get("/board/api/events")).status_code == 401
        assert (await http.get("/metrics")).status_code == 401

        wrong = {"username": "ops", "password": "wrong", "redirect": "/board/jobs"}
        assert (await http.post("/board/auth/login", data=wrong)).status_code == 401
        assert not http.cookies
        evil = {"username": "ops", "password": "right", "redirect": "https://evil.example/"}
        cross = await http.post(
            "/board/auth/login", data=evil, headers={"Origin": "https://evil.example"}
        )
        assert cross.status_code == 403
        done = await http.post("/board/auth/login", data=evil)
        assert (done.status_code, done.headers["location"]) == (303, "/board/")  # not evil
        cookie = done.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/board" in cookie
        assert "secure" not in cookie  # plain HTTP here; HTTPS gets Secure
        assert (await http.get("/board/api/overview")).status_code == 200

        forged = http.cookies["taskora_board_session"][:-2] + "xx"
        http.cookies.set("taskora_board_session", forged)
        assert (await http.get("/board/api/overview")).status_code == 401
        await http.post("/board/auth/logout")
        assert (await http.get("/board/api/overview")).status_code == 401

    async with client(create_board(app, auth=SessionAuth(SECRET, check))) as scraper:
        basic = base64.b64encode(b"ops:right").decode()
        answer = await scraper.get("/metrics", headers={"Authorization": f"Basic {basic}"})
        assert answer.status_code == 200
        bad = base64.b64encode(b"ops:wrong").decode()
        answer = await scraper.get("/metrics", headers={"Authorization": f"Basic {bad}"})
        assert answer.status_code == 401


async def test_an_expired_session_ends_and_a_used_one_rolls(app: Taskora) -> None:
    auth = SessionAuth(SECRET, check, ttl_ms=3_600_000)
    async with client(create_board(app, auth=auth)) as http:
        await http.post("/auth/login", data={"username": "ops", "password": "right"})
        answer = await http.get("/api/config")
        assert answer.status_code == 200 and "max-age=3600" in answer.headers["set-cookie"].lower()
        from taskora_cli.board.session import sign

        http.cookies.set("taskora_board_session", sign(SECRET, "ops", 1))  # expired in 1970
        assert (await http.get("/api/config")).status_code == 401


async def test_a_custom_hook_guards_the_api_and_leaves_the_page_to_you(app: Taskora) -> None:
    async def hook(request: Request) -> Response | None:
        if request.headers.get("authorization") != "Bearer good":
            return JSONResponse({"error": "no token"}, 401)
        return None

    async with client(create_board(app, auth=hook)) as http:
        assert (await http.get("/api/overview")).status_code == 401
        ok = await http.get("/api/overview", headers={"Authorization": "Bearer good"})
        assert ok.status_code == 200
        assert (await http.get("/")).status_code in (200, 404)  # never a login redirect
        assert (await http.get("/api/config", headers={"Authorization": "Bearer good"})).json()[
            "auth"
        ] == "hook"


def test_the_login_comes_from_the_config_and_needs_a_secret(tmp_path: Path) -> None:
    def loaded(env: dict[str, str]) -> Any:
        return auth_from_config(load_config(env=env, cwd=tmp_path))

    assert loaded({}) is None
    env = {"TASKORA_BOARD_USER": "ops", "TASKORA_BOARD_PASSWORD": "right"}
    with pytest.raises(ConfigError, match="cookie secret"):
        loaded(env)
    auth = loaded(env | {"TASKORA_BOARD_SECRET": SECRET})
    assert auth.authenticate("ops", "right") and not auth.authenticate("ops", "wrong")
    assert auth.ttl_ms is None
    renewed = loaded(env | {"TASKORA_BOARD_SECRET": SECRET, "TASKORA_BOARD_SESSION_TTL": "30m"})
    assert renewed.ttl_ms == 30 * 60_000
    (tmp_path / "board_auth.py").write_text("def authenticate(u, p):\n    return u == 'x'\n")
    (tmp_path / "taskora.toml").write_text(
        f'[board]\nauthenticate = "board_auth:authenticate"\nsecret = "{SECRET}"\n'
        'redact = ["password"]\nsession_ttl = "8h"\n'
    )
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        config = load_config(env={}, cwd=tmp_path)
        assert config.board.redact == ("password",)
        auth = auth_from_config(config)
        assert auth is not None and auth.authenticate("x", "") is True
        assert auth.ttl_ms == 8 * 3_600_000
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("board_auth", None)
