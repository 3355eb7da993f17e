"""The wire contract: script files, their headers, the engine's calls and the key layout.

Scripts and the Python that calls them ship together, so a script's ARGV is private to one
taskora version; the keys and what they hold are shared by every version on a server. The
snapshots below make any change to either visible in review: a changed key layout needs a
WIRE_VERSION bump, a changed script contract an updated snapshot. Every key a script touches
is in its KEYS (a ``PREFIX`` entry for keys built as it runs; lua/README.md), and the KEYS of
one call share one hash slot (checked below, as the engine calls each script).
"""

from __future__ import annotations

import inspect
import pprint
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from slots import hash_slot

from taskora_cli.engine import admin, dead, flow, job_rewrite, leases, registry, steps, workflows
from taskora_cli.engine import keys as k
from taskora_cli.engine import schedules as es
from taskora_cli.engine.engine import Engine
from taskora_cli.engine.job_rewrite import JobRewriter
from taskora_cli.engine.records import Ack, Failure, NewJob, Retention
from taskora_cli.engine.runner import Runner
from taskora_cli.engine.schedules import Fire
from taskora_cli.engine.scripts import SCRIPT_NAMES, lua_dir
from taskora_cli.engine.slots import workflow_id_in_slot_of
from taskora_cli.engine.workflows import NodeSpec

ENGINE_SOURCE = Path(inspect.getfile(Engine))
DEAD_SOURCE = Path(inspect.getfile(dead))
SCHEDULES_SOURCE = Path(inspect.getfile(es))
FLOW_SOURCE = Path(inspect.getfile(flow))
REGISTRY_SOURCE = Path(inspect.getfile(registry))
WORKFLOWS_SOURCE = Path(inspect.getfile(workflows))
ADMIN_SOURCE = Path(inspect.getfile(admin))
STEPS_SOURCE = Path(inspect.getfile(steps))
LEASES_SOURCE = Path(inspect.getfile(leases))
REWRITE_SOURCE = Path(inspect.getfile(job_rewrite))
REDIS_TYPES = {"STRING", "LIST", "SET", "ZSET", "HASH", "STREAM", "PREFIX"}
BUMP = "bump WIRE_VERSION and update the snapshot"
NOW = 1_700_000_000_000

# -- snapshots: change only together with the code, and read the message first ------------

WIRE_SNAPSHOT: dict[str, Any] = {
    "WIRE_VERSION": 4,
    "MIN_COMPAT_VERSION": 4,
    "SCRIPT_NAMES": [
        "handshake",
        "wire_migrate",
        "wire_fence",
        "wire_rewrite_jobs",
        "enqueue",
        "enqueue_delayed",
        "enqueue_bulk",
        "enqueue_deduplicated",
        "enqueue_throttled",
        "enqueue_debounced",
        "collect_push",
        "collect_flush",
        "claim",
        "ack_and_claim",
        "ack_and_advance",
        "fail_and_claim",
        "extend_lock",
        "nack",
        "defer",
        "stall_sweep",
        "release_worker",
        "cancel",
        "retry_dead",
        "purge_dead",
        "request_drain",
        "worker_beat",
        "scheduler_tick",
        "scheduler_release",
        "schedule_register",
        "schedule_claim",
        "schedule_settle",
        "schedule_skip",
        "schedule_pause",
        "schedule_resume",
        "schedule_remove",
        "schedule_triggered",
        "publish_contract",
        "workflow_create",
        "workflow_node_done",
        "workflow_node_failed",
        "workflow_cancel",
        "workflow_nodes_enqueued",
        "delete_job",
        "purge_finished",
        "pause_job",
        "resume_job",
        "leader_keep",
        "leader_release",
    ],
}

KEYS_SNAPSHOT = {
    "TaskKeys('', 'send-email').active": "taskora:{send-email}:active",
    "TaskKeys('', 'send-email').tag": "taskora:{send-email}:",
    "TaskKeys('app', 'send-email').active": "taskora:app:{send-email}:active",
    "TaskKeys('app', 'send-email').cancel_channel": "taskora:app:{send-email}:cancel",
    "TaskKeys('app', 'send-email').cancelled": "taskora:app:{send-email}:cancelled",
    "TaskKeys('app', 'send-email').collect_items('j1')": (
        "taskora:app:{send-email}:collect:j1:items"
    ),
    "TaskKeys('app', 'send-email').collect_meta('j1')": "taskora:app:{send-email}:collect:j1:meta",
    "TaskKeys('app', 'send-email').completed": "taskora:app:{send-email}:completed",
    "TaskKeys('app', 'send-email').concurrency('j1')": "taskora:app:{send-email}:conc:j1",
    "TaskKeys('app', 'send-email').counts": "taskora:app:{send-email}:counts",
    "TaskKeys('app', 'send-email').debounce('j1')": "taskora:app:{send-email}:debounce:j1",
    "TaskKeys('app', 'send-email').dedup('j1')": "taskora:app:{send-email}:dedup:j1",
    "TaskKeys('app', 'send-email').delayed": "taskora:app:{send-email}:delayed",
    "TaskKeys('app', 'send-email').events": "taskora:app:{send-email}:events",
    "TaskKeys('app', 'send-email').expired": "taskora:app:{send-email}:expired",
    "TaskKeys('app', 'send-email').failed": "taskora:app:{send-email}:failed",
    "TaskKeys('app', 'send-email').job('j1')": "taskora:app:{send-email}:j:j1",
    "TaskKeys('app', 'send-email').lastclaim('j1')": "taskora:app:{send-email}:lastclaim:j1",
    "TaskKeys('app', 'send-email').logs('j1')": "taskora:app:{send-email}:j:j1:logs",
    "TaskKeys('app', 'send-email').marker": "taskora:app:{send-email}:marker",
    "TaskKeys('app', 'send-email').parked('j1')": "taskora:app:{send-email}:conc:j1:parked",
    "TaskKeys('app', 'send-email').parked_all": "taskora:app:{send-email}:parked",
    "TaskKeys('app', 'send-email').paused": "taskora:app:{send-email}:paused",
    "TaskKeys('app', 'send-email').prioritized": "taskora:app:{send-email}:prio",
    "TaskKeys('app', 'send-email').seq": "taskora:app:{send-email}:seq",
    "TaskKeys('app', 'send-email').singleton": "taskora:app:{send-email}:singleton",
    "TaskKeys('app', 'send-email').singleton_parked": "taskora:app:{send-email}:singleton:parked",
    "TaskKeys('app', 'send-email').sweep": "taskora:app:{send-email}:sweep",
    "TaskKeys('app', 'send-email').tag": "taskora:app:{send-email}:",
    "TaskKeys('app', 'send-email').throttle('j1')": "taskora:app:{send-email}:throttle:j1",
    "TaskKeys('app', 'send-email').wait": "taskora:app:{send-email}:wait",
    "base('')": "taskora",
    "base('app')": "taskora:app",
    "completed_workflows_key('')": "taskora:{_global}:workflows:completed",
    "completed_workflows_key('app')": "taskora:app:{_global}:workflows:completed",
    "meta_key('')": "taskora:{_global}:meta",
    "meta_key('app')": "taskora:app:{_global}:meta",
    "paused_queues_key('')": "taskora:{_global}:paused",
    "paused_queues_key('app')": "taskora:app:{_global}:paused",
    "schedule_due_key('')": "taskora:{_schedules}:due",
    "schedule_due_key('app')": "taskora:app:{_schedules}:due",
    "schedule_key('app', 'nightly')": "taskora:app:{_schedules}:s:nightly",
    "schedule_names_key('')": "taskora:{_schedules}:names",
    "schedule_names_key('app')": "taskora:app:{_schedules}:names",
    "scheduler_lease_key('')": "taskora:{_schedules}:lease",
    "scheduler_lease_key('app')": "taskora:app:{_schedules}:lease",
    "stopped_workflows_key('')": "taskora:{_global}:workflows:stopped",
    "stopped_workflows_key('app')": "taskora:app:{_global}:workflows:stopped",
    "leader_lease_key('app', 'taskmanager')": "taskora:app:{_leader:taskmanager}:lease",
    "contracts_key('')": "taskora:{_global}:contracts",
    "contracts_key('app')": "taskora:app:{_global}:contracts",
    "task_registry_key('')": "taskora:{_global}:tasks",
    "task_registry_key('app')": "taskora:app:{_global}:tasks",
    "worker_key('app', 'h:1:w')": "taskora:app:{_global}:worker:h:1:w",
    "workers_key('')": "taskora:{_global}:workers",
    "workers_key('app')": "taskora:app:{_global}:workers",
    "running_workflows_key('')": "taskora:{_global}:workflows:running",
    "running_workflows_key('app')": "taskora:app:{_global}:workflows:running",
    "workflow_key('app', 'w1')": "taskora:app:{w:w1}:wf",
    "workflow_repair_key('')": "taskora:{_global}:workflows:repair",
    "workflow_repair_key('app')": "taskora:app:{_global}:workflows:repair",
    "workflows_key('')": "taskora:{_global}:workflows",
    "workflows_key('app')": "taskora:app:{_global}:workflows",
}

HEADERS_SNAPSHOT = {
    "ack_and_claim": {
        "ARGV": [
            "now_ms",
            "lock_ttl_ms",
            "worker",
            "count",
            "promote_limit",
            "max_age_ms",
            "max_items",
            "request",
            "acks",
            "per finished job: id, token, result",
        ],
        "KEYS": [
            "wait LIST",
            "prio ZSET",
            "delayed ZSET",
            "active ZSET",
            "events STREAM",
            "marker ZSET",
            "completed ZSET",
            "expired ZSET",
            "cancelled ZSET",
            "counts HASH",
            "lastclaim HASH",
            "seq STRING",
            "tag PREFIX",
        ],
    },
    "ack_and_advance": {
        "ARGV": [
            "now_ms",
            "lock_ttl_ms",
            "worker",
            "count",
            "promote_limit",
            "max_age_ms",
            "max_items",
            "request",
            "task",
            "workflow_id",
            "acks",
            "per finished job: id, token, result",
        ],
        "KEYS": [
            "wait LIST",
            "prio ZSET",
            "delayed ZSET",
            "active ZSET",
            "events STREAM",
            "marker ZSET",
            "completed ZSET",
            "expired ZSET",
            "cancelled ZSET",
            "counts HASH",
            "lastclaim HASH",
            "seq STRING",
            "tag PREFIX",
            "workflow HASH",
        ],
    },
    "cancel": {
        "ARGV": ["id", "now_ms", "reason", "channel"],
        "KEYS": [
            "wait LIST",
            "prio ZSET",
            "delayed ZSET",
            "events STREAM",
            "cancelled ZSET",
            "paused ZSET",
            "tag PREFIX",
        ],
    },
    "claim": {
        "ARGV": ["now_ms", "lock_ttl_ms", "worker", "count", "promote_limit", "request"],
        "KEYS": [
            "wait LIST",
            "prio ZSET",
            "delayed ZSET",
            "active ZSET",
            "events STREAM",
            "marker ZSET",
            "expired ZSET",
            "lastclaim HASH",
            "seq STRING",
            "tag PREFIX",
        ],
    },
    "collect_push": {
        "ARGV": ["id", "item", "now_ms", "delay_ms", "max_size", "max_wait_ms"],
        "KEYS": [
            "wait LIST",
            "prio ZSET",
            "delayed ZSET",
            "events STREAM",
            "marker ZSET",
            "items LIST",
            "meta HASH",
            "seq STRING",
            "tag PREFIX",
        ],
    },
    "collect_flush": {
        "ARGV": ["now_ms"],
        "KEYS": ["delayed ZSET", "marker ZSET", "meta HASH", "tag PREFIX"],
    },
    "defer": {
        "ARGV": ["now_ms", "run_at_ms", "per job: id, token"],
        "KEYS": [
            "wait LIST",
            "prio ZSET",
            "delayed ZSET",
            "active ZSET",
            "events STREAM",
            "marker ZSET",
            "cancelled ZSET",
            "tag PREFIX",
        ],
    },
    "enqueue": {
        "ARGV": [
            "id",
            "data",
            "now_ms",
            "priority",
            "expire_at_ms",
            "extra",
            "per further piece of the payload: field, piece",
        ],
        "KEYS": [
            "wait LIST",
            "prio ZSET",
            "events STREAM",
            "marker ZSET",
            "seq STRING",
            "tag PREFIX",
        ],
    },
    "enqueue_bulk": {
        "ARGV": ["now_ms", "per job: id, data, priority, run_at_ms, expire_at_ms, extra, n"],
        "KEYS": [
            "wait LIST",
            "prio ZSET",
            "delayed ZSET",
            "events STREAM",
            "marker ZSET",
            "seq STRING",
            "tag PREFIX",
        ],
    },
    "enqueue_debounced": {
        "ARGV": ["id", "data", "now_ms", "priority", "run_at_ms", "expire_at_ms", "extra"],
        "KEYS": [
            "wait LIST",
            "prio ZSET",
            "delayed ZSET",
            "events STREAM",
            "marker ZSET",
            "debounce STRING",
            "cancelled ZSET",
            "seq STRING",
            "tag PREFIX",
        ],
    },
    "enqueue_deduplicated": {
        "ARGV": [
            "id",
            "data",
            "now_ms",
            "priority",
            "run_at_ms",
            "expire_at_ms",
            "extra",
            "blocking",
        ],
        "KEYS": [
            "wait LIST",
            "prio ZSET",
            "delayed ZSET",
            "events STREAM",
            "marker ZSET",
            "dedup STRING",
            "seq STRING",
            "tag PREFIX",
        ],
    },
    "enqueue_delayed": {
        "ARGV": [
            "id",
            "data",
            "now_ms",
            "priority",
            "run_at_ms",
            "expire_at_ms",
            "extra",
            "per further piece of the payload: field, piece",
        ],
        "KEYS": ["delayed ZSET", "events STREAM", "marker ZSET", "tag PREFIX"],
    },
    "enqueue_throttled": {
        "ARGV": [
            "id",
            "data",
            "now_ms",
            "priority",
            "run_at_ms",
            "expire_at_ms",
            "extra",
            "max",
            "window_ms",
        ],
        "KEYS": [
            "wait LIST",
            "prio ZSET",
            "delayed ZSET",
            "events STREAM",
            "marker ZSET",
            "throttle ZSET",
            "seq STRING",
            "tag PREFIX",
        ],
    },
    "extend_lock": {
        "ARGV": ["now_ms", "lock_ttl_ms", "per job: id, token"],
        "KEYS": ["active ZSET", "tag PREFIX"],
    },
    "fail_and_claim": {
        "ARGV": [
            "now_ms",
            "lock_ttl_ms",
            "worker",
            "count",
            "promote_limit",
            "id",
            "token",
            "error",
            "retry_at_ms",
            "max_age_ms",
            "max_items",
            "request",
        ],
        "KEYS": [
            "wait LIST",
            "prio ZSET",
            "delayed ZSET",
            "active ZSET",
            "events STREAM",
            "marker ZSET",
            "failed ZSET",
            "expired ZSET",
            "cancelled ZSET",
            "counts HASH",
            "lastclaim HASH",
            "seq STRING",
            "tag PREFIX",
        ],
    },
    "handshake": {
        "ARGV": ["wire_version", "min_compat", "written_by", "now_ms"],
        "KEYS": ["meta HASH"],
    },
    "wire_fence": {"ARGV": ["min_compat", "migrates_from"], "KEYS": ["meta HASH"]},
    "wire_rewrite_jobs": {"ARGV": ["per job: id"], "KEYS": ["tag PREFIX"]},
    "wire_migrate": {
        "ARGV": ["wire_version", "min_compat", "migrates_from", "written_by", "now_ms"],
        "KEYS": ["meta HASH"],
    },
    "nack": {
        "ARGV": ["now_ms", "per job: id, token"],
        "KEYS": [
            "wait LIST",
            "prio ZSET",
            "active ZSET",
            "events STREAM",
            "marker ZSET",
            "cancelled ZSET",
            "tag PREFIX",
        ],
    },
    "publish_contract": {"ARGV": ["per contract: name, document"], "KEYS": ["contracts HASH"]},
    "purge_dead": {"ARGV": ["per job: id"], "KEYS": ["failed ZSET", "events STREAM", "tag PREFIX"]},
    "delete_job": {
        "ARGV": ["id"],
        "KEYS": [
            "job HASH",
            "logs LIST",
            "wait LIST",
            "prio ZSET",
            "delayed ZSET",
            "completed ZSET",
            "failed ZSET",
            "cancelled ZSET",
            "expired ZSET",
            "events STREAM",
            "paused ZSET",
            "tag PREFIX",
        ],
    },
    "pause_job": {
        "ARGV": ["id", "now_ms"],
        "KEYS": [
            "wait LIST",
            "prio ZSET",
            "delayed ZSET",
            "paused ZSET",
            "events STREAM",
            "tag PREFIX",
        ],
    },
    "resume_job": {
        "ARGV": ["id", "now_ms"],
        "KEYS": [
            "wait LIST",
            "prio ZSET",
            "delayed ZSET",
            "paused ZSET",
            "events STREAM",
            "marker ZSET",
            "seq STRING",
            "tag PREFIX",
        ],
    },
    "purge_finished": {
        "ARGV": ["before_ms", "per job: id"],
        "KEYS": ["ended ZSET", "events STREAM", "tag PREFIX"],
    },
    "release_worker": {"ARGV": ["worker"], "KEYS": ["active ZSET", "sweep STRING", "tag PREFIX"]},
    "request_drain": {"ARGV": [], "KEYS": ["worker HASH"]},
    "retry_dead": {
        "ARGV": ["now_ms", "state", "per job: id"],
        "KEYS": [
            "wait LIST",
            "prio ZSET",
            "ended ZSET",
            "events STREAM",
            "marker ZSET",
            "seq STRING",
            "tag PREFIX",
        ],
    },
    "schedule_claim": {
        "ARGV": [
            "name",
            "rev",
            "expected_next",
            "fire_ms",
            "next_ms",
            "job_id",
            "task",
            "pending",
            "skipped",
            "now_ms",
        ],
        "KEYS": ["schedule HASH", "due ZSET"],
    },
    "schedule_pause": {"ARGV": ["name", "now_ms"], "KEYS": ["schedule HASH", "due ZSET"]},
    "schedule_register": {
        "ARGV": ["name", "def", "timing", "first_ms", "now_ms", "create_only"],
        "KEYS": ["schedule HASH", "due ZSET", "names SET"],
    },
    "schedule_remove": {"ARGV": ["name"], "KEYS": ["schedule HASH", "due ZSET", "names SET"]},
    "schedule_resume": {
        "ARGV": ["name", "expected_next", "next_ms"],
        "KEYS": ["schedule HASH", "due ZSET"],
    },
    "schedule_settle": {"ARGV": ["name", "job_id"], "KEYS": ["schedule HASH", "due ZSET"]},
    "schedule_skip": {
        "ARGV": ["name", "rev", "expected_next", "next_ms", "skipped", "now_ms"],
        "KEYS": ["schedule HASH", "due ZSET"],
    },
    "schedule_triggered": {"ARGV": ["job_id", "task", "now_ms"], "KEYS": ["schedule HASH"]},
    "scheduler_release": {"ARGV": ["token"], "KEYS": ["lease HASH"]},
    "leader_keep": {"ARGV": ["token", "now_ms", "lease_ms"], "KEYS": ["lease HASH"]},
    "leader_release": {"ARGV": ["token"], "KEYS": ["lease HASH"]},
    "scheduler_tick": {
        "ARGV": ["token", "now_ms", "lease_ms", "limit"],
        "KEYS": ["lease HASH", "due ZSET"],
    },
    "worker_beat": {
        "ARGV": ["id", "now_ms", "per field: name, value"],
        "KEYS": ["worker HASH", "workers ZSET"],
    },
    "workflow_cancel": {"ARGV": ["now_ms", "reason", "max_age_ms"], "KEYS": ["workflow HASH"]},
    "workflow_create": {
        "ARGV": [
            "now_ms",
            "name",
            "outputs",
            "expire_at_ms",
            "n",
            "tasks",
            "per node: task, deps, dependents, data",
        ],
        "KEYS": ["workflow HASH"],
    },
    "workflow_node_done": {
        "ARGV": ["now_ms", "max_age_ms", "per completed node: index, result"],
        "KEYS": ["workflow HASH"],
    },
    "workflow_node_failed": {
        "ARGV": ["now_ms", "index", "error", "max_age_ms"],
        "KEYS": ["workflow HASH"],
    },
    "workflow_nodes_enqueued": {"ARGV": ["per enqueued node: index"], "KEYS": ["workflow HASH"]},
    "stall_sweep": {
        "ARGV": [
            "now_ms",
            "interval_ms",
            "max_stalls",
            "limit",
            "completed_max_age_ms",
            "completed_max_items",
            "failed_max_age_ms",
            "failed_max_items",
        ],
        "KEYS": [
            "wait LIST",
            "prio ZSET",
            "active ZSET",
            "failed ZSET",
            "events STREAM",
            "marker ZSET",
            "sweep STRING",
            "completed ZSET",
            "cancelled ZSET",
            "expired ZSET",
            "counts HASH",
            "tag PREFIX",
        ],
    },
}

# -- reading the headers -------------------------------------------------------------------

_LINE = re.compile(r"^-- (KEYS|ARGV)\[(\d+)(\.\.)?\]\s+(\S+)(.*)$")


@dataclass(frozen=True)
class Header:
    """What a script's header promises: its KEYS, and its ARGV (fixed, then repeated)."""

    keys: list[tuple[str, str]]  # (name, type)
    argv: list[str]
    repeated: list[str]  # the items of each repeated group, [] if none
    repeated_label: str

    @property
    def fixed_argv(self) -> int:
        return len(self.argv)

    def snapshot(self) -> dict[str, list[str]]:
        argv = list(self.argv)
        if self.repeated:
            argv.append(f"{self.repeated_label}: {', '.join(self.repeated)}")
        return {"KEYS": [f"{name} {kind}" for name, kind in self.keys], "ARGV": argv}


def script_files() -> dict[str, Path]:
    return {path.stem: path for path in sorted(lua_dir().glob("*.lua"))}


def header_lines(path: Path) -> Iterator[str]:
    """The comment block that opens the script (the header), up to its first code line."""
    for line in path.read_text().splitlines():
        if not line.startswith("--") or line.startswith("--@include"):
            return
        yield line


def parse_header(path: Path) -> Header:
    keys: list[tuple[str, str]] = []
    argv: list[str] = []
    repeated: list[str] = []
    label = ""
    for line in header_lines(path):
        match = _LINE.match(line)
        if match is None:
            continue
        kind, index, open_ended, name, rest = match.groups()
        if kind == "KEYS":
            assert int(index) == len(keys) + 1, f"{path.name}: KEYS[{index}] is out of order"
            assert not open_ended, f"{path.name}: KEYS cannot repeat"
            redis_type = rest.split()[0] if rest.split() else ""
            assert redis_type in REDIS_TYPES, (
                f"{path.name}: KEYS[{index}] {name} must name its Redis type, one of "
                f"{sorted(REDIS_TYPES)}"
            )
            keys.append((name, redis_type))
            continue
        assert int(index) == len(argv) + 1, f"{path.name}: ARGV[{index}] is out of order"
        assert not repeated, f"{path.name}: nothing may follow the repeated ARGV[{index}..]"
        if open_ended:
            label, _, items = f"{name}{rest}".partition(":")
            assert items, f"{path.name}: write ARGV[{index}..] as 'per <thing>: a, b, c'"
            items = re.sub(r"\([^)]*\)", "", items)  # "(0 = now)" and the like explain items
            repeated = [item.split()[0] for item in items.split(",") if item.strip()]
        else:
            argv.append(name)
    assert keys or argv, f"{path.name}: no -- KEYS[n] / -- ARGV[n] header"
    return Header(keys, argv, repeated, label.strip())


# -- the tests -----------------------------------------------------------------------------


def test_every_script_file_has_a_wrapper_and_every_wrapper_a_file() -> None:
    files = set(script_files())
    names = set(SCRIPT_NAMES)
    assert files - names == set(), f"lua/ scripts missing from SCRIPT_NAMES: {files - names}"
    assert names - files == set(), f"SCRIPT_NAMES without a lua/ file: {names - files}"
    assert len(SCRIPT_NAMES) == len(names), "SCRIPT_NAMES lists a script twice"


def test_the_engine_calls_every_script_and_only_those() -> None:
    called: set[str] = set()
    sources = (ENGINE_SOURCE, DEAD_SOURCE, SCHEDULES_SOURCE, FLOW_SOURCE, REGISTRY_SOURCE)
    more = (WORKFLOWS_SOURCE, ADMIN_SOURCE, STEPS_SOURCE, LEASES_SOURCE, REWRITE_SOURCE)
    for source in (*sources, *more):
        text = source.read_text()
        called |= set(re.findall(r'self\.runner\.run\(\s*"(\w+)"', text))
        called |= set(re.findall(r'RunScript\(\s*"(\w+)"', text))  # steps.py: both drivers
    assert called == set(SCRIPT_NAMES), (
        f"engine.py calls {sorted(called - set(SCRIPT_NAMES))} which are not scripts, and never "
        f"calls {sorted(set(SCRIPT_NAMES) - called)}"
    )


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_every_script_opens_with_a_well_formed_contract_header(name: str) -> None:
    path = lua_dir() / f"{name}.lua"
    parse_header(path)  # asserts as it reads
    assert any("returns" in line for line in header_lines(path)), (
        f"{path.name}: say what it returns"
    )


async def test_the_engine_calls_each_script_as_its_header_says(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, int, int]] = []
    slots: dict[str, set[frozenset[int]]] = {}
    original = Runner.run

    async def recording(self: Runner, name: str, keys: Any, args: Any) -> Any:
        calls.append((name, len(keys), len(args)))
        slots.setdefault(name, set()).add(frozenset(hash_slot(key) for key in keys))
        return await original(self, name, keys, args)

    monkeypatch.setattr(Runner, "run", recording)
    engine = Engine(redis_url, "contract")
    try:
        await exercise(engine)
    finally:
        await engine.close()

    assert {name for name, _, _ in calls} == set(SCRIPT_NAMES), (
        "exercise() must call every script: add the new ones to it"
    )
    cross_slot = sorted(name for name, seen in slots.items() if any(len(s) != 1 for s in seen))
    assert cross_slot == [], (
        f"the engine calls {cross_slot} with KEYS in more than one hash slot: Redis Cluster "
        "refuses such a call (CROSSSLOT); every key of one call must share one hash tag"
    )
    headers = {name: parse_header(lua_dir() / f"{name}.lua") for name in SCRIPT_NAMES}
    for name, n_keys, n_args in calls:
        header = headers[name]
        assert n_keys == len(header.keys), (
            f"engine.py passes {n_keys} KEYS to {name}.lua, whose header declares "
            f"{len(header.keys)}"
        )
        if header.repeated:
            extra = n_args - header.fixed_argv
            assert extra >= 0 and extra % len(header.repeated) == 0, (
                f"engine.py passes {n_args} ARGV to {name}.lua: its header declares "
                f"{header.fixed_argv} and then groups of {len(header.repeated)}"
            )
        else:
            assert n_args == header.fixed_argv, (
                f"engine.py passes {n_args} ARGV to {name}.lua, whose header declares "
                f"{header.fixed_argv}"
            )


async def exercise(engine: Engine) -> None:
    """Call every engine method that runs a script, with batches of one and of two."""
    task, now, ttl = "contract", NOW, 30_000
    keep = Retention(60_000, 100, 60_000, 100)
    await engine.connect(now)
    assert await engine.migrate_wire(now) == ("current", 4, 0)
    await engine.enqueue(task, NewJob("a", "{}"), now)
    await engine.enqueue(task, NewJob("d", "{}", run_at_ms=now + 10), now)
    assert await JobRewriter(engine.runner).rewrite(engine.keys(task).tag, ["a", "d"]) == 0
    await engine.enqueue_bulk(
        task, [NewJob("b", "{}"), NewJob("c", "{}", 3), NewJob("e", "1")], now
    )
    claimed = await engine.claim(task, "w1", 5, now + 20, ttl)
    assert len(claimed) == 5
    one, two, three, four, five = claimed
    await engine.extend_locks(task, [(one.id, one.token)], now + 30, ttl)
    await engine.extend_locks(task, [(one.id, one.token), (two.id, two.token)], now + 30, ttl)
    await engine.ack_and_claim(task, [Ack(one.id, one.token, "1")], "w1", 0, now + 40, ttl)
    acks = [Ack(two.id, two.token, "2"), Ack(three.id, three.token, "3")]
    await engine.ack_and_claim(task, acks, "w1", 1, now + 40, ttl, keep)
    await engine.fail_and_claim(
        task, Failure(four.id, four.token, "{}", now + 50), "w1", 1, now, ttl, keep
    )
    await engine.nack(task, [(five.id, five.token)], now + 60)
    again = await engine.claim(task, "w2", 2, now + 70, ttl)
    await engine.defer(task, [(job.id, job.token) for job in again[:1]], now + 75, now + 1000)
    await engine.nack(task, [(job.id, job.token) for job in again[1:]], now + 80)
    await engine.release_worker(task, "w1")
    await engine.stall_sweep(task, now + 90, 1000, 1, retention=keep)
    await engine.admin.pause(task, "d", now + 92)
    await engine.admin.resume(task, "d", now + 93)
    await engine.cancel(task, "d", "", now + 95)
    await engine.dead_letters.retry(task, ["a"], now + 100)
    await engine.dead_letters.retry(task, ["a", "b"], now + 100)
    await engine.dead_letters.purge(task, ["a"])
    await engine.dead_letters.purge(task, ["a", "b"])
    await engine.admin.delete(task, "c")
    await engine.admin.purge_ended(task, "completed", ["a"], now + 100)
    await engine.admin.purge_ended(task, "cancelled", ["a", "d"], now + 100)
    states = ("waiting", "active")
    await engine.flow.enqueue_deduplicated(task, NewJob("f1", "{}"), "k", states, now)
    await engine.flow.enqueue_throttled(task, NewJob("f2", "{}"), "k", 5, 1000, now)
    await engine.flow.enqueue_debounced(task, NewJob("f3", "{}", run_at_ms=now + 9), "k", now)
    await engine.flow.collect_push(task, "f4", "1", "k", (1000, 0, 0), now)
    await engine.flow.collect_push(task, "f5", "2", "k", (1000, 2, 5000), now)
    await engine.flow.collect_flush(task, "k", now)
    await engine.request_drain("nobody")
    await engine.workers.beat("w1", {"host": "h"}, now)
    await engine.workers.beat("w1", {"host": "h", "pid": 1}, now)
    await engine.schedules.tick("w1", now, ttl, 10)
    await engine.schedules.register("s", '{"task":"contract"}', "every 1000", now + 1000, now)
    fire = Fire(now + 1000, now + 2000, "s@1", task, '{"id":"s@1"}', 0)
    await engine.schedules.claim("s", "1", now + 1000, fire, now + 1000)
    await engine.schedules.settle("s", "s@1")
    await engine.schedules.skip("s", "1", now + 2000, now + 3000, 1, now + 2000)
    await engine.schedules.pause("s", now)
    await engine.schedules.resume("s", now + 3000, now + 4000)
    await engine.schedules.triggered("s", "t1", task, now)
    await engine.schedules.remove("s")
    await engine.schedules.release("w1")
    await engine.leases.keep("taskmanager", "m1", now, ttl)
    await engine.leases.release("taskmanager", "m1")
    await engine.publish_contracts({task: '{"name":"contract","version":2}'})
    await engine.publish_contracts({task: '{"name":"contract","version":1}', "b": "{}"})
    nodes = [NodeSpec(task, (), (1,), "1"), NodeSpec(task, (0,), (), None, '{"a":"b"}', 5000)]
    await engine.workflows.create("w1", "wf", nodes, (1,), now)
    await engine.workflows.nodes_enqueued("w1", [0])
    await engine.workflows.node_done("w1", [(0, "2")], now, 1000)
    await engine.workflows.node_done("w1", [(0, "2"), (1, "3")], now, 1000)
    await engine.workflows.cancel("w1", "stop", now, 1000)
    await engine.workflows.create("w2", "wf", nodes, (1,), now)
    await engine.workflows.node_failed("w2", 0, "{}", now, 1000)
    await engine.workflows.node_failed("w2", 0, "{}", now, 1000)  # sent again
    await exercise_ack_and_advance(engine, task, now, ttl)


async def exercise_ack_and_advance(engine: Engine, task: str, now: int, ttl: int) -> None:
    """A worker's ack that moves a workflow on: its id puts its hash in the task's slot."""
    keep = Retention(60_000, 100, 60_000, 100)
    w3 = workflow_id_in_slot_of(task)
    chain = [NodeSpec(task, (), (1,), "1"), NodeSpec(task, (0,), (2,), None),
             NodeSpec(task, (1,), (), None)]  # fmt: skip
    await engine.workflows.create(w3, "wf", chain, (2,), now)
    await engine.enqueue(task, NewJob(f"{w3}.0", "1"), now)
    await engine.workflows.nodes_enqueued(w3, [0])
    [first] = await engine.claim(task, "w3w", 1, now, ttl, request="w3-claim")
    _, [second], _ = await engine.ack_and_advance(
        task, [Ack(first.id, first.token, "2")], w3, "w3w", 1, now, ttl
    )
    acks = [Ack(second.id, second.token, "3"), Ack("nope", "x", "0")]
    await engine.ack_and_advance(task, acks, w3, "w3w", 1, now, ttl, keep)


JOB_FIELDS_SNAPSHOT = {
    # a waiting job stores no "state"; "t" is when it was dispatched; "1", "2"... its payload
    "waiting": {"t": str(NOW), "1": "x" * 63, "2": "x" * 37},
    "waiting, priority 3": {"t": str(NOW), "1": "{}", "prio": "3"},
    "delayed": {"state": "delayed", "t": str(NOW), "run_at": str(NOW + 10), "1": "{}"},
    "active": {
        "state": "active",
        "t": str(NOW),
        "1": "{}",
        "attempt": "1",
        "started": str(NOW + 1),
        "lock": f"w:1:{NOW + 1}",
    },
}


async def test_the_job_hash_layout_matches_the_snapshot(redis_url: str) -> None:
    engine = Engine(redis_url, "layout")
    try:
        await engine.connect(NOW)
        await engine.enqueue("layout", NewJob("waiting", "x" * 100), NOW)
        await engine.enqueue("layout", NewJob("prio", "{}", priority=3), NOW)
        await engine.enqueue("layout", NewJob("delayed", "{}", run_at_ms=NOW + 10), NOW)
        stored = {
            "waiting": await engine.client.hgetall(engine.keys("layout").job("waiting")),
            "waiting, priority 3": await engine.client.hgetall(engine.keys("layout").job("prio")),
            "delayed": await engine.client.hgetall(engine.keys("layout").job("delayed")),
        }
        await engine.claim("layout", "w", 1, NOW + 1, 30_000)  # the priority job goes first
        stored["active"] = await engine.client.hgetall(engine.keys("layout").job("prio"))
        stored["active"].pop("prio")
    finally:
        await engine.close()
    assert stored == JOB_FIELDS_SNAPSHOT, (
        f"a job's hash changed: {BUMP} (JOB_FIELDS_SNAPSHOT). Now:\n{pprint.pformat(stored)}"
    )


def test_the_key_layout_matches_the_snapshot() -> None:
    found = built_keys()
    assert found == KEYS_SNAPSHOT, (
        f"the key layout changed: {BUMP} (KEYS_SNAPSHOT). Every key now:\n"
        f"{pprint.pformat(found, width=100)}"
    )


def test_script_names_and_wire_version_match_the_snapshot() -> None:
    found = {
        "WIRE_VERSION": k.WIRE_VERSION,
        "MIN_COMPAT_VERSION": k.MIN_COMPAT_VERSION,
        "SCRIPT_NAMES": list(SCRIPT_NAMES),
    }
    assert found == WIRE_SNAPSHOT, f"the wire contract changed: {BUMP} (WIRE_SNAPSHOT): {found}"


def test_every_script_header_matches_the_snapshot() -> None:
    found = {name: parse_header(lua_dir() / f"{name}.lua").snapshot() for name in SCRIPT_NAMES}
    assert found == HEADERS_SNAPSHOT, (
        "a script's contract changed: update HEADERS_SNAPSHOT; if the keys it reads or writes, "
        f"or what they hold, changed too, {BUMP}. Every header now:\n"
        f"{pprint.pformat(found, width=100)}"
    )


def built_keys() -> dict[str, str]:
    """Every key keys.py can build, for a sample prefix and task (and the empty prefix)."""
    found: dict[str, str] = {}
    for name, fn in inspect.getmembers(k, inspect.isfunction):
        if fn.__module__ == k.__name__ and list(inspect.signature(fn).parameters) == ["prefix"]:
            for prefix in ("", "app"):
                found[f"{name}({prefix!r})"] = fn(prefix)
    found["worker_key('app', 'h:1:w')"] = k.worker_key("app", "h:1:w")
    found["workflow_key('app', 'w1')"] = k.workflow_key("app", "w1")
    found["schedule_key('app', 'nightly')"] = k.schedule_key("app", "nightly")
    found["leader_lease_key('app', 'taskmanager')"] = k.leader_lease_key("app", "taskmanager")
    for prefix in ("", "app"):
        task = k.TaskKeys(prefix, "send-email")
        label = f"TaskKeys({prefix!r}, 'send-email')"
        for attr in dir(task):
            if attr.startswith("_") or attr in ("prefix", "name"):
                continue
            value = getattr(task, attr)
            if callable(value):
                value, attr = value("j1"), f"{attr}('j1')"
            if prefix or attr in ("tag", "active"):  # the empty prefix: a sample is enough
                found[f"{label}.{attr}"] = value
    return found
