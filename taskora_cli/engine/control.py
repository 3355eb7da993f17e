"""Operator control the workers obey: paused queues, and drain requests to one worker.

Both live under the ``{_global}`` tag (one slot per call). Workers read them with one
pipelined round trip per control tick (see worker/pool.py), so a pause reaches every worker
within a tick, whether or not it was connected when the operator asked.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from . import keys as k
from . import read_steps

if TYPE_CHECKING:
    from .runner import Runner


class Control:
    """Paused queues and drain requests: what workers are told on each control tick."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def pause_queue(self, queue: str) -> bool:
        """Pause ``queue``; False if it already was."""
        return await self.runner.drive(read_steps.pause_queue(self.runner.prefix, queue))

    async def resume_queue(self, queue: str) -> bool:
        """Resume ``queue``; False if it was not paused."""
        return await self.runner.drive(read_steps.resume_queue(self.runner.prefix, queue))

    async def paused_queues(self) -> set[str]:
        """The names of the paused queues."""
        return await self.runner.drive(read_steps.paused_queues(self.runner.prefix))

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
