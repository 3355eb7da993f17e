"""Supervise worker processes: restart the ones that die, recover their jobs at once, forward
shutdown signals, and restart every child when watched files change (``--reload``).

Children run in sessions of their own so a terminal's Ctrl-C reaches only the supervisor, which
forwards it: the first signal drains every child, a second one stops them at once. Each child
gets a worker id from the supervisor, so when one dies its claims are released by id and its jobs
go back to the queue right away instead of after the lock TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("taskora.worker")

USAGE_EXIT = 2
"""A child that exits with this code met a usage or config error: restarting cannot help."""
UNREACHABLE_EXIT = 3
"""A child that exits with this code could not reach the server."""
DRAINED_EXIT = 4
"""A child that exits with this code was drained by an operator (``taskora workers drain``):
it is done for good, so it is not restarted."""
STUCK_EXIT = 5
"""A child that exits with this code had more thread handlers stuck past their timeout than its
pool replaces: it drained and left so a fresh process (fresh threads) takes over; restarted."""
STABLE_AFTER_S = 5.0
"""A child that lived this long before dying is restarted at once; quicker deaths back off."""
MAX_BACKOFF_S = 10.0

Recover = Callable[[str], Awaitable[int]]
"""Release the claims of a dead worker id; returns how many jobs it held."""


@dataclass
class Child:
    """One running worker process."""

    worker_id: str
    process: asyncio.subprocess.Process
    epoch: int
    started: float
    draining: bool = False
    """Sent SIGTERM already: another one would tell it to stop at once."""


class Supervisor:
    """Keeps ``processes`` children of ``command`` running until told to stop.

    Args:
        command: the child's argv; ``--worker-id ID --supervisor-pid PID`` are appended.
        processes: how many children to keep.
        recover: called with a dead child's worker id before it is replaced.
        restart_clean_exits: restart children that exit 0 (``--max-jobs``); False for
            ``--burst``, where a clean exit means the queue is drained.
        watch: paths whose changes restart every child (``--reload``); None to not watch.
    """

    def __init__(
        self,
        command: Sequence[str],
        processes: int,
        recover: Recover,
        *,
        restart_clean_exits: bool = True,
        watch: Sequence[Path] | None = None,
    ) -> None:
        self.command = list(command)
        self.processes = processes
        self.recover = recover
        self.restart_clean_exits = restart_clean_exits
        self.watch = list(watch) if watch else None
        self.children: dict[int, Child] = {}
        self.exit_code = 0
        self._stopping = asyncio.Event()
        self._epoch = 0
        self._epoch_changed = asyncio.Event()
        self._prefix = f"{socket.gethostname()}:{os.getpid()}"
        self._spawned = 0

    async def run(self) -> int:
        """Run until every child has exited for good; returns the exit code to use."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal)
        watcher = loop.create_task(self._watch_files()) if self.watch else None
        try:
            await asyncio.gather(*(self._keep_running(slot) for slot in range(self.processes)))
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        return self.exit_code

    def _on_signal(self) -> None:
        if not self._stopping.is_set():
            log.info("taskora: stopping %d worker processes (signal again to stop at once)",
                     len(self.children))  # fmt: skip
        self._stopping.set()
        self._signal_children(again=True)  # a child's second signal means "stop at once"

    def _signal_children(self, *, again: bool = False) -> None:
        """SIGTERM the children (drain); with ``again``, also those already draining."""
        for child in self.children.values():
            self._drain(child, again=again)

    @staticmethod
    def _drain(child: Child, *, again: bool = False) -> None:
        if child.draining and not again:
            return
        child.draining = True
        with contextlib.suppress(ProcessLookupError):
            child.process.send_signal(signal.SIGTERM)

    async def _keep_running(self, slot: int) -> None:
        failures = 0
        while not self._stopping.is_set():
            child = await self._spawn(slot)
            code = await child.process.wait()
            self.children.pop(slot, None)
            if self._stopping.is_set():
                if code not in (0, USAGE_EXIT, DRAINED_EXIT):
                    await self._recover(child, code, restarting=False)
                return
            if code == DRAINED_EXIT:
                log.info("taskora: worker %s drained by request; not restarting it",
                         child.worker_id)  # fmt: skip
                return
            if child.epoch < self._epoch:
                continue  # reloaded: start the new code at once
            if code == 0:
                if not self.restart_clean_exits:
                    return
                continue
            if code == UNREACHABLE_EXIT and not self.restart_clean_exits:
                self._give_up(UNREACHABLE_EXIT)  # --burst: a cron wrapper must not wait for ever
                return
            await self._recover(child, code, restarting=code != USAGE_EXIT)
            if code == USAGE_EXIT:
                if self.watch is None:
                    self._give_up(USAGE_EXIT)
                    return
                log.warning("taskora: fix the error above; waiting for a file to change")
                await self._next_epoch()
                continue
            lived = time.monotonic() - child.started
            failures = 0 if lived >= STABLE_AFTER_S else failures + 1
            await self._pause(min(0.25 * 2**failures, MAX_BACKOFF_S) if failures else 0)

    def _give_up(self, code: int) -> None:
        self.exit_code = code
        self._stopping.set()
        self._signal_children()

    async def _spawn(self, slot: int) -> Child:
        self._spawned += 1
        worker_id = f"{self._prefix}:w{slot}.{self._spawned}"
        extra = ["--worker-id", worker_id, "--supervisor-pid", str(os.getpid())]
        process = await asyncio.create_subprocess_exec(
            *self.command, *extra, start_new_session=True
        )
        child = Child(worker_id, process, self._epoch, time.monotonic())
        self.children[slot] = child
        if self._stopping.is_set():  # a signal arrived while it was starting
            self._drain(child)
        return child

    async def _recover(self, child: Child, code: int, *, restarting: bool = True) -> None:
        if code == STUCK_EXIT:  # by design, not a crash: the next process gets fresh threads
            how = f"left with more stuck thread handlers than it replaces (exit code {code})"
        elif code < 0:
            how = f"was killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        try:
            held = await self.recover(child.worker_id)
        except Exception as exc:  # the stall sweep still recovers them after the lock TTL
            log.warning("taskora: worker process %d %s; could not recover its jobs now: %s",
                        child.process.pid, how, exc)  # fmt: skip
            return
        then = ""
        if restarting:
            then = "; starting a fresh one" if code == STUCK_EXIT else "; restarting it"
        log.warning("taskora: worker process %d %s; %d of its jobs went back to the queue%s",
                    child.process.pid, how, held, then)  # fmt: skip

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _next_epoch(self) -> None:
        epoch = self._epoch
        while self._epoch == epoch and not self._stopping.is_set():
            self._epoch_changed.clear()
            stop = asyncio.ensure_future(self._stopping.wait())
            change = asyncio.ensure_future(self._epoch_changed.wait())
            await asyncio.wait({stop, change}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            change.cancel()

    async def _watch_files(self) -> None:
        from watchfiles import awatch

        def relevant(_change: object, path: str) -> bool:
            return path.endswith((".py", ".toml")) and "__pycache__" not in path

        paths = [str(p) for p in self.watch or ()]
        async for changes in awatch(*paths, watch_filter=relevant, stop_event=self._stopping):
            names = sorted({Path(p).name for _, p in changes})
            log.warning("taskora: %s changed; restarting the workers", ", ".join(names))
            self._epoch += 1
            self._epoch_changed.set()
            self._signal_children()  # once per child: a second SIGTERM would mean "at once"
