"""OpenTelemetry tracing: a span per job, parented to the span that dispatched it.

Needs the optional extra (``pip install 'taskora[otel]'``). The dispatching process carries
its current trace context in the job (``inject_trace_context``, W3C ``traceparent`` /
``tracestate`` through the globally configured propagator); the worker's middleware reads it
back from ``ctx.trace_context``::

    from taskora_cli.otel import otel_middleware

    app.use(otel_middleware())

Importing this module does not import opentelemetry: ``inject_trace_context`` looks for it
only once the process has imported it (no span can be active before), and
``otel_middleware`` imports it when called.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .errors import UsageError

if TYPE_CHECKING:
    from .context import JobContext
    from .middleware import Middleware


def inject_trace_context() -> dict[str, str] | None:
    """The current trace context as a carrier to store with a job, or None.

    None when opentelemetry has not been imported in this process or no span is recording
    here, so a dispatch that does not trace pays one dictionary lookup.
    """
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    # loaded, yet maybe not tracing: redis-py imports opentelemetry whenever it is installed
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    from opentelemetry import propagate  # type: ignore[import-untyped,import-not-found,unused-ignore]

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier or None


def otel_middleware(tracer_provider: Any = None, *, parent: bool = True) -> Middleware:
    """A middleware that runs each job in a span named ``taskora.run <task>``.

    The span (kind CONSUMER) carries ``taskora.task``, ``taskora.job.id``,
    ``taskora.job.attempt`` and ``taskora.job.outcome`` (``completed``, ``failed`` or
    ``cancelled``), plus the ``messaging.*`` attributes tracing backends group by. A failure is
    recorded on the span as an exception and an error status. The handler (and any inner
    middleware) runs with the span current, so its own spans are children of it.

    Args:
        tracer_provider: where spans go; None means the global one.
        parent: True makes the job's span a child of the dispatching span (one trace from
            the producer through the worker). False starts a trace per job that links to the
            dispatching span instead: for jobs that run long after they were dispatched, or
            fan-outs that would grow one trace without bound. Either way a job dispatched
            without a trace context starts a trace of its own, whatever span is current in
            the worker.

    Raises:
        UsageError: opentelemetry is not installed.
    """
    try:
        from opentelemetry import context as otel_context  # type: ignore[import-untyped,import-not-found,unused-ignore]
        from opentelemetry import propagate, trace  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        raise UsageError(
            "otel_middleware needs OpenTelemetry: pip install 'taskora[otel]'"
        ) from None
    import asyncio

    from . import __version__
    from .middleware import TRACE_MARK

    tracer = trace.get_tracer("taskora", __version__, tracer_provider=tracer_provider)
    no_parent = otel_context.Context()

    async def otel_middleware(ctx: JobContext, call_next: Callable[[], Awaitable[None]]) -> None:
        carrier = ctx.trace_context
        dispatched = propagate.extract(carrier, context=no_parent) if carrier else None
        links: list[trace.Link] = []
        if not parent and dispatched is not None:
            span_context = trace.get_current_span(dispatched).get_span_context()
            if span_context.is_valid:
                links.append(trace.Link(span_context))
            dispatched = None
        # a job without a dispatching span (or not parented to it) starts a trace of its own:
        # never a child of whatever span is current in the worker
        with tracer.start_as_current_span(
            f"taskora.run {ctx.task}",
            context=dispatched if dispatched is not None else no_parent,
            kind=trace.SpanKind.CONSUMER,
            links=links,
            attributes={
                "taskora.task": ctx.task,
                "taskora.job.id": ctx.id,
                "taskora.job.attempt": ctx.attempt,
                "messaging.system": "taskora",
                "messaging.operation.type": "process",
                "messaging.destination.name": ctx.task,
                "messaging.message.id": ctx.id,
            },
            # set below, where a cancellation is told from a failure
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                await call_next()
            except asyncio.CancelledError:
                span.set_attribute("taskora.job.outcome", "cancelled")
                reason = ctx.cancelled.reason or "timed out or shut down"
                span.set_status(trace.StatusCode.ERROR, f"cancelled: {reason}")
                raise
            except BaseException as exc:
                span.set_attribute("taskora.job.outcome", "failed")
                span.record_exception(exc)
                span.set_status(trace.StatusCode.ERROR, f"{type(exc).__name__}: {exc}")
                raise
            span.set_attribute("taskora.job.outcome", "completed")

    # the worker reads a job's trace context (one more read per claim) only for tasks whose
    # chain holds a middleware marked so
    setattr(otel_middleware, TRACE_MARK, True)
    return otel_middleware


__all__ = ["inject_trace_context", "otel_middleware"]
