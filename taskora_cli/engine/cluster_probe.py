"""Whether a server runs in cluster mode: asked over the lean blocking connection where it
serves the URL, so a one-shot command to a plain server never imports redis-py (or asyncio)."""

from __future__ import annotations

import functools

from .failures import CONNECT_TIMEOUT_S, kinds
from .resp import supports


@functools.cache
def detect_cluster(url: str) -> bool:
    """Whether the server at ``url`` runs in cluster mode (its INFO says ``cluster_enabled:1``).

    Asked once per URL and process, blocking (the engine needs the answer before it builds
    its connections, and runtime.engine() calls it in a thread). A server that cannot be
    asked is taken for standalone, as before cluster support: the engine's first call then
    reports it unreachable in the usual words.
    """
    if url.startswith("unix://"):
        return False
    try:
        info = _cluster_info(url)
    except kinds().failure_or_ours:
        return False
    except ValueError:  # a URL redis-py cannot read
        return False
    for line in info.splitlines():
        name, _, value = line.partition(":")
        if name == "cluster_enabled":
            return bool(int(value))
    return False


def _cluster_info(url: str) -> str:
    """The ``INFO cluster`` section of the server at ``url``."""
    if supports(url):
        from .blocking_wire import BlockingWire

        wire = BlockingWire(url, reply_timeout_s=CONNECT_TIMEOUT_S)
        try:
            return str(wire.call("INFO", "cluster", resend=True))
        finally:
            wire.close()
    import redis  # TLS: redis-py's client

    client = redis.Redis.from_url(
        url, socket_timeout=CONNECT_TIMEOUT_S, socket_connect_timeout=CONNECT_TIMEOUT_S
    )
    with client:
        section = client.info("cluster")
    return f"cluster_enabled:{int(section.get('cluster_enabled', 0))}"
