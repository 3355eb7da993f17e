"""Run the library's coroutines from plain (blocking) code on one background event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

CLOSE_GRACE_S = 2.0
"""How long an interrupted call, or closing, waits for the tasks it cancelled to unwind: they
take milliseconds, but a loaded machine may not run the loop's thread for a while."""

SIGNAL_CHECK_S = 0.1
"""How often the main thread, waiting for a call, wakes to take in a signal (Ctrl-C)."""


class Portal:
    """A daemon thread with an event loop; ``call`` runs a coroutine there and waits for it."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=_serve, args=(loop,), name="taskora-portal", daemon=True
                )
                thread.start()
                self._loop = loop
            return self._loop

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the portal loop and return its result (re-raising its error).

        If the caller is interrupted (Ctrl-C), the coroutine is cancelled and given a moment to
        unwind, so nothing is left pending on the loop when the process exits.
        """
        loop = self._ensure()
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return _result(future)
        except BaseException:
            # Done already (ended, or cancelled by close()): nothing of it is left to unwind,
            # and the loop may be stopping: a settle scheduled now would be left pending there.
            if not future.done() and future.cancel():
                settling = _settle_cancelled()
                try:
                    settled = asyncio.run_coroutine_threadsafe(settling, loop)
                except RuntimeError:  # the loop is closed: nothing runs there any more
                    settling.close()
                else:
                    with contextlib.suppress(BaseException):
                        settled.result(timeout=CLOSE_GRACE_S)
            raise

    def renew_after_fork(self) -> asyncio.AbstractEventLoop | None:
        """In a forked child: forget the parent's loop, whose thread did not survive the fork
        (a call waiting on it would wait forever); the next call starts a loop of the child's
        own. Returns the parent's loop, which the caller must neither close nor run: what
        runs on it (connections) is the parent's."""
        self._lock = threading.Lock()
        loop, self._loop = self._loop, None
        return loop

    def is_current(self) -> bool:
        """Whether the caller runs on the portal loop (where it must not wait for the loop)."""
        return self._loop is not None and _running_loop() is self._loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start ``coro`` on the portal loop without waiting for it."""
        return asyncio.run_coroutine_threadsafe(coro, self._ensure())

    def close(self) -> None:
        """Cancel what still runs on the loop, let it unwind, then stop the loop (its thread
        is a daemon, so this is optional at exit).

        A coroutine can be left running there without anyone waiting for it: Ctrl-C that lands
        after ``call`` scheduled it but before ``call`` could cancel it. Stopped as it was, the
        loop would drop it pending, and its garbage collection would print "Task was destroyed
        but it is pending!" on stderr (``taskora dispatch --wait`` interrupted under load).
        """
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is None:
            return
        if _running_loop() is loop:  # closed from one of its own tasks: it cannot wait here
            loop.stop()
            return
        try:
            drained = asyncio.run_coroutine_threadsafe(_cancel_the_rest(), loop)
            with contextlib.suppress(TimeoutError):
                drained.result(timeout=CLOSE_GRACE_S)
        finally:
            loop.call_soon_threadsafe(loop.stop)


def _result(future: concurrent.futures.Future[T]) -> T:
    """``future``'s result; the main thread waits in short turns. A signal that lands just
    before a wait with no timeout begins is not taken in until the wait ends (CPython runs
    Python signal handlers between bytecodes, and the lock wait is not interrupted by a signal
    already handled at the C level): Ctrl-C would be ignored for as long as the call lasts."""
    if threading.current_thread() is not threading.main_thread():
        return future.result()
    while True:
        try:
            return future.result(timeout=SIGNAL_CHECK_S)
        except TimeoutError:
            if future.done():  # the coroutine's own TimeoutError
                raise


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    """Run ``loop`` until :meth:`Portal.close` stops it, then release its resources."""
    try:
        loop.run_forever()
    finally:
        loop.close()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def _cancel_the_rest() -> None:
    """Cancel every other task on this loop and wait (within CLOSE_GRACE_S) for them to end."""
    current = asyncio.current_task()
    rest = [t for t in asyncio.all_tasks() if t is not current]
    for task in rest:
        task.cancel()
    if rest:
        await asyncio.wait(rest, timeout=CLOSE_GRACE_S)


async def _settle_cancelled() -> None:
    """Let the tasks being cancelled on this loop take in their cancellation and unwind."""
    current = asyncio.current_task()
    cancelling = [t for t in asyncio.all_tasks() if t is not current and t.cancelling()]
    if cancelling:
        await asyncio.wait(cancelling, timeout=0.5)
