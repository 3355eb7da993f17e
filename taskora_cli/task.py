"""Task: a named handler with its options, and the ways to dispatch jobs to it."""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from functools import partial
from types import EllipsisType
from typing import TYPE_CHECKING, Any, NamedTuple

from .blocking import blocking_twin, driven_twins
from .dispatch_options import check_job_id, delay_until
from .durations import Duration, about, format_ms, to_ms
from .engine import steps
from .engine.keys import TaskKeys
from .engine.records import NewJob
from .errors import DuplicateJobError, Issue, UsageError, ValidationError
from .flow import (
    Collect,
    CollectInfo,
    Debounce,
    FlowControl,
    Ttl,
    merge_ttl,
    parse_flow,
    parse_ttl,
)
from .flow_dispatch import (
    Collected,
    admit,
    check_collects,
    collect,
    inspect_collect,
    peek_collect,
    rejection,
)
from .handle import JobHandle
from .job_limits import encode_limits
from .listeners import Listener, register
from .otel import inject_trace_context
from .retry import Retry
from .serialization import dumps, require_json
from .stall import Stall
from .versioning import DEFAULT_VERSIONING, Versioning

if TYPE_CHECKING:
    from .engine.steps import Driver, Operation, Steps
    from .middleware import Middleware
    from .runtime import Runtime
    from .schemas import Schema
    from .workflow import WorkflowHandle
    from .workflow_graph import Chunks, Composition, Group, Signature

MAX_PRIORITY = 255
"""Priorities run 0 (default) to 255 (first); higher runs before lower."""

DEFAULT_QUEUE = "default"
"""The queue of tasks that name none."""

Handler = Callable[..., Any]


_BASE32 = bytes(b"abcdefghijklmnopqrstuvwxyz234567"[i % 32] for i in range(256))
"""Byte -> base32 digit; 256 is a multiple of 32, so every digit is equally likely."""


def new_job_id() -> str:
    """A random 16-character id (80 bits, lowercase base32: safe in URLs, shells and keys)."""
    return os.urandom(16).translate(_BASE32).decode()


class TaskOptions(NamedTuple):
    """Per-task settings; None means "use the app's [defaults]"."""

    retry: Retry | None = None
    timeout_ms: int | None = None
    concurrency: int | None = None
    queue: str = DEFAULT_QUEUE
    on_cancel: Handler | None = None
    """Called as ``on_cancel(data, ctx)`` (async or not) after a cancelled job's handler ended."""
    ttl: Ttl | None = None
    """How long a job may wait for its first start (a dispatch's ``ttl`` overrides it)."""
    singleton: bool = False
    """At most one job of the task is active at a time, across every worker."""
    concurrency_limit: int | None = None
    """The default limit of dispatches that give a ``concurrency_key`` (else 1)."""
    collect: Collect | None = None
    """Dispatches accumulate into batches; the handler receives a list of their data."""
    input: Schema | None = None
    """What a job's data must look like: checked on dispatch and before the handler, which
    receives the checked value (a model instance, say). None: any JSON value."""
    output: Schema | None = None
    """What the handler's result must look like: checked before it is stored."""
    middleware: tuple[Middleware, ...] = ()
    """The task's own middlewares, run inside the app's (``app.use``), outer to inner."""
    versioning: Versioning = DEFAULT_VERSIONING
    """The payload version dispatches are stamped with, the oldest one the task still runs,
    and the migrations in between."""
    stall: Stall | None = None
    """The task's own lock TTL and max stalls (None: the worker's)."""


TtlOption = Duration | Mapping[str, Any] | None
FlowOption = Mapping[str, Any] | None


def refuse_versioned_collect(name: str, collect: Collect | None, version: int) -> None:
    """Collected items are joined on the server unstamped, so a collect task has version 1.

    Raises:
        UsageError: ``collect`` with ``version`` above 1.
    """
    if collect is not None and version > 1:
        raise UsageError(
            f"task {name!r} collects its dispatches, so its jobs cannot carry a payload "
            f"version (version={version}): collected items are joined on the server "
            "unstamped; drop version= or the collect option"
        )


def unimplemented(*_: Any) -> Any:
    """The handler of a task whose code lives in another process (``app.register``, or a
    name only the server knows): it can be dispatched, never run here."""
    raise UsageError("this task's handler is defined in another process; dispatch it instead")


class Task:
    """A registered handler. Call ``dispatch``/``adispatch`` to enqueue jobs for it.

    Raises:
        UsageError: a collect task with a payload version above 1.
        ConfigError: a collect task on an app whose serializer is not JSON (the server
            joins collected items as JSON text).
    """

    def __init__(self, runtime: Runtime, name: str, fn: Handler, options: TaskOptions) -> None:
        self.runtime = runtime
        self.name = name
        # bound once (the app's serializer never changes); JSON skips the Payloads layer
        self._dumps = dumps if runtime.payloads.is_json else runtime.payloads.dumps
        self._configure(fn, options)

    def _configure(self, fn: Handler, options: TaskOptions) -> None:
        """Take ``fn`` and ``options``, deciding once what each dispatch needs."""
        if options.collect is not None:
            require_json(self.runtime.payloads.serializer, f"task {self.name!r} (collect)")
            refuse_versioned_collect(self.name, options.collect, options.versioning.version)
        self.fn = fn
        self.options = options
        self.is_async = inspect.iscoroutinefunction(fn)
        self.arity = _positional_arity(fn)
        self._stamp: dict[str, str | int] = dict(options.versioning.stamp())

    @property
    def implemented(self) -> bool:
        """True when this process holds the handler (a worker here can run the task)."""
        return self.fn is not unimplemented

    def implement(self, fn: Handler, options: TaskOptions) -> None:
        """Give a registered-only task (``app.register``) its handler and final options, in
        place, so references producers already hold dispatch with them.

        Raises:
            UsageError: the task already has a handler.
        """
        if self.implemented:
            raise UsageError(
                f"task {self.name!r} is already implemented by {self.fn.__qualname__}; "
                "implement a contract once per app"
            )
        self._configure(fn, options)

    def __repr__(self) -> str:
        return f"Task({self.name!r})"

    def on(self, event: str, fn: Listener | None = None) -> Any:
        """Call ``fn(event)`` on every ``event`` of this task ("completed", "failed",
        "retrying", "active", "progress", "stalled", "cancelled", "expired", ...), or use it as
        a decorator: ``@send_email.on("failed")``. Worker processes call listeners, and so
        does a process that only dispatches (see taskora_cli.views.job_events); ``fn`` may be
        ``async``. A "failed" listener of the task's own silences the worker's default error
        log for it.

        Returns:
            With ``fn``: the function that unsubscribes it. As a decorator: the function.

        Raises:
            UsageError: an unknown event (the message lists them).
        """
        return register(self.runtime.listeners, self.name, event, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the handler directly, in-process (handy in unit tests)."""
        return self.fn(*args, **kwargs)

    def new_job(
        self,
        data: Any,
        delay: Duration | None,
        priority: int,
        ttl: TtlOption,
        now_ms: int,
        concurrency: tuple[str | None, int | None] = (None, None),
        *,
        trace: Mapping[str, str] | EllipsisType | None = ...,
    ) -> NewJob:
        """The job a dispatch of ``data`` would enqueue at ``now_ms`` (checked, encoded, with
        its flow fields), without enqueueing it. ``trace``: the trace context to carry (None:
        none; omitted: the current one, if OpenTelemetry is tracing here)."""
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise UsageError(f"priority must be an int 0..{MAX_PRIORITY}, got {priority!r}")
        if not 0 <= priority <= MAX_PRIORITY:
            raise UsageError(f"priority must be within 0..{MAX_PRIORITY}, got {priority}")
        delay_ms = 0 if delay is None else to_ms(delay, what="delay")
        expiry = merge_ttl(self.options.ttl, parse_ttl(ttl), ttl)
        if expiry is not None and expiry.max_ms <= delay_ms:
            raise UsageError(
                f"ttl ({format_ms(expiry.max_ms)}) must be longer than the delay "
                f"({format_ms(delay_ms)}{about(delay_ms)}): the job could only expire"
            )
        payload = self._dumps(data, what=f"data for task {self.name!r}")
        run_at = now_ms + delay_ms if delay_ms else 0
        extra: dict[str, str | int] = self._stamp.copy() if self._stamp else {}
        if expiry is not None and expiry.on_expire == "discard":
            extra["on_expire"] = "discard"
        extra |= self._concurrency_fields(*concurrency)
        if trace is ...:
            trace = inject_trace_context()
        if trace is not None:
            extra["tc"] = json.dumps(trace, separators=(",", ":"))
        expire_at = now_ms + expiry.max_ms if expiry is not None else 0
        fields = json.dumps(extra) if extra else ""
        return NewJob(new_job_id(), payload, priority, run_at, expire_at, fields)

    def _concurrency_fields(self, key: str | None, limit: int | None) -> dict[str, str | int]:
        if key is None and limit is None and not self.options.singleton:
            return {}  # the common case: no key to build
        if limit is not None and key is None:
            raise UsageError("concurrency_limit needs a concurrency_key to count jobs under")
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise UsageError(f"concurrency_limit must be an int >= 1, got {limit!r}")
        if key is not None and (not isinstance(key, str) or not key):
            raise UsageError(f"concurrency_key must be a non-empty string, got {key!r}")
        keys = TaskKeys(self.runtime.prefix, self.name)
        if self.options.singleton:
            if key is not None:
                raise UsageError(
                    f"task {self.name!r} is a singleton (one active job at a time); "
                    "a concurrency_key cannot loosen that: drop it"
                )
            return {"conc": keys.singleton, "conc_q": keys.singleton_parked, "conc_max": 1,
                    "conc_all": keys.parked_all}  # fmt: skip
        if key is None:
            return {}
        cap = limit or self.options.concurrency_limit or 1
        return {"conc": keys.concurrency(key), "conc_q": keys.parked(key), "conc_max": cap,
                "conc_all": keys.parked_all}  # fmt: skip

    def _dispatch_plan(
        self,
        data: Any = None,
        *,
        delay: Duration | None = None,
        priority: int = 0,
        ttl: TtlOption = None,
        deduplicate: FlowOption = None,
        throttle: FlowOption = None,
        debounce: FlowOption = None,
        throw_on_reject: bool = False,
        concurrency_key: str | None = None,
        concurrency_limit: int | None = None,
        skip_validation: bool = False,
        job_id: str | None = None,
        run_at: datetime | None = None,
        retry: Retry | int | None = None,
        timeout: Duration | None = None,
    ) -> Operation[JobHandle]:
        """Enqueue one job and return its handle.

        Args:
            data: the job payload: a value of the task's ``input`` schema (a model instance,
                say) or plain data it accepts; without a schema, anything the app's
                serializer encodes (JSON by default).
            delay: run no sooner than this (seconds or "5s", "10m", ...).
            priority: 0..255; higher priorities run first, FIFO within one priority.
            ttl: how long after dispatch the job may still start ("1h"), or
                ``{"max": "1h", "on_expire": "fail" | "discard"}``; a job no worker has started
                by then ends ``expired`` (or is deleted, with "discard") instead of running;
                result waiters get ExpiredError. Overrides the task's ``ttl``.
            deduplicate: ``{"key": ..., "while": ["waiting", "delayed", "active", "paused"]}``:
                while a job holding the key is in one of those states (default: all four), the
                dispatch is a no-op: ``enqueued`` False, ``existing_id`` that job (a job
                waiting to be retried counts as delayed). The key frees itself when the job
                ends, however it ends.
            throttle: ``{"key": ..., "max": 100, "window": "1m"}``: at most ``max`` dispatches
                with the key are accepted in any window (sliding); the rest are rejected.
            debounce: ``{"key": ..., "delay": "2s"}``: the job runs ``delay`` after the last
                dispatch with the key; each dispatch replaces the still-pending one (which ends
                cancelled), so only the last payload runs. Not with ``delay``.
            throw_on_reject: raise DuplicateJobError / ThrottledError instead of returning a
                handle with ``enqueued`` False.
            concurrency_key: at most ``concurrency_limit`` jobs with this key are active at a
                time, across every worker; the others wait their turn.
            concurrency_limit: the limit for ``concurrency_key`` (default: the task's, else 1).
            skip_validation: enqueue ``data`` without checking it against the task's
                ``input`` schema (the worker still checks it before the handler).
            job_id: the job's id, chosen by the caller (an order number, say) instead of a
                random one. While a job with this id exists (until retention removes it),
                dispatching it again is a no-op, as a duplicate: ``enqueued`` False,
                ``reason`` "duplicate" and ``existing_id`` the id; the handle acts on the
                existing job.
            run_at: run no sooner than this moment (a datetime; a naive one is read as UTC);
                a moment already past means now. Not with ``delay``.
            retry: this job's retry policy instead of the task's: a :class:`Retry` (no
                backoff function, retry_on or no_retry_on: they cannot be stored; the task's
                retry_on/no_retry_on still apply), or an int, just the number of attempts.
            timeout: how long one attempt of this job may run, instead of the task's.

        Only one of deduplicate, throttle and debounce may be given.

        Raises:
            ValidationError: ``data`` does not match the task's ``input`` schema; ``issues``
                lists every bad field. Nothing was enqueued.
            UsageError: bad data, delay, priority or options, or flow-control options combined.
            DuplicateJobError / ThrottledError: rejected, with ``throw_on_reject``.
            ServerError: the server cannot be reached.
        """
        if self.options.input is not None:
            data = self.checked(data, skip_validation)
        now = self.runtime.clock()
        flow = parse_flow(debounce, throttle, deduplicate)
        if self.options.collect is not None:
            self._refuse_per_item_options(
                {"delay": delay, "ttl": ttl, "debounce": debounce, "throttle": throttle,
                 "deduplicate": deduplicate, "concurrency_key": concurrency_key,
                 "job_id": job_id, "run_at": run_at, "retry": retry, "timeout": timeout},
                priority,
            )  # fmt: skip
            item = self._collected(data, self.options.collect)
            return partial(self._collect_one, item, self.options.collect, now)
        if isinstance(flow, Debounce):
            if delay is not None:
                raise UsageError(
                    'debounce sets the delay itself (its "delay"); drop delay= (--delay) when '
                    "debouncing"
                )
            delay = flow.delay_ms / 1000
        if run_at is not None:
            if delay is not None:
                raise UsageError(
                    "give run_at= or delay= (--at or --delay), not both; debounce= (--debounce) "
                    "sets a delay too"
                )
            delay = delay_until(run_at, now) / 1000
        concurrency = (concurrency_key, concurrency_limit)
        job = self.new_job(data, delay, priority, ttl, now, concurrency)
        job = _with_choices(job, job_id, encode_limits(retry, timeout))
        return partial(self._enqueue, job, flow, now, job_id is not None, throw_on_reject)

    adispatch, dispatch = driven_twins(_dispatch_plan, "dispatch")

    def _enqueue(
        self,
        job: NewJob,
        flow: FlowControl | None,
        now: int,
        chosen_id: bool,
        throw_on_reject: bool,
        driver: Driver,
    ) -> Steps[JobHandle]:
        """What a dispatch of ``job`` sends, and the handle its replies make."""
        if self.name not in driver.registered:  # a round trip only on a name's first dispatch
            queues = {self.name: self.options.queue}
            yield from steps.register_tasks(driver.prefix, driver.registered, queues)
        t = driver.keys(self.name)
        if flow is None:
            enqueued = yield from steps.enqueue(t, job, now)
            if not enqueued and chosen_id:
                return self._existing(job.id, throw_on_reject)
            return JobHandle(self.runtime, self.name, job.id, enqueued)
        admission = yield from admit(t, job, flow, now)
        if not admission.enqueued and throw_on_reject:
            raise rejection(self.name, job.id, flow, admission)
        return JobHandle.admitted(self.runtime, self.name, job.id, admission)

    def _collect_one(
        self, item: Collected, config: Collect, now_ms: int, driver: Driver
    ) -> Steps[JobHandle]:
        handles = yield from collect(
            self.runtime, self.name, self.options.queue, [item], config, now_ms, driver
        )
        return handles[0]

    def _existing(self, job_id: str, throw: bool) -> JobHandle:
        """The handle of a dispatch whose chosen id is already a job's: that job's."""
        if throw:
            raise DuplicateJobError(
                f"a job {job_id} of task {self.name!r} already exists", "", job_id, job_id
            )
        handle = JobHandle(self.runtime, self.name, job_id, enqueued=False)
        handle.reason, handle.existing_id = "duplicate", job_id
        return handle

    def checked(self, data: Any, skip_validation: bool = False) -> Any:
        """``data`` as a dispatch enqueues it: checked against the ``input`` schema (unless
        skipped, here or app-wide) and turned into plain data (a model instance into a dict).

        Raises:
            ValidationError: it does not match; ``issues`` lists every bad field.
        """
        schema = self.options.input
        if schema is None:
            return data
        if self.runtime.validate_on_dispatch and not skip_validation:
            data = schema.check(data, task=self.name)
        return schema.to_wire(data)

    async def collect_one(self, data: Any, config: Collect, now_ms: int) -> JobHandle:
        """Add ``data`` to its collect buffer under ``config``; the batch job it joined."""
        item = self._collected(data, config)
        return await self.runtime.adrive(partial(self._collect_one, item, config, now_ms))

    def _refuse_per_item_options(self, options: dict[str, Any], priority: int) -> None:
        given = [name for name, value in options.items() if value is not None]
        if given or priority:
            raise UsageError(
                f"task {self.name!r} collects its dispatches into batches: "
                f"{', '.join(given or ['priority'])} cannot apply to one item; drop it"
            )

    def _collected(self, data: Any, config: Collect) -> Collected:
        payload = self.runtime.payloads.dumps(data, what=f"data for task {self.name!r}")
        return Collected(new_job_id(), payload, config.key_for(data))

    def _dispatch_many_plan(
        self,
        items: Iterable[Any],
        *,
        delay: Duration | None = None,
        priority: int = 0,
        ttl: TtlOption = None,
        concurrency_key: str | None = None,
        concurrency_limit: int | None = None,
        skip_validation: bool = False,
        job_ids: Sequence[str] | None = None,
        run_at: datetime | None = None,
        retry: Retry | int | None = None,
        timeout: Duration | None = None,
    ) -> Operation[list[JobHandle]]:
        """Enqueue many jobs in one round trip per batch of 1,000; the options are
        :meth:`dispatch`'s and apply to every item (flow control is per dispatch: use
        ``dispatch`` for it). ``job_ids`` names each item's job, in order, as ``job_id`` does
        for one: an id that names a job already gets a handle with ``enqueued`` False and
        ``reason`` "duplicate".

        Every item is checked before any is enqueued: one bad item enqueues nothing.

        Raises:
            ValidationError: items break the ``input`` schema; each issue's path starts with
                the item's index ("3.email").
            UsageError: bad options, or ``job_ids`` not one distinct id per item.
        """
        if self.options.input is not None:
            items = self._checked_all(items, skip_validation)
        else:
            items = list(items)
        now = self.runtime.clock()
        config = self.options.collect
        if config is not None:  # each item joins its buffer, one call each
            given = {
                "delay": delay, "ttl": ttl, "concurrency_key": concurrency_key,
                "job_ids": job_ids, "run_at": run_at, "retry": retry, "timeout": timeout,
            }  # fmt: skip
            self._refuse_per_item_options(given, priority)
            # keys and payloads first: a bad item must stop the batch before any is pushed
            pending = [self._collected(item, config) for item in items]
            return partial(
                collect, self.runtime, self.name, self.options.queue, pending, config, now
            )
        ids = _checked_ids(job_ids, len(items))
        if run_at is not None:
            if delay is not None:
                raise UsageError("give run_at= or delay= (--at or --delay), not both")
            delay = delay_until(run_at, now) / 1000
        concurrency = (concurrency_key, concurrency_limit)
        trace = inject_trace_context()  # one look for the whole batch: the same span
        limits = encode_limits(retry, timeout)
        jobs = [
            _with_choices(
                self.new_job(item, delay, priority, ttl, now, concurrency, trace=trace),
                None if ids is None else ids[index],
                limits,
            )
            for index, item in enumerate(items)
        ]
        return partial(self._enqueue_bulk, jobs, now, ids is not None)

    adispatch_many, dispatch_many = driven_twins(_dispatch_many_plan, "dispatch_many")

    def _enqueue_bulk(
        self, jobs: list[NewJob], now: int, chosen_ids: bool, driver: Driver
    ) -> Steps[list[JobHandle]]:
        queues = {self.name: self.options.queue}
        yield from steps.register_tasks(driver.prefix, driver.registered, queues)
        t = driver.keys(self.name)
        handles: list[JobHandle] = []
        for start in range(0, len(jobs), 1000):
            batch = jobs[start : start + 1000]
            flags = yield from steps.enqueue_bulk(t, batch, now)
            handles += [
                JobHandle(self.runtime, self.name, j.id, f)
                if f or not chosen_ids
                else self._existing(j.id, throw=False)
                for j, f in zip(batch, flags, strict=True)
            ]
        return handles

    def _checked_all(self, items: Iterable[Any], skip_validation: bool) -> list[Any]:
        """Every item through :meth:`checked`; the issues of all bad items in one error."""
        checked: list[Any] = []
        issues: list[Issue] = []
        for index, item in enumerate(items):
            try:
                checked.append(self.checked(item, skip_validation))
            except ValidationError as exc:
                issues += [
                    Issue(f"{index}.{i.path}" if i.path else str(index), i.message)
                    for i in exc.issues
                ]
        if issues:
            raise ValidationError(self.name, issues)
        return checked

    async def apeek_collect(self, key: str) -> list[Any]:
        """The items buffered under collect ``key``, oldest first, without draining them or
        moving the flush. Items the JSON decoder rejects are skipped.

        Raises:
            UsageError: the task has no ``collect`` option.
        """
        check_collects(self.name, self.options.collect)
        return await peek_collect(self.runtime, self.name, key)

    peek_collect = blocking_twin(apeek_collect)

    async def ainspect_collect(self, key: str) -> CollectInfo | None:
        """Count and age of collect ``key``'s buffer, or None when it holds nothing.

        Raises:
            UsageError: the task has no ``collect`` option.
        """
        check_collects(self.name, self.options.collect)
        return await inspect_collect(self.runtime, self.name, key)

    inspect_collect = blocking_twin(ainspect_collect)

    def s(self, *data: Any) -> Signature:
        """A signature for workflows: ``task.s(data)`` runs on ``data``; ``task.s()`` takes
        the previous step's output (see :mod:`taskora_cli.workflow_graph`)."""
        if len(data) > 1:
            raise UsageError(f"{self.name}.s() takes one payload (or none), got {len(data)}")
        from .workflow_graph import Signature  # workflows load with their first use

        return Signature(self, data[0] if data else None, bool(data))

    def map(self, items: Iterable[Any]) -> Group:
        """A group running this task once per item, in parallel; its result is the list."""
        from .workflow_graph import Group, Signature

        return Group(*(Signature(self, item, True) for item in items))

    async def adispatch_workflow(
        self, c: Composition, name: str | None, ttl: Duration | None = None
    ) -> WorkflowHandle:
        """Dispatch workflow ``c`` through this task's app (use ``c.dispatch()``)."""
        from .workflow import dispatch_workflow

        return await dispatch_workflow(c, name, ttl)

    def chunk(self, items: Iterable[Any], size: int | None = None) -> Chunks:
        """This task on every item, ``size`` at a time (by default
        workflow_graph.DEFAULT_CHUNK_SIZE): each chunk a parallel group, the chunks one after
        another; its result is every item's result, in order."""
        from .workflow_graph import chunks

        return chunks(self, items) if size is None else chunks(self, items, size)

    def handle(self, job_id: str) -> JobHandle:
        """A handle for an existing job of this task."""
        return JobHandle(self.runtime, self.name, job_id)


def _checked_ids(job_ids: Sequence[str] | None, count: int) -> list[str] | None:
    """``job_ids`` as a list of ``count`` distinct, valid ids (None stays None)."""
    if job_ids is None:
        return None
    if isinstance(job_ids, str):
        raise UsageError("job_ids takes one id per item (a list), not a single string")
    ids = [check_job_id(job_id) for job_id in job_ids]
    if len(ids) != count:
        raise UsageError(f"job_ids names {len(ids)} jobs for {count} items; give one per item")
    if len(set(ids)) != len(ids):
        repeated = next(job_id for job_id in ids if ids.count(job_id) > 1)
        raise UsageError(f"job_ids repeats {repeated!r}; each item needs its own id")
    return ids


def _with_choices(job: NewJob, job_id: str | None, limits: dict[str, str]) -> NewJob:
    """``job`` with the caller's id and its own retry/timeout fields, where given. A chosen id
    also gets this call's token (``call``): a second dispatch of that id in the same
    millisecond with the same data must read as a duplicate, not as this call sent again
    (see steps.enqueue)."""
    fields = dict(limits)
    if job_id is not None:
        job = job._replace(id=check_job_id(job_id))
        # os.urandom, as secrets.token_hex does, without secrets' imports (hmac, hashlib
        # with OpenSSL, random: ~6 ms of a one-shot `taskora dispatch --id`)
        fields["call"] = os.urandom(8).hex()
    if fields:
        job = job._replace(extra=json.dumps({**json.loads(job.extra or "{}"), **fields}))
    return job


def _positional_arity(fn: Handler) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 2
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return 2
    return min(2, sum(1 for p in params if p.kind in kinds))
