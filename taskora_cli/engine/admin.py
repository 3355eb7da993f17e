"""The engine's job-admin calls: delete one job whatever holds it, and clean finished jobs of
one state in batches. :class:`JobAdmin` (``engine.admin``) goes through the engine's Runner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .runner import Runner

FINISHED_SETS = ("completed", "failed", "cancelled", "expired")
"""The states whose jobs sit in a set scored by when they ended (what ``clean`` removes)."""


class JobAdmin:
    """Remove jobs for good: one by id (``delete``), or finished ones by age (``clean_*``)."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def delete(self, task: str, job_id: str) -> tuple[str, str]:
        """Delete a job that is not active: its hash, logs and place in any line or set.

        Returns:
            (outcome, state before): outcome "deleted", "active" (refused) or "missing".
        """
        t = self.runner.keys(task)
        keys = [t.job(job_id), t.logs(job_id), t.wait, t.prioritized, t.delayed]
        keys += [t.completed, t.failed, t.cancelled, t.expired, t.events, t.paused, t.tag]
        outcome, state = await self.runner.run("delete_job", keys, [job_id])
        return str(outcome), str(state)

    async def pause(self, task: str, job_id: str, now_ms: int) -> tuple[str, str]:
        """Take a waiting, delayed or retrying job out of every line until :meth:`resume`.

        Returns:
            (outcome, state before): outcome "paused", "paused already", "refused" (active or
            ended) or "missing".
        """
        t = self.runner.keys(task)
        keys = [t.wait, t.prioritized, t.delayed, t.paused, t.events, t.tag]
        outcome, state = await self.runner.run("pause_job", keys, [job_id, now_ms])
        return str(outcome), str(state)

    async def resume(self, task: str, job_id: str, now_ms: int) -> tuple[str, str]:
        """Put a paused job back where it was paused: its waiting line, or the delayed set at
        its due time (now, if that passed).

        Returns:
            (outcome, state after): outcome "resumed", "not paused" or "missing".
        """
        t = self.runner.keys(task)
        keys = [t.wait, t.prioritized, t.delayed, t.paused, t.events, t.marker, t.seq, t.tag]
        outcome, state = await self.runner.run("resume_job", keys, [job_id, now_ms])
        return str(outcome), str(state)

    def _ended(self, task: str, state: str) -> str:
        t = self.runner.keys(task)
        return {"completed": t.completed, "failed": t.failed, "cancelled": t.cancelled}.get(
            state, t.expired
        )

    async def ended_before(self, task: str, state: str, before_ms: int, count: int) -> list[str]:
        """Up to ``count`` ids of ``task``'s jobs that ended ``state`` at or before
        ``before_ms``, oldest first."""
        ids: list[str] = await self.runner.client.zrangebyscore(  # type: ignore[assignment]
            self._ended(task, state), "-inf", before_ms, start=0, num=count
        )
        return ids

    async def count_ended_before(self, task: str, state: str, before_ms: int) -> int:
        """How many of ``task``'s jobs ended ``state`` at or before ``before_ms``."""
        return int(await self.runner.client.zcount(self._ended(task, state), "-inf", before_ms))

    async def purge_ended(
        self, task: str, state: str, ids: Sequence[str], before_ms: int
    ) -> list[bool]:
        """Delete jobs that ended ``state`` at or before ``before_ms``; one flag per id, False
        where it was no longer in that state's set (retried meanwhile) or ended later."""
        if not ids:
            return []
        t = self.runner.keys(task)
        keys = [self._ended(task, state), t.events, t.tag]
        flags = await self.runner.run("purge_finished", keys, [before_ms, *ids])
        return [bool(flag) for flag in flags]
