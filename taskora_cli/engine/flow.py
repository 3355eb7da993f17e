"""The engine's flow-controlled enqueues: deduplicate, throttle and debounce, one script each.

Kept beside engine.py rather than in it: engine.py holds the hot path. :class:`Flow`
(``engine.flow``) goes through the engine's Runner; every key comes from keys.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .records import Admission, NewJob

if TYPE_CHECKING:
    from .keys import TaskKeys
    from .runner import Runner


def _keys(t: TaskKeys) -> list[str]:
    return [t.wait, t.prioritized, t.delayed, t.events, t.marker]


def _args(job: NewJob, now_ms: int) -> list[Any]:
    return [job.id, job.data, now_ms, job.priority, job.run_at_ms, job.expire_at_ms, job.extra]


class Flow:
    """Flow-controlled enqueues (deduplicate, throttle, debounce) and collect buffers."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def enqueue_deduplicated(
        self, task: str, job: NewJob, key: str, states: tuple[str, ...], now_ms: int
    ) -> Admission:
        """Enqueue ``job`` unless the job holding dedup ``key`` is in one of ``states``."""
        t = self.runner.keys(task)
        args = [*_args(job, now_ms), " ".join(states)]
        keys = [*_keys(t), t.dedup(key), t.seq, t.tag]
        done, holder = await self.runner.run("enqueue_deduplicated", keys, args)
        if int(done):
            return Admission(True)
        return Admission(False, "duplicate", existing_id=str(holder))

    async def enqueue_throttled(
        self, task: str, job: NewJob, key: str, limit: int, window_ms: int, now_ms: int
    ) -> Admission:
        """Enqueue ``job`` unless throttle ``key`` accepted ``limit`` jobs in the last window."""
        t = self.runner.keys(task)
        args = [*_args(job, now_ms), limit, window_ms]
        keys = [*_keys(t), t.throttle(key), t.seq, t.tag]
        done, wait_ms = await self.runner.run("enqueue_throttled", keys, args)
        if int(done):
            return Admission(True)
        return Admission(False, "throttled", retry_after_ms=int(wait_ms))

    async def enqueue_debounced(self, task: str, job: NewJob, key: str, now_ms: int) -> Admission:
        """Enqueue ``job`` as delayed, replacing the still-delayed job debounce ``key`` points
        at."""
        t = self.runner.keys(task)
        keys = [*_keys(t), t.debounce(key), t.cancelled, t.seq, t.tag]
        done, replaced = await self.runner.run("enqueue_debounced", keys, _args(job, now_ms))
        return Admission(bool(int(done)), replaced_id=str(replaced) or None)

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
        keys = [*_keys(t), t.collect_items(key), t.collect_meta(key), t.seq, t.tag]
        args = [job_id, item, now_ms, *limits]
        joined, count, flushed = await self.runner.run("collect_push", keys, args)
        return str(joined), int(count), bool(int(flushed))

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
