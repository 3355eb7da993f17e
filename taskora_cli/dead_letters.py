"""Dead letters: jobs that failed for good, as a view over each task's failed set.

List them (newest first), group them by error, retry one or many, or purge them. Bulk actions
go through the server in batches of BATCH ids, one script call per batch, walking each failed
set oldest first; each script only acts on jobs that are still dead, so a bulk action that was
interrupted can simply be run again.
"""

from __future__ import annotations

import builtins
import heapq
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .durations import Duration, to_ms
from .errors import Issue, JobNotFoundError, UsageError
from .job_state import JobState
from .remote_error import issues_as_dicts, parse_remote_error

if TYPE_CHECKING:
    from .engine.dead import DeadRow
    from .engine.engine import Engine
    from .task import Task
    from .task_registry import Parts

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


# What varies between messages of one error, masked in this order (an id's digits are not
# numbers of their own). Each mask has the regular expression that matches what it replaced.
_MASKS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"'[^'\n]*'"), "'<s>'", r"'[^'\n]*'"),
    (re.compile(r'"[^"\n]*"'), '"<s>"', r'"[^"\n]*"'),
    (
        re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
        "<id>",
        r"[0-9A-Za-z-]+",
    ),
    # hex and base-36 ids (taskora's own): 8+ letters and digits with at least one digit
    (re.compile(r"\b(?:0x)?(?=[0-9A-Za-z]*\d)(?=[0-9A-Za-z]*[A-Za-z])[0-9A-Za-z]{8,}\b"), "<id>",
     r"[0-9A-Za-z-]+"),
    (re.compile(r"(?<![A-Za-z_<])-?\d+(?:\.\d+)?"), "<n>", r"-?\d+(?:\.\d+)?"),
)  # fmt: skip
_HOLES = re.compile("|".join(re.escape(mask) for _, mask, _ in _MASKS))


def error_shape(message: str) -> str:
    """A message with its values masked, so the errors of one cause group together:
    ``card 4242 declined for 'bob'`` -> ``card <n> declined for '<s>'``."""
    for pattern, mask, _ in _MASKS:
        message = pattern.sub(mask, message)
    return message


def shape_pattern(error_type: str, shape: str) -> str:
    """A regular expression for ``--error-match`` that matches ``"ErrorType: message"`` for
    every message of this shape."""
    holes = {mask: regex for _, mask, regex in _MASKS}
    parts, at = [], 0
    for hole in _HOLES.finditer(shape):
        parts += [re.escape(shape[at : hole.start()]), holes[hole.group()]]
        at = hole.end()
    parts.append(re.escape(shape[at:]))
    return f"^{re.escape(error_type)}: {''.join(parts)}$"


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


def parse_error(raw: str | None) -> tuple[str, str, str | None]:
    """(type, message, traceback) of a stored error JSON; tolerant of anything else."""
    if not raw:
        return "?", "", None
    try:
        value = json.loads(raw)
    except ValueError:
        return "?", raw, None
    if not isinstance(value, dict):
        return "?", str(value), None
    trace = value.get("traceback")
    return (
        str(value.get("type") or "?"),
        str(value.get("message") or ""),
        trace if isinstance(trace, str) else None,
    )


def _letter(row: DeadRow) -> DeadLetter:
    kind, message, trace = parse_error(row.error)
    stored = parse_remote_error(row.error)
    issues = () if stored is None else stored.issues
    return DeadLetter(row.id, row.task, row.failed_at_ms, row.attempt, kind, message, trace, issues)


@dataclass
class _Filter:
    pattern: re.Pattern[str] | None
    min_ms: int | None
    left: int | None  # how many more may match; None = no limit

    def full(self) -> bool:
        return self.left is not None and self.left <= 0


class DeadLetters:
    """The dead-letter queue of an app: ``app.dead_letters()``.

    Every method has an async twin named with an ``a`` in front (``alist``, ``aretry``, ...).
    ``task`` may be a name or a Task; None means every task known to the server.
    """

    def __init__(self, app: Parts) -> None:
        self.runtime = app.runtime
        self.registry = app.registry

    # -- reading -----------------------------------------------------------------------------

    def list(
        self, task: str | Task | None = None, offset: int = 0, limit: int = 50
    ) -> builtins.list[DeadLetter]:
        """Dead letters, newest first (blocking); see :meth:`alist`."""
        return self.runtime.call(self.alist(task, offset, limit))

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
        from .engine.dead import dead_rows, newest_dead

        engine, names = await self._scope(task)
        per_task = {name: await newest_dead(engine, name, offset + limit) for name in names}
        merged = heapq.merge(
            *([(-ms, job_id, name) for job_id, ms in rows] for name, rows in per_task.items())
        )
        chosen = builtins.list(merged)[offset : offset + limit]
        found: dict[tuple[str, str], DeadRow] = {}
        for name in names:
            page = [(job_id, -neg) for neg, job_id, owner in chosen if owner == name]
            if page:
                found |= {(row.task, row.id): row for row in await dead_rows(engine, name, page)}
        return [
            _letter(found[(name, job_id)]) for _, job_id, name in chosen if (name, job_id) in found
        ]

    def groups(self, task: str | Task | None = None) -> builtins.list[DeadGroup]:
        """Dead letters grouped by error (blocking); see :meth:`agroups`."""
        return self.runtime.call(self.agroups(task))

    async def agroups(self, task: str | Task | None = None) -> builtins.list[DeadGroup]:
        """Dead letters grouped by error type and message shape (numbers, ids and quoted
        values masked: see :func:`error_shape`), the largest group first."""
        from .engine.dead import dead_page, dead_rows

        engine, names = await self._scope(task)
        found: dict[tuple[str, str], tuple[int, int, str, set[str], str]] = {}
        for name in names:
            offset = 0
            while True:
                page = await dead_page(engine, name, None, offset, BATCH)
                for row in await dead_rows(engine, name, page):
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

    def count(self, task: str | Task | None = None) -> int:
        """How many dead letters there are (blocking)."""
        return self.runtime.call(self.acount(task))

    async def acount(self, task: str | Task | None = None) -> int:
        """How many dead letters there are."""
        from .engine.dead import dead_count

        engine, names = await self._scope(task)
        return sum([await dead_count(engine, name) for name in names])

    # -- retrying one ------------------------------------------------------------------------

    def retry(self, job_id: str, task: str | Task | None = None) -> DeadLetter:
        """Retry one dead letter (blocking); see :meth:`aretry`."""
        return self.runtime.call(self.aretry(job_id, task))

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
        from .engine.dead import dead_rows, failed_at, job_states, retry_dead

        engine, names = await self._scope(task)
        states = await job_states(engine, names, job_id)
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
        when = await failed_at(engine, name, job_id)
        rows = await dead_rows(engine, name, [(job_id, when or 0)])
        if not rows or not (await retry_dead(engine, name, [job_id], self.runtime.clock()))[0]:
            raise UsageError(f"job {job_id} of task {name!r} stopped being dead meanwhile")
        return _letter(rows[0])

    # -- bulk --------------------------------------------------------------------------------

    def retry_all(
        self,
        task: str | Task | None = None,
        *,
        error_match: str | None = None,
        since: Duration | None = None,
        limit: int | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> BulkResult:
        """Retry many dead letters (blocking); see :meth:`aretry_all`."""
        return self.runtime.call(
            self.aretry_all(
                task,
                error_match=error_match,
                since=since,
                limit=limit,
                dry_run=dry_run,
                progress=progress,
            )
        )

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
        from .engine.dead import retry_dead

        now = self.runtime.clock()

        async def act(engine: Engine, name: str, ids: builtins.list[str]) -> builtins.list[bool]:
            return await retry_dead(engine, name, ids, now)

        return await self._bulk(act, task, error_match, since, limit, dry_run, progress)

    def purge(
        self,
        task: str | Task | None = None,
        *,
        error_match: str | None = None,
        since: Duration | None = None,
        limit: int | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> BulkResult:
        """Delete dead letters for good (blocking); see :meth:`apurge`."""
        return self.runtime.call(
            self.apurge(
                task,
                error_match=error_match,
                since=since,
                limit=limit,
                dry_run=dry_run,
                progress=progress,
            )
        )

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
        from .engine.dead import purge_dead

        async def act(engine: Engine, name: str, ids: builtins.list[str]) -> builtins.list[bool]:
            return await purge_dead(engine, name, ids)

        return await self._bulk(act, task, error_match, since, limit, dry_run, progress)

    async def _bulk(
        self,
        act: Callable[[Engine, str, builtins.list[str]], Any],
        task: str | Task | None,
        error_match: str | None,
        since: Duration | None,
        limit: int | None,
        dry_run: bool,
        progress: Progress | None,
    ) -> BulkResult:
        from .engine.dead import dead_count

        if limit is not None and limit < 0:
            raise UsageError(f"limit must be >= 0, got {limit}")
        since_ms = None if since is None else to_ms(since, what="since")
        filt = _Filter(
            _compile(error_match),
            None if since_ms is None else self.runtime.clock() - since_ms,
            limit,
        )
        engine, names = await self._scope(task)
        total = sum([await dead_count(engine, name, filt.min_ms) for name in names])
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
            n_matched, n_done = await _walk(engine, name, filt, act, dry_run, tick)
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


def _compile(error_match: str | None) -> re.Pattern[str] | None:
    if error_match is None:
        return None
    try:
        return re.compile(error_match)
    except re.error as exc:
        raise UsageError(
            f"error match {error_match!r} is not a valid regular expression: {exc}"
        ) from None


def _matches(row: DeadRow, pattern: re.Pattern[str]) -> bool:
    kind, message, _ = parse_error(row.error)
    return pattern.search(f"{kind}: {message}") is not None


async def _walk(
    engine: Engine,
    name: str,
    filt: _Filter,
    act: Callable[[Engine, str, builtins.list[str]], Any],
    dry_run: bool,
    tick: Callable[[int], None],
) -> tuple[int, int]:
    """Walk one task's failed set oldest first, acting on the matching jobs batch by batch.

    Jobs acted on leave the set, the others stay; so the walk keeps a cursor of (score, how
    many jobs with exactly that score it has passed and left in place) rather than a rank,
    which would shift under it. Returns (matched, done).
    """
    from .engine.dead import dead_page, dead_rows

    cursor, kept_at_cursor = filt.min_ms, 0
    matched = done = 0
    while not filt.full():
        page = await dead_page(engine, name, cursor, kept_at_cursor, BATCH)
        if not page:
            break
        if filt.pattern is None:
            chosen = [job_id for job_id, _ in page]
        else:
            rows = await dead_rows(engine, name, page)
            chosen = [row.id for row in rows if _matches(row, filt.pattern)]
        if filt.left is not None:
            chosen = chosen[: filt.left]
            filt.left -= len(chosen)
        gone: set[str] = set()
        if chosen and not dry_run:
            flags = await act(engine, name, chosen)
            gone = {job_id for job_id, flag in zip(chosen, flags, strict=True) if flag}
        matched, done = matched + len(chosen), done + len(gone)
        tick(len(page))
        last = page[-1][1]
        kept_last = sum(1 for job_id, ms in page if ms == last and job_id not in gone)
        if last == cursor:
            kept_at_cursor += kept_last
        else:
            cursor, kept_at_cursor = last, kept_last
        if len(page) < BATCH:
            break
    return matched, done
