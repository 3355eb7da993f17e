"""Engine operations written once, as the calls they make: for the async engine and the
blocking connection alike.

An operation that talks to the server (a dispatch: register the task, run its enqueue script,
read back its job when the script found the id taken) is a generator that yields each call it
needs (:class:`RunScript`, :class:`SendCommand` or :class:`SendPipeline`) and receives the
reply. The async :class:`~.runner.Runner` and the blocking
:class:`~.blocking_runner.BlockingRunner` only drive it (``drive``): what is sent, and what a
reply means, lives here, so the blocking ``task.dispatch()`` can answer on the caller's thread
without a second implementation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, TypeVar

from ..errors import WireFormatError
from . import keys as k
from .records import (
    DATA_FIELD,
    DATA_MORE_FIELDS,
    DISPATCHED_FIELD,
    Admission,
    NewJob,
    data_fields,
    joined_data,
)

T = TypeVar("T")

WRITTEN_BY = "taskora-py"


class RunScript(NamedTuple):
    """Run script ``name`` (see :mod:`.scripts`) on ``keys`` and ``args``."""

    name: str
    keys: Sequence[str]
    args: Sequence[Any]


class SendCommand(NamedTuple):
    """Send one plain command; only commands that are harmless to send twice (the driver may
    send them again after a dropped connection)."""

    args: tuple[Any, ...]


class SendPipeline(NamedTuple):
    """Send several plain commands in one write and read their replies (one round trip);
    the same rule as :class:`SendCommand` holds for each. The reply is the list of theirs,
    in order; any error reply fails the whole call (once every reply has been read)."""

    commands: tuple[tuple[Any, ...], ...]


Call = RunScript | SendCommand | SendPipeline
Steps = Generator[Call, Any, T]
"""An operation: yields its calls, receives each reply, returns its result."""


class Driver(Protocol):
    """What drives operations, as an operation sees it: the key prefix, the task names it
    recorded in the registry already, and the keys of a task (cached)."""

    prefix: str
    registered: set[str]

    def keys(self, task: str) -> k.TaskKeys: ...


Operation = Callable[[Driver], Steps[T]]
"""An operation ready to run (its arguments checked and bound), given what drives it."""


def handshake(prefix: str, now_ms: int) -> Steps[None]:
    """Check the server speaks our wire format (recording ours where it holds none).

    Raises:
        WireFormatError: the server holds an incompatible layout.
    """
    args = [k.WIRE_VERSION, k.MIN_COMPAT_VERSION, WRITTEN_BY, now_ms]
    stored = yield RunScript("handshake", [k.meta_key(prefix)], args)
    check_wire(stored, prefix)


def migrate_wire(prefix: str, now_ms: int) -> Steps[tuple[str, int | None]]:
    """Hand a server whose meta record holds an older layout this code takes over to this
    code's layout (its jobs rewritten first, see Engine.migrate_wire): only once no process of
    that older version runs (they would read this code's jobs wrongly), which the caller must
    ensure; no handshake before it.

    Returns:
        (outcome, the version stored before or None): "migrated", "current" (nothing to do),
        "unreadable" (too old to read: drain it with the taskora that wrote it) or "newer".
    """
    args = [k.WIRE_VERSION, k.MIN_COMPAT_VERSION, k.MIGRATES_FROM, WRITTEN_BY, now_ms]
    outcome, before = yield RunScript("wire_migrate", [k.meta_key(prefix)], args)
    return str(outcome), int(before) if before not in ("", None) else None


def fence_wire(prefix: str) -> Steps[int | None]:
    """Fence out the older version whose layout this code takes over, before its jobs are
    rewritten (see Engine.migrate_wire): the stored version when it is such a layout (now
    fenced), else None (nothing to rewrite)."""
    args = [k.MIN_COMPAT_VERSION, k.MIGRATES_FROM]
    version = yield RunScript("wire_fence", [k.meta_key(prefix)], args)
    return int(version) if version not in ("", None) else None


def check_wire(stored: Sequence[Any], prefix: str) -> None:
    """Refuse the server's wire meta record (``[version, min_compat, ...]``) when this taskora
    cannot read or write its data.

    Raises:
        WireFormatError: unreadable, too old, or too new.
    """
    try:
        theirs, their_min = int(stored[0]), int(stored[1])
    except (TypeError, ValueError, IndexError) as exc:
        raise WireFormatError(
            f"the wire meta record {k.meta_key(prefix)} is unreadable ({stored!r}); "
            "it was not written by taskora — use another prefix or database"
        ) from exc
    record = k.meta_key(prefix)
    if k.MIGRATES_FROM <= theirs < k.MIN_COMPAT_VERSION:
        raise WireFormatError(
            f"the server holds taskora data in wire format {theirs}, which taskora of that "
            f"format cannot share with this one (>= {k.MIN_COMPAT_VERSION}); stop every taskora "
            "process of the older version, then run `taskora server migrate`: it rewrites the "
            "queued and kept jobs into this format (deleting the format record instead would "
            "lose them); or use a new prefix"
        )
    if theirs < k.MIN_COMPAT_VERSION:
        raise WireFormatError(
            f"the server holds taskora data in wire format {theirs}, older than this taskora "
            f"can read (>= {k.MIN_COMPAT_VERSION}); drain it with the taskora that wrote it, "
            f"then delete the format record (DEL {record}); or use a new prefix"
        )
    if their_min > k.WIRE_VERSION:
        raise WireFormatError(
            f"the server holds taskora data in wire format {theirs}, which needs taskora that "
            f"reads >= {their_min} (this one writes {k.WIRE_VERSION}); upgrade taskora"
        )


def register_tasks(prefix: str, registered: set[str], queues: Mapping[str, str]) -> Steps[None]:
    """Record task names and their queues in the global registry; ``registered`` holds the
    names recorded already (skipped) and takes the new ones."""
    new = {name: queue for name, queue in queues.items() if name not in registered}
    if not new:
        return
    fields: list[str] = []
    for name, queue in new.items():
        fields += [name, queue]
    yield SendCommand(("HSET", k.task_registry_key(prefix), *fields))
    registered.update(new)


def enqueue(t: k.TaskKeys, job: NewJob, now_ms: int) -> Steps[bool]:
    """Enqueue one job; False when another job holds its id.

    A call is sent again after a dropped connection even when the server already ran it,
    and then finds its own job in place: a job with this id, payload and dispatch time is
    this very call's, so that counts as enqueued (a retry is idempotent). A caller-chosen id
    carries the call's own token instead (``call``), since two calls may share the rest."""
    first, more = data_fields(job.data)  # the payload in pieces (layout 3 on), split here
    if job.run_at_ms > now_ms:
        args = [job.id, first, now_ms, job.priority, job.run_at_ms, job.expire_at_ms, job.extra]
        keys = [t.delayed, t.events, t.marker, t.tag]
        done = yield RunScript("enqueue_delayed", keys, [*args, *more])
    else:
        args = [job.id, first, now_ms, job.priority, job.expire_at_ms, job.extra, *more]
        keys = [t.wait, t.prioritized, t.events, t.marker, t.seq, t.tag]
        done = yield RunScript("enqueue", keys, args)
    if done:
        return True
    token = json.loads(job.extra).get("call") if job.extra else None
    if token is not None:
        [stored_token] = yield SendCommand(("HMGET", t.job(job.id), "call"))
        return bool(stored_token == token)
    fields = (DISPATCHED_FIELD, DATA_FIELD, *DATA_MORE_FIELDS)
    stored = yield SendCommand(("HMGET", t.job(job.id), *fields))
    found = {name: value for name, value in zip(fields, stored, strict=True) if value is not None}
    return found.get(DISPATCHED_FIELD) == str(now_ms) and joined_data(found) == job.data


def enqueue_bulk(t: k.TaskKeys, jobs: Sequence[NewJob], now_ms: int) -> Steps[list[bool]]:
    """Enqueue many jobs in one round trip; one flag per job."""
    args: list[Any] = [now_ms]
    for job in jobs:
        first, more = data_fields(job.data)  # split here, as for one job: the server splits none
        args += [job.id, first, job.priority, job.run_at_ms, job.expire_at_ms, job.extra]
        args += [len(more), *more]
    keys = [t.wait, t.prioritized, t.delayed, t.events, t.marker, t.seq, t.tag]
    flags = yield RunScript("enqueue_bulk", keys, args)
    return [bool(flag) for flag in flags]


def _flow_keys(t: k.TaskKeys) -> list[str]:
    return [t.wait, t.prioritized, t.delayed, t.events, t.marker]


def _flow_args(t: k.TaskKeys, job: NewJob, now_ms: int) -> list[Any]:
    return [job.id, job.data, now_ms, job.priority, job.run_at_ms, job.expire_at_ms, job.extra]


def enqueue_deduplicated(
    t: k.TaskKeys, job: NewJob, key: str, states: tuple[str, ...], now_ms: int
) -> Steps[Admission]:
    """Enqueue ``job`` unless the job holding dedup ``key`` is in one of ``states``."""
    args = [*_flow_args(t, job, now_ms), " ".join(states)]
    keys = [*_flow_keys(t), t.dedup(key), t.seq, t.tag]
    done, holder = yield RunScript("enqueue_deduplicated", keys, args)
    if int(done):
        return Admission(True)
    return Admission(False, "duplicate", existing_id=str(holder))


def enqueue_throttled(
    t: k.TaskKeys, job: NewJob, key: str, limit: int, window_ms: int, now_ms: int
) -> Steps[Admission]:
    """Enqueue ``job`` unless throttle ``key`` accepted ``limit`` jobs in the last window."""
    args = [*_flow_args(t, job, now_ms), limit, window_ms]
    keys = [*_flow_keys(t), t.throttle(key), t.seq, t.tag]
    done, wait_ms = yield RunScript("enqueue_throttled", keys, args)
    if int(done):
        return Admission(True)
    return Admission(False, "throttled", retry_after_ms=int(wait_ms))


def enqueue_debounced(t: k.TaskKeys, job: NewJob, key: str, now_ms: int) -> Steps[Admission]:
    """Enqueue ``job`` as delayed, replacing the still-delayed job debounce ``key`` points at."""
    keys = [*_flow_keys(t), t.debounce(key), t.cancelled, t.seq, t.tag]
    done, replaced = yield RunScript("enqueue_debounced", keys, _flow_args(t, job, now_ms))
    return Admission(bool(int(done)), replaced_id=str(replaced) or None)


def collect_push(
    t: k.TaskKeys, job_id: str, item: str, key: str, limits: tuple[int, int, int], now_ms: int
) -> Steps[tuple[str, int, bool]]:
    """Add ``item`` to collect ``key``'s buffer; ``limits`` = (delay, max_size, max_wait), ms
    and count, 0 for none. Returns (the flush job it joined, items in the buffer, flushed)."""
    keys = [*_flow_keys(t), t.collect_items(key), t.collect_meta(key), t.seq, t.tag]
    args = [job_id, item, now_ms, *limits]
    joined, count, flushed = yield RunScript("collect_push", keys, args)
    return str(joined), int(count), bool(int(flushed))
