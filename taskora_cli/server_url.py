"""A server URL checked once, where it is read: what is wrong with it, in words a fix follows.

redis-py accepts some bad URLs until the first connection (``redis://host:6379/abc`` fails
deep inside the connect, as a traceback) and rejects others as a connection failure (a port of
99999). Both are configuration mistakes, so they are caught here, before anything connects.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from .errors import ConfigError
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


TLS_OPTIONS = {"ca": "ssl_ca_certs", "cert": "ssl_certfile", "key": "ssl_keyfile"}
"""[tls] key -> the redis-py connection option (URL query argument) it becomes."""


def with_tls(url: str, files: dict[str, Path | None]) -> str:
    """``url`` with the [tls] files (``{"ca": path, "cert": ..., "key": ...}``) added as the
    query arguments redis-py passes to its SSL connections; options the URL names itself win.

    Raises:
        ConfigError: TLS files for a URL that is not rediss://, or a file that is not there.
    """
    given = {name: file for name, file in files.items() if file is not None}
    if not given:
        return url
    parts = urlsplit(url)
    if parts.scheme.lower() != "rediss":
        names = ", ".join(f"tls.{name}" for name in given)
        raise ConfigError(
            f"{names} set, but the server URL is {parts.scheme}://: TLS needs rediss:// "
            f"(e.g. rediss://{parts.hostname or 'host'}:6380/0), or drop the [tls] files"
        )
    for name, file in given.items():
        if not file.is_file():
            raise ConfigError(
                f"tls.{name}: no such file {str(file)!r}; give the path of the PEM file "
                "(relative paths start at the config file's folder)"
            )
    query = parse_qs(parts.query)
    added = {TLS_OPTIONS[n]: str(f) for n, f in given.items() if TLS_OPTIONS[n] not in query}
    if "ca" in given and "ssl_cert_reqs" not in query:
        added["ssl_cert_reqs"] = "required"
    joined = "&".join(q for q in (parts.query, urlencode(added)) if q)
    return parts._replace(query=joined).geturl()
