"""What flows through the reducer: events in (keys, snapshots, finished actions, resizes),
effects out (what the user asked the server to do), and the question a bulk or destructive
effect waits behind."""

from __future__ import annotations

from dataclasses import dataclass

from .model import Snapshot

# -- effects: what the user asked the server to do ---------------------------------------------


@dataclass(frozen=True)
class Cancel:
    """Cancel one job."""

    task: str
    job_id: str


@dataclass(frozen=True)
class RetryJob:
    """Send one failed, cancelled or expired job back to its waiting line."""

    task: str
    job_id: str


@dataclass(frozen=True)
class RetryGroup:
    """Retry every dead letter (of ``task``, or all tasks) that died of this error: its type,
    and its message's shape (``dead_letters.error_shape``)."""

    task: str | None
    error_type: str
    error_message: str


@dataclass(frozen=True)
class SetPaused:
    """Pause (or resume) a queue: workers stop (or start again) claiming its jobs."""

    queue: str
    paused: bool


@dataclass(frozen=True)
class Drain:
    """Ask a worker to finish its running jobs and exit."""

    worker_id: str


@dataclass(frozen=True)
class PauseSchedule:
    """Pause (or resume) a schedule: the scheduler leader stops (or starts again) firing it."""

    name: str
    paused: bool


@dataclass(frozen=True)
class Trigger:
    """Fire a schedule now, without moving its next run."""

    name: str


@dataclass(frozen=True)
class CancelWorkflow:
    """Cancel one workflow: its pending nodes never run, its queued and active ones stop."""

    workflow_id: str


Effect = (
    Cancel | RetryJob | RetryGroup | SetPaused | Drain | PauseSchedule | Trigger | CancelWorkflow
)


@dataclass(frozen=True)
class Confirm:
    """A destructive or bulk action waiting for "y"."""

    prompt: str
    effect: Effect


# -- events --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """A key press, named as tui.keymap.decode names it."""

    name: str


@dataclass(frozen=True)
class Loaded:
    """A refresh came back."""

    snapshot: Snapshot


@dataclass(frozen=True)
class Done:
    """An effect was performed; ``message`` says what it did."""

    message: str


@dataclass(frozen=True)
class Resized:
    """The terminal now has room for ``rows`` lines of screen body."""

    rows: int


Event = Key | Loaded | Done | Resized
