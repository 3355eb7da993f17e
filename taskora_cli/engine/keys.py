"""Every Redis key taskora uses is built here and nowhere else.

All keys of one task share the hash tag ``{task}`` so each script touches one cluster slot.
Keys that belong to no task (the wire meta record, the task registry) share the ``{_global}``
tag, and the schedules (and the scheduler lease) share ``{_schedules}``, so every scheduler
script touches one slot. Changing anything in this module changes the wire format: bump
WIRE_VERSION.

Scripts receive every key they touch in KEYS (lua/README.md): a key known only as a script
runs (a popped job's hash) is built in Lua on ``TaskKeys.tag``, the task's key prefix, passed
in KEYS as a ``PREFIX`` entry; never on ARGV. How scripts are called (KEYS and ARGV) is private
to one taskora version and is not part of the layout.
"""

from __future__ import annotations

WIRE_VERSION = 4
"""The layout version written to the meta record; bump on any incompatible change.
2: flow-control keys (dedup, throttle, debounce, concurrency counters and parked lines), job
fields (holds, on_expire, conc, conc_max, conc_q), per-minute counts, paused queues, and the
task registry as a HASH task -> queue (a SET in version 1, so version 1 data is not readable).
3: a job's payload is stored in pieces of at most 63 bytes ("data", then "d2".."d16"), so a
waiting job's hash stays a listpack on a default-configured server; taskora of layout 2 would
read only the first piece, so the two never share a server.
4: a compact job hash: the payload's pieces are fields "1".."16", the dispatch time is "t"
(was "ts"), and a waiting job stores no "state" (its state is "waiting" when it has "t" and no
"state"). A job of ~100 bytes then fits a 128-byte listpack instead of 160 (see
benchmarks/bench_memory.py). Layout 3's jobs are not readable here, nor this layout's there:
`taskora server migrate` rewrites them (script wire_rewrite_jobs)."""

MIN_COMPAT_VERSION = 4
"""The oldest layout this code shares a server with."""

MIGRATES_FROM = 2
"""The oldest layout `taskora server migrate` hands to this code. Layouts 2 and 3 differ from 4
only in a job hash's field names and a waiting job's state, so the migration rewrites their
job hashes (wire_rewrite_jobs.lua), then the meta record. A server of such a layout is refused
while its own processes may run (they would misread this code's jobs); an older one must be
drained with the taskora that wrote it."""


def base(prefix: str) -> str:
    """The root every key starts with: ``taskora`` or ``taskora:<prefix>``."""
    return f"taskora:{prefix}" if prefix else "taskora"


def meta_key(prefix: str) -> str:
    """HASH: the wire-format meta record (version, min compat, writer, time)."""
    return f"{base(prefix)}:{{_global}}:meta"


def task_registry_key(prefix: str) -> str:
    """HASH: task name -> its queue, for every task that has ever been dispatched or worked."""
    return f"{base(prefix)}:{{_global}}:tasks"


def contracts_key(prefix: str) -> str:
    """HASH: task name -> its published contract (a JSON document: queue, version range,
    options, JSON Schemas; see taskora_cli.contract_document), written by the workers that
    implement it, so processes without the task's code dispatch it with its options.
    Added within layout 2: older taskora never reads or writes it."""
    return f"{base(prefix)}:{{_global}}:contracts"


def workers_key(prefix: str) -> str:
    """ZSET: ids of the registered worker processes; score = their last heartbeat (ms)."""
    return f"{base(prefix)}:{{_global}}:workers"


def worker_key(prefix: str, worker_id: str) -> str:
    """HASH: one worker process (host, pid, tasks, slots, active, counts, times in ms, and
    ``drain``: set when an operator asked it to finish its jobs and exit)."""
    return f"{base(prefix)}:{{_global}}:worker:{worker_id}"


def paused_queues_key(prefix: str) -> str:
    """SET: names of the paused queues; workers everywhere claim nothing of their tasks."""
    return f"{base(prefix)}:{{_global}}:paused"


def schedule_names_key(prefix: str) -> str:
    """SET: the name of every schedule, paused ones included."""
    return f"{base(prefix)}:{{_schedules}}:names"


def schedule_due_key(prefix: str) -> str:
    """ZSET: schedule name -> its next run (ms); paused schedules are left out."""
    return f"{base(prefix)}:{{_schedules}}:due"


def schedule_key(prefix: str, name: str) -> str:
    """HASH: one schedule: ``def`` (JSON), ``timing``, ``rev``, ``next``, ``paused``, the last
    run (``last_run``, ``last_job``, ``last_task``, ``last_fired``), a fire not yet enqueued
    (``pending_id``, ``pending``), ``skipped``, ``last_skipped`` and ``created`` (times in ms)."""
    return f"{base(prefix)}:{{_schedules}}:s:{name}"


def scheduler_lease_key(prefix: str) -> str:
    """HASH: the scheduler leader's lease: ``owner`` (its token) and ``until`` (ms)."""
    return f"{base(prefix)}:{{_schedules}}:lease"


def leader_lease_key(prefix: str, group: str) -> str:
    """HASH: the lease of one group of legacy managers (``DefaultTaskManager``, the group is
    its task name): ``owner`` (the leader's token) and ``until`` (ms). Added within layout 2:
    older taskora never reads or writes it."""
    return f"{base(prefix)}:{{_leader:{group}}}:lease"


def workflows_key(prefix: str) -> str:
    """ZSET: the id of every stored workflow; score = when it was created (ms). Ids whose
    workflow expired (retention) are dropped by the reader that finds them gone.
    Added within layout 2: older taskora never reads or writes it."""
    return f"{base(prefix)}:{{_global}}:workflows"


def running_workflows_key(prefix: str) -> str:
    """ZSET: ids of workflows that may still be running; score = when the repair pass is to
    look at it next, less the stall interval (ms): its creation, then when it last moved on as
    the pass found it (``moved`` in its hash). The pass reads only those idle beyond the
    interval. Whoever ends a workflow moves it to :func:`completed_workflows_key` or
    :func:`stopped_workflows_key` (the pass does it for one whose ender died). Added within
    layout 2 (older taskora scored it by creation alone: the same reading)."""
    return f"{base(prefix)}:{{_global}}:workflows:running"


def completed_workflows_key(prefix: str) -> str:
    """ZSET: ids of completed workflows; score = when they completed (ms): retention trims
    them by age and count as completed jobs. Added within layout 2."""
    return f"{base(prefix)}:{{_global}}:workflows:completed"


def stopped_workflows_key(prefix: str) -> str:
    """ZSET: ids of failed and cancelled workflows; score = when they stopped (ms): retention
    trims them by age and count as failed jobs. Added within layout 2."""
    return f"{base(prefix)}:{{_global}}:workflows:stopped"


def workflow_repair_key(prefix: str) -> str:
    """STRING: held (with a TTL) by the worker running the workflow repair pass, so one worker
    at a time does. Added within layout 2."""
    return f"{base(prefix)}:{{_global}}:workflows:repair"


def workflow_key(prefix: str, workflow_id: str) -> str:
    """HASH: one workflow (state, name, times, its graph and its nodes' states and results;
    see lua/lib/workflow.lua), under its own hash tag ``{w:<id>}``.
    Added within layout 2: older taskora never reads or writes it."""
    return f"{base(prefix)}:{{w:{workflow_id}}}:wf"


class TaskKeys:
    """The keys of one task; all share the hash tag ``{name}``. Built once per task, so the
    hot path reads attributes instead of formatting strings."""

    __slots__ = (
        "active",
        "cancel_channel",
        "cancelled",
        "completed",
        "counts",
        "delayed",
        "events",
        "expired",
        "failed",
        "marker",
        "name",
        "parked_all",
        "paused",
        "prefix",
        "prioritized",
        "seq",
        "singleton",
        "singleton_parked",
        "sweep",
        "tag",
        "wait",
    )

    def __init__(self, prefix: str, name: str) -> None:
        self.prefix = prefix
        self.name = name
        tag = f"{base(prefix)}:{{{name}}}:"
        self.tag = tag
        """``taskora[:prefix]:{name}:``, the task's key prefix: scripts receive it in KEYS (a
        ``PREFIX`` entry) and build on it the keys they learn as they run (``j:<id>``)."""
        self.wait = tag + "wait"
        """LIST: waiting ids of priority 0; LPUSH at the back, RPOP from the front."""
        self.prioritized = tag + "prio"
        """ZSET: waiting ids with priority > 0; lowest score (highest priority, oldest) first."""
        self.delayed = tag + "delayed"
        """ZSET: delayed and retrying ids; score = when they become due (ms)."""
        self.active = tag + "active"
        """ZSET: claimed ids; score = lock deadline (ms). Past-deadline members are stalled."""
        self.completed = tag + "completed"
        """ZSET: completed ids; score = finish time (ms)."""
        self.failed = tag + "failed"
        """ZSET: permanently failed ids (the dead-letter set); score = finish time (ms)."""
        self.expired = tag + "expired"
        """ZSET: ids of jobs whose TTL passed before a worker started them; score = when."""
        self.cancelled = tag + "cancelled"
        """ZSET: ids of cancelled jobs; score = when they ended (ms)."""
        self.paused = tag + "paused"
        """ZSET: ids of paused jobs (out of every line until resumed); score = when they were
        paused (ms). Their hash keeps ``paused_from``, the state they go back to."""
        self.cancel_channel = tag + "cancel"
        """PUB/SUB channel (not a key): the id of each active job asked to cancel; every worker
        of the task subscribes."""
        self.events = tag + "events"
        """STREAM, capped: ``event`` (the transition), ``job`` (the id, or the space-separated
        ids of the jobs that made it together in one script call), and maybe more fields whose
        values are per job, likewise space-separated."""
        self.marker = tag + "marker"
        """ZSET with the one member "0": idle workers pop it. Score 0 = work now,
        score t = the next delayed job is due at t. A script that makes it (it was not
        there) also publishes the score on the sharded pub/sub channel of the same name, the
        task's doorbell, which an idle worker subscribes to (engine/doorbells.py); on a
        server without sharded pub/sub workers BZPOPMIN it."""
        self.sweep = tag + "sweep"
        """STRING: the time (ms) before which no other stall sweep of this task may run."""
        self.counts = tag + "counts"
        """HASH: per-minute throughput for the last 24 h; field ``c:<minute>`` (completed) or
        ``f:<minute>`` (failed for good), minute = ms since the epoch // 60000."""
        self.seq = tag + "seq"
        """STRING: the last position given in the priority bands (from the time, strictly
        increasing, so jobs of one priority queued in the same millisecond keep their order)."""
        self.parked_all = tag + "parked"
        """SET: every job of the task parked on a full concurrency key (any key), so the
        counts include them among the waiting."""
        self.singleton = tag + "singleton"
        """STRING: how many jobs of a ``singleton=True`` task are active (0 or 1)."""
        self.singleton_parked = tag + "singleton:parked"
        """LIST: jobs of a singleton task that found the slot taken; they run one by one."""

    def __repr__(self) -> str:
        return f"TaskKeys(prefix={self.prefix!r}, name={self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TaskKeys) and (self.prefix, self.name) == (
            other.prefix,
            other.name,
        )

    def __hash__(self) -> int:
        return hash((self.prefix, self.name))

    def job(self, job_id: str) -> str:
        """HASH: one job (state, data, result, error, attempt, times, lock token, and
        ``cancel``: the reason, set when someone asked to cancel it). The payload is kept in
        pieces of at most 63 bytes: ``data`` holds the first, ``d2``..``d16`` the rest (none
        when it fits in one; a payload of more than 16 pieces stays whole in ``data``); read it
        with ``records.joined_data``."""
        return f"{self.tag}j:{job_id}"

    def dedup(self, key: str) -> str:
        """STRING: the id of the job holding deduplication ``key`` (free once that job left
        the blocking states, whatever the string still says)."""
        return f"{self.tag}dedup:{key}"

    def throttle(self, key: str) -> str:
        """ZSET: the jobs accepted under throttle ``key``; score = when (ms). A sliding
        window: members older than the window are dropped before counting."""
        return f"{self.tag}throttle:{key}"

    def debounce(self, key: str) -> str:
        """STRING: the id of the delayed job debounce ``key`` would replace."""
        return f"{self.tag}debounce:{key}"

    def concurrency(self, key: str) -> str:
        """STRING: how many jobs with concurrency ``key`` are active now."""
        return f"{self.tag}conc:{key}"

    def parked(self, key: str) -> str:
        """LIST: jobs that found concurrency ``key`` full when claimed; each release of a
        slot puts the oldest back at the front of the waiting line."""
        return f"{self.tag}conc:{key}:parked"

    def collect_items(self, key: str) -> str:
        """LIST: the items (JSON) buffered for collect ``key``, oldest first."""
        return f"{self.tag}collect:{key}:items"

    def collect_meta(self, key: str) -> str:
        """HASH: collect ``key``'s buffer: count, first and last (ms), job (its flush job)."""
        return f"{self.tag}collect:{key}:meta"

    def lastclaim(self, worker: str) -> str:
        """HASH: ``worker``'s last claiming request (its id, and the ids and tokens it claimed),
        so the same request sent again after a dropped connection claims nothing more; it
        expires with the claim's lock TTL."""
        return f"{self.tag}lastclaim:{worker}"

    def logs(self, job_id: str) -> str:
        """LIST: the job's log lines as JSON, capped."""
        return f"{self.tag}j:{job_id}:logs"
