"""What ``taskora jobs show`` does, whichever reader read its command line (typer in jobs.py,
or the fast path in fast_path.py), and the job lookup every ``jobs`` command shares. No typer
here, so the fast path never imports it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .common import USAGE, fail, load, load_app, plural, print_json, shown

if TYPE_CHECKING:
    from ..app import Taskora
    from ..views.inspector import JobInfo


def when(job: JobInfo, name: str) -> str:
    """The moment ``name`` of ``job``'s timeline as local time (``-`` for none)."""
    from ..moments import local_text

    return local_text(job.timeline.ms(name))


def find_job(app: Taskora, job_id: str, task: str | None) -> JobInfo:
    """The job ``job_id`` (of ``task``, or of any known task), or stop with a usage error."""
    found = app.inspect().find(job_id, task)
    if found is None:
        where = f"task {task!r}" if task else "any known task"
        fail(USAGE, f"no job {job_id} under {where}; check the id (`taskora jobs ls` lists them)")
    return found


def run_show(
    job_id: str, *, task: str | None = None, as_json: bool = False, config: Path | None = None
) -> None:
    """Run ``taskora jobs show`` with these flags (see its --help in jobs.py)."""
    app = load_app(load(config))
    try:
        job = find_job(app, job_id, task)
    finally:
        app.close()
    if as_json:
        from .. import documents

        print_json(documents.job(job))
        return
    fields = [
        ("id", job.id), ("task", job.task), ("state", job.state),
        ("attempt", str(job.attempt)), ("priority", str(job.priority)),
        ("dispatched", when(job, "dispatched_at")), ("started", when(job, "started_at")),
        ("finished", when(job, "finished_at")), ("due", when(job, "run_at")),
        ("data", shown(job.data)), ("result", shown(job.result)),
        ("progress", shown(job.progress)),
        ("logs", f"{plural(len(job.logs), 'entry')} (taskora jobs logs {job.id})"),
    ]  # fmt: skip
    if job.cancel_reason is not None:
        fields.append(("cancelled", job.cancel_reason or "(no reason given)"))
    if "." in job.id:  # a workflow node's job id ends in ".<index>"; skip the import for others
        from ..workflow_graph import parse_node_job_id

        node = parse_node_job_id(job.id)
        if node is not None:
            fields.append(("workflow", f"{node[0]}, node {node[1]}"))
    error = job.outcome_error
    if error is not None:
        fields.append(("error", error.summary()))
        fields += [("", f"  {issue}") for issue in error.issues]
    fields += _attempt_fields(job)
    for name, value in fields:
        print(f"{name + ':' if name else '':<12}{value}")
    if error is not None and error.traceback:
        print("\n" + error.traceback.rstrip())


def _attempt_fields(job: JobInfo) -> list[tuple[str, str]]:
    """One line per attempt when there was more than one; an earlier attempt's error (the
    job keeps only the last) shows there, never as the job's error."""
    attempts = job.attempts()
    if len(attempts) < 2:
        return []
    out = []
    for attempt in attempts:
        text = attempt.outcome
        if attempt.error is not None and attempt is not attempts[-1]:
            text += f": {attempt.error.type or 'Error'}: {attempt.error.message}"
        out.append((f"  #{attempt.number}", text))
    return [("attempts", str(len(attempts))), *out]
