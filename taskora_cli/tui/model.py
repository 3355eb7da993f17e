"""The data the dashboard's parts pass each other: screens, what to fetch, what was fetched.

Plain frozen dataclasses; the library's own records (Stats, JobInfo, DeadLetter, WorkerInfo)
travel inside them unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from ..job_state import JobState

if TYPE_CHECKING:
    from ..views.dead_letters import DeadLetter
    from ..views.inspector import JobInfo, Minute, Stats
    from ..views.queues import QueueInfo
    from ..views.schedule_manager import ScheduleInfo
    from ..views.worker_registry import WorkerInfo
    from ..views.workflows import WorkflowInfo

PAGE = 50
"""Jobs read per task for the Jobs screen: the first page, never the whole set."""
DEAD_PAGE = 200
"""The newest dead letters read (over all tasks) for the Dead letters screen."""
SCHEDULE_PAGE = 200
"""Schedules read for the Schedules screen (with one job-state read each for the outcome)."""
WORKFLOW_PAGE = 200
"""Workflows read for the Workflows screen (newest first; one hash read each)."""
THROUGHPUT_MINUTES = 60
"""The Overview's sparkline: jobs finished per minute over the last hour."""


class Screen(Enum):
    """The screens; the numbered ones are listed in ``NUMBERED`` (detail opens with Enter)."""

    OVERVIEW = "Overview"
    JOBS = "Jobs"
    DEAD = "Dead letters"
    WORKERS = "Workers"
    SCHEDULES = "Schedules"
    WORKFLOWS = "Workflows"
    DETAIL = "Job"


NUMBERED: tuple[Screen, ...] = (
    Screen.OVERVIEW,
    Screen.JOBS,
    Screen.DEAD,
    Screen.WORKERS,
    Screen.SCHEDULES,
    Screen.WORKFLOWS,
)
"""Screens by number key: "1" is the first.

A new screen (say Schedules) is: a Screen member listed here; a Snapshot field for its data;
its reader in fetch.FETCHERS; its body in render.BODIES; its keys in KEYS and render.HINTS; if
it lists rows to move over, its row function in state.ROWS; its actions as effects in messages.py,
keys for them in state.py and their performing in app.perform."""

KEYS: tuple[tuple[str, str], ...] = (
    (f"1-{len(NUMBERED)}", ", ".join(screen.value for screen in NUMBERED)),
    ("↑ ↓  j k", "move; PgUp PgDn, g G: by page, to the ends"),
    ("← →  h l", "Jobs: the previous or next state"),
    ("/", "filter by task, id prefix or error text (esc clears)"),
    ("enter", "open: a task's jobs (Overview), a job's detail (Jobs, Dead letters)"),
    ("esc", "back from a job's detail"),
    ("f", "job detail: follow the logs"),
    ("p", "Overview: pause the selected task's queue (asks first), or resume it"),
    ("D", "Workers: drain the selected worker (asks first)"),
    ("p", "Schedules: pause the selected schedule (asks first), or resume it"),
    ("t", "Schedules: fire the selected schedule now (its next run stays)"),
    ("c", "cancel the selected job, or workflow on Workflows (asks first)"),
    ("r", "retry the selected job (failed, cancelled or expired)"),
    ("R", "retry every dead letter with the selected one's error (asks first)"),
    ("?", "this help; any key closes it"),
    ("q", "quit"),
)
"""Every key of the dashboard, as its help screen (?) lists them; `taskora top --help` is
written from this list and NUMBERED, so the two cannot disagree."""


def keys_help() -> str:
    """The keys, one per line, as a block click prints unwrapped (``taskora top --help``)."""
    return "\b\n" + "\n".join(f"  {keys:<10}{what}" for keys, what in KEYS)


@dataclass(frozen=True)
class Query:
    """What one refresh reads: only what the visible screen shows.

    Attributes:
        task: the one task to read, or None for every task.
        state: the Jobs screen's state tab.
        job: the (task, id) the Job screen shows.
    """

    screen: Screen
    task: str | None = None
    state: str = JobState.WAITING
    job: tuple[str, str] | None = None


@dataclass(frozen=True)
class Snapshot:
    """One refresh's answer to a Query; a field the query did not ask for stays None.

    Attributes:
        taken_ms: when it was read (epoch ms), for ages and "updated" stamps.
        error: why the read failed (the server is unreachable, ...); the rest is then None.
    """

    query: Query
    taken_ms: int
    stats: Stats | None = None
    server: dict[str, str] | None = None
    queues: list[QueueInfo] | None = None
    throughput: list[Minute] | None = None
    workers: list[WorkerInfo] | None = None
    jobs: list[JobInfo] | None = None
    dead: list[DeadLetter] | None = None
    job: JobInfo | None = None
    schedules: list[ScheduleInfo] | None = None
    outcomes: dict[str, str] | None = None
    """Schedule name -> the state of its last run's job ("missing" once trimmed)."""
    workflows: list[WorkflowInfo] | None = None
    error: str | None = None
