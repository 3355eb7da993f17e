"""What ``taskora queues pause`` and ``resume`` do, whichever reader read the command line
(typer in queues.py, or the fast path in fast_path.py). No typer here, so the fast path never
imports it."""

from __future__ import annotations

from pathlib import Path

from .common import USAGE, fail, load, load_app, print_json


def switch(
    name: str, *, paused: bool, force: bool = False, as_json: bool = False,
    config: Path | None = None,
) -> None:  # fmt: skip
    """Pause (``paused``) or resume queue ``name``: ``taskora queues pause|resume``."""
    from ..names import check_queue_name

    check_queue_name(name)  # a malformed name says so, before "unknown"
    app_ = load_app(load(config))  # the task modules too: their queues are known ones
    try:
        queues = app_.queues()
        if not force:
            _known_or_fail(name, queues.names(), "pause" if paused else "resume")
        changed = queues.pause(name) if paused else queues.resume(name)
    finally:
        app_.close()
    state = "paused" if paused else "running"
    if as_json:
        from .. import documents

        print_json(documents.queue_switched(name, paused=paused, changed=changed))
    else:
        print(f"queue {name} {state}" + ("" if changed else " (it already was)"))


def _known_or_fail(name: str, known: list[str], verb: str) -> None:
    """Stop on a queue no task uses and none paused: as ``work -q``, a typo is an error, not
    a phantom queue."""
    if name in known:
        return
    listed = ", ".join(known) if known else "none yet"
    fail(USAGE, f"unknown queue {name!r}; the known queues are: {listed} (add --force to {verb} "
         "it anyway)")  # fmt: skip
