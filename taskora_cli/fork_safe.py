"""A lock that a forked child gets back unheld.

``os.fork`` copies a held ``threading.Lock`` as held, but not the thread that would release
it: the child's first ``with lock`` then waits forever (a producer forked while another of its
threads was connecting deadlocked on its first dispatch). A :class:`ForkSafeLock` is made anew
in the child, right after the fork, where only the forking thread runs.

Renewing the lock is not always enough: a module that the other thread was importing under
the lock stays locked in the child too (Python's per-module import locks), so the child's own
import of it waits forever. A lock made with ``wait_at_fork`` therefore makes a fork wait for
its holder to finish, so what it guards is whole in the child.
"""

from __future__ import annotations

import concurrent.futures.thread  # noqa: F401  (see below)
import os
import threading
import weakref
from types import TracebackType

# A module imported while a fork waits for a wait_at_fork lock registers its fork hooks
# mid-fork: its after_in_parent hook then runs without its before hook. Of the modules a first
# connection imports (redis and its dependencies), concurrent.futures.thread pairs the two (it
# releases a lock its before hook took: "release unlocked lock"), so it is imported up front.

_live: weakref.WeakSet[ForkSafeLock] = weakref.WeakSet()
"""Every ForkSafeLock of this process (a lock that is gone needs no rebuilding)."""

_held_for_fork: list[ForkSafeLock] = []
"""The locks the fork in progress took (before it), released in the parent after it."""


class ForkSafeLock:
    """A ``threading.Lock`` (as a context manager) that is released in a forked child.

    Args:
        wait_at_fork: a fork waits until the lock is free (unless the forking thread holds
            it): for work that imports modules or must otherwise be whole in the child.
            Without it, what the lock guards may be half-updated in the child: guard state
            that a later holder can check and finish (e.g. "still None: connect").
    """

    __slots__ = ("__weakref__", "_lock", "_owner", "wait_at_fork")

    def __init__(self, *, wait_at_fork: bool = False) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self.wait_at_fork = wait_at_fork
        _live.add(self)

    def __enter__(self) -> bool:
        self._lock.acquire()
        self._owner = threading.get_ident()
        return True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._owner = None
        self._lock.release()

    def locked(self) -> bool:
        """Whether some thread holds the lock."""
        return self._lock.locked()

    def hold_for_fork(self) -> bool:
        """Take the lock for a fork about to happen (waiting for its holder), unless the
        calling thread holds it already; whether it took it (the fork hooks call this)."""
        if self._owner == threading.get_ident():
            return False
        self._lock.acquire()
        return True

    def release_after_fork(self) -> None:
        """Release what :meth:`hold_for_fork` took, in the parent (the fork hooks call this)."""
        self._lock.release()

    def renew(self) -> None:
        """Replace the lock with an unheld one, in a forked child (the fork hooks call this)."""
        self._lock = threading.Lock()
        self._owner = None


def _before_fork() -> None:
    for lock in list(_live):
        if lock.wait_at_fork and lock.hold_for_fork():
            _held_for_fork.append(lock)


def _after_fork_in_parent() -> None:
    while _held_for_fork:
        _held_for_fork.pop().release_after_fork()


def _after_fork_in_child() -> None:
    _held_for_fork.clear()
    for lock in list(_live):
        lock.renew()


os.register_at_fork(
    before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
)
