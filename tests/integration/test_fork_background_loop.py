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
