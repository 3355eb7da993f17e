"""Task contracts: a task's name, schemas and options, declared apart from its handler.

A contract lives in a small module that both sides import: the producer (an API server that
must not import the worker's heavy dependencies) registers it to dispatch, the worker
implements it with a handler. ``define_task`` checks every option at import time, exactly as
``@app.task`` does, so a typo fails in the shared module and not in whichever process happens
to dispatch first.

The published form, what a worker stores on the server so processes holding neither the
handler nor the contract can dispatch by name, is :mod:`taskora_cli.contract_document`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .durations import Duration, to_ms
from .errors import UsageError
from .flow import Collect, Ttl, check_concurrency_options, parse_collect, parse_ttl
from .names import check_queue_name, check_task_name
from .retry import Retry
from .task import (
    DEFAULT_QUEUE,
    Handler,
    Task,
    TaskOptions,
    TtlOption,
    refuse_versioned_collect,
)
from .versioning import DEFAULT_VERSIONING, MigrateOption, Migration, Versioning

if TYPE_CHECKING:
    import logging

    from .contract_document import ContractDocument
    from .engine.engine import Engine
    from .schemas import Schema


def _log() -> logging.Logger:
    # logging (with traceback, textwrap, string) costs a one-shot command 2.5 ms at import,
    # and only a worker publishing its contracts warns here
    import logging

    return logging.getLogger("taskora")


@dataclass(frozen=True)
class TaskContract:
    """A task's declaration without its handler; build it with :func:`define_task`.

    ``input`` and ``output`` are kept exactly as given (a pydantic model, a msgspec Struct, a
    dataclass, a TypedDict, a callable, or None): the app turns them into validators when the
    contract is registered or implemented. Durations are in milliseconds, already checked.
    """

    name: str
    input: Any = None
    output: Any = None
    retry: Retry | None = None
    timeout_ms: int | None = None
    queue: str = DEFAULT_QUEUE
    ttl: Ttl | None = None
    singleton: bool = False
    concurrency_limit: int | None = None
    collect: Collect | None = None
    versioning: Versioning = DEFAULT_VERSIONING
    """The version producers stamp on new jobs, the oldest workers accept, and the
    migrations in between (checked by :meth:`Versioning.build`)."""

    @property
    def version(self) -> int:
        """The version this contract's producers stamp on new jobs."""
        return self.versioning.version

    @property
    def since(self) -> int:
        """The oldest job version its workers still accept (migrating it up)."""
        return self.versioning.since

    @property
    def migrations(self) -> tuple[tuple[int, Migration], ...]:
        """``(n, fn)`` pairs sorted by ``n``: ``fn`` turns version ``n - 1`` data into ``n``."""
        return tuple(self.versioning.steps.items())

    def task_options(
        self, *, concurrency: int | None = None, on_cancel: Handler | None = None
    ) -> TaskOptions:
        """The :class:`TaskOptions` of a task built from this contract.

        Args:
            concurrency: worker-side: jobs one worker process runs at once.
            on_cancel: worker-side: called after a cancelled job's handler ended.
        """
        return TaskOptions(
            retry=self.retry,
            timeout_ms=self.timeout_ms,
            concurrency=concurrency,
            queue=self.queue,
            on_cancel=on_cancel,
            ttl=self.ttl,
            singleton=self.singleton,
            concurrency_limit=self.concurrency_limit,
            collect=self.collect,
            versioning=self.versioning,
        )

    def document(
        self,
        *,
        input_schema: Mapping[str, Any] | None = None,
        output_schema: Mapping[str, Any] | None = None,
        published_at_ms: int = 0,
        options: TaskOptions | None = None,
    ) -> ContractDocument:
        """The published form of this contract, as a worker stores it on the server.

        Args:
            input_schema: the JSON Schema of ``input``, if the app could derive one.
            output_schema: the JSON Schema of ``output``, likewise.
            published_at_ms: when it is published (the caller's clock).
            options: the options the worker really runs with (``implement`` may override
                the contract's); default: the contract's own.
        """
        options = (options or self.task_options())._replace(versioning=self.versioning)
        return _document(self.name, options, input_schema, output_schema, published_at_ms)


def document_of(task: Task, now_ms: int) -> ContractDocument:
    """The contract a worker serving ``task`` publishes at ``now_ms``: its options, version
    range and the JSON Schema of its input and output (None where the schema has none)."""
    options = task.options
    return _document(
        task.name, options, _json_schema(options.input), _json_schema(options.output), now_ms
    )


async def publish_contracts(engine: Engine, tasks: Iterable[Task], now_ms: int) -> None:
    """Publish the contracts of the tasks a worker serves (one round trip), so processes
    without their code dispatch them by name with their options and schemas.

    A task whose published contract is of a newer version keeps it (a rolling deploy: this
    worker is the older one); each is logged as a warning.
    """
    documents = {task.name: document_of(task, now_ms).to_json() for task in tasks}
    kept = await engine.publish_contracts(documents)
    for name, newer in sorted(kept.items()):
        _log().warning(
            "taskora: task %r: the server holds the contract of version %d, newer than this "
            "worker's; kept it (is this worker running old code?)",
            name,
            newer,
        )


def _document(
    name: str,
    options: TaskOptions,
    input_schema: Mapping[str, Any] | None,
    output_schema: Mapping[str, Any] | None,
    published_at_ms: int,
) -> ContractDocument:
    # the document's schema checks load only when a worker publishes (not on `import taskora`)
    from .contract_document import ContractDocument, options_document

    return ContractDocument(
        name=name,
        queue=options.queue,
        version=options.versioning.version,
        since=options.versioning.since,
        options=options_document(options),
        input_schema=None if input_schema is None else dict(input_schema),
        output_schema=None if output_schema is None else dict(output_schema),
        published_at_ms=published_at_ms,
    )


def _json_schema(schema: Schema | None) -> dict[str, Any] | None:
    if schema is None:
        return None
    try:
        return schema.json_schema()
    except Exception as exc:  # a type its library cannot express in JSON Schema
        _log().warning("taskora: schema %s has no JSON Schema; publishing none: %s", schema, exc)
        return None


def define_task(
    name: str,
    *,
    input: Any = None,
    output: Any = None,
    retry: Retry | None = None,
    timeout: Duration | None = None,
    queue: str = DEFAULT_QUEUE,
    ttl: TtlOption = None,
    singleton: bool = False,
    concurrency_limit: int | None = None,
    collect: Mapping[str, Any] | None = None,
    version: int | None = None,
    since: int | None = None,
    migrate: MigrateOption = None,
) -> TaskContract:
    """Declare a task without its handler, for a module that producers and workers share.

    Args:
        name: the task name (no spaces, ':' or braces).
        input: the schema of the job data: a pydantic model, msgspec Struct, dataclass,
            TypedDict, or a callable that returns the checked value or raises.
        output: the schema of the handler's result, likewise.
        retry: the retry policy (default: the worker app's [defaults.retry]).
        timeout: how long one attempt may run ("30s"; default: the app's [defaults]).
        queue: the queue the task belongs to.
        ttl: how long a job may wait for its first start: "1h", or
            ``{"max": "1h", "on_expire": "fail" | "discard"}``.
        singleton: at most one job of the task is active at a time across every worker.
        concurrency_limit: the default limit of dispatches that give a ``concurrency_key``.
        collect: ``{"key": ..., "delay": "5s", "max_size": 100, "max_wait": "30s"}``: batch
            dispatches per key (see ``@app.task``). A function key cannot be published: a
            process dispatching by name is then refused (it cannot compute the key).
        version: the version new jobs are stamped with (default 1, or ``since`` plus the
            number of migrations when ``migrate`` is a list).
        since: the oldest job version workers accept (default 1).
        migrate: ``{2: v1_to_v2, 3: v2_to_v3}`` (each key is the version it produces, within
            ``since + 1 .. version``), or a list of consecutive migrations from ``since``.

    Raises:
        UsageError: a bad name or option; the message names it.
    """
    check_task_name(name)
    if retry is not None and not isinstance(retry, Retry):
        raise UsageError(f"retry must be a taskora Retry(...), got {retry!r}")
    check_queue_name(queue)
    check_concurrency_options(singleton, concurrency_limit)
    versioning = Versioning.build(version, since, migrate)
    parsed_collect = parse_collect(collect)
    refuse_versioned_collect(name, parsed_collect, versioning.version)
    if input is not None or output is not None:  # a typo fails in the shared module, at import
        from .schemas import schema_of

        schema_of(input)
        schema_of(output)
    return TaskContract(
        name=name,
        input=input,
        output=output,
        retry=retry,
        timeout_ms=None if timeout is None else to_ms(timeout, what="timeout"),
        queue=queue,
        ttl=parse_ttl(ttl),
        singleton=bool(singleton),
        concurrency_limit=concurrency_limit,
        collect=parsed_collect,
        versioning=versioning,
    )
