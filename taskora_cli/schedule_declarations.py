"""Schedules an app declares in code (``app.schedule(...)``), beside those declared inline on
tasks and in the config file; workers store them on the server when they start."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .durations import Duration
    from .schedule_spec import ScheduleSpec
    from .task import Task
    from .task_registry import TaskRegistry


class ScheduleDeclarations:
    """The part of an app that declares schedules into its registry (``Taskora`` is one)."""

    registry: TaskRegistry

    def schedule(
        self,
        name: str,
        *,
        task: str | Task,
        cron: str | None = None,
        every: Duration | None = None,
        data: Any = None,
        timezone: str | None = None,
        on_missed: str = "skip",
        overlap: bool = False,
    ) -> ScheduleSpec:
        """Declare a schedule; workers store it on the server when they start (declare it
        before, or store it now with ``app.schedules().register()``).

        Args:
            name: the schedule's name (letters, digits, ``_ . -``).
            task: the task to dispatch, by name or as the Task.
            cron: a cron expression: 5 fields, or 6 with a leading seconds field; day and
                month names work ("0 9 * * MON-FRI").
            every: a fixed interval ("30s", "1h"); fires never drift.
            data: the payload of every run.
            timezone: the IANA zone of ``cron`` (default UTC); DST changes neither skip nor
                double a run.
            on_missed: fires whose time passed while no scheduler ran: "skip" (default),
                "catch-up" (all, in order) or "catch-up-limit:N" (the newest N).
            overlap: False (default): a fire due while the previous run's job is unfinished
                is skipped, or under a catch-up policy waits until it ended (and is then
                replayed as that policy says).

        Raises:
            UsageError: a bad option, or a name declared twice.
        """
        from .schedule_spec import ScheduleSpec, declare

        spec = ScheduleSpec.build(
            task, cron=cron, every=every, data=data, timezone=timezone, on_missed=on_missed,
            overlap=overlap,
        )  # fmt: skip
        return declare(self.registry.schedules, name, spec)

    def declared_schedules(self) -> dict[str, ScheduleSpec]:
        """The schedules this app declares: in code, inline on tasks, and in the config's
        ``[schedules.NAME]`` tables.

        Raises:
            UsageError: a TOML schedule reuses a name declared in code.
        """
        return self.registry.declared_schedules()
