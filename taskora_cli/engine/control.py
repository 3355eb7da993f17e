"""Operator control the workers obey: paused queues, and drain requests to one worker.

Both live under the ``{_global}`` tag (one slot per call). Workers read them with one
pipelined round trip per control tick (see worker/pool.py), so a pause reaches every worker
within a tick, whether or not it was connected when the operator asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
        """What ``worker_id`` is told now: the paused queues, and whether to drain."""
        return await self.runner.drive(read_steps.worker_orders(self.runner.prefix, worker_id))
