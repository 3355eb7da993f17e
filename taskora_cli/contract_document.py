"""The published form of a task contract: what a worker stores on the server so that any
process, with neither the handler nor the contract's module, can dispatch the task by name
with its options applied and its payload checked (``taskora dispatch``, producers on other
hosts, ``taskora tasks ls/show``).

It is JSON, versioned by its ``format`` field. Readers ignore fields they do not know, so a
newer writer may add fields without bumping ``format``; ``format`` goes up only when a field
changes meaning, and a reader refuses a format newer than it understands.

What cannot travel: Python callables. A retry ``backoff`` function is published as
``"custom"`` and exception filters by class name (display only: a producer never applies a
retry policy, the worker that runs the job does). A collect ``key`` function is published as
its name: a by-name producer cannot compute the key, so its :meth:`ContractDocument.task_options`
carries a key that refuses the dispatch with an explanation, before anything is enqueued.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from .errors import UsageError, WireFormatError
from .flow import Collect, Ttl
from .json_schema import json_schema_issues
from .retry import Retry
from .schemas import Schema, SchemaMismatch, to_wire
from .task import DEFAULT_QUEUE, TaskOptions
from .versioning import Versioning

FORMAT = 1
"""The document layout this code writes, and the newest it reads."""

_NAMED_BACKOFFS = ("fixed", "linear", "exponential")


@dataclass(frozen=True)
class ContractDocument:
    """One task's published contract.

    Attributes:
        name: the task name.
        queue: the queue its jobs go to.
        version: the version its newest publisher stamps on jobs; ``since`` the oldest one
            that publisher's workers accept.
        options: ``retry`` (dict or None), ``timeout_ms``, ``ttl`` (``{"max_ms",
            "on_expire"}`` or None), ``singleton``, ``concurrency_limit``, ``collect``
            (``{"key", "key_function", "delay_ms", "max_size", "max_wait_ms"}`` or None);
            see :func:`options_document`.
        input_schema: the JSON Schema of the job data, or None when the task has no schema
            (or one that JSON Schema cannot express, such as a plain callable).
        output_schema: the JSON Schema of the result, likewise.
        published_at_ms: when the worker published it (its clock).
        format: the document layout (:data:`FORMAT` when written by this code).
    """

    name: str
    queue: str = DEFAULT_QUEUE
    version: int = 1
    since: int = 1
    options: Mapping[str, Any] = field(default_factory=dict)
    input_schema: Mapping[str, Any] | None = None
    output_schema: Mapping[str, Any] | None = None
    published_at_ms: int = 0
    format: int = FORMAT

    def to_json(self) -> str:
        """The document as compact JSON (keys sorted, so equal documents are equal text)."""
        body = {
            "format": self.format,
            "name": self.name,
            "queue": self.queue,
            "version": self.version,
            "since": self.since,
            "options": dict(self.options),
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
            "published_at_ms": self.published_at_ms,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> ContractDocument:
        """Read a document, ignoring fields this version does not know.

        Raises:
            WireFormatError: not a contract document, or one in a newer ``format``.
        """
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise WireFormatError(f"a published contract is not JSON: {exc}") from None
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise WireFormatError(f"a published contract has no task name: {str(text)[:80]!r}")
        name = body["name"]
        fmt = _read(body, "format", int, name, FORMAT)
        if fmt > FORMAT:
            raise WireFormatError(
                f"the contract of task {name!r} was published in format {fmt} by a newer "
                f"taskora; this one reads format {FORMAT} at most: upgrade taskora here"
            )
        return cls(
            name=name,
            queue=_read(body, "queue", str, name, DEFAULT_QUEUE),
            version=_read(body, "version", int, name, 1),
            since=_read(body, "since", int, name, 1),
            options=_read(body, "options", dict, name, {}),
            input_schema=_read(body, "input_schema", dict, name, None),
            output_schema=_read(body, "output_schema", dict, name, None),
            published_at_ms=_read(body, "published_at_ms", int, name, 0),
            format=fmt,
        )

    def check_input(self, data: Any) -> None:
        """Check job data against the published input schema (nothing to check without one).

        Raises:
            ValidationError: the data breaks the schema; ``issues`` lists every bad field.
            UsageError: the published schema itself is broken.
        """
        if self.input_schema is not None:
            PublishedSchema(self.input_schema, self.name).check(data, task=self.name)

    def task_options(self) -> TaskOptions:
        """The options a producer dispatching by name applies: queue, singleton,
        concurrency limit, TTL, collect, the version stamp, and the input schema (as a
        :class:`PublishedSchema`, so dispatch checks data as it does for a local task); and
        timeout and retry where they can be rebuilt (informational there: the worker that
        runs the job applies its own)."""
        options = self.options
        limit = options.get("concurrency_limit")
        timeout = options.get("timeout_ms")
        schema = self.input_schema
        return TaskOptions(
            input=None if schema is None else PublishedSchema(schema, self.name),
            versioning=Versioning(max(self.version, 1), max(min(self.since, self.version), 1)),
            retry=_retry(options.get("retry")),
            timeout_ms=timeout if _is_int(timeout) else None,
            queue=self.queue,
            ttl=_ttl(options.get("ttl")),
            singleton=options.get("singleton") is True,
            concurrency_limit=limit if _is_int(limit) and limit >= 1 else None,
            collect=_collect(self.name, options.get("collect")),
        )


class PublishedSchema(Schema):
    """A published JSON Schema as a :class:`~taskora_cli.schemas.Schema`: checks data (as
    plain JSON values) with :func:`~taskora_cli.json_schema.json_schema_issues` and returns
    it unchanged; defaults are not applied (the worker's own schema applies them).

    Args:
        document: the JSON Schema (a dict, as published).
        name: what to call it in messages (the task name).
    """

    def __init__(self, document: Mapping[str, Any], name: str) -> None:
        self.name = name
        self.document = document

    def validate(self, value: Any) -> Any:
        value = to_wire(value)  # a dataclass or model instance is checked as it will travel
        issues = json_schema_issues(value, self.document)
        if issues:
            raise SchemaMismatch(issues)
        return value

    def json_schema(self) -> dict[str, Any]:
        return dict(self.document)


def options_document(options: TaskOptions) -> dict[str, Any]:
    """The publishable part of a task's options (concurrency and on_cancel are the worker's
    own business and stay out)."""
    retry = options.retry
    ttl = options.ttl
    collect = options.collect
    return {
        "retry": None if retry is None else _retry_document(retry),
        "timeout_ms": options.timeout_ms,
        "ttl": None if ttl is None else {"max_ms": ttl.max_ms, "on_expire": ttl.on_expire},
        "singleton": options.singleton,
        "concurrency_limit": options.concurrency_limit,
        "collect": None if collect is None else _collect_document(collect),
    }


def _retry_document(retry: Retry) -> dict[str, Any]:
    from .durations import to_ms

    return {
        "attempts": retry.attempts,
        "backoff": retry.backoff if isinstance(retry.backoff, str) else "custom",
        "delay_ms": to_ms(retry.delay),
        "max_delay_ms": None if retry.max_delay is None else to_ms(retry.max_delay),
        "jitter": retry.jitter,
        "retry_on": [_qualified(kind) for kind in retry.retry_on],
        "no_retry_on": [_qualified(kind) for kind in retry.no_retry_on],
    }


def _collect_document(collect: Collect) -> dict[str, Any]:
    computed = callable(collect.key)
    return {
        "key": None if computed else collect.key,
        "key_function": _qualified(collect.key) if computed else None,
        "delay_ms": collect.delay_ms,
        "max_size": collect.max_size,
        "max_wait_ms": collect.max_wait_ms,
    }


def _qualified(thing: Any) -> str:
    module = getattr(thing, "__module__", None) or "?"
    return f"{module}.{getattr(thing, '__qualname__', repr(thing))}"


def _read(body: Mapping[str, Any], key: str, kind: type, name: str, default: Any) -> Any:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise WireFormatError(
            f"the contract of task {name!r} has a bad {key!r}: expected {kind.__name__}, "
            f"got {value!r}"
        )
    return value


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _retry(value: Any) -> Retry | None:
    """The retry policy, when the document describes it exactly (a named backoff and no
    exception filters, which travel only as names)."""
    if not isinstance(value, Mapping) or value.get("backoff") not in _NAMED_BACKOFFS:
        return None
    if value.get("retry_on") or value.get("no_retry_on"):
        return None
    attempts, delay, cap = value.get("attempts"), value.get("delay_ms"), value.get("max_delay_ms")
    if not (_is_int(attempts) and _is_int(delay)) or (cap is not None and not _is_int(cap)):
        return None
    try:
        return Retry(
            attempts=attempts,
            backoff=value["backoff"],
            delay=delay / 1000,
            max_delay=None if cap is None else cap / 1000,
            jitter=value.get("jitter") is not False,
        )
    except UsageError:
        return None


def _ttl(value: Any) -> Ttl | None:
    if not isinstance(value, Mapping) or not _is_int(value.get("max_ms")):
        return None
    on_expire = value.get("on_expire")
    return Ttl(value["max_ms"], on_expire if on_expire in ("fail", "discard") else "fail")


def _collect(task: str, value: Any) -> Collect | None:
    if not isinstance(value, Mapping) or not _is_int(value.get("delay_ms")):
        return None
    size, wait = value.get("max_size"), value.get("max_wait_ms")
    key = value.get("key")
    if not (isinstance(key, str) and key):
        key = _UncomputableKey(task, str(value.get("key_function") or "a function"))
    return Collect(
        key,
        value["delay_ms"],
        size if _is_int(size) else 0,
        wait if _is_int(wait) else 0,
    )


class _UncomputableKey:
    """Stands for a collect key the task's own code computes from each item: a by-name
    producer cannot, so dispatching refuses (before anything is enqueued) and says how."""

    def __init__(self, task: str, function: str) -> None:
        self.task = task
        self.function = function

    def __call__(self, data: Any) -> str:
        raise UsageError(
            f"task {self.task!r} batches items by a key its code computes ({self.function}); "
            "a process that only knows the task by name cannot compute it: dispatch from code "
            "that imports the task's contract (app.register(contract))"
        )
