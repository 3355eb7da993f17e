"""Schedules at run time: what the server holds about each one, and the ways to change it.

``app.schedules()`` returns a :class:`ScheduleManager`: list, get, add, pause, resume,
trigger, update, remove, and the upcoming fire times; blocking methods with ``a``-prefixed
async twins.
The definitions an app declares (``app.schedule``, ``@app.task(schedule=...)``, TOML
``[schedules.NAME]``) reach the server through :meth:`ScheduleManager.register`, which every
worker calls on start; registering again never resets a schedule's state.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..blocking import blocking_twin
from ..errors import UnknownScheduleError, UsageError
from ..moments import out_of_range
from ..schedule_spec import ScheduleSpec, check_name

if TYPE_CHECKING:
    from ..engine.engine import Engine
    from ..handle import JobHandle
    from ..task_registry import Parts


def _int(raw: str | None) -> int | None:
    return int(raw) if raw else None


@dataclass(frozen=True)
class ScheduleInfo:
    """One schedule as the server holds it (times are epoch milliseconds).

    Attributes:
        spec: the definition (task, cron or every_ms, timezone, data, on_missed, overlap).
        next_run_ms: when it fires next (kept while paused).
        last_run_ms: the fire time of its last run (a trigger's: when it was triggered).
        last_job_id: the job of its last run, in task ``last_task``.
        skipped: fire times it skipped (missed while no scheduler ran, or overlapping).
        pending: a claimed fire whose job is not yet confirmed enqueued (a scheduler crashed
            in between; the next tick finishes it).
    """

    name: str
    spec: ScheduleSpec
    paused: bool
    next_run_ms: int
    last_run_ms: int | None
    last_job_id: str | None
    last_task: str | None
    skipped: int
    pending: bool
    created_ms: int | None

    @classmethod
    def from_row(cls, name: str, row: dict[str, str]) -> ScheduleInfo:
        return cls(
            name=name,
            spec=ScheduleSpec.from_json(row["def"]),
            paused="paused" in row,
            next_run_ms=int(row["next"]),
            last_run_ms=_int(row.get("last_run")),
            last_job_id=row.get("last_job"),
            last_task=row.get("last_task"),
            skipped=_int(row.get("skipped")) or 0,
            pending="pending_id" in row,
            created_ms=_int(row.get("created")),
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times in ms and as ISO 8601 UTC)."""
        return {
            "name": self.name,
            "task": self.spec.task,
            "cron": self.spec.cron,
            "every_ms": self.spec.every_ms,
            "timezone": self.spec.timezone,
            "data": self.spec.data,
            "on_missed": self.spec.on_missed,
            "overlap": self.spec.overlap,
            "paused": self.paused,
            "next_run_ms": self.next_run_ms,
            "next_run": iso(self.next_run_ms),
            "last_run_ms": self.last_run_ms,
            "last_run": None if self.last_run_ms is None else iso(self.last_run_ms),
            "last_job_id": self.last_job_id,
            "skipped": self.skipped,
            "pending": self.pending,
        }


def iso(ms: int, zone: Any = UTC) -> str:
    """Epoch ms as ISO 8601 in ``zone`` (UTC by default), to the second; a stored time no
    calendar can show (years 1-9999) as its raw number."""
    try:
        moment = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(zone)
    except (OverflowError, OSError, ValueError):
        return out_of_range(ms)
    return moment.isoformat(timespec="seconds")


class ScheduleManager:
    """The server's schedules; blocking methods with async twins (``a`` prefix)."""

    def __init__(self, app: Parts) -> None:
        self.runtime = app.runtime
        self.registry = app.registry

    # -- reading -------------------------------------------------------------------------------

    async def alist(self) -> builtins.list[ScheduleInfo]:
        """Every schedule on the server, by name."""
        engine = await self.runtime.engine()
        names = await engine.schedules.names()
        rows = await engine.schedules.read(names)
        return [ScheduleInfo.from_row(n, row) for n, row in zip(names, rows, strict=True) if row]

    list = blocking_twin(alist)

    async def aget(self, name: str) -> ScheduleInfo:
        """One schedule.

        Raises:
            UnknownScheduleError: no such schedule; the message lists the known ones.
        """
        info, _ = await self._read(name)
        return info

    get = blocking_twin(aget)

    async def _read(self, name: str) -> tuple[ScheduleInfo, Engine]:
        engine = await self.runtime.engine()
        row = (await engine.schedules.read([name]))[0]
        if not row:
            known = ", ".join(await engine.schedules.names()) or "none"
            raise UnknownScheduleError(f"unknown schedule {name!r}; known schedules: {known}")
        return ScheduleInfo.from_row(name, row), engine

    async def aupcoming(self, name: str, count: int = 5) -> builtins.list[datetime]:
        """The next ``count`` fire times, in the schedule's zone; for a paused
        schedule, those it would have if resumed now."""
        from ..cron import zone

        info = await self.aget(name)
        where = zone(info.spec.timezone)
        first = info.next_run_ms
        if info.paused:  # what a resume now would make of it
            first = info.spec.resume_at(first, self.runtime.clock())
        times = info.spec.upcoming(first, count)
        return [datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(where) for ms in times]

    upcoming = blocking_twin(aupcoming)

    # -- changing ------------------------------------------------------------------------------

    async def apause(self, name: str) -> ScheduleInfo:
        """Stop firing until resumed; the next run is kept."""
        _, engine = await self._read(name)
        await engine.schedules.pause(name, self.runtime.clock())
        return await self.aget(name)

    pause = blocking_twin(apause)

    async def aresume(self, name: str) -> ScheduleInfo:
        """Fire again. Fire times passed while paused are skipped, unless ``on_missed`` is a
        catch-up policy, which replays them (up to its limit) on the next tick."""
        for _ in range(5):  # changed between our read and the script: read again
            info, engine = await self._read(name)
            if not info.paused:
                return info
            next_ms = info.spec.resume_at(info.next_run_ms, self.runtime.clock())
            if await engine.schedules.resume(name, info.next_run_ms, next_ms):
                break
        return await self.aget(name)

    resume = blocking_twin(aresume)

    async def atrigger(self, name: str) -> JobHandle:
        """Dispatch the schedule's job now, leaving the next run where it is; overlap does not
        apply to a run asked for by hand."""
        info, engine = await self._read(name)
        handle = await (await self.registry.resolve(info.spec.task)).adispatch(info.spec.data)
        await engine.schedules.triggered(name, handle.id, info.spec.task, self.runtime.clock())
        return handle

    trigger = blocking_twin(atrigger)

    async def aadd(self, /, name: str, task: str, **options: Any) -> ScheduleInfo:
        """Store a new schedule on the server, from code or the shell (``taskora schedules
        add``): ``every=`` or ``cron=``, and optionally ``data``, ``timezone``, ``on_missed``,
        ``overlap`` (see :meth:`Taskora.schedule`). Workers fire it like a declared one.

        Raises:
            UsageError: a bad name or option, or a schedule of that name exists already
                (change it with :meth:`update`).
            UnknownTaskError: no app here or on the server knows ``task``.
        """
        check_name(name)
        spec = ScheduleSpec.build(task, **options)
        await self.registry.resolve(spec.task)  # a typo fails here, not at every fire
        engine = await self.runtime.engine()
        if await _register(engine, name, spec, self.runtime.clock(), create_only=True) == "exists":
            raise UsageError(
                f"schedule {name!r} exists already; change it with `taskora schedules update "
                f"{name} ...` (app.schedules().update), or remove it first"
            )
        return await self.aget(name)

    add = blocking_twin(aadd)

    async def aupdate(self, /, name: str, **changes: Any) -> ScheduleInfo:
        """Change some options (task, cron, every, timezone, data, on_missed, overlap); a new
        timing moves the next run, anything else keeps it.

        Note: a schedule defined in code or TOML gets its declared definition back when a
        worker next starts; change the declaration for lasting changes.

        Raises:
            UsageError: a bad option.
            UnknownScheduleError: no such schedule.
            UnknownTaskError: a new ``task`` that no app here or on the server knows.
        """
        info, engine = await self._read(name)
        spec = info.spec.with_changes(**changes)
        if "task" in changes:
            await self.registry.resolve(spec.task)  # as add does: a typo fails here
        await _register(engine, name, spec, self.runtime.clock())
        return await self.aget(name)

    update = blocking_twin(aupdate)

    async def aremove(self, name: str) -> None:
        """Delete the schedule; jobs it dispatched are left alone.

        Raises:
            UnknownScheduleError: no such schedule.
        """
        _, engine = await self._read(name)
        await engine.schedules.remove(name)

    remove = blocking_twin(aremove)

    async def aregister(self) -> dict[str, str]:
        """Store every schedule the app declares (code, inline on tasks, TOML). A schedule the
        server already holds keeps its next run, last run and pause; only a changed timing
        moves its next run.

        Returns:
            name -> "created", "updated", "retimed" or "unchanged".
        """
        engine = await self.runtime.engine()
        now = self.runtime.clock()
        return {
            name: await _register(engine, name, spec, now)
            for name, spec in self.registry.declared_schedules().items()
        }

    register = blocking_twin(aregister)


async def _register(
    engine: Engine, name: str, spec: ScheduleSpec, now_ms: int, *, create_only: bool = False
) -> str:
    check_name(name)
    await engine.note_tasks([spec.task])
    timing, first = spec.timing(), spec.first_fire(now_ms)
    return await engine.schedules.register(
        name, spec.to_json(), timing, first, now_ms, create_only=create_only
    )


def pending_job(raw: str) -> tuple[str, str, str]:
    """(job id, task, data JSON) of a stored pending fire."""
    value = json.loads(raw)
    return str(value["id"]), str(value["task"]), str(value["data"])
