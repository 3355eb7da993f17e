"""The inspector: what is queued, running and finished, and everything stored about one job.

``app.inspect()`` returns one. Every read is a pipelined batch of cheap commands (LLEN, ZCARD,
ZRANGE, HGETALL); nothing writes and nothing scans the keyspace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from ..blocking import blocking_twin, driven_twins
from ..empty_mapping import EMPTY
from ..engine import read_steps
from ..errors import UsageError
from ..job_state import LISTED_STATES
from ..moments import to_datetime
from ..remote_error import RemoteError, decode_stored, parse_remote_error

if TYPE_CHECKING:
    from ..engine.records import JobRecord, TaskCounts
    from ..engine.steps import Driver, Operation, Steps
    from ..serialization import Payloads
    from ..task_catalog import Contracts, Migrations
    from ..task_registry import Parts

MAX_INDEX = 2**53
"""The largest offset + limit a listing takes: far beyond any queue, and well inside the 64-bit
integers the server reads ranges as."""

STATES = LISTED_STATES
"""The states ``Inspector.jobs`` lists; ``delayed`` includes jobs waiting to be retried."""


@dataclass(frozen=True)
class TaskStats:
    """Counts by state for one task (or the total); ``latency`` is the age in seconds of the
    oldest job at the front of the waiting line, None when nothing waits."""

    task: str
    waiting: int = 0
    delayed: int = 0
    active: int = 0
    completed: int = 0
    failed: int = 0
    expired: int = 0
    cancelled: int = 0
    latency: float | None = None
    paused: int = 0

    @classmethod
    def from_counts(cls, c: TaskCounts) -> TaskStats:
        latency = None if c.oldest_waiting_ms is None else c.oldest_waiting_ms / 1000
        return cls(c.task, *c[1:8], latency=latency, paused=c.paused)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Stats:
    """Per-task stats (sorted by name) and their total (latency: the largest)."""

    tasks: list[TaskStats]
    total: TaskStats


class Timeline(NamedTuple):
    """When the job was dispatched, when its latest attempt started and when it ended; a
    delayed or retrying job's ``run_at`` is when it becomes due. The job hash keeps only the
    latest attempt's times, so earlier attempts are not listed.

    A time stored outside what ``datetime`` holds (years 1-9999; written by something other
    than taskora) is None here and kept, in ms since the epoch, in ``out_of_range``."""

    dispatched_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    run_at: datetime | None
    out_of_range: Mapping[str, int] = EMPTY
    """Field name -> the stored ms, for each time no datetime can hold."""

    @classmethod
    def from_ms(
        cls,
        dispatched_at: int | None,
        started_at: int | None,
        finished_at: int | None,
        run_at: int | None,
    ) -> Timeline:
        """From the stored times, in ms since the epoch."""
        stored = {
            "dispatched_at": dispatched_at,
            "started_at": started_at,
            "finished_at": finished_at,
            "run_at": run_at,
        }
        times = {name: to_datetime(ms) for name, ms in stored.items()}
        odd = {n: ms for n, ms in stored.items() if ms is not None and times[n] is None}
        return cls(
            times["dispatched_at"],
            times["started_at"],
            times["finished_at"],
            times["run_at"],
            out_of_range=odd,
        )

    def ms(self, name: str) -> int | None:
        """The time ``name`` (e.g. "dispatched_at") in ms since the epoch, as stored."""
        moment: datetime | None = getattr(self, name)
        if moment is None:
            return self.out_of_range.get(name)
        return round(moment.timestamp() * 1000)

    def as_dict(self) -> dict[str, str | int | None]:
        """Each time as ISO 8601; one out of datetime's range as its stored ms (an integer)."""
        return {
            name: self.out_of_range.get(name) if moment is None else moment.isoformat()
            for name, moment in (
                ("dispatched_at", self.dispatched_at),
                ("started_at", self.started_at),
                ("finished_at", self.finished_at),
                ("run_at", self.run_at),
            )
        }


class Attempt(NamedTuple):
    """One run of a job, as far as the job's hash still tells it: the job keeps only the
    latest failure, so only the attempt just before the final one can carry an error.

    (Timeline and Attempt are NamedTuples: ``stats`` and ``jobs show`` import this module on
    every call, and a dataclass costs half a millisecond to build.)

    Attributes:
        number: 1 for the first run.
        outcome: "retried" (a later attempt ran), or the job's state for the latest one.
        error: how it failed, where still stored.
    """

    number: int
    outcome: str
    error: RemoteError | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "attempt": self.number,
            "outcome": self.outcome,
            "error": None if self.error is None else self.error.as_dict(),
        }


@dataclass(frozen=True)
class JobInfo:
    """Everything stored about one job.

    Attributes:
        data / result / progress: decoded JSON (None when absent).
        error: the latest failure (a retrying job keeps its last one), or None.
        attempt: attempts started so far.
        logs: the job's ``ctx.log`` entries, oldest first.
        cancel_reason: set when someone asked to cancel the job ("" if no reason was given).
    """

    id: str
    task: str
    state: str
    data: Any
    result: Any
    error: RemoteError | None
    attempt: int
    priority: int
    progress: Any
    stalls: int
    cancel_reason: str | None
    timeline: Timeline
    logs: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_record(
        cls, record: JobRecord, logs: list[str] | None = None, payloads: Payloads | None = None
    ) -> JobInfo:
        """The job a record holds; data and result decoded by ``payloads`` (the app's: it
        also knows the app's custom serializers), else by any built-in serializer."""
        return cls(
            id=record.id,
            task=record.task,
            state=record.state,
            data=decode_stored(record.data, payloads),
            result=decode_stored(record.result, payloads),
            error=parse_remote_error(record.error),
            attempt=record.attempt,
            priority=record.priority,
            progress=decode_stored(record.progress),
            stalls=record.stalls,
            cancel_reason=record.cancel,
            timeline=Timeline.from_ms(
                dispatched_at=record.dispatched_at_ms,
                started_at=record.started_at_ms,
                finished_at=record.finished_at_ms,
                run_at=record.run_at_ms,
            ),
            logs=[entry for entry in map(decode_stored, logs or []) if isinstance(entry, dict)],
        )

    @property
    def outcome_error(self) -> RemoteError | None:
        """The error that belongs to the job's outcome (or to the run it waits to retry):
        None once it completed, even if an earlier attempt failed (see :meth:`attempts`)."""
        return None if self.state == "completed" else self.error

    def attempts(self) -> list[Attempt]:
        """The attempts so far, oldest first; the latest one's outcome is the job's state."""
        earlier_error = self.error if self.state == "completed" else None
        out = [Attempt(n, "retried") for n in range(1, self.attempt)]
        if out and earlier_error is not None:
            out[-1] = Attempt(out[-1].number, "retried", earlier_error)
        if self.attempt >= 1:
            out.append(Attempt(self.attempt, self.state, self.outcome_error))
        return out

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO 8601 strings, see :meth:`Timeline.as_dict`).
        ``error`` is the outcome's error (null once completed); an earlier attempt's error
        is in ``attempts``."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        error = self.outcome_error
        out["error"] = None if error is None else error.as_dict()
        out["attempts"] = [attempt.as_dict() for attempt in self.attempts()]
        out["timeline"] = self.timeline.as_dict()
        return out


@dataclass(frozen=True)
class Minute:
    """How many jobs completed and failed for good in the minute starting ``at``."""

    at: datetime
    completed: int
    failed: int

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``at`` in ISO 8601)."""
        return {"at": self.at.isoformat(), "completed": self.completed, "failed": self.failed}


MAX_THROUGHPUT_MINUTES = 1440
"""The per-minute counters are kept for a day."""


SEARCH_PAGE = 200
SEARCH_SCAN = 10_000
"""How many jobs per task a search looks at, at most, by default."""


def _error_has(error: RemoteError | None, needle: str) -> bool:
    if error is None:
        return False
    text = f"{error.type or ''}: {error.message}\n{error.traceback or ''}"
    return needle in text.casefold()


class Inspector:
    """Read-only views of the app's tasks and jobs; blocking methods with async twins."""

    def __init__(self, app: Parts) -> None:
        self.runtime = app.runtime
        self.registry = app.registry

    async def atasks(self) -> list[str]:
        """The tasks to look at: those registered here and those the server knows."""
        return await self.registry.known_names()

    tasks = blocking_twin(atasks)

    def _stats(self) -> Operation[Stats]:
        """Counts by state per task and in total, and each queue's latency."""

        def steps(driver: Driver) -> Steps[Stats]:
            tasks = yield from self.registry.known_names_steps(driver)
            now_ms = self.runtime.clock()
            counts = yield from read_steps.task_counts(driver.keys, tasks, now_ms)
            per_task = [TaskStats.from_counts(c) for c in counts]
            latencies = [s.latency for s in per_task if s.latency is not None]
            sums = {state: sum(getattr(s, state) for s in per_task) for state in STATES}
            total = TaskStats("*", **sums, latency=max(latencies) if latencies else None)
            return Stats(per_task, total)

        return steps

    astats, stats = driven_twins(_stats, "stats")

    def _throughput(self, task: str | None = None, minutes: int = 60) -> Operation[list[Minute]]:
        """Jobs completed and failed for good per minute, over the last ``minutes`` (at most
        1440) up to and including the current one, oldest first; of one task or all of them.

        Raises:
            UsageError: ``minutes`` is not within 1..1440.
        """
        if isinstance(minutes, bool) or not isinstance(minutes, int):
            raise UsageError(f"minutes must be an int, got {minutes!r}")
        if not 1 <= minutes <= MAX_THROUGHPUT_MINUTES:
            raise UsageError(f"minutes must be within 1..{MAX_THROUGHPUT_MINUTES}, got {minutes}")

        def steps(driver: Driver) -> Steps[list[Minute]]:
            now_minute = self.runtime.clock() // 60_000
            span = list(range(now_minute - minutes + 1, now_minute + 1))
            if task is not None:
                tasks = [task]
            else:
                tasks = yield from self.registry.known_names_steps(driver)
            counts = yield from read_steps.minute_counts(driver.keys, tasks, span)
            return [
                Minute(datetime.fromtimestamp(m * 60, tz=UTC), c, f)
                for m, (c, f) in zip(span, counts, strict=True)
            ]

        return steps

    athroughput, throughput = driven_twins(_throughput, "throughput")

    async def ajobs(self, task: str, state: str, offset: int = 0, limit: int = 50) -> list[JobInfo]:
        """Jobs of ``task`` in ``state``: the waiting line in the order workers take
        it, delayed ones by due time, active ones by lock deadline, finished ones newest first.
        The listed records carry no logs (see :meth:`find`).

        Raises:
            UsageError: an unknown state, or a negative offset or limit.
        """
        if state not in STATES:
            raise UsageError(f"unknown state {state!r}; use one of {', '.join(STATES)}")
        if offset < 0 or limit < 0:
            raise UsageError(f"offset and limit must be >= 0, got {offset} and {limit}")
        if offset + limit > MAX_INDEX:  # the server reads ranges as 64-bit integers
            raise UsageError(f"offset + limit must be at most 2**53, got {offset + limit}")
        if limit == 0:
            return []
        engine = await self.runtime.engine()
        ids = await engine.job_ids(task, state, offset, limit)
        records = await engine.jobs_by_id(task, ids)
        return [JobInfo.from_record(r, payloads=self.runtime.payloads) for r in records]

    jobs = blocking_twin(ajobs)

    async def asearch(
        self,
        error: str,
        task: str | None = None,
        state: str = "failed",
        limit: int = 50,
        max_scan: int = SEARCH_SCAN,
    ) -> list[JobInfo]:
        """Jobs in ``state`` whose error (type, message or traceback) contains ``error``,
        ignoring case; newest first for finished states. Walks each task's set for
        that state in pages, looking at ``max_scan`` jobs per task at most: no keyspace scan."""
        needle = error.casefold()
        found: list[JobInfo] = []
        for name in [task] if task is not None else await self.atasks():
            for offset in range(0, max_scan, SEARCH_PAGE):
                page = await self.ajobs(name, state, offset, min(SEARCH_PAGE, max_scan - offset))
                found += [job for job in page if _error_has(job.error, needle)]
                if len(found) >= limit or len(page) < SEARCH_PAGE:
                    break
            if len(found) >= limit:
                break
        return found[:limit]

    search = blocking_twin(asearch)

    def _find(self, job_id: str, task: str | None = None) -> Operation[JobInfo | None]:
        """The job ``job_id`` with its logs, or None. Without ``task`` it is looked
        for under every known task (one pipelined key look-up each)."""

        def steps(driver: Driver) -> Steps[JobInfo | None]:
            if task is not None:
                tasks = [task]
            else:
                tasks = yield from self.registry.known_names_steps(driver)
            record = yield from read_steps.find_job(driver.keys, job_id, tasks)
            if record is None:
                return None
            logs = yield from read_steps.job_logs(driver.keys, record.task, job_id)
            return JobInfo.from_record(record, logs, self.runtime.payloads)

        return steps

    afind, find = driven_twins(_find, "find")

    async def acontracts(self) -> Contracts:
        """Every published task contract, with the live workers serving each, and the tasks
        the server knows by name only. A document this version cannot read is
        skipped and noted in ``unreadable``, never an error."""
        from ..task_catalog import read_contracts

        return await read_contracts(self)

    contracts = blocking_twin(acontracts)

    async def amigrations(self, task: str) -> Migrations:
        """How ``task``'s waiting, active and delayed jobs spread over payload versions, its
        version and since (from the task registered here, else its published contract), and
        how far ``since`` can be raised without stranding a job.

        Raises:
            UnknownTaskError: no one knows the task.
        """
        from ..task_catalog import read_migrations

        return await read_migrations(self, task)

    migrations = blocking_twin(amigrations)
