"""A job's progress and log writes land in the order made; a heartbeat waits behind none."""

from __future__ import annotations

import asyncio
import threading

from taskora_cli.context import JobContext, Write


class GatedIO:
    """Writes that wait for a gate the test opens; lock extensions that do not."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.extended = asyncio.Event()
        self.written: list[str] = []

    async def write_progress(self, job_id: str, value: str) -> None:
        await self.gate.wait()
        self.written.append(value)

    def now_ms(self) -> int:
        return 0

    async def write_logs(self, job_id: str, entries: list[str]) -> None:
        await self.gate.wait()
        self.written.extend(entries)

    def extend_lock(self, job_id: str, token: str) -> Write:
        return self._extend()

    async def _extend(self) -> None:
        self.extended.set()


def _context(io: GatedIO) -> JobContext:
    return JobContext(
        job_id="j",
        task="t",
        attempt=1,
        dispatched_at_ms=0,
        token="tok",
        io=io,
        loop=asyncio.get_running_loop(),
        loop_thread=threading.get_ident(),
    )


async def test_a_heartbeat_does_not_wait_behind_a_slow_log_write() -> None:
    io = GatedIO()
    ctx = _context(io)
    ctx.log.info("slow to land")
    ctx.progress(50)
    ctx.heartbeat()
    await asyncio.wait_for(io.extended.wait(), 10)  # the writes before it still wait
    assert io.written == []
    io.gate.set()
    await ctx.flush()
    assert len(io.written) == 2 and io.written[1] == "50"  # the ordered writes kept their order
