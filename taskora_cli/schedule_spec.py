"""What a schedule is (task, timing, data, policies), checked once, and the pure time math the
scheduler applies to it: the next fire times, and which fires a late tick makes.

Nothing here touches the server: the scheduler reads the stored state, asks :func:`plan`
what to do, and applies that with the schedule scripts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import cron as cron_expr
from .durations import Duration, format_ms, to_ms
from .errors import UsageError
from .serialization import dumps

MIN_EVERY_MS = 1000
CATCH_UP_BATCH = 100
"""Fires one tick makes for one schedule at most; the rest follow on the next ticks, so a long
outage of a per-second schedule cannot stall the leader."""
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_LIMIT = re.compile(r"^catch-up-limit:(\d+)$")
TABLE_KEYS = ("task", "cron", "every", "data", "timezone", "on_missed", "overlap")
"""The keys of a ``[schedules.NAME]`` table."""


def check_name(name: object) -> str:
    """A schedule name: letters, digits, ``_``, ``.`` and ``-`` (it becomes part of job ids)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise UsageError(
            f"schedule name {name!r} must be non-empty letters, digits, '_', '.' or '-'"
        )
    return name


def catch_up_limit(on_missed: str) -> int | None:
    """How many missed fires the policy replays: 0 (skip), N, or None (all)."""
    if on_missed == "skip":
        return 0
    if on_missed == "catch-up":
        return None
    match = _LIMIT.match(on_missed)
    if match is None or int(match.group(1)) < 1:
        raise UsageError(
            f'on_missed must be "skip", "catch-up" or "catch-up-limit:N" (N >= 1), '
            f"got {on_missed!r}"
        )
    return int(match.group(1))


@dataclass(frozen=True)
class ScheduleSpec:
    """One schedule's definition. Exactly one of ``cron`` and ``every_ms`` is set.

    Attributes:
        task: the task each fire dispatches.
        cron: a cron expression (5 fields, or 6 with leading seconds), in ``timezone``.
        every_ms: a fixed interval; fires at start + k * interval, never drifting.
        timezone: the IANA zone of ``cron`` ("UTC" by default).
        data: the JSON payload of every fire.
        on_missed: "skip", "catch-up" or "catch-up-limit:N": what a late scheduler does with
            fires whose time passed while no scheduler ran.
        overlap: False: a fire due while the previous run's job is unfinished is skipped, or
            under a catch-up policy waits until that job ended. The fires of one tick's
            catch-up are enqueued together.
    """

    task: str
    cron: str | None = None
    every_ms: int | None = None
    timezone: str = "UTC"
    data: Any = None
    on_missed: str = "skip"
    overlap: bool = False

    @classmethod
    def build(
        cls,
        task: object,
        *,
        cron: str | None = None,
        every: Duration | None = None,
        data: Any = None,
        timezone: str | None = None,
        on_missed: str = "skip",
        overlap: bool = False,
    ) -> ScheduleSpec:
        """Check user input and build a spec; ``task`` is a name or a Task.

        Raises:
            UsageError: the message names the bad option and what is allowed.
        """
        name = getattr(task, "name", task)
        if not isinstance(name, str) or not name:
            raise UsageError(f"schedule task must be a task name or a Task, got {task!r}")
        if (cron is None) == (every is None):
            raise UsageError('a schedule needs exactly one of cron="..." and every="..."')
        every_ms = None
        if every is not None:
            every_ms = to_ms(every, what="every")
            if every_ms < MIN_EVERY_MS:  # the scheduler looks once a second: less means nothing
                raise UsageError(f"every must be at least 1s, got {every!r}")
            if timezone not in (None, "UTC"):
                raise UsageError("timezone applies to cron schedules only; drop it for every=")
        expression = cron_expr.check(cron) if cron is not None else None
        if timezone is not None and not timezone:
            raise UsageError('timezone is empty: give an IANA zone ("Europe/Berlin"), or none '
                             "for UTC")  # fmt: skip
        zone = timezone or "UTC"
        cron_expr.zone(zone)
        catch_up_limit(on_missed)
        if not isinstance(overlap, bool):
            raise UsageError(f"overlap must be True or False, got {overlap!r}")
        dumps(data, what="schedule data")
        return cls(name, expression or None, every_ms, zone, data, on_missed, overlap)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], where: str) -> ScheduleSpec:
        """A spec from a ``[schedules.NAME]`` table or an inline ``schedule={...}`` dict.

        Raises:
            UsageError: an unknown key or a bad value; the message starts with ``where``.
        """
        unknown = sorted(set(raw) - set(TABLE_KEYS))
        if unknown:
            raise UsageError(
                f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(TABLE_KEYS)}"
            )
        if "task" not in raw:
            raise UsageError(f"{where}: missing task (the name of the task to dispatch)")
        try:
            return cls.build(**raw)
        except UsageError as exc:
            raise UsageError(f"{where}: {exc}") from None

    def with_changes(self, **changes: Any) -> ScheduleSpec:
        """This spec with some options replaced (``cron`` replaces ``every`` and vice versa).

        Raises:
            UsageError: an unknown option or a bad value.
        """
        unknown = sorted(set(changes) - set(TABLE_KEYS))
        if unknown:
            raise UsageError(
                f"unknown schedule option {unknown[0]!r}; allowed: {', '.join(TABLE_KEYS)}"
            )
        fields: dict[str, Any] = {"task": self.task, "data": self.data}
        fields |= {"on_missed": self.on_missed, "overlap": self.overlap}
        if "cron" in changes or "every" in changes:
            fields |= {"cron": changes.get("cron"), "every": changes.get("every")}
        else:
            every = None if self.every_ms is None else self.every_ms / 1000
            fields |= {"cron": self.cron, "every": every}
        own_zone = self.timezone if fields["cron"] is not None else None
        fields["timezone"] = changes.get("timezone", own_zone)
        fields |= {k: v for k, v in changes.items() if k not in ("cron", "every", "timezone")}
        return ScheduleSpec.build(**fields)

    # -- the stored form -----------------------------------------------------------------------

    def to_json(self) -> str:
        """The definition as stored on the server (keys sorted, so equal specs store equal)."""
        return json.dumps(
            {
                "task": self.task,
                "cron": self.cron,
                "every_ms": self.every_ms,
                "timezone": self.timezone,
                "data": self.data,
                "on_missed": self.on_missed,
                "overlap": self.overlap,
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, raw: str) -> ScheduleSpec:
        """Read a stored definition back."""
        value = json.loads(raw)
        return cls(
            value["task"],
            value.get("cron"),
            value.get("every_ms"),
            value.get("timezone") or "UTC",
            value.get("data"),
            value.get("on_missed", "skip"),
            bool(value.get("overlap", False)),
        )

    def timing(self) -> str:
        """The part of the definition that decides fire times: a change resets the next run."""
        return f"cron {self.cron} {self.timezone}" if self.cron else f"every {self.every_ms}"

    def describe(self) -> str:
        """For people: "every 30s", or "cron 0 9 * * MON-FRI (Europe/Berlin)"."""
        if self.every_ms is not None:
            return f"every {format_ms(self.every_ms)}"
        return f"cron {self.cron} ({self.timezone})"

    # -- time math -----------------------------------------------------------------------------

    def first_fire(self, now_ms: int) -> int:
        """When a new schedule (or one whose timing changed) fires first."""
        if self.every_ms is not None:
            return now_ms + self.every_ms
        return self.next_after(now_ms)

    def next_after(self, at_ms: int) -> int:
        """The fire time following the fire time ``at_ms`` (for cron: the first after it)."""
        if self.every_ms is not None:
            return at_ms + self.every_ms
        assert self.cron is not None
        return cron_expr.next_fire(self.cron, self.timezone, at_ms)

    def upcoming(self, next_ms: int, count: int) -> list[int]:
        """``count`` fire times starting with ``next_ms``."""
        times = [next_ms]
        while len(times) < count:
            times.append(self.next_after(times[-1]))
        return times[:count]

    def resume_at(self, next_ms: int, now_ms: int) -> int:
        """The next run after a pause: the stored one under a catch-up policy (the next tick
        replays what the policy allows); else the first fire time after now."""
        if catch_up_limit(self.on_missed) != 0:
            return next_ms
        return self.skip_to(next_ms, now_ms)

    def skip_to(self, next_ms: int, now_ms: int) -> int:
        """The first fire time strictly after ``now_ms``, in ``next_ms``'s cadence."""
        if next_ms > now_ms:
            return next_ms
        if self.every_ms is not None:
            return next_ms + ((now_ms - next_ms) // self.every_ms + 1) * self.every_ms
        return self.next_after(now_ms)


def declare(declared: dict[str, ScheduleSpec], name: str, spec: ScheduleSpec) -> ScheduleSpec:
    """Add ``spec`` as ``name`` to an app's declarations; declaring it again the same is fine.

    Raises:
        UsageError: a bad name, or the name declared before with another definition.
    """
    check_name(name)
    existing = declared.get(name)
    if existing is not None and existing != spec:
        raise UsageError(f"schedule {name!r} is already declared (for task {existing.task!r})")
    declared[name] = spec
    return spec


def declare_inline(declared: dict[str, ScheduleSpec], task: str, raw: object) -> ScheduleSpec:
    """Declare ``@task(schedule={...})``: a schedule named after its task."""
    if not isinstance(raw, Mapping):
        raise UsageError(f'schedule must be a dict like {{"every": "30s"}}, got {raw!r}')
    spec = ScheduleSpec.from_mapping({**raw, "task": task}, f"task {task!r} schedule")
    return declare(declared, task, spec)


def with_config(
    declared: Mapping[str, ScheduleSpec], tables: Mapping[str, Mapping[str, Any]]
) -> dict[str, ScheduleSpec]:
    """An app's declarations plus the config's ``[schedules.NAME]`` tables.

    Raises:
        UsageError: a table reuses a name declared in code with another definition.
    """
    found = dict(declared)
    for name, table in tables.items():
        spec = ScheduleSpec.from_mapping(table, f"[schedules.{name}]")
        if name in found and found[name] != spec:
            raise UsageError(f"schedule {name!r} is declared both in code and in the config")
        found[name] = spec
    return found


@dataclass(frozen=True)
class Plan:
    """What one tick does with a due schedule: fire at ``fires`` (in order, possibly none),
    skip ``skipped`` fire times, and store ``next_ms`` as the next run."""

    fires: list[int]
    skipped: int
    next_ms: int


def plan(spec: ScheduleSpec, next_ms: int, now_ms: int, grace_ms: int) -> Plan:
    """Decide a due schedule's fires. A fire time more than ``grace_ms`` old is *missed* (no
    scheduler ran then): ``skip`` drops missed ones, ``catch-up`` replays them all in order and
    ``catch-up-limit:N`` the newest N. A fire on time (within the grace) always runs, but
    several on-time fires in one tick (a hiccup shorter than the grace) run once, as the newest.

    Catch-up replays at most CATCH_UP_BATCH fires per tick; ``next_ms`` then points at the
    first fire not yet replayed, so the next tick continues.
    """
    limit = catch_up_limit(spec.on_missed)
    if limit is None:
        fires: list[int] = []
        at = next_ms
        while at <= now_ms and len(fires) < CATCH_UP_BATCH:
            fires.append(at)
            at = spec.next_after(at)
        return Plan(fires, 0, at)
    horizon = now_ms - grace_ms
    at, jumped = _late_start(spec, next_ms, horizon, keep=limit + 1)
    due: list[int] = []
    while at <= now_ms:
        due.append(at)
        at = spec.next_after(at)
    missed = [t for t in due if t < horizon]
    on_time = [t for t in due if t >= horizon]
    fires = on_time[-1:] if limit == 0 else (missed + on_time[-1:])[-limit:]
    return Plan(fires, jumped + len(due) - len(fires), at)


def _late_start(spec: ScheduleSpec, next_ms: int, horizon: int, keep: int) -> tuple[int, int]:
    """A fire time from which at most about ``keep`` fires fall before ``horizon``, and how many
    fires it jumps over (0 when unknown), so a long outage is not walked fire by fire."""
    if next_ms >= horizon:
        return next_ms, 0
    if spec.every_ms is not None:
        behind = (horizon - next_ms - 1) // spec.every_ms + 1  # fire times in [next, horizon)
        jump = max(0, behind - keep)
        return next_ms + jump * spec.every_ms, jump
    window = 60_000
    while horizon - window > next_ms:
        start = spec.next_after(horizon - window - 1)
        at, seen = start, 0
        while at < horizon and seen < keep:
            at, seen = spec.next_after(at), seen + 1
        if seen >= keep:
            return start, 0
        window *= 4
    return next_ms, 0
