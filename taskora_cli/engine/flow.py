"""The engine's flow-controlled enqueues: deduplicate, throttle and debounce, one script each.

Kept beside engine.py rather than in it: engine.py holds the hot path. :class:`Flow`
(``engine.flow``) goes through the engine's Runner; every key comes from keys.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import steps
from .records import Admission, NewJob

if TYPE_CHECKING:
    from .runner import Runner


class Flow:
    """Flow-controlled enqueues (deduplicate, throttle, debounce) and collect buffers."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def enqueue_deduplicated(
        self, task: str, job: NewJob, key: str, states: tuple[str, ...], now_ms: int
    ) -> Admission:
        """Enqueue ``job`` unless the job holding dedup ``key`` is in one of ``states``."""
        found = steps.enqueue_deduplicated(self.runner.keys(task), job, key, states, now_ms)
        return await self.runner.drive(found)

    async def enqueue_throttled(
        self, task: str, job: NewJob, key: str, limit: int, window_ms: int, now_ms: int
    ) -> Admission:
        """Enqueue ``job`` unless throttle ``key`` accepted ``limit`` jobs in the last window."""
        t = self.runner.keys(task)
        return await self.runner.drive(
            steps.enqueue_throttled(t, job, key, limit, window_ms, now_ms)
        )

    async def enqueue_debounced(self, task: str, job: NewJob, key: str, now_ms: int) -> Admission:
        """Enqueue ``job`` as delayed, replacing the still-delayed job debounce ``key`` points
        at."""
        t = self.runner.keys(task)
        return await self.runner.drive(steps.enqueue_debounced(t, job, key, now_ms))

    async def collect_push(
        self,
        task: str,
        job_id: str,
        item: str,
        key: str,
        limits: tuple[int, int, int],
        now_ms: int,
    ) -> tuple[str, int, bool]:
        """Add ``item`` to collect ``key``'s buffer; ``limits`` = (delay, max_size, max_wait), ms
        and count, 0 for none. Returns (the flush job it joined, items in the buffer, flushed)."""
        t = self.runner.keys(task)
        return await self.runner.drive(steps.collect_push(t, job_id, item, key, limits, now_ms))

    async def collect_peek(self, task: str, key: str) -> list[str]:
        """The items (JSON) in collect ``key``'s buffer, oldest first; one atomic read."""
        key_name = self.runner.keys(task).collect_items(key)
        items: list[str] = await self.runner.client.lrange(key_name, 0, -1)  # type: ignore[assignment]
        return items

    async def collect_info(self, task: str, key: str) -> tuple[int, int, int] | None:
        """(count, first ms, last ms) of collect ``key``'s buffer, or None when it is empty."""
        meta = self.runner.keys(task).collect_meta(key)
        fields: list[str | None] = await self.runner.client.hmget(meta, ["count", "first", "last"])  # type: ignore[assignment]
        count, first, last = fields
        if not count:
            return None
        return int(count), int(first or 0), int(last or 0)

    async def collect_flush(self, task: str, key: str, now_ms: int) -> str | None:
        """Make the flush job of ``task``'s collect buffer ``key`` due at ``now_ms`` (a claim
        then drains the buffer into it); returns its id, or None when the buffer is empty."""
        t = self.runner.keys(task)
        keys = [t.delayed, t.marker, t.collect_meta(key), t.tag]
        job_id = await self.runner.run("collect_flush", keys, [now_ms])
        return str(job_id) if job_id else None
