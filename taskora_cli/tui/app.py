"""The only impure part of the dashboard: the terminal, the clock, and the server.

``run_live`` reads keys in cbreak mode (termios + select, no extra dependency), feeds them to
the reducer, performs the effects it returns, fetches one snapshot per interval (and at once
when the view changes) on a helper thread, and redraws with rich's Live on the alternate
screen. The terminal is restored on the way out, whether by ``q``, Ctrl-C or an exception.
``run_plain`` is the fallback when there is no terminal: the Overview printed every interval.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING, TextIO

from ..errors import TaskoraError
from ..job_state import JobState
from .fetch import fetch
from .keymap import decode
from .messages import (
    Cancel,
    CancelWorkflow,
    Done,
    Drain,
    Effect,
    Key,
    Loaded,
    PauseSchedule,
    Resized,
    RetryJob,
    SetPaused,
    Trigger,
)
from .model import Query, Snapshot
from .render import CHROME, overview, render, stamp
from .state import State, query, reduce

if TYPE_CHECKING:
    from rich.console import Console

    from ..app import Taskora


@contextlib.contextmanager
def cbreak(fd: int) -> Iterator[None]:
    """Keys arrive one by one, unechoed; Ctrl-C still interrupts. Restored on exit."""
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def resizes() -> Iterator[int]:
    """A file descriptor that turns readable when the terminal is resized (SIGWINCH), so the
    loop redraws at once instead of at the next refresh. Restored on exit."""
    import signal

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)

    def woken(signum: int, frame: object) -> None:
        with contextlib.suppress(OSError):  # the pipe is full: a redraw is coming anyway
            os.write(wake_w, b"\0")

    saved = signal.signal(signal.SIGWINCH, woken)
    try:
        yield wake_r
    finally:
        signal.signal(signal.SIGWINCH, saved)
        os.close(wake_r)
        os.close(wake_w)


def read_keys(fd: int, timeout: float, wake: int | None = None) -> list[str]:
    """The keys pressed within ``timeout`` seconds; an empty list if none, or as soon as
    ``wake`` (see :func:`resizes`) turns readable."""
    ready, _, _ = select.select([fd] if wake is None else [fd, wake], [], [], timeout)
    if wake is not None and wake in ready:
        os.read(wake, 1024)
    if fd not in ready:
        return []
    return decode(os.read(fd, 1024))


def perform(app: Taskora, effect: Effect) -> str:
    """Do what the user asked; the answer is the status line."""
    try:
        if isinstance(effect, Cancel):
            done = app.cancel(effect.job_id, "cancelled from taskora top", task=effect.task)
            if done == JobState.CANCELLED:
                return f"cancelled job {effect.job_id} ({effect.task})"
            return f"cancelling job {effect.job_id} ({effect.task}): its worker is stopping it"
        if isinstance(effect, SetPaused):
            return _set_paused(app, effect)
        if isinstance(effect, Drain):
            app.drain_workers(effect.worker_id)
            return f"draining worker {effect.worker_id}: it finishes its running jobs, then exits"
        if isinstance(effect, RetryJob):
            app.handle(effect.task, effect.job_id).retry()
            return f"retried job {effect.job_id} ({effect.task}): waiting again"
        if isinstance(effect, PauseSchedule):
            return _pause_schedule(app, effect)
        if isinstance(effect, CancelWorkflow):
            app.workflow(effect.workflow_id).cancel(reason="cancelled from taskora top")
            return f"cancelled workflow {effect.workflow_id}"
        if isinstance(effect, Trigger):
            fired = app.schedules().trigger(effect.name)
            return f"triggered schedule {effect.name}: job {fired.id} of {fired.task} queued"
        from ..views.dead_letters import shape_pattern

        error = f"{effect.error_type}: {effect.error_message}"
        pattern = shape_pattern(effect.error_type, effect.error_message)
        result = app.dead_letters().retry_all(effect.task, error_match=pattern)
        return f"retried {result.done} dead letters that failed with {error}"
    except TaskoraError as exc:  # a gone server included: the engine raises only ServerError
        return f"not done: {exc}"


def _pause_schedule(app: Taskora, effect: PauseSchedule) -> str:
    schedules = app.schedules()
    if effect.paused:
        schedules.pause(effect.name)
        return f"paused schedule {effect.name}: it does not fire until resumed"
    info = schedules.resume(effect.name)
    return f"resumed schedule {effect.name}: next run {stamp(info.next_run_ms)}"


def _set_paused(app: Taskora, effect: SetPaused) -> str:
    queues = app.queues()
    if effect.paused:
        changed = queues.pause(effect.queue)
        done = f"paused queue {effect.queue}: workers stop starting its jobs within a second"
    else:
        changed = queues.resume(effect.queue)
        done = f"resumed queue {effect.queue}: workers start its jobs again"
    return (
        done
        if changed
        else f"queue {effect.queue} already was {'paused' if effect.paused else 'running'}"
    )


class Refresher:
    """One fetch at a time on a helper thread, so keys are read while the server answers.

    The thread is a daemon: when the server stops answering, a fetch can wait through the
    client's reconnect retries (~15 s), and quitting must not wait for it.
    """

    def __init__(self, app: Taskora, interval: float) -> None:
        self.app = app
        self.interval = interval
        self.running: Future[Snapshot] | None = None
        self.asked: Query | None = None
        self.due = 0.0

    def start_if_due(self, wanted: Query) -> None:
        """Fetch ``wanted`` if the view changed or the interval passed (and none is running)."""
        if self.running is None and (wanted != self.asked or time.monotonic() >= self.due):
            self.running = future = Future[Snapshot]()

            def work() -> None:
                try:
                    future.set_result(fetch(self.app, wanted))
                except BaseException as exc:  # a bug: take() raises it in the loop
                    future.set_exception(exc)

            threading.Thread(target=work, name="taskora-top-fetch", daemon=True).start()
            self.asked, self.due = wanted, time.monotonic() + self.interval

    def take(self) -> Snapshot | None:
        """The snapshot of the fetch that finished, if one did."""
        if self.running is None or not self.running.done():
            return None
        done, self.running = self.running, None
        return done.result()

    def wait(self) -> float:
        """How long to wait for a key before looking again."""
        return 0.05 if self.running else max(0.0, self.due - time.monotonic())

    def close(self) -> None:
        """Give a fetch under way a moment to end before the app's connections close."""
        if self.running is not None:
            with contextlib.suppress(Exception):
                self.running.result(timeout=1.0)


def run_live(app: Taskora, state: State, interval: float, iterations: int | None) -> State:
    """The interactive dashboard, until ``q`` (or Ctrl-C, or ``iterations`` refreshes).

    Keys are read while a refresh runs. Keys typed ahead are handled one at a time, and one
    that changes the view (another screen, tab or job) holds the next until that view's data
    has arrived, so each key acts on what its own screen shows; ``q`` is never held.
    """
    from rich.console import Console
    from rich.live import Live

    console = Console()
    fd = sys.stdin.fileno()
    refresher = Refresher(app, interval)
    with (
        contextlib.suppress(KeyboardInterrupt),
        cbreak(fd),
        resizes() as resized,
        Live(console=console, screen=True, auto_refresh=False) as live,
    ):
        ticks = 0
        typed: list[str] = []
        while not state.quit and (iterations is None or ticks < iterations):
            state, _ = reduce(state, Resized(console.height - CHROME))
            snapshot = refresher.take()
            if snapshot is not None:
                state, _ = reduce(state, Loaded(snapshot))
                ticks += 1
            refresher.start_if_due(query(state))
            live.update(render(state, console.width), refresh=True)
            typed = typed or read_keys(fd, refresher.wait(), resized)
            while typed and not state.quit and (_in_view(state) or _quits(state, typed[0])):
                state, effects = reduce(state, Key(typed.pop(0)))
                for effect in effects:
                    live.update(render(state, console.width), refresh=True)
                    state, _ = reduce(state, Done(perform(app, effect)))
                    refresher.due = 0.0  # show what the action changed at once
        live.update(render(state, console.width), refresh=True)
    refresher.close()
    return state


def _in_view(state: State) -> bool:
    """The data on screen is the current view's (not a screen or tab left meanwhile)."""
    return state.snapshot is not None and state.snapshot.query == query(state)


def _quits(state: State, key: str) -> bool:
    return key == "q" and not state.editing and state.confirm is None


def run_plain(
    app: Taskora, task: str | None, interval: float, iterations: int | None, out: TextIO
) -> str | None:
    """Print the Overview every ``interval`` seconds, ``iterations`` times (None: until
    Ctrl-C). Returns the error of the last read, None if it succeeded."""
    from rich.console import Console

    # piped, nothing is cut: grep sees whole lines (as print_table does)
    console = Console(file=out, width=10_000, color_system=None, highlight=False, soft_wrap=True)
    done = 0
    while True:
        state = State(task=task, rows=10_000)
        state, _ = reduce(state, Loaded(fetch(app, query(state))))
        snap = state.snapshot
        assert snap is not None
        try:
            _print_overview(console, state, snap)
            out.flush()
            done += 1
            if iterations is not None and done >= iterations:
                return snap.error
            time.sleep(interval)
            console.print()
        except KeyboardInterrupt:
            return None  # Ctrl-C between reads is how a watch ends: not an error


def _print_overview(console: Console, state: State, snap: Snapshot) -> None:
    console.print(f"taskora top  {stamp(snap.taken_ms)}", markup=False)
    if snap.error:
        console.print(f"cannot read the server: {snap.error}", markup=False)
    else:
        for line in overview(state, console.width):
            console.print(line)
