"""The engine's schedule calls: the scheduler lease, the schedule state transitions, and reads.

Kept beside engine.py rather than in it: engine.py holds the job hot path, this the scheduler.
Every key here carries the ``{_schedules}`` tag, so each call touches one cluster slot; the job
a fire dispatches lives in its task's slot and is enqueued by a separate call (see
schedule_claim.lua for why that stays exactly-once). The clock comes from the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from . import keys as k

if TYPE_CHECKING:
    from .runner import Runner


class Fire(NamedTuple):
    """One fire a scheduler claims: when, as which job, and what the next run becomes."""

    fire_ms: int
    next_ms: int
    job_id: str
    task: str
    pending: str
    """The job to enqueue, as JSON (id, task, data), kept on the schedule until settled."""
    skipped: int


class Schedules:
    """The scheduler lease, the schedule state transitions, and schedule reads."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def _keys(self, name: str) -> list[str]:
        prefix = self.runner.prefix
        return [k.schedule_key(prefix, name), k.schedule_due_key(prefix)]

    async def tick(
        self, token: str, now_ms: int, lease_ms: int, limit: int
    ) -> tuple[bool, list[str]]:
        """Take or keep the scheduler lease; the leader gets the names of due schedules.

        Returns:
            (True, due names) for the leader; (False, [owner]) for anyone else.
        """
        keys = [k.scheduler_lease_key(self.runner.prefix), k.schedule_due_key(self.runner.prefix)]
        reply = await self.runner.run("scheduler_tick", keys, [token, now_ms, lease_ms, limit])
        return bool(reply[0]), [str(item) for item in reply[1:]]

    async def release(self, token: str) -> bool:
        """Give up the lease if ``token`` holds it."""
        lease = k.scheduler_lease_key(self.runner.prefix)
        return bool(await self.runner.run("scheduler_release", [lease], [token]))

    async def lease(self) -> dict[str, str]:
        """The lease as stored (``owner``, ``until``); empty when nobody holds one."""
        found: dict[str, str] = await self.runner.client.hgetall(
            k.scheduler_lease_key(self.runner.prefix)
        )  # type: ignore[assignment]
        return found

    async def register(
        self,
        name: str,
        definition: str,
        timing: str,
        first_ms: int,
        now_ms: int,
        *,
        create_only: bool = False,
    ) -> str:
        """Create a schedule or store a new definition, keeping its state ("created", "updated",
        "retimed" or "unchanged"); with ``create_only``, an existing one is left alone
        ("exists")."""
        keys = [*self._keys(name), k.schedule_names_key(self.runner.prefix)]
        args = [name, definition, timing, first_ms, now_ms, "1" if create_only else "0"]
        return str(await self.runner.run("schedule_register", keys, args))

    async def claim(self, name: str, rev: str, expected_next: int, fire: Fire, now_ms: int) -> bool:
        """Claim one fire (compare-and-set on the revision and next run); False when stale."""
        args = [name, rev, expected_next, fire.fire_ms, fire.next_ms, fire.job_id, fire.task]
        args += [fire.pending, fire.skipped, now_ms]
        return bool(await self.runner.run("schedule_claim", self._keys(name), args))

    async def settle(self, name: str, job_id: str) -> bool:
        """Mark a claimed fire's job as enqueued."""
        return bool(await self.runner.run("schedule_settle", self._keys(name), [name, job_id]))

    async def skip(
        self, name: str, rev: str, expected_next: int, next_ms: int, skipped: int, now_ms: int
    ) -> bool:
        """Move the next run on without a fire; False when stale."""
        args = [name, rev, expected_next, next_ms, skipped, now_ms]
        return bool(await self.runner.run("schedule_skip", self._keys(name), args))

    async def pause(self, name: str, now_ms: int) -> bool:
        """Pause a schedule; False when there is none."""
        return bool(await self.runner.run("schedule_pause", self._keys(name), [name, now_ms]))

    async def resume(self, name: str, expected_next: int, next_ms: int) -> int:
        """Resume a paused schedule: 1 resumed, 2 it was not paused, 0 missing or changed."""
        args = [name, expected_next, next_ms]
        return int(await self.runner.run("schedule_resume", self._keys(name), args))

    async def remove(self, name: str) -> bool:
        """Delete a schedule; False when there was none."""
        keys = [*self._keys(name), k.schedule_names_key(self.runner.prefix)]
        return bool(await self.runner.run("schedule_remove", keys, [name]))

    async def triggered(self, name: str, job_id: str, task: str, now_ms: int) -> bool:
        """Record a run started by hand as the last run; False when there is no such schedule."""
        keys = self._keys(name)[:1]
        return bool(await self.runner.run("schedule_triggered", keys, [job_id, task, now_ms]))

    async def names(self) -> list[str]:
        """Every schedule's name, sorted."""
        found: set[str] = await self.runner.client.smembers(
            k.schedule_names_key(self.runner.prefix)
        )  # type: ignore[assignment]
        return sorted(found)

    async def read(self, names: Sequence[str]) -> list[dict[str, str]]:
        """The stored hash of each schedule (empty where there is none), in one round trip."""
        async with self.runner.client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(k.schedule_key(self.runner.prefix, name))
            rows: list[dict[str, str]] = await pipe.execute()
        return rows
