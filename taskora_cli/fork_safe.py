"""A lock that a forked child gets back unheld.

``os.fork`` copies a held ``threading.Lock`` as held, but not the thread that would release
it: the child's first ``with lock`` then waits forever (a producer forked while another of its
threads was connecting deadlocked on its first dispatch). A :class:`ForkSafeLock` is made anew
in the child, right after the fork, where only the forking thread runs.
"""

from __future__ import annotations

import os
import threading
import weakref
from types import TracebackType

_live: weakref.WeakSet[ForkSafeLock] = weakref.WeakSet()
"""Every ForkSafeLock of this process (a lock that is gone needs no rebuilding)."""


class ForkSafeLock:
    """A ``threading.Lock`` (as a context manager) that is released in a forked child.

    What it guards may be half-updated in the child, as the thread that held it was stopped
    mid-way: guard state that a later holder can check and finish (e.g. "still None: connect").
    """

    __slots__ = ("__weakref__", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        _live.add(self)

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._lock.release()

    def locked(self) -> bool:
        """Whether some thread holds the lock."""
        return self._lock.locked()

    def renew(self) -> None:
        """Replace the lock with an unheld one (only the fork hook calls this)."""
        self._lock = threading.Lock()


def _renew_in_child() -> None:
    for lock in list(_live):
        lock.renew()


os.register_at_fork(after_in_child=_renew_in_child)
