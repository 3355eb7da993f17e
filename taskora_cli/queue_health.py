"""Whether a task's queue is over an alert threshold: ``doctor --max-latency/--max-depth`` and
the board's ``/healthz`` ask the same question."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .views.inspector import TaskStats


def over_threshold(
    tasks: Iterable[TaskStats], max_latency: tuple[int, str] | None, max_depth: int | None
) -> str:
    """The first task over a threshold, described; "" when none is.

    Args:
        max_latency: (ms, as the user wrote it): the oldest waiting job may be this old.
        max_depth: at most this many jobs of a task may wait.
    """
    limit_ms, written = max_latency or (None, "")
    for s in tasks:
        if limit_ms is not None and s.latency is not None and s.latency * 1000 > limit_ms:
            return f"task {s.task!r}: its oldest waiting job is {s.latency:.1f}s old " \
                   f"(--max-latency {written})"  # fmt: skip
        if max_depth is not None and s.waiting > max_depth:
            return f"task {s.task!r}: {s.waiting} jobs waiting (--max-depth {max_depth})"
    return ""
