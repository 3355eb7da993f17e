"""``/metrics`` (Prometheus text format) and ``/healthz``.

The counts are read at each scrape (cheap: a few LLEN/ZCARD per task, whatever the queue
sizes). Job durations and retries are counted from the job events a follower reads from the
first scrape on, in this board process: as for any Prometheus counter, ``rate()`` over them is
what to chart, and a restart starts them from zero.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from ..documents import json_text
from ..errors import TaskoraError
from ..queue_health import over_threshold
from ..urls import mask_urls_in
from .guard import metrics_allowed

if TYPE_CHECKING:
    from ..durations import Duration
    from ..views.inspector import Stats
    from ..views.queues import QueueInfo
    from ..views.worker_registry import WorkerInfo
    from .context import BoardContext

log = logging.getLogger("taskora.board")

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
CLOSE_S = 5.0
"""How long closing waits for the event counting to let go of its connection."""
STATE_NAMES = ("waiting", "delayed", "active", "completed", "failed", "expired", "cancelled")


class _Snapshot(Collector):
    """The gauges of the last scrape's reads."""

    def __init__(self, board: BoardContext) -> None:
        self.board = board
        self.stats: Stats | None = None
        self.queues: list[QueueInfo] = []
        self.workers: list[WorkerInfo] = []

    def collect(self) -> Iterator[Any]:
        label = self.board.redact.label
        jobs = GaugeMetricFamily(
            "taskora_jobs", "Jobs per task and state (finished ones: as retention keeps them).",
            labels=["task", "state"],
        )  # fmt: skip
        for row in self.stats.tasks if self.stats else []:
            for state in STATE_NAMES:
                jobs.add_metric([label("task", row.task), state], getattr(row, state))
        yield jobs
        latency = GaugeMetricFamily(
            "taskora_queue_latency_seconds",
            "Age of the oldest waiting job of each queue (0 when none waits).",
            labels=["queue"],
        )
        paused = GaugeMetricFamily(
            "taskora_queue_paused", "1 when the queue is paused.", labels=["queue"]
        )
        depth = GaugeMetricFamily(
            "taskora_queue_waiting", "Jobs waiting in each queue.", labels=["queue"]
        )
        for queue in self.queues:
            name = label("queue", queue.name)
            latency.add_metric([name], queue.latency or 0.0)
            paused.add_metric([name], 1.0 if queue.paused else 0.0)
            depth.add_metric([name], queue.waiting)
        yield from (latency, paused, depth)
        live = [w for w in self.workers if not w.gone]
        yield GaugeMetricFamily("taskora_workers_live", "Live worker processes.", len(live))
        yield GaugeMetricFamily(
            "taskora_worker_slots_busy", "Jobs running on live workers.",
            sum(w.active for w in live),
        )  # fmt: skip


class Metrics:
    """``/metrics`` and ``/healthz`` of one board."""

    def __init__(self, board: BoardContext) -> None:
        self.board = board
        self.registry = CollectorRegistry(auto_describe=True)
        self.snapshot = _Snapshot(board)
        self.registry.register(self.snapshot)
        self.duration = Histogram(
            "taskora_job_duration_seconds",
            "How long completed attempts ran, per task (since this board's first scrape).",
            ["task"], buckets=DURATION_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.finished = Counter(
            "taskora_job_events",
            "Job events seen per task and event (completed, failed, retrying, ...), since "
            "this board's first scrape.",
            ["task", "event"], registry=self.registry,
        )  # fmt: skip
        self.lock = asyncio.Lock()
        self.follower: asyncio.Task[None] | None = None
        self.stopping = False

    async def metrics(self, request: Request) -> Response:
        refused = await metrics_allowed(self.board, request)
        if refused is not None:
            return refused
        self._follow()
        app = self.board.app
        async with self.lock:  # one scrape at a time fills the snapshot it renders
            stats = await app.inspect().astats()
            self.snapshot.stats = stats
            self.snapshot.queues = await app.queues().alist(stats)
            self.snapshot.workers = await app.aworkers()
            body = generate_latest(self.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def healthz(self, request: Request) -> Response:
        """200 ``{"ok": true}``; 503 with the reason when the server cannot be read or a
        task's queue is over a threshold (the board's, or ``max_latency``/``max_depth`` in
        the query, as ``doctor``)."""
        from ..durations import to_ms

        thresholds = self.board.settings.health
        latency_ms, written = thresholds.max_latency_ms, f"{thresholds.max_latency_ms}ms"
        depth = thresholds.max_depth
        try:
            asked: Duration | None = request.query_params.get("max_latency")
            if asked:
                latency_ms, written = to_ms(asked, what="max_latency"), str(asked)
            if request.query_params.get("max_depth"):
                depth = int(request.query_params["max_depth"])
        except (TaskoraError, ValueError) as exc:
            return _health(400, f"bad threshold: {exc}")
        try:
            stats = await self.board.app.inspect().astats()
        except TaskoraError as exc:
            return _health(503, f"server: {mask_urls_in(str(exc))}")
        limit = None if latency_ms is None else (latency_ms, written)
        over = over_threshold(stats.tasks, limit, depth)
        return _health(503, over) if over else _health(200, "")

    def _follow(self) -> None:
        """Start counting job events in this loop, once (again if its loop went away)."""
        if self.follower is not None and not self.follower.done():
            return
        self.follower = asyncio.get_running_loop().create_task(self._count())

    async def _count(self) -> None:
        while not self.stopping:
            try:
                tasks = await self.board.app.inspect().atasks()
                if not tasks:
                    await asyncio.sleep(5)
                    continue
                async for event in self.board.app.events(tasks):
                    self._record(event.name, event.task, event.details)
                    if self.stopping:
                        return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a server hiccup must not end the counting for good
                if self.stopping:  # a cancel the client library turned into its own error
                    return
                log.warning("taskora board: reading events for metrics failed (%s)", exc)
                await asyncio.sleep(1)

    def _record(self, name: str, task: str, details: dict[str, str] | None) -> None:
        task = self.board.redact.label("task", task)
        self.finished.labels(task, name).inc()
        if name == "completed" and details and "duration_ms" in details:
            self.duration.labels(task).observe(int(details["duration_ms"]) / 1000)

    async def aclose(self) -> None:
        """Stop the event counting (the board's lifespan does it at shutdown)."""
        follower, self.follower = self.follower, None
        if follower is None:
            return
        self.stopping = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLOSE_S
        while not follower.done() and loop.time() < deadline:
            follower.cancel()  # again: a read may turn one cancel into a timeout and go on
            # waited on, not awaited: its CancelledError is its own, never this task's
            await asyncio.wait({follower}, timeout=0.1)
        self.stopping = False


def _health(status: int, reason: str) -> Response:
    body: dict[str, Any] = {"ok": status == 200}
    if reason:
        body["reason"] = reason
    return Response(json_text(body), status_code=status, media_type="application/json")
