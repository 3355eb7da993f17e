"""A process forked after taskora's background loop ran (a listener followed the event streams,
or blocking calls went through it, as on a cluster or over TLS) gets a loop of its own in the
child: the parent's loop thread did not survive the fork, and waiting on it would hang."""

from __future__ import annotations

import threading
from pathlib import Path

from support import CHILD_DEADLINE_S, in_forked_child, make_app


def test_a_child_forked_after_the_background_loop_ran_starts_its_own(
    redis_url: str, tmp_path: Path
) -> None:
    app = make_app(redis_url, tmp_path)
    echo = app.task("echo")(lambda data: data)
    heard: dict[str, threading.Event] = {}
    echo.on("waiting", lambda event: heard.setdefault(event.job_id, threading.Event()).set())
    try:
        parent = echo.dispatch("parent")  # connects; the background loop follows the streams
        assert app.runtime.call(app.runtime.engine()) is not None  # the loop ran a call too

        def child() -> str:
            job = echo.dispatch("child")
            # the child's own loop follows the streams for its listener
            assert heard.setdefault(job.id, threading.Event()).wait(CHILD_DEADLINE_S)
            app.close()
            return job.id

        reported = in_forked_child(child)
        assert reported.startswith("ok "), reported or "the child hung"
        later = echo.dispatch("parent, after the fork")  # the parent's loop is untouched
        assert heard.setdefault(later.id, threading.Event()).wait(CHILD_DEADLINE_S)
        assert parent.id in heard
    finally:
        app.close()


def test_a_child_forked_while_a_thread_held_the_listeners_condition_does_not_hang(
    redis_url: str, tmp_path: Path
) -> None:
    # The parent's delivery thread holds the listeners' condition for an instant after each
    # read; a fork at that instant copied it held by a thread the child does not have, and the
    # child's own delivery, or a listener added there, waited on it for ever. Held here on
    # purpose, for the fork. (The child's main thread takes it: a thread the child starts
    # may reuse the dead holder's id and slip through.)
    app = make_app(redis_url, tmp_path)
    echo = app.task("echo")(lambda data: data)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with app.runtime.listeners._followed_changed:  # noqa: SLF001  (the race, on demand)
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        heard = threading.Event()

        def child() -> str:
            app.runtime.listeners.followed(0)  # the condition, from the child's main thread
            echo.on("waiting", lambda event: heard.set())
            echo.dispatch("child")
            assert heard.wait(CHILD_DEADLINE_S)
            app.close()
            return "heard"

        assert in_forked_child(child) == "ok heard", "the child hung"
    finally:
        release.set()
        holder.join(10)
        app.close()
