"""A ForkSafeLock held by another thread at fork time is free in the child."""

from __future__ import annotations

import os
import signal
import threading

from taskora_cli.fork_safe import ForkSafeLock


def test_a_child_forked_while_another_thread_holds_the_lock_can_take_it() -> None:
    lock = ForkSafeLock()
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            held.set()
            release.wait(20)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(20)
        pid = os.fork()
        if pid == 0:  # the child: exit 0 once it holds the lock, 2 if stuck past the deadline
            signal.signal(signal.SIGALRM, lambda *_: os._exit(2))
            signal.alarm(20)
            with lock:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
    finally:
        release.set()
        holder.join()
    assert os.waitstatus_to_exitcode(status) == 0
    assert lock.locked() is False  # the parent's lock is its own: released by its holder


def test_a_fork_by_the_thread_holding_a_wait_at_fork_lock_does_not_wait_for_itself() -> None:
    lock = ForkSafeLock(wait_at_fork=True)
    with lock:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGALRM, lambda *_: os._exit(2))
            signal.alarm(20)
            with lock:  # renewed in the child, though the forking thread held it
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert lock.locked()  # still this thread's, in the parent
    assert os.waitstatus_to_exitcode(status) == 0
