"""Run one worker until told to stop: a signal, a drained queue, a job count, a dead parent, or
an operator's drain request (``taskora workers drain``).

The first SIGINT/SIGTERM drains (stop claiming, let running jobs finish within the grace period,
hand back the rest); a second one stops at once, handing running jobs back. Nothing is lost either
way: a handed-back job waits at the front of its queue.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from dataclasses import dataclass

from .execute import Outcome
from .pool import Worker
from .supervisor import STUCK_EXIT

log = logging.getLogger("taskora.worker")

POLL_S = 0.05
"""How often burst mode checks for a drained queue, and a child for a dead parent."""


@dataclass(frozen=True)
class StopWhen:
    """When a worker stops by itself, besides on a signal.

    Attributes:
        drained: stop once nothing is held and nothing is ready to claim (``--burst``).
        max_jobs: stop claiming once this many jobs have finished (``--max-jobs``).
        parent_pid: stop when this process is no longer our parent (a supervisor died).
    """

    drained: bool = False
    max_jobs: int | None = None
    parent_pid: int | None = None


async def serve(worker: Worker, grace_ms: int, when: StopWhen = StopWhen()) -> bool:
    """Start ``worker`` and run it until a signal or ``when`` says stop, then drain it.

    Returns:
        True if handlers were abandoned (a second signal, or the grace ran out): threads still
        running them would keep the interpreter from exiting, so the caller should exit now.
    """
    loop = asyncio.get_running_loop()
    stop, hurry = asyncio.Event(), asyncio.Event()
    signalled = False

    def on_signal() -> None:
        nonlocal signalled
        if not stop.is_set():
            signalled = True
        (hurry if stop.is_set() else stop).set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    if when.max_jobs is not None:
        worker.max_claims = when.max_jobs  # prefetched jobs beyond it would run too
        _count_finished(worker, when.max_jobs, stop)
    worker.stops_on_drain = False  # a drain request sets `stop` below, like a signal
    await worker.start()
    watchers = [
        loop.create_task(_watch(worker, when, stop)),
        loop.create_task(_obey_drain(worker, stop)),
        loop.create_task(_leave_when_stuck(worker, stop)),
    ]
    try:
        await stop.wait()
        # only a signal can be followed by another; --burst, --max-jobs and a drain request stop
        # by themselves
        again = "; signal again to stop at once" if signalled else ""
        log.info("taskora: draining (grace %.1fs)%s", grace_ms / 1000, again)
        drain = loop.create_task(worker.stop(grace_ms))
        hurried = loop.create_task(hurry.wait())
        await asyncio.wait({drain, hurried}, return_when=asyncio.FIRST_COMPLETED)
        hurry_now = not drain.done()
        if hurry_now:  # a second signal: signal every handler and hand its job back now
            await asyncio.gather(*(runner.stop(0) for runner in worker.runners))
            await drain
        hurried.cancel()
        return hurry_now or any(runner.abandoned_threads for runner in worker.runners)
    finally:
        for watcher in watchers:
            watcher.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def exit_if_threads_linger(worker: Worker, abandoned: bool, code: int = 0) -> None:
    """After serve(): if handler threads still run (abandoned at the stop, or stuck past their
    timeout), leave the process now with ``code`` rather than join them at exit (a thread
    cannot be killed, only waited for). Their jobs are back at the front of their queue
    already, and their lock tokens no longer match, so nothing the threads might still do
    could settle them; meanwhile the jobs' next runs go on elsewhere."""
    if not (abandoned or worker.stuck):
        return
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _count_finished(worker: Worker, max_jobs: int, stop: asyncio.Event) -> None:
    previous = worker.on_finish
    finished = 0

    def count(task: str, outcome: Outcome, settled: bool) -> None:
        nonlocal finished
        if previous is not None:
            previous(task, outcome, settled)
        finished += 1
        if finished >= max_jobs:
            stop.set()

    worker.on_finish = count


async def _leave_when_stuck(worker: Worker, stop: asyncio.Event) -> None:
    """Too many stuck thread handlers: the pool cannot be trusted to run jobs, and only a new
    process gets its threads back. Drain and leave (the caller exits with STUCK_EXIT)."""
    await worker.too_stuck.wait()
    if not stop.is_set():
        log.error("taskora: leaving so a fresh process takes over (exit code %d)", STUCK_EXIT)
        worker.left_stuck = True
        stop.set()


async def _obey_drain(worker: Worker, stop: asyncio.Event) -> None:
    await worker.drain_requested.wait()
    stop.set()


async def _watch(worker: Worker, when: StopWhen, stop: asyncio.Event) -> None:
    if not (when.drained or when.parent_pid):
        return
    while not stop.is_set():
        if when.parent_pid and os.getppid() != when.parent_pid:
            log.warning("taskora: the supervising process is gone; draining")
            stop.set()
        elif when.drained and await worker.drained():
            stop.set()
        await asyncio.sleep(POLL_S)
