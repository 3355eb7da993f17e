"""How many worker processes and slots a worker launch may start: sane, or said to be not.

``work -p 1000`` on two cores started a thousand interpreters and took the machine with it.
More processes than CPUs only adds memory and context switches (each process already runs many
jobs at once: that is what --concurrency is for), so above the CPU count is a warning and far
above it a refusal, unless forced.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..errors import UsageError

MIN_PROCESS_CAP = 64
PROCESSES_PER_CPU = 4
MAX_CONCURRENCY = 10_000
"""Jobs of one task in one process at once: past this it is a typo, not a setting."""


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity, e.g. under taskset or a container's
    cpuset), else the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def process_cap(cpus: int) -> int:
    """The most processes ``work -p`` starts without --force: 4 per CPU, at least 64."""
    return max(PROCESSES_PER_CPU * cpus, MIN_PROCESS_CAP)


def check_processes(processes: int, *, force: bool) -> str | None:
    """Refuse more processes than the cap unless ``force``; return a warning about more
    processes than CPUs (None when there is nothing to say). Slots: :func:`check_slots`.

    Raises:
        UsageError: more processes than the cap.
    """
    cpus = cpu_count()
    cap = process_cap(cpus)
    if processes > cap and not force:
        raise UsageError(f"{processes} worker processes is more than {cap} (4 per CPU, at "
                         f"least 64; this machine has {cpus}); lower --processes (raise "
                         "--concurrency for more jobs at once) or add --force")  # fmt: skip
    if processes > cpus:
        return (f"{processes} processes on {cpus} CPUs; more processes than CPUs only adds "
                "memory and switching (raise --concurrency instead)")  # fmt: skip
    return None


def check_slots(slots: Mapping[str, int], *, force: bool) -> None:
    """Refuse a task given more slots than MAX_CONCURRENCY unless ``force``, whatever gave
    them (``--concurrency``, ``--queue NAME=N``, [worker], the task's ``concurrency=``).

    Raises:
        UsageError: the first such task, and where its slots can be lowered.
    """
    for name, count in slots.items():
        if count > MAX_CONCURRENCY and not force:
            raise UsageError(
                f"task {name!r} would run {count:,} jobs at once in one process, more than "
                f"{MAX_CONCURRENCY:,}; lower what sets its slots (--concurrency, --queue "
                "NAME=N, [worker] concurrency or queues, the task's concurrency=) or add --force"
            )
