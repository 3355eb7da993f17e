"""Run the library's coroutines from plain (blocking) code on one background event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


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
            return future.result()
        except BaseException:
            if future.cancel():
                settled = asyncio.run_coroutine_threadsafe(_settle_cancelled(), loop)
                with contextlib.suppress(BaseException):
                    settled.result(timeout=1.0)
            raise

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start ``coro`` on the portal loop without waiting for it."""
        return asyncio.run_coroutine_threadsafe(coro, self._ensure())

    def close(self) -> None:
        """Stop the loop (its thread is a daemon, so this is optional at exit)."""
        with self._lock:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._loop = None


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    """Run ``loop`` until :meth:`Portal.close` stops it, then release its resources."""
    try:
        loop.run_forever()
    finally:
        loop.close()


async def _settle_cancelled() -> None:
    """Let the tasks being cancelled on this loop take in their cancellation and unwind."""
    current = asyncio.current_task()
    cancelling = [t for t in asyncio.all_tasks() if t is not current and t.cancelling()]
    if cancelling:
        await asyncio.wait(cancelling, timeout=0.5)
