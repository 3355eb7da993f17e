"""Removing jobs for good: one by id (any job not running), or the finished jobs of one state
older than a given age, in batches.

Cleaning walks each task's finished set oldest first, BATCH ids per round trip, one script
call per batch; the script deletes only jobs still in that set and old enough, so a clean that
was interrupted (or raced by a retry) can simply be run again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..durations import Duration, to_ms
from ..errors import JobActiveError, JobNotFoundError, UsageError

if TYPE_CHECKING:
    from ..task_registry import Parts

BATCH = 500
"""Finished jobs looked up, and deleted, per round trip."""

CLEANABLE = ("completed", "failed", "cancelled", "expired")
"""The states ``clean`` accepts: those whose jobs have ended."""


@dataclass(frozen=True, slots=True)
class CleanResult:
    """What a clean did (or, in a dry run, would do).

    Attributes:
        state: the state cleaned.
        matched: jobs that ended in that state before the cut-off.
        deleted: jobs deleted (0 in a dry run).
        dry_run: nothing was changed.
        by_task: per task, how many matched (dry run) or were deleted.
    """

    state: str
    matched: int
    deleted: int
    dry_run: bool
    by_task: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``taskora jobs clean --json``)."""
        return {
            "state": self.state, "matched": self.matched, "deleted": self.deleted,
            "dry_run": self.dry_run, "by_task": dict(self.by_task),
        }  # fmt: skip


async def delete_job(parts: Parts, job_id: str, task: str | None = None) -> str:
    """Delete a job that is not running; see :meth:`AppClient.adelete_job`.

    Returns:
        The state the job was in.
    """
    engine = await parts.runtime.engine()
    if task is None:
        found = await engine.find_job(job_id, await parts.registry.known_names())
        if found is None:
            raise JobNotFoundError(f"no job {job_id} under any known task", job_id)
        task = found.task
    outcome, state = await engine.admin.delete(task, job_id)
    if outcome == "missing":
        raise JobNotFoundError(f"job {job_id} of task {task!r} does not exist", job_id)
    if outcome == "active":
        raise JobActiveError(
            f"job {job_id} is active (a worker is running it) and cannot be deleted; cancel it "
            f"first (`taskora jobs cancel {job_id}`), or wait for it to end, then delete it",
            job_id,
        )
    return state


async def clean_jobs(
    parts: Parts,
    state: str,
    older_than: Duration,
    task: str | None = None,
    *,
    dry_run: bool = False,
) -> CleanResult:
    """Delete the jobs that ended ``state`` more than ``older_than`` ago; see
    :meth:`AppClient.aclean_jobs`."""
    if state not in CLEANABLE:
        raise UsageError(f"cannot clean {state!r} jobs; use one of {', '.join(CLEANABLE)}")
    before_ms = parts.runtime.clock() - to_ms(older_than, what="older_than")
    engine = await parts.runtime.engine()
    names = await parts.registry.known_names()
    if task is not None and task not in names:
        raise UsageError(f"unknown task {task!r}; known tasks: {', '.join(names) or 'none'}")
    by_task: dict[str, int] = {}
    for name in [task] if task else names:
        if dry_run:
            n = await engine.admin.count_ended_before(name, state, before_ms)
        else:
            n = await _clean_task(parts, name, state, before_ms)
        if n:
            by_task[name] = n
    total = sum(by_task.values())
    return CleanResult(state, total, 0 if dry_run else total, dry_run, by_task)


async def _clean_task(parts: Parts, task: str, state: str, before_ms: int) -> int:
    engine = await parts.runtime.engine()
    deleted = 0
    while True:
        ids = await engine.admin.ended_before(task, state, before_ms, BATCH)
        if not ids:
            return deleted
        flags = await engine.admin.purge_ended(task, state, ids, before_ms)
        deleted += sum(flags)
