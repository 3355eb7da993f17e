"""The worker registry seen from the library: who is working, and who stopped beating.

Every worker process registers on start, refreshes its record on each heartbeat and removes
itself on stop. One whose last beat is older than ``GONE_AFTER_BEATS`` of its own heartbeat
intervals is *gone*: ``app.areap_workers()`` releases its claims at once and forgets it.
Beats and their age are measured on the server's clock (see taskora_cli/engine/registry.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..runtime import Runtime

GONE_AFTER_BEATS = 3
"""Missed heartbeats after which a worker counts as gone."""


def _int(raw: str | None) -> int:
    try:
        return int(raw or 0)
    except ValueError:
        return 0


@dataclass(frozen=True)
class WorkerInfo:
    """One registered worker process.

    Attributes:
        tasks: the task names it serves.
        slots: jobs it runs at once, over all its tasks; ``active``: jobs it holds now.
        started_ms / beat_ms: when it started and last beat (ms since the epoch).
        age: seconds since its last beat; ``gone``: it missed GONE_AFTER_BEATS beats.
        draining: an operator asked it to finish its jobs and exit.
        stuck: its thread handlers running on past their timeout (a thread cannot be stopped);
            ``healthy`` is False once there are more than its pool replaces: it claims no
            more thread jobs (and ``taskora work`` exits with code 5 to be replaced).
        scheduler: it holds the scheduler lease now, so it is the one firing due schedules.
    """

    id: str
    host: str
    pid: int
    tasks: list[str]
    queues: list[str]
    slots: int
    active: int
    processed: int
    failed: int
    started_ms: int
    beat_ms: int
    heartbeat_ms: int
    age: float
    gone: bool
    draining: bool = False
    stuck: int = 0
    healthy: bool = True
    scheduler: bool = False

    @classmethod
    def from_fields(cls, row: dict[str, str], now_ms: int) -> WorkerInfo:
        beat, heartbeat = _int(row.get("beat_ms")), _int(row.get("heartbeat_ms")) or 10_000
        return cls(
            id=row["id"],
            host=row.get("host", "?"),
            pid=_int(row.get("pid")),
            tasks=[t for t in row.get("tasks", "").split(",") if t],
            queues=[q for q in row.get("queues", "").split(",") if q],
            slots=_int(row.get("slots")),
            active=_int(row.get("active")),
            processed=_int(row.get("processed")),
            failed=_int(row.get("failed")),
            started_ms=_int(row.get("started_ms")),
            beat_ms=beat,
            heartbeat_ms=heartbeat,
            age=max(0, now_ms - beat) / 1000,
            gone=now_ms - beat > GONE_AFTER_BEATS * heartbeat,
            draining="drain" in row,
            stuck=_int(row.get("stuck")),
            healthy=_int(row.get("stuck")) <= _int(row.get("stuck_limit")),
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


async def list_workers(runtime: Runtime) -> list[WorkerInfo]:
    """Every registered worker, live and gone, most recent beat first."""
    engine = await runtime.engine()
    now = await engine.workers.server_now_ms()  # beats are stamped by the server's clock
    lease = await engine.schedules.lease()
    leader = lease.get("owner") if _int(lease.get("until")) > now else None
    return [
        replace(info, scheduler=info.id == leader)
        for info in (WorkerInfo.from_fields(row, now) for row in await engine.workers.registered())
    ]


async def reap_workers(runtime: Runtime, alive: frozenset[str] = frozenset()) -> dict[str, int]:
    """Release the claims of every gone worker (but those in ``alive``) and drop it; worker
    id -> jobs it held."""
    reaped: dict[str, int] = {}
    for worker in await list_workers(runtime):
        if worker.gone and worker.id not in alive:
            reaped[worker.id] = await release_worker(runtime, worker.id, worker.tasks or None)
    return reaped


async def release_worker(runtime: Runtime, worker_id: str, tasks: Iterable[str] | None) -> int:
    """Send the jobs a dead worker held back to their queues now, and forget the worker; the
    number of jobs it held. ``tasks``: the names it served (None: every task the server
    knows)."""
    engine = await runtime.engine()
    names = list(tasks) if tasks is not None else await engine.known_tasks()
    defaults = runtime.config.defaults
    held = 0
    for name in names:
        released = await engine.release_worker(name, worker_id)
        if released:
            held += released
            now = runtime.clock()
            await engine.stall_sweep(name, now, defaults.stall_interval_ms, defaults.max_stalls)
    await engine.workers.remove(worker_id)  # released means dead: forget it
    return held


async def drain_workers(runtime: Runtime, node: str) -> list[str]:
    """Ask every live worker whose id or host is ``node`` to drain; the ids asked."""
    from ..errors import UsageError

    live = [w for w in await list_workers(runtime) if not w.gone]
    chosen = [w.id for w in live if node in (w.id, w.host)]
    if not chosen:
        known = ", ".join(sorted({w.id for w in live} | {w.host for w in live})) or "none"
        raise UsageError(f"no live worker has id or host {node!r}; live workers: {known}")
    engine = await runtime.engine()
    return [worker_id for worker_id in chosen if await engine.request_drain(worker_id)]
