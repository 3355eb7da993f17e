"""Open redis-py asyncio clients that reconnect on their own after a server restart, restart a
dead embedded server, and raise only our ServerError (see :mod:`.failures`)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable
from typing import Any, cast

import redis
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.asyncio.retry import Retry
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException

from ..errors import ServerError
from ..urls import mask_url
from .failures import (
    BLOCK_MARGIN_S,
    CONNECT_TIMEOUT_S,
    MAX_BLOCK_S,
    RECONNECT_ATTEMPTS,
    REPLY_TIMEOUT_S,
    ServerLink,
    backoff,
    is_tls_refusal,
)


class _Client(Redis):
    """A redis-py client whose every command and pipeline goes through its :class:`ServerLink`."""

    link: ServerLink

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        run = Redis.execute_command
        return await self.link.guard(lambda: run(self, *args, **options))  # type: ignore[no-untyped-call]

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        self.link.closed = True
        await super().aclose(close_connection_pool)

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        pipe = _Pipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)
        pipe.link = self.link
        return pipe


class _Pipeline(Pipeline):
    link: ServerLink

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        # A pipeline is sent again whole after a restart: ours are reads or idempotent writes.
        stack = list(self.command_stack)

        async def attempt() -> list[Any]:
            self.command_stack = list(stack)
            return await Pipeline.execute(self, raise_on_error)

        return await self.link.guard(attempt)


def _retry(resent_on: tuple[type[Exception], ...]) -> Retry:
    """Reconnect retries, but none for a refused TLS handshake (it stays refused)."""
    try:
        return Retry(
            backoff(), RECONNECT_ATTEMPTS, resent_on, is_retryable=lambda e: not is_tls_refusal(e)
        )
    except TypeError:  # redis-py before is_retryable: a refused handshake is retried, then told
        return Retry(backoff(), RECONNECT_ATTEMPTS, supported_errors=resent_on)


class _ClusterClient(RedisCluster):
    """redis-py's cluster client (slot map, MOVED and ASK, a connection pool per node), its
    every command and pipeline through its :class:`ServerLink` as :class:`_Client`'s."""

    link: ServerLink

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        run = RedisCluster.execute_command
        return await self.link.guard(lambda: _outage_kept(run(self, *args, **kwargs)))

    async def aclose(self, *args: Any, **kwargs: Any) -> None:
        self.link.closed = True
        try:
            await super().aclose(*args, **kwargs)
        finally:
            # redis-py stops at the first node whose disconnect raised, leaving the others'
            # sockets (the startup nodes' too) open: close every one regardless
            nodes = self.nodes_manager
            for node in [*nodes.startup_nodes.values(), *nodes.nodes_cache.values()]:
                with contextlib.suppress(Exception):
                    await node.disconnect()

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> Any:
        pipe = _ClusterPipeline(self, transaction)  # type: ignore[abstract]  # stub artefact
        pipe.link = self.link
        return pipe


class _ClusterPipeline(ClusterPipeline):
    link: ServerLink

    def unlink(self, *names: Any) -> Any:
        # redis-py's is a coroutine here, so ``pipe.unlink(key)`` as on the plain pipeline
        # would queue nothing: queue it as the plain pipeline does (one slot per call).
        return self.execute_command("UNLINK", *names)

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
        run = ClusterPipeline.execute
        return await self.link.guard(
            lambda: _outage_kept(run(self, raise_on_error, allow_redirections))
        )


async def _outage_kept(call: Awaitable[Any]) -> Any:
    """``call``, a cluster that lost a slot's master (no node serves the slot while a replica
    is promoted: redis-py raises an exception of its own, not a RedisError) failing as an
    unreachable server does, so callers that ride out outages ride this one out too."""
    try:
        return await call
    except RedisClusterException as exc:
        raise RedisConnectionError(f"the cluster is not serving every slot: {exc}") from exc


def _driver_info() -> dict[str, Any]:
    """What CLIENT SETINFO says, as redis-py would (its name and version), given up front: left
    to itself, redis-py >= 7 asks importlib.metadata for its version, a scan of sys.path that
    costs a starting worker ~2 ms before its first claim. Older redis-py: its own default."""
    try:
        from redis.driver_info import DriverInfo
    except ImportError:  # pragma: no cover - redis-py before driver_info (< 7)
        return {}
    return {"driver_info": DriverInfo(name="redis-py", lib_version=redis.__version__)}


def open_client(
    url: str,
    *,
    blocking: bool = False,
    reply_timeout_s: float = REPLY_TIMEOUT_S,
    cluster: bool = False,
) -> Redis:
    """A client for ``url`` (redis://, rediss://, unix://).

    Args:
        url: where the server is.
        cluster: the server is a cluster node: a cluster client (one connection pool per
            master, routed by slot), typed as the plain client whose commands it shares.
        blocking: True for a connection that waits in BZPOPMIN/XREAD (up to MAX_BLOCK_S): its
            replies are given that much longer, so a long block is not taken for a dead server.
        reply_timeout_s: how long a reply may take before the server is taken for gone.
    """
    link = ServerLink(url)
    # Never on a timeout: the server may have run the command, and a paused server would run
    # every copy once it wakes up.
    resent_on = (RedisConnectionError, ConnectionResetError)
    retry = _retry(resent_on)
    kind: Any = _ClusterClient if cluster else _Client
    options: dict[str, Any] = {} if cluster else {"retry_on_error": list(resent_on)}
    options.update(_driver_info())
    try:
        client = kind.from_url(
            url,
            decode_responses=True,
            # lossless bytes <-> str: a binary payload (msgpack) comes back as the str it was
            # sent as (see serialization.text_from_bytes); valid UTF-8 is unaffected
            encoding_errors="surrogateescape",
            retry=retry,
            socket_timeout=reply_timeout_s + (MAX_BLOCK_S + BLOCK_MARGIN_S if blocking else 0),
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            health_check_interval=0 if blocking else 30,
            **options,
        )
    except ValueError as exc:
        raise ServerError(
            f"cannot use the server URL {mask_url(url)!r}: {exc}; "
            "write it as redis://host:6379/0, rediss://... or unix:///path/to.sock"
        ) from exc
    assert isinstance(client, _Client | _ClusterClient)
    client.link = link
    return cast(Redis, client)
