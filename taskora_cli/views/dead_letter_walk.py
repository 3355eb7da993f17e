"""The walk behind the dead-letter queue's bulk actions (``retry_all``, ``purge``): a
task's failed set, oldest first, page by page, acting on the jobs that pass the filters."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..error_shapes import parse_error
from ..errors import UsageError

if TYPE_CHECKING:
    from ..engine.dead import DeadRow
    from ..engine.engine import Engine

Action = Callable[["Engine", str, list[str]], Any]
"""A bulk action on a batch of one task's dead letters: awaitable, one flag per id (True:
done; False: it stopped being dead meanwhile)."""


@dataclass
class BulkFilter:
    """Which dead letters a bulk action takes: matching ``pattern``, failed at ``min_ms`` or
    later, at most ``left`` more of them. ``left`` counts down as the walk takes them."""

    pattern: re.Pattern[str] | None
    min_ms: int | None
    left: int | None  # how many more may match; None = no limit

    def full(self) -> bool:
        return self.left is not None and self.left <= 0


def compile_error_match(error_match: str | None) -> re.Pattern[str] | None:
    """``--error-match`` compiled (None: no filter).

    Raises:
        UsageError: not a valid regular expression.
    """
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


async def walk_failed_set(
    engine: Engine,
    name: str,
    filt: BulkFilter,
    act: Action,
    dry_run: bool,
    tick: Callable[[int], None],
    batch: int,
) -> tuple[int, int]:
    """Walk one task's failed set oldest first, acting on the matching jobs batch by batch.

    Jobs acted on leave the set, the others stay; so the walk keeps a cursor of (score, how
    many jobs with exactly that score it has passed and left in place) rather than a rank,
    which would shift under it. ``batch``: ids per page, and per ``act`` call. Returns
    (matched, done).
    """
    cursor, kept_at_cursor = filt.min_ms, 0
    matched = done = 0
    while not filt.full():
        page = await engine.dead_letters.page(name, cursor, kept_at_cursor, batch)
        if not page:
            break
        if filt.pattern is None:
            chosen = [job_id for job_id, _ in page]
        else:
            rows = await engine.dead_letters.rows(name, page)
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
        if len(page) < batch:
            break
    return matched, done
