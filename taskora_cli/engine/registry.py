"""The engine's worker registry: one ZSET of worker ids scored by their last heartbeat, and one
HASH per worker. Every key carries the ``{_global}`` tag, so each call touches one slot.

Kept beside engine.py rather than in it: engine.py holds the job scripts, this only the
workers' own bookkeeping. The clock comes from the caller, as for the scripts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from . import keys as k

if TYPE_CHECKING:
    from .engine import Engine


async def beat(
    engine: Engine, worker_id: str, fields: Mapping[str, str | int], now_ms: int
) -> None:
    """Register ``worker_id`` (or refresh it): its fields and last beat, in one round trip."""
    record: dict[str, str | int] = {**fields, "beat_ms": now_ms}
    async with engine.client.pipeline(transaction=True) as pipe:
        pipe.hset(k.worker_key(engine.prefix, worker_id), mapping=record)  # type: ignore[arg-type]
        pipe.zadd(k.workers_key(engine.prefix), {worker_id: now_ms})
        await pipe.execute()


async def remove(engine: Engine, worker_id: str) -> None:
    """Drop ``worker_id`` from the registry."""
    async with engine.client.pipeline(transaction=True) as pipe:
        pipe.zrem(k.workers_key(engine.prefix), worker_id)
        pipe.delete(k.worker_key(engine.prefix, worker_id))
        await pipe.execute()


async def workers(engine: Engine) -> list[dict[str, str]]:
    """Every registered worker's fields (with ``id``), most recent beat first."""
    ids: list[str] = await engine.client.zrevrange(k.workers_key(engine.prefix), 0, -1)  # type: ignore[assignment]
    if not ids:
        return []
    async with engine.client.pipeline(transaction=False) as pipe:
        for worker_id in ids:
            pipe.hgetall(k.worker_key(engine.prefix, worker_id))
        rows: list[dict[str, str]] = await pipe.execute()
    return [{**row, "id": worker_id} for worker_id, row in zip(ids, rows, strict=True)]
