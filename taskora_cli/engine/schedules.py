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
    from .engine import Engine


class Fire(NamedTuple):
    """One fire a scheduler claims: when, as which job, and what the next run becomes."""

    fire_ms: int
    next_ms: int
    job_id: str
    task: str
    pending: str
    """The job to enqueue, as JSON (id, task, data), kept on the schedule until settled."""
    skipped: int


def _keys(engine: Engine, name: str) -> list[str]:
    return [k.schedule_key(engine.prefix, name), k.schedule_due_key(engine.prefix)]


async def tick(
    engine: Engine, token: str, now_ms: int, lease_ms: int, limit: int
) -> tuple[bool, list[str]]:
    """Take or keep the scheduler lease; the leader gets the names of due schedules.

    Returns:
        (True, due names) for the leader; (False, [owner]) for anyone else.
    """
    keys = [k.scheduler_lease_key(engine.prefix), k.schedule_due_key(engine.prefix)]
    reply = await engine._run("scheduler_tick", keys, [token, now_ms, lease_ms, limit])
    return bool(reply[0]), [str(item) for item in reply[1:]]


async def release(engine: Engine, token: str) -> bool:
    """Give up the lease if ``token`` holds it."""
    lease = k.scheduler_lease_key(engine.prefix)
    return bool(await engine._run("scheduler_release", [lease], [token]))


async def lease(engine: Engine) -> dict[str, str]:
    """The lease as stored (``owner``, ``until``); empty when nobody holds one."""
    found: dict[str, str] = await engine.client.hgetall(k.scheduler_lease_key(engine.prefix))  # type: ignore[assignment]
    return found


async def register(
    engine: Engine, name: str, definition: str, timing: str, first_ms: int, now_ms: int
) -> str:
    """Create a schedule or store a new definition, keeping its state ("created", "updated",
    "retimed" or "unchanged")."""
    keys = [*_keys(engine, name), k.schedule_names_key(engine.prefix)]
    args = [name, definition, timing, first_ms, now_ms]
    return str(await engine._run("schedule_register", keys, args))


async def claim(
    engine: Engine, name: str, rev: str, expected_next: int, fire: Fire, now_ms: int
) -> bool:
    """Claim one fire (compare-and-set on the revision and next run); False when stale."""
    args = [name, rev, expected_next, fire.fire_ms, fire.next_ms, fire.job_id, fire.task]
    args += [fire.pending, fire.skipped, now_ms]
    return bool(await engine._run("schedule_claim", _keys(engine, name), args))


async def settle(engine: Engine, name: str, job_id: str) -> bool:
    """Mark a claimed fire's job as enqueued."""
    return bool(await engine._run("schedule_settle", _keys(engine, name), [name, job_id]))


async def skip(
    engine: Engine, name: str, rev: str, expected_next: int, next_ms: int, skipped: int, now_ms: int
) -> bool:
    """Move the next run on without a fire; False when stale."""
    args = [name, rev, expected_next, next_ms, skipped, now_ms]
    return bool(await engine._run("schedule_skip", _keys(engine, name), args))


async def pause(engine: Engine, name: str, now_ms: int) -> bool:
    """Pause a schedule; False when there is none."""
    return bool(await engine._run("schedule_pause", _keys(engine, name), [name, now_ms]))


async def resume(engine: Engine, name: str, expected_next: int, next_ms: int) -> int:
    """Resume a paused schedule: 1 resumed, 2 it was not paused, 0 missing or changed."""
    args = [name, expected_next, next_ms]
    return int(await engine._run("schedule_resume", _keys(engine, name), args))


async def remove(engine: Engine, name: str) -> bool:
    """Delete a schedule; False when there was none."""
    keys = [*_keys(engine, name), k.schedule_names_key(engine.prefix)]
    return bool(await engine._run("schedule_remove", keys, [name]))


async def triggered(engine: Engine, name: str, job_id: str, task: str, now_ms: int) -> bool:
    """Record a run started by hand as the last run; False when there is no such schedule."""
    keys = _keys(engine, name)[:1]
    return bool(await engine._run("schedule_triggered", keys, [job_id, task, now_ms]))


async def names(engine: Engine) -> list[str]:
    """Every schedule's name, sorted."""
    found: set[str] = await engine.client.smembers(k.schedule_names_key(engine.prefix))  # type: ignore[assignment]
    return sorted(found)


async def read(engine: Engine, names: Sequence[str]) -> list[dict[str, str]]:
    """The stored hash of each schedule (empty where there is none), in one round trip."""
    async with engine.client.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.hgetall(k.schedule_key(engine.prefix, name))
        rows: list[dict[str, str]] = await pipe.execute()
    return rows
