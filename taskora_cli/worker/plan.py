"""How one task's jobs go from the claimed payload to the stored result, decided once per task.

A worker builds a :class:`TaskPlan` per task when it starts: the decoder and encoder for the
app's serializer, the input and output schemas, the payload versioning and the composed
middleware chain. A task that uses none of them gets ``plain`` plan: the slots then run
exactly the path they ran before typed tasks existed (decode, call, encode), with no per-job
check of features it does not use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import SerializationError
from ..middleware import TRACE_MARK, Middleware, threads_per_job
from ..schemas import to_wire
from ..serialization import Payloads, dumps
from ..versioning import DEFAULT_VERSION, Versioning

if TYPE_CHECKING:
    from ..schemas import Schema
    from ..task import Task

RESULT = "the handler's return value"


def _otel_marked(middleware: Middleware) -> bool:
    return getattr(middleware, TRACE_MARK, False) is True


@dataclass(frozen=True, slots=True)
class TaskPlan:
    """What the worker does around one task's handler.

    Attributes:
        plain: nothing but decode, call and encode (no schema, middleware or versioning, the
            JSON serializer): the fast path.
        decode: stored payload text -> value (the app's serializer; reads any format).
        encode: value -> stored text (the app's serializer).
        input: the input schema, or None.
        output: the output schema, or None.
        versioning: the task's payload version, ``since`` and migrations.
        middlewares: the app's then the task's middlewares, outer to inner.
        traced: a middleware reads ``ctx.trace_context``: fill it from the job's ``tc``.
        threads_per_job: worker threads one job's plain middlewares hold at once.
    """

    plain: bool
    decode: Callable[[str], Any]
    encode: Callable[[Any], str]
    input: Schema | None
    output: Schema | None
    versioning: Versioning
    middlewares: tuple[Middleware, ...]
    traced: bool
    threads_per_job: int

    @property
    def newest(self) -> int:
        """The newest job version this task runs."""
        return self.versioning.version

    @property
    def oldest(self) -> int:
        """The oldest job version this task runs."""
        return self.versioning.since

    def prepare(self, task: str, raw: str, job_version: int, collect: bool) -> Any:
        """The value the chain (or handler) receives: decoded, migrated, checked.

        Raises:
            ValidationError: the data does not match the input schema.
            Exception: a migration's own error.
        """
        data = self.decode(raw)
        if job_version < self.versioning.version:
            data = self.versioning.upgrade(data, job_version)
        schema = self.input
        if schema is not None:
            if collect and isinstance(data, list):
                return [schema.check(item, task=task) for item in data]
            return schema.check(data, task=task)
        return data

    def store(self, task: str, value: Any) -> str:
        """The handler's (or chain's) result as stored text, checked against the output
        schema first.

        Raises:
            ValidationError: the result does not match the output schema.
            SerializationError: the serializer cannot encode it.
        """
        schema = self.output
        if schema is not None:
            value = schema.to_wire(schema.check(value, task=task, what="result"))
        elif value is None:
            return "null"
        return self.encode(value)


def build_plan(task: Task, app_middleware: Sequence[Middleware], payloads: Payloads) -> TaskPlan:
    """Decide once, at worker start, what ``task``'s jobs go through."""
    options = task.options
    middlewares = (*app_middleware, *options.middleware)
    is_json = payloads.serializer.name == "json"
    versioning = options.versioning
    plain = (
        is_json
        and not middlewares
        and options.input is None
        and options.output is None
        and versioning.version == DEFAULT_VERSION
        and versioning.since == DEFAULT_VERSION
    )
    return TaskPlan(
        plain=plain,
        decode=_json_decoder(payloads) if is_json else payloads.loads,
        encode=store_json if is_json else _encoder(payloads.dumps),
        input=options.input,
        output=options.output,
        versioning=versioning,
        middlewares=middlewares,
        traced=any(_otel_marked(m) for m in middlewares),
        threads_per_job=threads_per_job(middlewares),
    )


def _json_decoder(payloads: Payloads) -> Callable[[str], Any]:
    """JSON at the cost of ``serialization.loads`` (one call, one decode), and any other
    serializer's payload too."""
    decode_json = json.JSONDecoder().decode

    def decode(text: str) -> Any:
        try:
            return decode_json(text)
        except (ValueError, TypeError):
            # a "~name:" payload another app's serializer wrote (every reader decodes any),
            # or None (no data), which the payloads reader gives back as None
            return payloads.loads(text)

    return decode


def trace_context(raw: str) -> dict[str, str] | None:
    """A job's ``tc`` field as the carrier it holds; None when it is not a JSON object (a
    broken trace context is not worth failing the job for)."""
    try:
        carrier = json.loads(raw)
    except ValueError:
        return None
    return carrier if isinstance(carrier, dict) else None


def _encoder(write: Callable[..., str]) -> Callable[[Any], str]:
    """A result encoder over a serializer's ``dumps``: a model, Struct or dataclass goes in
    its JSON form, converted only once ``write`` refused it as it is (so a plain value pays
    nothing more than before)."""

    def encode(value: Any) -> str:
        try:
            return write(value, what=RESULT)
        except SerializationError:
            wire = to_wire(value)
            if wire is value:
                raise
            return write(wire, what=RESULT)

    return encode


_store_json = _encoder(dumps)


def store_json(value: Any) -> str:
    """A result as JSON (see :func:`_encoder`); None, the common result, without a call."""
    return "null" if value is None else _store_json(value)


__all__ = ["TaskPlan", "build_plan", "store_json", "trace_context"]
