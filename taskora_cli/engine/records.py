"""Plain records that cross the engine boundary (no redis types leak out)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from ..empty_mapping import EMPTY
from ..job_state import TERMINAL_STATES


class NewJob(NamedTuple):
    """A job to enqueue. ``run_at_ms`` 0 means now; ``expire_at_ms`` 0 means never; ``extra``
    holds more hash fields as a JSON object (flow control: on_expire, conc, ...), "" for none."""

    id: str
    data: str
    priority: int = 0
    run_at_ms: int = 0
    expire_at_ms: int = 0
    extra: str = ""


class Admission(NamedTuple):
    """What a flow-controlled enqueue did: ``enqueued`` False means rejected, and ``reason``
    ("duplicate", "throttled") says why; ``existing_id`` is the job that blocked a duplicate;
    ``retry_after_ms`` when a throttled dispatch would be accepted; ``replaced_id`` the job a
    debounced dispatch replaced."""

    enqueued: bool
    reason: str | None = None
    existing_id: str | None = None
    retry_after_ms: int | None = None
    replaced_id: str | None = None


class ClaimedJob(NamedTuple):
    """A job a worker now holds: the lock token proves ownership to ack/fail/nack/extend.

    A NamedTuple, not a frozen dataclass: one is built per claimed job, at a third the cost.
    ``version`` is the payload version the job was dispatched at (see taskora_cli/versioning).
    """

    id: str
    token: str
    attempt: int
    data: str
    dispatched_at_ms: int
    version: int = 1
    trace: str | None = None
    """The dispatcher's W3C trace context as JSON (the job's ``tc`` field), if it has one."""
    limits: str | None = None
    """The dispatch's own retry and timeout as JSON (the job's ``limits`` field; see
    taskora_cli.job_limits), if it set them."""


class Ack(NamedTuple):
    """A finished job to mark completed."""

    id: str
    token: str
    result: str


class Failure(NamedTuple):
    """A failed attempt; ``retry_at_ms`` None means fail for good."""

    id: str
    token: str
    error: str
    retry_at_ms: int | None


class Retention(NamedTuple):
    """How many finished jobs the scripts keep, per set; -1 means no limit (the wire form).
    The fields are in the order of the stall sweep's ARGV."""

    completed_max_age_ms: int = -1
    completed_max_items: int = -1
    failed_max_age_ms: int = -1
    failed_max_items: int = -1


KEEP_ALL = Retention()
"""No retention limits: nothing is trimmed."""


class SweepResult(NamedTuple):
    """What one stall sweep did."""

    recovered: int
    failed: int


class WireMigration(NamedTuple):
    """What ``taskora server migrate`` did (:meth:`Engine.migrate_wire`).

    Attributes:
        outcome: "migrated"; "current" (nothing to do); "unreadable" (too old to take over:
            drain it with the taskora that wrote it); "newer" (a newer taskora's: upgrade).
        before: the wire format the server held, or None when it held none.
        jobs_rewritten: how many job hashes were rewritten into this code's layout (a job
            already in it, from a migration stopped half-way, is not counted again).
    """

    outcome: str
    before: int | None
    jobs_rewritten: int = 0


class TaskCounts(NamedTuple):
    """How many jobs of one task are in each state; ``oldest_waiting_ms`` is the age of the
    oldest job at the front of its waiting line (None when nothing waits)."""

    task: str
    waiting: int
    delayed: int
    active: int
    completed: int
    failed: int
    expired: int
    cancelled: int
    oldest_waiting_ms: int | None
    paused: int = 0


DATA_FIELD = "1"
"""The job hash field holding a payload, or its first piece (wire format 4; "data" before)."""

DATA_MORE_FIELDS = tuple(str(i) for i in range(2, 17))
"""The job hash fields holding a payload's pieces after the first ("1"), in order; absent
when it fits in one piece. Scripts store a payload of up to 16 pieces of 63 bytes this way, so
each value stays within Redis's default ``hash-max-listpack-value`` (64) and a waiting job's
hash keeps the compact listpack encoding (lua/lib/data.lua, ``data_args``). Field names that
read as small integers take 2 bytes of a listpack each, against 4-6 for "d2" or "data"."""

DISPATCHED_FIELD = "t"
"""The job hash field holding when the job was dispatched (ms; "ts" before wire format 4)."""


def job_state(state: str | None, dispatched: str | None) -> str | None:
    """A job's state from its "state" and "t" fields: a waiting job stores no "state" (wire
    format 4), and a hash without "t" is no job (None). As ``job_state`` in lua/lib/common.lua."""
    if state is not None:
        return state
    return "waiting" if dispatched is not None else None


DATA_PIECE = 63
"""The most bytes one piece of a payload holds (one less than the default limit, 64)."""


def data_fields(data: str) -> tuple[str, list[str]]:
    """A payload as the job hash stores it: its first piece (the ``1`` field) and the other
    pieces as field/value pairs (``["2", piece, "3", piece, ...]``, empty when it fits in one).

    Pieces hold at most DATA_PIECE bytes of UTF-8 and end on a character boundary; a payload of
    more than 16 pieces stays whole. Byte for byte what ``data_args`` in lua/lib/data.lua
    makes: the plain enqueue scripts take their pieces from here, so the hottest script of all
    splits nothing in Lua.
    """
    limit = DATA_PIECE * (len(DATA_MORE_FIELDS) + 1)
    if data.isascii():  # one byte a character: the pieces are plain slices
        if len(data) <= DATA_PIECE or len(data) > limit:
            return data, []
        more: list[str] = []
        for n, start in enumerate(range(DATA_PIECE, len(data), DATA_PIECE)):
            more += [DATA_MORE_FIELDS[n], data[start : start + DATA_PIECE]]
        return data[:DATA_PIECE], more
    raw = data.encode("utf-8", "surrogateescape")  # binary payloads too (serialization.py)
    if len(raw) <= DATA_PIECE or len(raw) > limit:
        return data, []
    pieces: list[str] = []
    start = 0
    while start < len(raw) and len(pieces) <= len(DATA_MORE_FIELDS):
        end = start + DATA_PIECE
        if end >= len(raw):
            end = len(raw)
        else:
            while end - 1 > start and raw[end] & 0xC0 == 0x80:
                end -= 1  # never cut before a continuation byte
        pieces.append(raw[start:end].decode("utf-8", "surrogateescape"))
        start = end
    if start < len(raw):  # more pieces than there are fields (short ones): kept whole
        return data, []
    more = []
    for name, piece in zip(DATA_MORE_FIELDS, pieces[1:], strict=False):
        more += [name, piece]
    return pieces[0], more


def joined_data(raw: Mapping[str, str]) -> str | None:
    """A job's payload from its hash (all fields, or at least "1" and DATA_MORE_FIELDS)."""
    first = raw.get(DATA_FIELD)
    if first is None or DATA_MORE_FIELDS[0] not in raw:
        return first
    parts = [first]
    for name in DATA_MORE_FIELDS:
        piece = raw.get(name)
        if piece is None:
            break
        parts.append(piece)
    return "".join(parts)


class JobRecord(NamedTuple):
    """A job as stored: state and raw JSON fields.

    The records here are NamedTuples, not dataclasses: every command imports this module, and
    each dataclass costs it half a millisecond to build."""

    id: str
    task: str
    state: str
    data: str | None = None
    result: str | None = None
    error: str | None = None
    attempt: int = 0
    priority: int = 0
    dispatched_at_ms: int | None = None
    started_at_ms: int | None = None
    finished_at_ms: int | None = None
    run_at_ms: int | None = None
    progress: str | None = None
    stalls: int = 0
    cancel: str | None = None
    """The reason given when someone asked to cancel the job ("" for none); None if never."""
    extra: Mapping[str, str] = EMPTY

    @property
    def finished(self) -> bool:
        """True when the job is in a terminal state."""
        return self.state in TERMINAL_STATES

    @classmethod
    def from_hash(cls, task: str, job_id: str, raw: dict[str, str]) -> JobRecord:
        """Build a record from the job hash."""

        def num(name: str) -> int | None:
            # Anything may have written the hash: a field that is no number reads as absent.
            value = raw.get(name)
            if value is None:
                return None
            try:
                return int(value)
            except ValueError:
                pass
            try:
                return int(float(value))
            except (ValueError, OverflowError):
                return None

        known = {"state", DATA_FIELD, "result", "error", "attempt", "prio", DISPATCHED_FIELD}
        known |= {"started"}
        known |= {"finished", "run_at", "progress", "stalls", "lock", "cancel"}
        known |= set(DATA_MORE_FIELDS)
        return cls(
            id=job_id,
            task=task,
            state=job_state(raw.get("state"), raw.get(DISPATCHED_FIELD)) or "unknown",
            data=joined_data(raw),
            result=raw.get("result"),
            error=raw.get("error"),
            attempt=num("attempt") or 0,
            priority=num("prio") or 0,
            dispatched_at_ms=num(DISPATCHED_FIELD),
            started_at_ms=num("started"),
            finished_at_ms=num("finished"),
            run_at_ms=num("run_at"),
            progress=raw.get("progress"),
            stalls=num("stalls") or 0,
            cancel=raw.get("cancel"),
            extra={k: v for k, v in raw.items() if k not in known},
        )


class VersionCounts(NamedTuple):
    """How many of a task's unfinished jobs carry each payload version (version -> count), per
    place: ``waiting`` (parked ones included), ``active`` and ``delayed`` (retrying included)."""

    waiting: dict[int, int]
    active: dict[int, int]
    delayed: dict[int, int]

    def total(self) -> dict[int, int]:
        """The three places summed: what holds back raising a task's ``since``."""
        out: dict[int, int] = {}
        for place in self:
            for version, n in place.items():
                out[version] = out.get(version, 0) + n
        return dict(sorted(out.items()))
