"""Operator control the workers obey: paused queues, and drain requests to one worker.

Both live under the ``{_global}`` tag (one slot per call). Workers read them with one
pipelined round trip per control tick (see worker/pool.py), so a pause reaches every worker
within a tick, whether or not it was connected when the operator asked.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from . import keys as k

if TYPE_CHECKING:
    from .runner import Runner


class Control:
    """Paused queues and drain requests: what workers are told on each control tick."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def pause_queue(self, queue: str) -> bool:
        """Pause ``queue``; False if it already was."""
        added: int = await self.runner.client.sadd(k.paused_queues_key(self.runner.prefix), queue)
        return added == 1

    async def resume_queue(self, queue: str) -> bool:
        """Resume ``queue``; False if it was not paused."""
        removed: int = await self.runner.client.srem(k.paused_queues_key(self.runner.prefix), queue)
        return removed == 1

    async def paused_queues(self) -> set[str]:
        """The names of the paused queues."""
        members: set[str] = await self.runner.client.smembers(
            k.paused_queues_key(self.runner.prefix)
        )  # type: ignore[assignment]
        return set(members)

    async def worker_orders(self, worker_id: str) -> tuple[set[str], bool]:
        """What ``worker_id`` is told now: the paused queues, and whether to drain.

        Both reads go over the lean wire, pipelined: a starting worker reads its orders
        before its first claim, and a redis-py connection of its own would cost it more
        than the reads do."""
        prefix = self.runner.prefix
        paused, drain = await asyncio.gather(
            self.runner.command("SMEMBERS", k.paused_queues_key(prefix)),
            self.runner.command("HEXISTS", k.worker_key(prefix, worker_id), "drain"),
        )
        return set(paused), bool(drain)
