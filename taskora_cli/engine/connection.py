"""Open redis-py asyncio clients that reconnect on their own after a server restart."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..errors import ServerError
from ..urls import mask_url

RECONNECT_ATTEMPTS = 20
"""With a 1 s backoff cap this rides out a server restart of ~15 s before a call fails."""


def open_client(url: str, *, blocking: bool = False) -> Redis:
    """A client for ``url`` (redis://, rediss://, unix://).

    Args:
        url: where the server is.
        blocking: True for a connection that waits in BZPOPMIN/XREAD: no socket timeout, so a
            long block is not mistaken for a dead server.
    """
    retry = Retry(ExponentialBackoff(cap=1.0, base=0.02), RECONNECT_ATTEMPTS)
    try:
        return Redis.from_url(
            url,
            decode_responses=True,
            retry=retry,
            retry_on_error=[RedisConnectionError, RedisTimeoutError, ConnectionResetError],
            socket_timeout=None if blocking else 30.0,
            socket_connect_timeout=5.0,
            health_check_interval=0 if blocking else 30,
        )
    except ValueError as exc:
        raise ServerError(
            f"cannot use the server URL {mask_url(url)!r}: {exc}; "
            "write it as redis://host:6379/0, rediss://... or unix:///path/to.sock"
        ) from exc
