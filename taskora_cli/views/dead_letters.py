"""Dead letters: jobs that failed for good, as a view over each task's failed set.

List them (newest first), group them by error, retry one or many, or purge them. Bulk actions
go through the server in batches of BATCH ids, one script call per batch, walking each failed
set oldest first; each script only acts on jobs that are still dead, so a bulk action that was
interrupted can simply be run again.
"""

from __future__ import annotations

import builtins
import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..blocking import blocking_twin
from ..durations import Duration, to_ms
from ..error_shapes import error_shape, parse_error, shape_pattern
from ..errors import Issue, JobNotFoundError, UsageError
from ..job_state import JobState
from ..remote_error import issues_as_dicts, parse_remote_error
from .dead_letter_walk import Action, BulkFilter, compile_error_match, walk_failed_set

if TYPE_CHECKING:
    from ..engine.dead import DeadRow
    from ..engine.engine import Engine
    from ..task import Task
    from ..task_registry import Parts

__all__ = [
    "BATCH", "BulkResult", "DeadGroup", "DeadLetter", "DeadLetters", "Progress", "error_shape",
    "parse_error", "shape_pattern",
]  # fmt: skip

BATCH = 500
"""Dead letters read, and retried or purged, per round trip."""

Progress = Callable[[int, int], None]
"""Called as (dead letters looked at so far, how many there are to look at)."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A job that failed for good."""

    id: str
    task: str
    failed_at_ms: int
    attempts: int
    error_type: str
    error_message: str
    traceback: str | None = None
    issues: tuple[Issue, ...] = ()
    """For a validation or version failure, each bad field (empty otherwise)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``taskora dlq ls --json``); the traceback is left out, the issues
        are in ``error`` when there are some."""
        error: dict[str, Any] = {"type": self.error_type, "message": self.error_message}
        if self.issues:
            error["issues"] = issues_as_dicts(self.issues)
        return {
            "id": self.id,
            "task": self.task,
            "failed_at_ms": self.failed_at_ms,
            "attempts": self.attempts,
            "error": error,
        }


@dataclass(frozen=True, slots=True)
class DeadGroup:
    """Dead letters that died of the same error: the same type, and the same message once
    the values in it (numbers, ids, quoted text) are masked (see :func:`error_shape`).

    ``error_message`` is that masked message, e.g. ``card <n> declined``; ``sample`` is the
    newest member's own message; ``error_match`` a regular expression for ``--error-match``
    (``dlq retry-all``, ``dlq purge``) that matches every member."""

    error_type: str
    error_message: str
    count: int
    newest_ms: int
    newest_id: str
    tasks: tuple[str, ...]
    sample: str = ""
    error_match: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``taskora dlq ls --group --json``)."""
        return {
            "error": {"type": self.error_type, "message": self.error_message},
            "count": self.count,
            "newest_ms": self.newest_ms,
            "newest_id": self.newest_id,
            "tasks": list(self.tasks),
            "sample": self.sample,
            "error_match": self.error_match,
        }


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What a bulk retry or purge did: ``matched`` dead letters passed the filters, ``done``
    of them were retried or purged (0 in a dry run; fewer than matched if some stopped being
    dead meanwhile)."""

    matched: int
    done: int
    dry_run: bool
    by_task: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "matched": self.matched,
            "done": self.done,
            "dry_run": self.dry_run,
            "by_task": self.by_task,
        }


def _letter(row: DeadRow) -> DeadLetter:
    kind, message, trace = parse_error(row.error)
    stored = parse_remote_error(row.error)
    issues = () if stored is None else stored.issues
    return DeadLetter(row.id, row.task, row.failed_at_ms, row.attempt, kind, message, trace, issues)


class DeadLetters:
    """The dead-letter queue of an app: ``app.dead_letters()``.

    Every method has an async twin named with an ``a`` in front (``alist``, ``aretry``, ...).
    ``task`` may be a name or a Task; None means every task known to the server.
    """

    def __init__(self, app: Parts) -> None:
        self.runtime = app.runtime
        self.registry = app.registry

    # -- reading -----------------------------------------------------------------------------

    async def alist(
        self, task: str | Task | None = None, offset: int = 0, limit: int = 50
    ) -> builtins.list[DeadLetter]:
        """Dead letters, newest first.

        Args:
            task: only this task's.
            offset: skip this many of the newest.
            limit: return at most this many.
        """
        if offset < 0 or limit < 0:
            raise UsageError(f"offset and limit must be >= 0, got {offset} and {limit}")

        engine, names = await self._scope(task)
        per_task = {name: await engine.dead_letters.newest(name, offset + limit) for name in names}
        merged = heapq.merge(
            *([(-ms, job_id, name) for job_id, ms in rows] for name, rows in per_task.items())
        )
        chosen = builtins.list(merged)[offset : offset + limit]
        found: dict[tuple[str, str], DeadRow] = {}
        for name in names:
            page = [(job_id, -neg) for neg, job_id, owner in chosen if owner == name]
            if page:
                rows = await engine.dead_letters.rows(name, page)
                found |= {(row.task, row.id): row for row in rows}
        return [
            _letter(found[(name, job_id)]) for _, job_id, name in chosen if (name, job_id) in found
        ]

    list = blocking_twin(alist)

    async def agroups(self, task: str | Task | None = None) -> builtins.list[DeadGroup]:
        """Dead letters grouped by error type and message shape (numbers, ids and quoted
        values masked: see :func:`error_shape`), the largest group first."""
        engine, names = await self._scope(task)
        found: dict[tuple[str, str], tuple[int, int, str, set[str], str]] = {}
        for name in names:
            offset = 0
            while True:
                page = await engine.dead_letters.page(name, None, offset, BATCH)
                for row in await engine.dead_letters.rows(name, page):
                    kind, message, _ = parse_error(row.error)
                    key = (kind, error_shape(message))
                    count, newest, newest_id, tasks, sample = found.get(
                        key, (0, -1, "", set(), message)
                    )
                    if row.failed_at_ms >= newest:
                        newest, newest_id, sample = row.failed_at_ms, row.id, message
                    found[key] = (count + 1, newest, newest_id, tasks | {name}, sample)
                if len(page) < BATCH:
                    break
                offset += len(page)
        groups = [
            DeadGroup(
                kind, shape, count, newest, newest_id, tuple(sorted(tasks)), sample,
                shape_pattern(kind, shape),
            )
            for (kind, shape), (count, newest, newest_id, tasks, sample) in found.items()
        ]  # fmt: skip
        return sorted(groups, key=lambda g: (-g.count, -g.newest_ms))

    groups = blocking_twin(agroups)

    async def acount(self, task: str | Task | None = None) -> int:
        """How many dead letters there are."""
        engine, names = await self._scope(task)
        return sum([await engine.dead_letters.count(name) for name in names])

    count = blocking_twin(acount)

    # -- retrying one ------------------------------------------------------------------------

    async def aretry(self, job_id: str, task: str | Task | None = None) -> DeadLetter:
        """Send one dead letter back to the end of its waiting line with a fresh attempt count,
        atomically. Its last error stays in its log.

        Args:
            job_id: the job.
            task: its task, if known; else every task known to the server is checked.

        Returns:
            The dead letter as it was.

        Raises:
            JobNotFoundError: no such job (never dispatched, or trimmed by retention).
            UsageError: the job exists but is not dead (it is waiting, completed, ...).
        """

        engine, names = await self._scope(task)
        states = await engine.dead_letters.job_states(names, job_id)
        found = [(name, state) for name, state in zip(names, states, strict=True) if state]
        dead = [name for name, state in found if state == JobState.FAILED]
        if not dead:
            if not found:
                where = f"task {names[0]!r}" if task is not None else "any task"
                raise JobNotFoundError(
                    f"no job {job_id!r} in {where} (never dispatched, or trimmed by retention)",
                    job_id,
                )
            name, state = found[0]
            raise UsageError(
                f"job {job_id} of task {name!r} is {state}, not a dead letter; only failed "
                "jobs can be retried from the dead-letter queue"
            )
        name = dead[0]
        when = await engine.dead_letters.failed_at(name, job_id)
        rows = await engine.dead_letters.rows(name, [(job_id, when or 0)])
        now = self.runtime.clock()
        if not rows or not (await engine.dead_letters.retry(name, [job_id], now))[0]:
            raise UsageError(f"job {job_id} of task {name!r} stopped being dead meanwhile")
        return _letter(rows[0])

    retry = blocking_twin(aretry)

    # -- bulk --------------------------------------------------------------------------------

    async def aretry_all(
        self,
        task: str | Task | None = None,
        *,
        error_match: str | None = None,
        since: Duration | None = None,
        limit: int | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> BulkResult:
        """Send dead letters back to their waiting lines, oldest first, one server call per
        batch of BATCH. Safe to run again after an interruption: only what is still dead is
        retried.

        Args:
            task: only this task's.
            error_match: a regular expression searched in ``"ErrorType: message"``.
            since: only jobs that failed within this long (e.g. ``"1h"``).
            limit: retry at most this many.
            dry_run: only count what would be retried.
            progress: called after each batch with (looked at, to look at).
        """

        now = self.runtime.clock()

        async def act(engine: Engine, name: str, ids: builtins.list[str]) -> builtins.list[bool]:
            return await engine.dead_letters.retry(name, ids, now)

        return await self._bulk(act, task, error_match, since, limit, dry_run, progress)

    retry_all = blocking_twin(aretry_all)

    async def apurge(
        self,
        task: str | Task | None = None,
        *,
        error_match: str | None = None,
        since: Duration | None = None,
        limit: int | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> BulkResult:
        """Delete dead letters (hash, logs, failed-set entry), oldest first, in batches; the
        filters are those of :meth:`aretry_all`."""

        async def act(engine: Engine, name: str, ids: builtins.list[str]) -> builtins.list[bool]:
            return await engine.dead_letters.purge(name, ids)

        return await self._bulk(act, task, error_match, since, limit, dry_run, progress)

    purge = blocking_twin(apurge)

    async def _bulk(
        self,
        act: Action,
        task: str | Task | None,
        error_match: str | None,
        since: Duration | None,
        limit: int | None,
        dry_run: bool,
        progress: Progress | None,
    ) -> BulkResult:

        if limit is not None and limit < 0:
            raise UsageError(f"limit must be >= 0, got {limit}")
        since_ms = None if since is None else to_ms(since, what="since")
        filt = BulkFilter(
            compile_error_match(error_match),
            None if since_ms is None else self.runtime.clock() - since_ms,
            limit,
        )
        engine, names = await self._scope(task)
        total = sum([await engine.dead_letters.count(name, filt.min_ms) for name in names])
        seen = [0]

        def tick(looked_at: int) -> None:
            seen[0] += looked_at
            if progress is not None:
                progress(seen[0], max(total, seen[0]))

        tick(0)
        matched = done = 0
        by_task: dict[str, int] = {}
        for name in names:
            if filt.full():
                break
            n_matched, n_done = await walk_failed_set(engine, name, filt, act, dry_run, tick, BATCH)
            matched, done = matched + n_matched, done + n_done
            if n_matched:
                by_task[name] = n_matched if dry_run else n_done
        return BulkResult(matched, done, dry_run, by_task)

    # -- helpers -----------------------------------------------------------------------------

    async def _scope(self, task: str | Task | None) -> tuple[Engine, builtins.list[str]]:
        """The engine, and the task names to look at: the one asked for (which must be known
        here or on the server), or every task known to either."""
        engine = await self.runtime.engine()
        if task is not None:
            name = task if isinstance(task, str) else task.name
            await self.registry.resolve(name)
            return engine, [name]
        return engine, await self.registry.known_names()
