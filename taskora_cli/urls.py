"""Server URLs as they may be shown: with any password masked."""

from __future__ import annotations

import re

MASK = "****"

# The patterns are compiled on first use (re caches them): a one-shot command that masks no
# URL does not pay for them at import.

# scheme://[userinfo@]rest: the userinfo ends at the last "@" before the path.
_AUTHORITY = r"(?s)^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#]*@)?(?P<rest>.*)$"
_PASSWORD_PARAM = r"(?i)(?P<key>(?:^|[?&])password=)[^&#]*"
_TLS_FILE_PARAM = r"(?i)&?\bssl_(?:ca_certs|certfile|keyfile|cert_reqs)=[^&#]*"
"""The [tls] files added to the URL (see server_url.with_tls): `taskora config` shows them."""


def mask_url(url: str) -> str:
    """``url`` with its password (``user:pass@``, ``secret@``, ``?password=``) shown as ``****``.

    Every place that prints or logs a server URL goes through this, so a credential in
    ``TASKORA_URL`` never reaches a banner, an error, ``taskora config`` or ``doctor --json``.
    The URL is masked as text rather than parsed and rebuilt, so it shows as the user wrote
    it apart from the secret and the TLS file arguments (the [tls] table names those), and a
    URL too broken to parse is masked too.
    """
    match = re.match(_AUTHORITY, url)
    if match is None:
        return re.sub(_PASSWORD_PARAM, lambda m: m["key"] + MASK, url)
    userinfo = match["userinfo"] or ""
    if userinfo:
        user, has_secret, _ = userinfo[:-1].partition(":")
        # redis://secret@host means the password alone: redis-py reads a bare userinfo so.
        userinfo = f"{user}:{MASK}@" if has_secret else f"{MASK}@"
    rest = _mask_query(match["rest"])
    return f"{match['scheme']}{userinfo}{rest}"


_URL_IN_TEXT = r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+"


def mask_urls_in(text: str) -> str:
    """``text`` with every URL in it masked (see :func:`mask_url`): the last guard before an
    error message, from wherever it was raised, reaches the terminal or a JSON report."""
    return re.sub(_URL_IN_TEXT, lambda m: mask_url(m[0]), text)


def _mask_query(rest: str) -> str:
    path, sep, query = rest.partition("?")
    if not sep:
        return rest
    query = re.sub(_TLS_FILE_PARAM, "", query).lstrip("&")
    masked = re.sub(_PASSWORD_PARAM, lambda m: m["key"] + MASK, query)
    return path + sep + masked if masked else path
