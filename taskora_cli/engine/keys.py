"""Every Redis key taskora uses is built here and nowhere else.

All keys of one task share the hash tag ``{task}`` so each script touches one cluster slot.
Keys that belong to no task (the wire meta record, the task registry) share the ``{_global}``
tag. Changing anything in this module changes the wire format: bump WIRE_VERSION.
"""

from __future__ import annotations

from dataclasses import dataclass

WIRE_VERSION = 1
"""The layout version written to the meta record; bump on any incompatible change."""

MIN_COMPAT_VERSION = 1
"""The oldest layout this code can still read and write."""


def base(prefix: str) -> str:
    """The root every key starts with: ``taskora`` or ``taskora:<prefix>``."""
    return f"taskora:{prefix}" if prefix else "taskora"


def meta_key(prefix: str) -> str:
    """HASH: the wire-format meta record (version, min compat, writer, time)."""
    return f"{base(prefix)}:{{_global}}:meta"


def task_registry_key(prefix: str) -> str:
    """SET: names of every task that has ever been dispatched or worked."""
    return f"{base(prefix)}:{{_global}}:tasks"


@dataclass(frozen=True, slots=True)
class TaskKeys:
    """The keys of one task; all share the hash tag ``{name}``."""

    prefix: str
    name: str

    @property
    def tag(self) -> str:
        """``taskora[:prefix]:{name}:`` — scripts append a job id to build job keys."""
        return f"{base(self.prefix)}:{{{self.name}}}:"

    @property
    def wait(self) -> str:
        """LIST: waiting ids of priority 0; LPUSH at the back, RPOP from the front."""
        return self.tag + "wait"

    @property
    def prioritized(self) -> str:
        """ZSET: waiting ids with priority > 0; lowest score (highest priority, oldest) first."""
        return self.tag + "prio"

    @property
    def delayed(self) -> str:
        """ZSET: delayed and retrying ids; score = when they become due (ms)."""
        return self.tag + "delayed"

    @property
    def active(self) -> str:
        """ZSET: claimed ids; score = lock deadline (ms). Past-deadline members are stalled."""
        return self.tag + "active"

    @property
    def completed(self) -> str:
        """ZSET: completed ids; score = finish time (ms)."""
        return self.tag + "completed"

    @property
    def failed(self) -> str:
        """ZSET: permanently failed ids (the dead-letter set); score = finish time (ms)."""
        return self.tag + "failed"

    @property
    def events(self) -> str:
        """STREAM: one entry per transition (``event``, ``job`` fields), capped."""
        return self.tag + "events"

    @property
    def marker(self) -> str:
        """ZSET with the one member "0": idle workers BZPOPMIN it. Score 0 = work now,
        score t = the next delayed job is due at t."""
        return self.tag + "marker"

    @property
    def sweep(self) -> str:
        """STRING: the time (ms) before which no other stall sweep of this task may run."""
        return self.tag + "sweep"

    def job(self, job_id: str) -> str:
        """HASH: one job (state, data, result, error, attempt, times, lock token)."""
        return f"{self.tag}j:{job_id}"

    def logs(self, job_id: str) -> str:
        """LIST: the job's log lines as JSON, capped."""
        return f"{self.tag}j:{job_id}:logs"
