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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .contract_document import ContractDocument, options_document
from .durations import Duration, to_ms
from .errors import UsageError
from .flow import Collect, Ttl, check_concurrency_options, parse_collect, parse_ttl
from .queues import check_queue_name
from .retry import Retry
from .task import DEFAULT_QUEUE, Handler, TaskOptions, TtlOption

Migration = Callable[[Any], Any]
"""Turns a job's data of version ``n - 1`` into version ``n``."""

MigrateOption = Mapping[int, Migration] | Sequence[Migration] | None


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
    version: int = 1
    """The version this contract's producers stamp on new jobs."""
    since: int = 1
    """The oldest job version its workers still accept (migrating it up)."""
    migrations: tuple[tuple[int, Migration], ...] = field(default=(), compare=False)
    """``(n, fn)`` pairs sorted by ``n``: ``fn`` turns version ``n - 1`` data into ``n``."""

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
        return ContractDocument(
            name=self.name,
            queue=self.queue if options is None else options.queue,
            version=self.version,
            since=self.since,
            options=options_document(options or self.task_options()),
            input_schema=None if input_schema is None else dict(input_schema),
            output_schema=None if output_schema is None else dict(output_schema),
            published_at_ms=published_at_ms,
        )


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
    low, high, migrations = parse_versions(version, since, migrate)
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
        collect=parse_collect(collect),
        version=high,
        since=low,
        migrations=migrations,
    )


def check_task_name(name: object) -> str:
    """A task name as keys can hold it: non-empty, without spaces, ':' or braces."""
    if not isinstance(name, str) or not name or any(c in name for c in "{}\n\r :"):
        raise UsageError(f"task name {name!r} must be non-empty, without spaces, ':' or braces")
    return name


def parse_versions(
    version: int | None, since: int | None, migrate: MigrateOption
) -> tuple[int, int, tuple[tuple[int, Migration], ...]]:
    """``version`` / ``since`` / ``migrate`` -> (since, version, sorted migrations).

    Raises:
        UsageError: a version that is not an int >= 1, ``since`` above ``version``, a
            migration outside ``since + 1 .. version`` or not callable, or a list of
            migrations that disagrees with an explicit ``version``.
    """
    low = 1 if since is None else _positive(since, "since")
    if migrate is None or isinstance(migrate, Mapping):
        pairs = sorted((migrate or {}).items(), key=lambda pair: _positive(pair[0], "migrate"))
        high = 1 if version is None else _positive(version, "version")
        if version is None and pairs:
            high = max(low, pairs[-1][0])
    elif isinstance(migrate, Sequence) and not isinstance(migrate, (str, bytes)):
        pairs = [(low + offset, fn) for offset, fn in enumerate(migrate, start=1)]
        high = low + len(pairs)
        if version is not None and _positive(version, "version") != high:
            raise UsageError(
                f"version={version} disagrees with migrate: since={low} plus {len(pairs)} "
                f"migration(s) makes version {high}; drop version= or fix the list"
            )
    else:
        raise UsageError(
            f"migrate must be a dict {{version: fn}} or a list of functions, got {migrate!r}"
        )
    if low > high:
        raise UsageError(f"since ({low}) cannot be above version ({high})")
    for target, fn in pairs:
        if not low < target <= high:
            raise UsageError(
                f"migrate[{target}] is outside since+1..version ({low + 1}..{high}): "
                "each key is the version the migration produces"
            )
        if not callable(fn):
            raise UsageError(f"migrate[{target}] must be a function of the data, got {fn!r}")
    return low, high, tuple(pairs)


def _positive(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{what} must be an int >= 1, got {value!r}")
    return value
