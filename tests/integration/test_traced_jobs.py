"""OpenTelemetry through a real worker: a job dispatched inside a span runs in a worker span
parented to it; tasks without the tracing middleware never read the trace context."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import make_app

from taskora_cli import Taskora
from taskora_cli.context import JobContext
from taskora_cli.engine.records import NewJob
from taskora_cli.otel import inject_trace_context, otel_middleware

pytest.importorskip("opentelemetry.sdk")
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)


@pytest.fixture
async def app(redis_url: str, tmp_path: Path) -> Taskora:
    made = make_app(redis_url, tmp_path)
    yield made
    await made.aclose()


async def test_the_worker_span_is_a_child_of_the_dispatching_span(app: Taskora) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    carriers: dict[str, Any] = {}

    @app.task("traced", middleware=[otel_middleware(tracer_provider=provider)])
    async def traced(data: int, ctx: JobContext) -> int:
        carriers["seen"] = ctx.trace_context
        return data

    @app.task("untraced")
    async def untraced(data: int, ctx: JobContext) -> int:
        carriers["untraced"] = ctx.trace_context
        return data

    engine = await app.runtime.engine()
    now = app.runtime.clock()
    with tracer.start_as_current_span("dispatch") as dispatching:
        carrier = inject_trace_context()
        assert carrier is not None
        handle = await traced.adispatch(7)  # dispatch writes the job's tc field
        extra = json.dumps({"tc": json.dumps(carrier)})  # as it would for this one
        assert await engine.enqueue("untraced", NewJob("u1", "8", extra=extra), now)
    worker = await app.start()
    try:
        assert worker.plans["traced"].traced and not worker.plans["untraced"].traced
        assert await handle.aresult(10) == 7
        assert await app.handle("untraced", "u1").aresult(10) == 8
    finally:
        await worker.stop()
    assert carriers["seen"] == carrier
    assert carriers["untraced"] is None  # no tracing middleware: never read
    job_span = next(s for s in exporter.get_finished_spans() if s.name == "taskora.run traced")
    parent = dispatching.get_span_context()
    assert job_span.parent is not None and job_span.parent.span_id == parent.span_id
    assert job_span.context.trace_id == parent.trace_id
    assert job_span.attributes is not None
    assert job_span.attributes["taskora.job.outcome"] == "completed"


async def test_a_claim_returns_the_trace_context_only_of_jobs_that_carry_one(
    redis_url: str,
) -> None:
    from taskora_cli.engine.engine import Engine

    now = 1_700_000_000_000
    engine = Engine(redis_url)
    try:
        await engine.connect(now)
        tc = json.dumps({"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"})
        assert await engine.enqueue("t", NewJob("a", "1", extra=json.dumps({"tc": tc})), now)
        assert await engine.enqueue("t", NewJob("b", "2", extra=json.dumps({"v": 3})), now)
        assert await engine.enqueue(
            "t", NewJob("c", "3", extra=json.dumps({"v": 2, "tc": tc})), now
        )
        claimed = await engine.claim("t", "w", 3, now, 30_000, request="r1")
        again = await engine.claim("t", "w", 3, now, 30_000, request="r1")  # a replay
        for jobs in (claimed, again):
            assert [(j.id, j.version, j.trace) for j in jobs] == [
                ("a", 1, tc),
                ("b", 3, None),
                ("c", 2, tc),
            ]
    finally:
        await engine.close()
