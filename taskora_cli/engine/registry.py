"""The engine's worker registry: one ZSET of worker ids scored by their last heartbeat, and one
HASH per worker. Every key carries the ``{_global}`` tag, so each call touches one slot.

Kept beside engine.py rather than in it: engine.py holds the job scripts, this only the
workers' own bookkeeping.

Liveness runs on the server's clock, unlike job timing (which takes ``now`` from the caller, so
tests can drive it): a beat is stamped with the server's TIME and a reaper measures its age
against the server's TIME too. Both ends read one clock, so a worker on a host whose clock is
minutes off is neither reaped while it beats nor kept alive after it stops. A test makes a
worker gone by letting it stop beating, not by moving a virtual clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from . import keys as k

if TYPE_CHECKING:
    from .runner import Runner


class Workers:
    """The worker registry: heartbeats, the server's clock, and the registered workers."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def beat(self, worker_id: str, fields: Mapping[str, str | int], now_ms: int) -> None:
        """Register ``worker_id`` (or refresh it): its fields and last beat, in one round trip.

        The beat (``beat_ms``) is the server's time; ``now_ms``, the worker's own clock, is kept
        as ``clock_ms``."""
        keys = [k.worker_key(self.runner.prefix, worker_id), k.workers_key(self.runner.prefix)]
        args: list[str | int] = [worker_id, now_ms]
        for name, value in fields.items():
            args += [name, value]
        await self.runner.run("worker_beat", keys, args)

    async def server_now_ms(self) -> int:
        """The server's clock (ms since the epoch): what a beat's age is measured against."""
        seconds, micros = await self.runner.client.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def remove(self, worker_id: str) -> None:
        """Drop ``worker_id`` from the registry."""
        async with self.runner.client.pipeline(transaction=True) as pipe:
            pipe.zrem(k.workers_key(self.runner.prefix), worker_id)
            pipe.delete(k.worker_key(self.runner.prefix, worker_id))
            await pipe.execute()

    async def registered(self) -> list[dict[str, str]]:
        """Every registered worker's fields (with ``id``), most recent beat first."""
        ids: list[str] = await self.runner.client.zrevrange(
            k.workers_key(self.runner.prefix), 0, -1
        )  # type: ignore[assignment]
        if not ids:
            return []
        async with self.runner.client.pipeline(transaction=False) as pipe:
            for worker_id in ids:
                pipe.hgetall(k.worker_key(self.runner.prefix, worker_id))
            rows: list[dict[str, str]] = await pipe.execute()
        return [{**row, "id": worker_id} for worker_id, row in zip(ids, rows, strict=True)]
