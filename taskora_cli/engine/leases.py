"""The engine's leader leases: one per group of legacy managers (``DefaultTaskManager``).

A lease is a stored deadline (``owner``, ``until`` in ms) under its own ``{_leader:<group>}``
tag, taken or kept by ``leader_keep`` with the caller's clock, so a test moves it in virtual
time; the scheduler keeps its own lease (engine/schedules.py), so a manager asking whether it
leads never takes the scheduler's turn to fire schedules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from . import keys as k

if TYPE_CHECKING:
    from .runner import Runner


class Lease(NamedTuple):
    """A lease as one keep left it."""

    held: bool
    """Whether the caller holds it now."""
    owner: str
    """The holder's token."""
    until_ms: int
    """When it runs out unless kept again."""


class Leases:
    """Leader leases: take or keep, give up, read."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def keep(self, group: str, token: str, now_ms: int, lease_ms: int) -> Lease:
        """Take the lease of ``group`` (free, or its holder's deadline passed) or keep it (the
        caller holds it) until ``now_ms + lease_ms``; else report who holds it."""
        key = k.leader_lease_key(self.runner.prefix, group)
        reply = await self.runner.run("leader_keep", [key], [token, now_ms, lease_ms])
        return Lease(bool(int(reply[0])), str(reply[1]), int(reply[2]))

    async def release(self, group: str, token: str) -> bool:
        """Give up the lease of ``group`` if ``token`` holds it."""
        key = k.leader_lease_key(self.runner.prefix, group)
        return bool(await self.runner.run("leader_release", [key], [token]))
