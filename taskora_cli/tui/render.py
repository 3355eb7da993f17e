"""State -> what the terminal shows. Pure: the same state and size give the same lines.

The frame is a header line (the screens), ``state.rows`` lines of body, a status line (what
the last action did, a question, or the filter being typed) and a line of key hints.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Group
from rich.text import Text

from ..job_state import LISTED_STATES as STATES
from ..job_state import JobState
from ..moments import local_text
from ..serialization import display_default
from .cells import age, count, grid, line, window
from .detail import STATE_STYLES, detail_lines
from .model import KEYS, NUMBERED, Screen
from .state import (
    State,
    dead_groups,
    job_rows,
    schedule_rows,
    task_rows,
    worker_rows,
    workflow_rows,
)

if TYPE_CHECKING:
    from ..views.inspector import JobInfo
    from ..views.queues import QueueInfo
    from ..views.worker_registry import WorkerInfo
    from ..views.workflows import WorkflowInfo

CHROME = 3
"""Lines around the body: header, status, hints."""

HINTS = {
    Screen.OVERVIEW: "↑↓ select  enter jobs of task  p pause/resume its queue  ? help  q quit",
    Screen.JOBS: "←→ state  ↑↓ select  / filter  enter detail  c cancel  r retry  ? help  q quit",
    Screen.DEAD: "↑↓ select  r retry  R retry group  / filter  enter detail  ? help  q quit",
    Screen.WORKERS: f"↑↓ select  D drain worker  1-{len(NUMBERED)} screens  ? help  q quit",
    Screen.SCHEDULES: "↑↓ select  p pause/resume  t trigger now  ? help  q quit",
    Screen.WORKFLOWS: "↑↓ select  c cancel workflow  ? help  q quit",
    Screen.DETAIL: "esc back  ↑↓ scroll  f follow logs  r retry  c cancel  ? help  q quit",
}

HELP = KEYS


def render(state: State, width: int) -> Group:
    """The whole frame for a terminal ``width`` cells wide (``state.rows`` + CHROME lines)."""
    body = help_lines(width) if state.help else BODIES[state.screen](state, width)
    body = body[: state.rows] + [Text()] * max(0, state.rows - len(body))
    return Group(header(state, width), *body, status_line(state, width), hints(state, width))


def header(state: State, width: int) -> Text:
    """The screens, the current one highlighted, and the task in scope."""
    out = Text.assemble(("taskora", "bold"))  # no space: each screen pads itself; 80 cells
    current = state.back if state.screen is Screen.DETAIL else state.screen
    for n, screen in enumerate(NUMBERED, 1):
        out.append(f" {n} {screen.value} ", style="reverse bold" if screen is current else "")
    if state.task:
        out.append(f"  task {state.task}", style="cyan")
    return line(out, width)


def status_line(state: State, width: int) -> Text:
    """A question, the filter being typed, a read error, or what the last action did."""
    if state.confirm is not None:
        return line(state.confirm.prompt, width, "bold yellow")
    if state.editing:
        return line(f"/{state.filter}▏", width, "bold")
    error = state.snapshot.error if state.snapshot else None
    if error:
        return line(f"cannot read the server: {error}", width, "bold red")
    return line(state.status, width, "bold")


def hints(state: State, width: int) -> Text:
    """The keys that work here."""
    return line(HINTS[state.screen], width, "dim")


def help_lines(width: int) -> list[Text]:
    """The key list."""
    out = [line("Keys", width, "bold")]
    for keys, what in HELP:
        row = Text.assemble((f"  {keys:<10}", "bold"))
        row.append(what)
        out.append(line(row, width))
    return out


def _waiting_for_data(state: State, width: int) -> list[Text] | None:
    """A placeholder while the screen has no data of its own: before the first read, after a
    switch to another screen, or while the server does not answer."""
    snap = state.snapshot
    if snap is not None and snap.error:
        return [line("no data: the server does not answer (the status line says why)", width)]
    if snap is None or snap.query.screen is not state.screen:
        return [line("reading…", width, "dim")]
    return None


# -- Overview ------------------------------------------------------------------------------------


def overview(state: State, width: int) -> list[Text]:
    """Server health, the last hour's throughput, the queues (paused or not), then each
    task's counts by state and its queue latency."""
    pending = _waiting_for_data(state, width)
    if pending is not None:
        return pending
    snap = state.snapshot
    assert snap is not None
    out = [line(_health(state), width), *throughput_lines(state, width), Text()]
    queues = [q for q in snap.queues or [] if state.task is None or state.task in q.tasks]
    if queues:
        out += [*_queue_table(queues, width), Text()]
    tasks = task_rows(state)
    if not tasks:
        return [*out, line("no tasks yet: dispatch a job or start a worker", width, "dim")]
    # paused jobs are rare (an operator's pause_job): their column shows only when there are
    columns = [c for c in STATES if c != JobState.PAUSED or any(t.paused for t in tasks)]
    headers = ("TASK", *(SHORT[name].upper() for name in columns), "LATENCY")
    room = state.rows - len(out) - 2  # the table's header and total
    shown = window(len(tasks), state.cursor(Screen.OVERVIEW), room)
    paused = {t for q in snap.queues or [] if q.paused for t in q.tasks}
    rows: list[list[str | Text]] = [
        [_task_name(s.task, s.task in paused), *(count(getattr(s, c)) for c in columns),
         age(s.latency)]
        for s in (tasks[i] for i in shown)
    ]  # fmt: skip
    total = snap.stats.total if snap.stats else None
    if total is not None and state.task is None:
        rows.append(["TOTAL", *(count(getattr(total, c)) for c in columns), age(total.latency)])
    cursor = state.cursor(Screen.OVERVIEW) - shown.start
    numbers = range(1, len(columns) + 2)
    return out + grid(headers, rows, width, right=numbers, selected=cursor)


def _task_name(task: str, paused: bool) -> Text:
    return Text(task + (" [paused]" if paused else ""), style="yellow" if paused else "")


def _queue_table(queues: list[QueueInfo], width: int) -> list[Text]:
    rows: list[list[str | Text]] = [
        [q.name, Text("paused", style="bold yellow") if q.paused else Text("running", "green"),
         count(q.waiting), count(q.delayed), count(q.active), count(q.failed), age(q.latency),
         ",".join(q.tasks)]
        for q in queues
    ]  # fmt: skip
    headers = ("QUEUE", "STATE", "WAIT", "DELAY", "ACTIVE", "FAILED", "LATENCY", "TASKS")
    return grid(headers, rows, width, right=range(2, 7))


SPARKS = "▁▂▃▄▅▆▇█"


def throughput_lines(state: State, width: int) -> list[Text]:
    """A sparkline of jobs finished per minute over the last hour (red: a minute with
    failures), and the totals of the last minute and hour."""
    minutes = state.snapshot.throughput if state.snapshot else None
    if not minutes:
        return []
    label = "per minute "
    peak = max(m.completed + m.failed for m in minutes)
    tail = f" peak {count(peak)}"
    shown = minutes[-max(1, width - len(label) - len(tail)) :]
    spark = Text()
    spark.append(label, style="bold")
    for m in shown:
        finished = m.completed + m.failed
        level = 0 if finished == 0 else max(1, round(finished / peak * (len(SPARKS) - 1)))
        spark.append(SPARKS[level], style="red" if m.failed else "green" if level else "dim")
    spark.append(tail, style="dim")
    last = minutes[-1]
    done, failed = sum(m.completed for m in minutes), sum(m.failed for m in minutes)
    span = "hour" if len(minutes) == 60 else f"{len(minutes)} min"
    summary = (
        f"last minute: {count(last.completed)} done, {count(last.failed)} failed"
        f"    last {span}: {count(done)} done, {count(failed)} failed"
    )
    return [line(spark, width), line(summary, width)]


def _health(state: State) -> Text:
    snap = state.snapshot
    assert snap is not None
    out = Text()
    if snap.server is not None:
        s = snap.server
        out.append(f"{s.get('server', '?')} {s.get('version', '?')}", style="bold")
        out.append(f"  memory {s.get('used_memory', '?')}  clients {s.get('clients', '?')}")
    if snap.workers is not None:
        live = sum(1 for w in snap.workers if not w.gone)
        gone = len(snap.workers) - live
        out.append(f"  workers {live} live" + (f", {gone} gone" if gone else ""))
    return out


# -- Jobs ----------------------------------------------------------------------------------------


def jobs(state: State, width: int) -> list[Text]:
    """The state tabs with their counts, then the first page of jobs in the current one."""
    pending = _waiting_for_data(state, width)
    if pending is not None:
        return pending
    out = [line(_tabs(state), width)]
    rows = job_rows(state)
    if state.filter:
        out.append(line(f"filter “{state.filter}”: {len(rows)} of the first page match", width))
    if not rows:
        return [*out, line(f"no {state.tab} jobs", width, "dim")]
    snap = state.snapshot
    assert snap is not None
    shown = window(len(rows), state.cursor(Screen.JOBS), state.rows - len(out) - 1)
    table = [
        [j.id, j.task, str(j.attempt), _when(j, snap.taken_ms), _summary(j)]
        for j in (rows[i] for i in shown)
    ]
    headers = ("ID", "TASK", "ATT", _WHEN[state.tab], "SUMMARY")
    selected = state.cursor(Screen.JOBS) - shown.start
    return out + grid(headers, table, width, right=(2, 3), selected=selected)


_WHEN: dict[str, str] = {
    JobState.WAITING: "WAITED",
    JobState.DELAYED: "DUE",
    JobState.ACTIVE: "RUNNING",
    JobState.COMPLETED: "ENDED",
    JobState.FAILED: "ENDED",
    JobState.EXPIRED: "ENDED",
    JobState.CANCELLED: "ENDED",
}


def _tabs(state: State) -> Text:
    stats = state.snapshot.stats if state.snapshot else None
    scope = None
    if stats is not None:
        scope = next((s for s in stats.tasks if s.task == state.task), None) or stats.total
    out = Text()
    for name in STATES:
        label = f" {SHORT[name]} {count(getattr(scope, name)) if scope else '?'} "
        out.append(label, style="reverse bold" if name == state.tab else STATE_STYLES[name])
    return out


SHORT: dict[str, str] = {
    JobState.WAITING: "wait",
    JobState.DELAYED: "delay",
    JobState.ACTIVE: "active",
    JobState.PAUSED: "paused",
    JobState.COMPLETED: "done",
    JobState.FAILED: "failed",
    JobState.EXPIRED: "expired",
    JobState.CANCELLED: "cancel",
}
"""State names short enough for all seven tabs, and the Overview's columns, to fit 80 cells."""


def _when(job: JobInfo, now_ms: int) -> str:
    """Since when it waits, runs or ended; for a delayed job, how long until it is due."""
    names: dict[str, str] = {
        JobState.WAITING: "dispatched_at",
        JobState.DELAYED: "run_at",
        JobState.ACTIVE: "started_at",
    }
    ms = job.timeline.ms(names.get(job.state, "finished_at"))
    return "-" if ms is None else age((now_ms - ms) / 1000)


def _summary(job: JobInfo) -> str:
    error = job.outcome_error  # a completed job shows its result, not an earlier failure
    if error is not None:
        return f"{error.type or 'Error'}: {error.message}"
    if job.state == JobState.CANCELLED and job.cancel_reason:
        return f"cancelled: {job.cancel_reason}"
    shown = job.result if job.state == JobState.COMPLETED else job.data
    return json.dumps(shown, ensure_ascii=False, default=display_default)


# -- Dead letters --------------------------------------------------------------------------------


def dead(state: State, width: int) -> list[Text]:
    """The newest dead letters, grouped by error: a line per group, then its letters."""
    pending = _waiting_for_data(state, width)
    if pending is not None:
        return pending
    snap = state.snapshot
    assert snap is not None
    total = snap.stats.total.failed if snap.stats else 0
    if state.task and snap.stats:
        total = sum(s.failed for s in snap.stats.tasks if s.task == state.task)
    groups = dead_groups(state)
    fetched = len(snap.dead or [])
    intro = f"{count(total)} dead letter{'' if total == 1 else 's'}"
    if total > fetched:
        intro += f"; the newest {fetched} grouped by error"
    if state.filter:
        intro += f"; filter “{state.filter}”"
    out = [line(intro, width)]
    if not groups:
        return [*out, line("no dead letters", width, "dim")]
    lines: list[Text] = []
    selected_line = n = 0
    task_width = max(len(d.task) for _, letters in groups for d in letters)
    for (kind, message), letters in groups:
        head = Text.assemble((f"{len(letters):>5} x ", "bold"))
        head.append(f"{kind}: {message}", style="bold red")
        lines.append(line(head, width))
        for letter in letters:
            chosen = n == state.cursor(Screen.DEAD)
            selected_line = len(lines) if chosen else selected_line
            ago = age(snap.taken_ms / 1000 - letter.failed_at_ms / 1000)
            row = f"        {letter.id}  {letter.task:<{task_width}}  attempts {letter.attempts}"
            lines.append(line(f"{row}  failed {ago} ago", width, "reverse" if chosen else ""))
            n += 1
    shown = window(len(lines), selected_line, state.rows - len(out))
    return out + [lines[i] for i in shown]


# -- Workers -------------------------------------------------------------------------------------


def workers(state: State, width: int) -> list[Text]:
    """Every registered worker: where it runs, what it serves, how busy, its last beat."""
    pending = _waiting_for_data(state, width)
    if pending is not None:
        return pending
    rows = worker_rows(state)
    if not rows:
        return [line("no workers registered: start one with `taskora work`", width, "dim")]
    shown = window(len(rows), state.cursor(Screen.WORKERS), state.rows - 1)
    table: list[list[str | Text]] = [
        [w.host, str(w.pid), ",".join(w.queues) or "-", f"{w.active}/{w.slots}",
         count(w.processed), count(w.failed), age(w.age),
         _worker_state(w),
         ",".join(w.tasks)]
        for w in (rows[i] for i in shown)
    ]  # fmt: skip
    headers = ("HOST", "PID", "QUEUES", "BUSY", "DONE", "FAILED", "BEAT", "STATE", "TASKS")
    selected = state.cursor(Screen.WORKERS) - shown.start
    return grid(headers, table, width, right=(1, 3, 4, 5, 6), selected=selected)


def _worker_state(worker: WorkerInfo) -> Text:
    if worker.gone:
        return Text("gone", style="red")
    return Text("draining", style="yellow") if worker.draining else Text("live", style="green")


# -- Schedules -----------------------------------------------------------------------------------


def schedules(state: State, width: int) -> list[Text]:
    """Every schedule: its task and timing, the countdown to its next run, its last run and
    how that run's job ended."""
    pending = _waiting_for_data(state, width)
    if pending is not None:
        return pending
    rows = schedule_rows(state)
    if not rows:
        return [line("no schedules: declare them in code or [schedules] (workers store them)",
                     width, "dim")]  # fmt: skip
    snap = state.snapshot
    now = snap.taken_ms if snap else 0
    outcomes = (snap.outcomes if snap else None) or {}
    shown = window(len(rows), state.cursor(Screen.SCHEDULES), state.rows - 1)
    table: list[list[str | Text]] = []
    for s in (rows[i] for i in shown):
        last = None if s.last_run_ms is None else (now - s.last_run_ms) / 1000
        outcome = outcomes.get(s.name, "-")
        table.append([
            s.name, s.spec.task,
            Text("paused", style="yellow") if s.paused else Text("active", style="green"),
            age((now - s.next_run_ms) / 1000) if s.next_run_ms > now else "due", age(last),
            Text(outcome, style=STATE_STYLES.get(outcome, "")),
            count(s.skipped), s.spec.describe(),
        ])  # fmt: skip
    headers = ("NAME", "TASK", "STATE", "NEXT", "LAST", "OUTCOME", "SKIPPED", "WHEN")
    selected = state.cursor(Screen.SCHEDULES) - shown.start
    return grid(headers, table, width, right=(3, 4, 6), selected=selected)


# -- Workflows -----------------------------------------------------------------------------------


def workflows(state: State, width: int) -> list[Text]:
    """The workflows, newest first, with progress (done/total nodes); under them the selected
    one's nodes as a tree (each under the last node it waits for)."""
    pending = _waiting_for_data(state, width)
    if pending is not None:
        return pending
    rows = workflow_rows(state)
    if not rows:
        return [line("no workflows: dispatch a chain, group or chord", width, "dim")]
    now = state.snapshot.taken_ms if state.snapshot else 0
    cursor = state.cursor(Screen.WORKFLOWS)
    chosen = rows[cursor]
    room = max(2, min(len(rows) + 1, state.rows // 2))
    shown = window(len(rows), cursor, room - 1)
    table: list[list[str | Text]] = [
        [w.id, w.name, Text(w.state, style=STATE_STYLES.get(w.state, "")),
         f"{w.done}/{w.total}", age((now - w.created_ms) / 1000)]
        for w in (rows[i] for i in shown)
    ]  # fmt: skip
    headers = ("ID", "NAME", "STATE", "DONE", "AGE")
    out = grid(headers, table, width, right=(3, 4), selected=cursor - shown.start)
    out.append(line(f"workflow {chosen.id}  {chosen.name}  {chosen.state}", width, "bold"))
    out.extend(line(text, width) for text in workflow_tree_lines(chosen))
    return out


def workflow_tree_lines(info: WorkflowInfo) -> list[Text]:
    """The nodes, each indented under the last node it waits for, styled by state."""
    depth: dict[int, int] = {}
    out = []
    for node in info.nodes:  # graph order: dependencies come first
        depth[node.index] = depth[max(node.deps)] + 1 if node.deps else 0
        after = f"  after {', '.join(f'#{d}' for d in node.deps)}" if len(node.deps) > 1 else ""
        out.append(Text.assemble(
            "  " * depth[node.index] + ("└ " if node.deps else "• "),
            f"#{node.index} {node.task} ", (node.state, STATE_STYLES.get(node.state, "")), after,
        ))  # fmt: skip
    if info.state == "failed" and info.failed_node is not None:
        out.append(Text(f"failed at node #{info.failed_node}", style="red"))
    elif info.state == "cancelled":
        out.append(Text(f"cancelled: {info.reason or '(no reason given)'}", style="yellow"))
    return out


# -- Job detail ----------------------------------------------------------------------------------


def detail(state: State, width: int) -> list[Text]:
    """Everything about one job; scrolled, or following the end (the newest logs)."""
    pending = _waiting_for_data(state, width)
    if pending is not None:
        return pending
    job = state.snapshot.job if state.snapshot else None
    if job is None or state.job is None or (job.task, job.id) != state.job:
        missing = state.job[1] if state.job else "?"
        return [line(f"reading job {missing}… (gone if this stays: trimmed by retention)", width)]
    lines = detail_lines(job)
    top = max(0, len(lines) - state.rows) if state.follow else state.scroll
    return [line(text, width) for text in lines[top : top + state.rows]]


BODIES: dict[Screen, Callable[[State, int], list[Text]]] = {
    Screen.OVERVIEW: overview,
    Screen.JOBS: jobs,
    Screen.DEAD: dead,
    Screen.WORKERS: workers,
    Screen.SCHEDULES: schedules,
    Screen.WORKFLOWS: workflows,
    Screen.DETAIL: detail,
}


def stamp(ms: int) -> str:
    """A refresh time for plain output (local time)."""
    return local_text(ms)
