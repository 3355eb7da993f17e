"""A server URL checked once, where it is read: what is wrong with it, in words a fix follows.

redis-py accepts some bad URLs until the first connection (``redis://host:6379/abc`` fails
deep inside the connect, as a traceback) and rejects others as a connection failure (a port of
99999). Both are configuration mistakes, so they are caught here, before anything connects.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from .urls import mask_url

SCHEMES = ("redis", "rediss", "unix")
FORMS = "redis://host:6379/0 (user:pass@host with a password), rediss://... or unix:///path/to.sock"
"""How a server URL is written, for error messages."""


def url_problem(url: str) -> str | None:
    """What is wrong with the server URL ``url``, as ``<problem>, got "<url, password
    masked>"; write it as ...``; None when redis-py can connect with it as it stands (the
    server may still be down)."""
    problem = _problem(url)
    if problem is None:
        return None
    shown = mask_url(url)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return f"{problem}, got {json.dumps(shown)}; write it as {FORMS}"  # as config errors quote


def _problem(url: str) -> str | None:
    if not url.strip():
        return "the URL is empty"
    if any(c.isspace() or not c.isprintable() for c in url):
        return "the URL holds a space or a control character"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port that is not 0-65535 digits
    except ValueError as error:
        return _port_problem(str(error))
    scheme = parts.scheme.lower()
    if scheme in ("valkey", "valkeys"):
        return f"use {'rediss' if scheme == 'valkeys' else 'redis'}:// for a Valkey server too"
    if scheme not in SCHEMES or "://" not in url:
        return "expected a URL starting with redis://, rediss:// or unix://"
    where = _place_problem(scheme, parts.hostname, port, parts.path)
    if where is not None:
        return where
    db_values = parse_qs(parts.query).get("db", [])
    path_db = parts.path.strip("/") if scheme != "unix" else ""
    for db in [path_db, *db_values] if path_db else db_values:
        if not db.isdigit() or not db.isascii():
            return f"the database ({db!r}) must be a whole number >= 0, e.g. /0"
    return None


def _place_problem(scheme: str, host: str | None, port: int | None, path: str) -> str | None:
    if scheme == "unix":
        return None if path else "a unix:// URL needs the socket's path"
    if not host:
        return "the URL names no host"
    if port == 0:
        return "the port must be between 1 and 65535, got 0"
    return None


def _port_problem(error: str) -> str:
    if "out of range" in error:
        return "the port must be between 1 and 65535"
    return "the port must be a whole number between 1 and 65535"
