"""The dashboard's state and its reducer: ``reduce(state, event) -> (state, effects)``.

Pure: no I/O and no clock. Key presses, fetched snapshots, finished actions and terminal
resizes all arrive as events; what the user asked the server to do leaves as effects, which
the loop in app.py performs and answers with a ``Done`` event for the status line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..job_state import LISTED_STATES as STATES
from ..job_state import RETRYABLE_STATES, TERMINAL_STATES, JobState
from .detail import detail_lines
from .messages import (
    Cancel,
    CancelWorkflow,
    Confirm,
    Done,
    Drain,
    Effect,
    Event,
    Loaded,
    PauseSchedule,
    Resized,
    RetryGroup,
    RetryJob,
    SetPaused,
    Trigger,
)
from .model import NUMBERED, Query, Screen, Snapshot

if TYPE_CHECKING:
    from ..views.dead_letters import DeadLetter
    from ..views.inspector import JobInfo, TaskStats
    from ..views.queues import QueueInfo
    from ..views.schedule_manager import ScheduleInfo
    from ..views.worker_registry import WorkerInfo
    from ..views.workflows import WorkflowInfo


@dataclass(frozen=True)
class State:
    """Everything the screen shows, and where the user is in it.

    Attributes:
        task: the one task to look at (``--task``), or None for all.
        tab: the Jobs screen's state.
        cursors: the selected row of each list screen (by screen name).
        filter: the ``/`` filter (task, id prefix or error text); ``editing`` while typed.
        job: the (task, id) the Job screen shows; ``back`` is the screen it was opened from.
        scroll: the Job screen's first line; ``follow`` keeps its end (the logs) in view.
        rows: body lines the terminal has room for.
    """

    screen: Screen = Screen.OVERVIEW
    task: str | None = None
    tab: str = JobState.WAITING
    cursors: tuple[tuple[str, int], ...] = ()
    filter: str = ""
    editing: bool = False
    job: tuple[str, str] | None = None
    back: Screen = Screen.OVERVIEW
    scroll: int = 0
    follow: bool = False
    confirm: Confirm | None = None
    help: bool = False
    status: str = ""
    quit: bool = False
    rows: int = 20
    snapshot: Snapshot | None = None

    def cursor(self, screen: Screen | None = None) -> int:
        """The selected row of ``screen`` (default: the current one)."""
        return dict(self.cursors).get((screen or self.screen).name, 0)

    def with_cursor(self, row: int, screen: Screen | None = None) -> State:
        """This state with ``screen``'s selected row moved to ``row``."""
        moved = dict(self.cursors) | {(screen or self.screen).name: row}
        return replace(self, cursors=tuple(sorted(moved.items())))


# -- what each list screen lists (shared by the reducer and render) ------------------------------


def task_rows(state: State) -> list[TaskStats]:
    """The Overview's tasks."""
    stats = state.snapshot.stats if state.snapshot else None
    if stats is None:
        return []
    return [s for s in stats.tasks if state.task is None or s.task == state.task]


def job_rows(state: State) -> list[JobInfo]:
    """The Jobs screen's rows: the fetched page of the current tab, filtered."""
    snap = state.snapshot
    if snap is None or snap.jobs is None or snap.query.state != state.tab:
        return []
    return [job for job in snap.jobs if _job_matches(job, state.filter)]


def dead_groups(state: State) -> list[tuple[tuple[str, str], list[DeadLetter]]]:
    """The fetched dead letters that pass the filter, grouped by (error type, message shape:
    values masked, as `dlq ls --group`): the largest group first, each group newest first."""
    from ..views.dead_letters import error_shape

    snap = state.snapshot
    if snap is None or snap.dead is None:
        return []
    groups: dict[tuple[str, str], list[DeadLetter]] = {}
    for letter in snap.dead:
        if _dead_matches(letter, state.filter):
            key = (letter.error_type, error_shape(letter.error_message))
            groups.setdefault(key, []).append(letter)
    return sorted(groups.items(), key=lambda g: (-len(g[1]), -g[1][0].failed_at_ms))


def dead_rows(state: State) -> list[DeadLetter]:
    """The dead letters in the order the screen lists them (group by group)."""
    return [letter for _, letters in dead_groups(state) for letter in letters]


def worker_rows(state: State) -> list[WorkerInfo]:
    """The Workers screen's rows (every registered worker, or those serving ``task``)."""
    snap = state.snapshot
    if snap is None or snap.workers is None:
        return []
    return [w for w in snap.workers if state.task is None or state.task in w.tasks]


def schedule_rows(state: State) -> list[ScheduleInfo]:
    """The Schedules screen's rows (by name), or those firing ``task``."""
    snap = state.snapshot
    if snap is None or snap.schedules is None:
        return []
    return [s for s in snap.schedules if state.task is None or s.spec.task == state.task]


def workflow_rows(state: State) -> list[WorkflowInfo]:
    """The Workflows screen's rows (newest first), or those with a node of ``task``."""
    snap = state.snapshot
    if snap is None or snap.workflows is None:
        return []
    return [
        w
        for w in snap.workflows
        if state.task is None or any(n.task == state.task for n in w.nodes)
    ]


def _job_matches(job: JobInfo, text: str) -> bool:
    if not text:
        return True
    low = text.lower()
    error = f"{job.error.type}: {job.error.message}".lower() if job.error else ""
    return job.id.startswith(text) or low in job.task.lower() or low in error


def _dead_matches(letter: DeadLetter, text: str) -> bool:
    if not text:
        return True
    low = text.lower()
    error = f"{letter.error_type}: {letter.error_message}".lower()
    return letter.id.startswith(text) or low in letter.task.lower() or low in error


def _no_rows(state: State) -> Sequence[Any]:
    return []


ROWS: dict[Screen, Callable[[State], Sequence[Any]]] = {
    Screen.OVERVIEW: task_rows,
    Screen.JOBS: job_rows,
    Screen.DEAD: dead_rows,
    Screen.WORKERS: worker_rows,
    Screen.SCHEDULES: schedule_rows,
    Screen.WORKFLOWS: workflow_rows,
}


def query(state: State) -> Query:
    """What the next refresh must read for the screen in view."""
    task = state.task
    if task is None and state.filter and state.screen in (Screen.JOBS, Screen.DEAD):
        known = state.snapshot.stats if state.snapshot else None
        if known is not None and state.filter in {s.task for s in known.tasks}:
            task = state.filter  # the filter names a task: read only that one, deeper
    job = state.job if state.screen is Screen.DETAIL else None
    return Query(state.screen, task, state.tab, job)


# -- the reducer -----------------------------------------------------------------------------------


def reduce(state: State, event: Event) -> tuple[State, list[Effect]]:
    """The state after ``event``, and the effects it asks for."""
    if isinstance(event, Loaded):
        return _clamp(replace(state, snapshot=event.snapshot)), []
    if isinstance(event, Done):
        return replace(state, status=event.message), []
    if isinstance(event, Resized):
        return _clamp(replace(state, rows=max(1, event.rows))), []
    return _key(state, event.name)


def _key(state: State, key: str) -> tuple[State, list[Effect]]:
    if state.confirm is not None:
        if key in ("y", "Y"):
            return replace(state, confirm=None, status="working…"), [state.confirm.effect]
        return replace(state, confirm=None, status="nothing done"), []
    if state.editing:
        return _edit(state, key), []
    if state.help:
        return replace(state, help=False), []
    if key == "q":
        return replace(state, quit=True), []
    if key == "?":
        return replace(state, help=True), []
    if key.isdigit() and 1 <= int(key) <= len(NUMBERED):
        return replace(state, screen=NUMBERED[int(key) - 1]), []
    if key == "c" and state.screen is Screen.WORKFLOWS:
        return _ask_cancel_workflow(state), []
    if key == "c":
        return _ask_cancel(state), []
    if key == "r":
        return _retry(state)
    if state.screen is Screen.DETAIL:
        return _detail_key(state, key)
    return _list_key(state, key)


def _list_key(state: State, key: str) -> tuple[State, list[Effect]]:
    """A key on one of the list screens."""
    filtered = state.screen in (Screen.JOBS, Screen.DEAD)
    if state.screen is Screen.DEAD and key == "R":
        return _retry_group(state)
    if state.screen is Screen.OVERVIEW and key == "p":
        return _toggle_pause(state)
    if state.screen is Screen.WORKERS and key == "D":
        return _ask_drain(state), []
    if state.screen is Screen.SCHEDULES and key in ("p", "t"):
        return _schedule_key(state, key)
    if key == "/" and filtered:
        return replace(state, editing=True), []
    if key == "esc" and state.filter:
        return _clamp(replace(state, filter="").with_cursor(0)), []
    if key == "enter":
        return _enter(state), []
    if state.screen is Screen.JOBS and key in ("left", "h", "right", "l"):
        step = -1 if key in ("left", "h") else 1
        tab = STATES[(STATES.index(state.tab) + step) % len(STATES)]
        return replace(state, tab=tab).with_cursor(0), []
    return _move(state, key), []


def _edit(state: State, key: str) -> State:
    """A key while the ``/`` filter is being typed."""
    if key == "enter":
        return replace(state, editing=False)
    if key == "esc":
        return _clamp(replace(state, editing=False, filter="").with_cursor(0))
    if key == "backspace":
        return replace(state, filter=state.filter[:-1]).with_cursor(0)
    if len(key) == 1:
        return replace(state, filter=state.filter + key).with_cursor(0)
    return state


MOVES: dict[str, Callable[[int, int], int]] = {
    "up": lambda row, page: row - 1,
    "k": lambda row, page: row - 1,
    "down": lambda row, page: row + 1,
    "j": lambda row, page: row + 1,
    "pgup": lambda row, page: row - page,
    "pgdn": lambda row, page: row + page,
    "home": lambda row, page: 0,
    "g": lambda row, page: 0,
    "end": lambda row, page: 1 << 30,
    "G": lambda row, page: 1 << 30,
}


def _move(state: State, key: str) -> State:
    step = MOVES.get(key)
    if step is None or state.screen not in ROWS:
        return state
    return _clamp(state.with_cursor(step(state.cursor(), state.rows)))


def _clamp(state: State) -> State:
    """Keep the current screen's cursor on a row that exists, and the Job screen's scroll in
    range. (Other screens keep theirs: the data in hand is not theirs.)"""
    rows = ROWS.get(state.screen)
    if rows is not None and state.snapshot and state.snapshot.query.screen is state.screen:
        last = max(0, len(rows(state)) - 1)
        state = state.with_cursor(min(max(0, state.cursor()), last))
    return replace(state, scroll=min(max(0, state.scroll), _max_scroll(state)))


def _max_scroll(state: State) -> int:
    job = state.snapshot.job if state.snapshot else None
    return 0 if job is None else max(0, len(detail_lines(job)) - state.rows)


def _selected(state: State) -> tuple[str, str, str] | None:
    """(task, id, state) of the job under the cursor, or on the Job screen."""
    if state.screen is Screen.DETAIL:
        job = state.snapshot.job if state.snapshot else None
        if job is not None and (job.task, job.id) == state.job:
            return job.task, job.id, job.state
        return None if state.job is None else (*state.job, "?")
    rows = ROWS.get(state.screen, _no_rows)(state)
    if state.screen not in (Screen.JOBS, Screen.DEAD) or not rows:
        return None
    row = rows[state.cursor()]
    return row.task, row.id, JobState.FAILED if state.screen is Screen.DEAD else row.state


def _ask_cancel(state: State) -> State:
    chosen = _selected(state)
    if chosen is None:
        return replace(state, status="select a job to cancel (2 Jobs)")
    task, job_id, job_state = chosen
    if job_state in TERMINAL_STATES:
        return replace(state, status=f"job {job_id} already ended ({job_state}); nothing to cancel")
    prompt = f"[y/N] cancel job {job_id} of {task}?"
    return replace(state, confirm=Confirm(prompt, Cancel(task, job_id)))


def _ask_cancel_workflow(state: State) -> State:
    rows = workflow_rows(state)
    if not rows:
        return replace(state, status="no workflow selected")
    chosen = rows[state.cursor()]
    if chosen.state != "running":
        return replace(
            state, status=f"workflow {chosen.id} already ended ({chosen.state}); nothing to cancel"
        )
    prompt = (
        f"[y/N] cancel workflow {chosen.id} ({chosen.name}, {chosen.done}/{chosen.total} done)?"
    )
    return replace(state, confirm=Confirm(prompt, CancelWorkflow(chosen.id)))


def _retry(state: State) -> tuple[State, list[Effect]]:
    """Retry the selected job, if it ended without completing."""
    chosen = _selected(state)
    if chosen is None:
        return replace(state, status="select a job to retry"), []
    task, job_id, job_state = chosen
    if job_state not in (*RETRYABLE_STATES, "?"):
        return replace(state, status=f"job {job_id} is {job_state}; only failed, cancelled or "
                       "expired jobs can be retried"), []  # fmt: skip
    return replace(state, status="working…"), [RetryJob(task, job_id)]


def _retry_group(state: State) -> tuple[State, list[Effect]]:
    """Ask, then retry every dead letter that died of the selected one's error."""
    rows = dead_rows(state)
    if not rows:
        return replace(state, status="no dead letters to retry"), []
    from ..views.dead_letters import error_shape

    letter = rows[state.cursor()]
    shape = error_shape(letter.error_message)
    where = f" of {state.task}" if state.task else ""
    prompt = f"[y/N] retry EVERY dead letter{where} that failed with {letter.error_type}: {shape}"
    effect = RetryGroup(state.task, letter.error_type, shape)
    return replace(state, confirm=Confirm(prompt, effect)), []


def queue_of(state: State, task: str) -> QueueInfo | None:
    """The queue ``task`` belongs to, as last read (None before the Overview has read it)."""
    queues = state.snapshot.queues if state.snapshot else None
    return next((q for q in queues or [] if task in q.tasks), None)


def _toggle_pause(state: State) -> tuple[State, list[Effect]]:
    """Resume the selected task's queue if it is paused; else ask, then pause it."""
    rows = task_rows(state)
    queue = queue_of(state, rows[state.cursor()].task) if rows else None
    if queue is None:
        return replace(state, status="select a task to pause or resume its queue"), []
    if queue.paused:
        return replace(state, status="working…"), [SetPaused(queue.name, False)]
    prompt = f"[y/N] pause queue {queue.name} (tasks {', '.join(queue.tasks)})?"
    return replace(state, confirm=Confirm(prompt, SetPaused(queue.name, True))), []


def _ask_drain(state: State) -> State:
    rows = worker_rows(state)
    if not rows:
        return replace(state, status="no worker to drain")
    chosen = rows[state.cursor()]
    if chosen.gone or chosen.draining:
        return replace(
            state, status=f"worker {chosen.id} is already {'gone' if chosen.gone else 'draining'}"
        )
    prompt = f"[y/N] drain worker {chosen.id} on {chosen.host}: finish its jobs, then exit?"
    return replace(state, confirm=Confirm(prompt, Drain(chosen.id)))


def _schedule_key(state: State, key: str) -> tuple[State, list[Effect]]:
    """p: pause the selected schedule (asks first) or resume it; t: fire it now."""
    rows = schedule_rows(state)
    if not rows:
        return replace(state, status="no schedule selected"), []
    chosen = rows[state.cursor()]
    if key == "t":
        return replace(state, status="working…"), [Trigger(chosen.name)]
    if chosen.paused:
        return replace(state, status="working…"), [PauseSchedule(chosen.name, False)]
    prompt = f"[y/N] pause schedule {chosen.name} ({chosen.spec.describe()})?"
    return replace(state, confirm=Confirm(prompt, PauseSchedule(chosen.name, True))), []


def _enter(state: State) -> State:
    rows = ROWS.get(state.screen, _no_rows)(state)
    if not rows:
        return state
    row = rows[state.cursor()]
    if state.screen is Screen.OVERVIEW:  # a task: its jobs
        opened = replace(state, screen=Screen.JOBS, filter=row.task)
        return _clamp(opened.with_cursor(0, Screen.JOBS))
    if state.screen in (Screen.JOBS, Screen.DEAD):
        return replace(
            state, screen=Screen.DETAIL, job=(row.task, row.id), back=state.screen, scroll=0
        )
    return state


def _detail_key(state: State, key: str) -> tuple[State, list[Effect]]:
    if key in ("esc", "left", "h", "backspace"):
        return replace(state, screen=state.back, follow=False), []
    if key in ("f", "end", "G"):
        return replace(state, follow=not state.follow if key == "f" else True), []
    step = MOVES.get(key)
    if step is None:
        return state, []
    top = _max_scroll(state) if state.follow else state.scroll
    scroll = min(max(0, step(top, state.rows)), _max_scroll(state))
    return replace(state, scroll=scroll, follow=False), []
