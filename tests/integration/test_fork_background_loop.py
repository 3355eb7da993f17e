"""A process forked after taskora's background loop ran (a listener followed the event streams,
or blocking calls went through it, as on a cluster or over TLS) gets a loop of its own in the
child: the parent's loop thread did not survive the fork, and waiting on it would hang."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from support import make_app

CHILD_DEADLINE_S = 20
"""How long the child may take before it is deemed hung (it is then ended by SIGALRM)."""


def in_forked_child(work: Callable[[], str]) -> str:
    """Run ``work`` in a forked child; what it reported (``ok ...``, ``error ...``), or ""
    when it hung until the deadline."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, and leave at once (never run the parent's teardown)
        os.close(reader)
        signal.signal(signal.SIGALRM, lambda *_: os._exit(2))
        signal.alarm(CHILD_DEADLINE_S)
        try:
            message = "ok " + work()
        except BaseException as exc:
            message = f"error {exc!r}"
        os.write(writer, message.encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        reported = pipe.read()
    os.waitpid(pid, 0)
    return reported


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
