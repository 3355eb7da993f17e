"""The scheduler: a background loop in every worker; the one holding the lease fires schedules.

Each tick is one engine call (``scheduler_tick``) that takes or keeps the lease and, for the
leader, lists the due schedules; only then does the leader fire them. A worker that dies keeps
the lease until its deadline passes, so another worker takes over within the lease time; a
worker that stops gives it up at once.

A fire goes in two steps because the schedule and the job live in different cluster slots:
``schedule_claim`` moves the next run on and records the fire's job (id ``NAME@FIRE_MS``) as
pending, then the job is enqueued in its task's slot and the fire settled. Two schedulers
racing claim each fire once (compare-and-set on the next run); a crash between the steps
leaves the fire pending and the next tick enqueues it, a no-op if it already was (same id).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING

from ..engine.records import NewJob
from ..engine.schedules import Fire
from ..errors import UnknownTaskError
from ..job_state import TERMINAL_STATES
from ..schedule_spec import Plan, ScheduleSpec, catch_up_limit, plan
from ..serialization import dumps, loads
from ..views.schedule_manager import ScheduleManager, pending_job

if TYPE_CHECKING:
    from ..engine.engine import Engine
    from ..task_registry import Parts, TaskRegistry

log = logging.getLogger("taskora.scheduler")

DUE_PER_TICK = 100
"""Due schedules one tick fires at most; the rest are due again on the next tick."""


class Scheduler:
    """Competes for the scheduler lease and, while it holds it, fires due schedules.

    Args:
        app: the app (its clock, its declared schedules).
        token: this scheduler's identity in the lease (the worker id).
        poll_ms: how often it ticks.
        lease_ms: how long the lease holds without a tick; a dead leader is replaced after it.
    """

    def __init__(self, app: Parts, token: str, *, poll_ms: int, lease_ms: int) -> None:
        self.app = app
        self.runtime = app.runtime
        self.token = token
        self.poll_ms = poll_ms
        self.lease_ms = lease_ms
        self.leader = False
        self._loop: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @property
    def grace_ms(self) -> int:
        """How late a fire may be and still count as on time, not missed: a leader may die
        just before a fire, and its successor only ticks once the lease ran out."""
        return self.lease_ms + 2 * self.poll_ms

    async def start(self) -> None:
        """Store the app's declared schedules, then tick every ``poll_ms`` until stopped."""
        await ScheduleManager(self.app).aregister()
        self._stopping.clear()
        self._loop = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop ticking and give up the lease."""
        self._stopping.set()
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
            self._loop = None
        with contextlib.suppress(Exception):  # a gone server: the lease simply runs out
            async with asyncio.timeout(0.5):
                engine = await self.runtime.engine()
                await engine.schedules.release(self.token)
        self.leader = False

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.tick()
            except Exception as exc:
                log.warning("taskora: scheduler tick failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_ms / 1000):
                    await self._stopping.wait()

    async def tick(self, now_ms: int | None = None) -> int:
        """One tick at ``now_ms`` (default: the app's clock): keep or take the lease and, as
        leader, fire what is due. Returns how many jobs it dispatched."""
        now = self.runtime.clock() if now_ms is None else now_ms
        engine = await self.runtime.engine()
        leader, due = await engine.schedules.tick(self.token, now, self.lease_ms, DUE_PER_TICK)
        if leader != self.leader:
            log.info("taskora: scheduler %s %s the lease", self.token, "took" if leader else "lost")
            self.leader = leader
        if not leader:
            return 0
        fired = 0
        for name in due:
            fired += await fire_due(engine, name, now, self.grace_ms, registry=self.app.registry)
        return fired


async def fire_due(
    engine: Engine, name: str, now_ms: int, grace_ms: int, *, registry: TaskRegistry | None = None
) -> int:
    """Fire schedule ``name`` if it is due at ``now_ms``, as its missed and overlap policies
    say; safe to run from several schedulers at once. Returns the jobs it dispatched. With
    ``registry``, a task it defines gets its own options (ttl, singleton, collect, queue)."""
    fired = 0
    for _ in range(5):  # another scheduler moved it meanwhile: look again
        row = (await engine.schedules.read([name]))[0]
        if not row or "paused" in row:
            return fired
        if "pending_id" in row:
            await _enqueue_pending(engine, name, row["pending"], now_ms, registry)
            continue
        next_ms = int(row["next"])
        if next_ms > now_ms:
            return fired
        made, done = await _fire(engine, name, row, now_ms, grace_ms, registry)
        fired += made
        if done:
            return fired
    return fired


async def _fire(
    engine: Engine,
    name: str,
    row: dict[str, str],
    now_ms: int,
    grace_ms: int,
    registry: TaskRegistry | None,
) -> tuple[int, bool]:
    """Apply one plan; (jobs dispatched, whether it went through without losing a race)."""
    spec, rev, next_ms = ScheduleSpec.from_json(row["def"]), row["rev"], int(row["next"])
    todo = plan(spec, next_ms, now_ms, grace_ms)
    if todo.fires and not spec.overlap and await _still_running(engine, row):
        if catch_up_limit(spec.on_missed) != 0:
            return 0, True  # catch-up: the fires wait, and the policy replays them once it ends
        todo = Plan([], todo.skipped + len(todo.fires), todo.next_ms)
    if not todo.fires:
        done = await engine.schedules.skip(name, rev, next_ms, todo.next_ms, todo.skipped, now_ms)
        return 0, done
    data = dumps(spec.data, what=f"data of schedule {name!r}")
    expected, made = next_ms, 0
    for i, fire_ms in enumerate(todo.fires):
        following = todo.fires[i + 1] if i + 1 < len(todo.fires) else todo.next_ms
        job_id = f"{name}@{fire_ms}"
        pending = json.dumps({"id": job_id, "task": spec.task, "data": data})
        fire = Fire(fire_ms, following, job_id, spec.task, pending, todo.skipped if i == 0 else 0)
        if not await engine.schedules.claim(name, rev, expected, fire, now_ms):
            return made, False
        await _enqueue(engine, spec.task, job_id, data, now_ms, registry)
        await engine.schedules.settle(name, job_id)
        expected, made = following, made + 1
    return made, True


async def _still_running(engine: Engine, row: dict[str, str]) -> bool:
    """Whether the previous run's job exists and has not ended (waiting, delayed, active)."""
    job, task = row.get("last_job"), row.get("last_task")
    if not job or not task:
        return False
    state = await engine.job_state(task, job)
    return state is not None and state not in TERMINAL_STATES


async def _enqueue_pending(
    engine: Engine, name: str, raw: str, now_ms: int, registry: TaskRegistry | None
) -> None:
    job_id, task, data = pending_job(raw)
    await _enqueue(engine, task, job_id, data, now_ms, registry)
    await engine.schedules.settle(name, job_id)


async def _enqueue(
    engine: Engine, task: str, job_id: str, data: str, now_ms: int, registry: TaskRegistry | None
) -> None:
    """Enqueue one fire's job under its fixed id: False (the id exists) means an earlier
    attempt of this same fire got through, so a retry is a no-op. A task defined here, or
    published on the server by its worker, gets its options as a dispatch would: ttl,
    singleton, collect, its payload version."""
    local = None
    if registry is not None:
        with contextlib.suppress(UnknownTaskError):  # a name nobody registered: a plain job
            local = await registry.resolve(task)
    if local is None:
        await engine.note_tasks([task])
        await engine.enqueue(task, NewJob(job_id, data), now_ms)
        return
    await engine.register_tasks({task: local.options.queue})
    if local.options.collect is not None:
        # A collect buffer has no id of its own to make a retried fire a no-op: a scheduler
        # that dies between this push and the settle below pushes the item once more.
        await local.collect_one(loads(data), local.options.collect, now_ms)
        return
    job = local.new_job(loads(data), None, 0, None, now_ms)._replace(id=job_id)
    await engine.enqueue(task, job, now_ms)
