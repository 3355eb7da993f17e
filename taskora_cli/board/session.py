"""The signed, stateless session cookie: who logged in and until when, HMAC-SHA256 signed with
the board's secret. No server-side state, so any number of board processes share sessions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())


def sign(secret: str, user: str, expires_ms: int | None) -> str:
    """A cookie value naming ``user``, valid until ``expires_ms`` (None: no server-side
    expiry; the cookie is a browser-session one)."""
    body = _b64(json.dumps({"u": user, "exp": expires_ms}, separators=(",", ":")).encode())
    return f"{body}.{_mac(secret, body)}"


def verify(secret: str, value: str, now_ms: int) -> str | None:
    """The user a cookie value names, or None when it is forged, malformed or expired."""
    body, dot, mac = value.partition(".")
    if not dot or not hmac.compare_digest(mac, _mac(secret, body)):
        return None
    try:
        claims: Any = json.loads(_unb64(body))
    except ValueError:
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("u"), str):
        return None
    expires = claims.get("exp")
    if expires is not None and (not isinstance(expires, int) or expires <= now_ms):
        return None
    return str(claims["u"])
