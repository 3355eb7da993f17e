"""The wire contract: script files, their headers, the engine's calls and the key layout.

Scripts and the Python that calls them ship together, so a script's ARGV is private to one
taskora version; the keys and what they hold are shared by every version on a server. The
snapshots below make any change to either visible in review: a changed key layout needs a
WIRE_VERSION bump, a changed script contract an updated snapshot.
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

from taskora_cli.engine import dead
from taskora_cli.engine import keys as k
from taskora_cli.engine import schedules as es
from taskora_cli.engine.engine import Engine
from taskora_cli.engine.records import Ack, Failure, NewJob, Retention
from taskora_cli.engine.scripts import SCRIPT_NAMES, lua_dir

ENGINE_SOURCE = Path(inspect.getfile(Engine))
DEAD_SOURCE = Path(inspect.getfile(dead))
SCHEDULES_SOURCE = Path(inspect.getfile(es))
REDIS_TYPES = {"STRING", "LIST", "SET", "ZSET", "HASH", "STREAM"}
BUMP = "bump WIRE_VERSION and update the snapshot"
NOW = 1_700_000_000_000

# -- snapshots: change only together with the code, and read the message first ------------

WIRE_SNAPSHOT: dict[str, Any] = {
    "WIRE_VERSION": 1,
    "MIN_COMPAT_VERSION": 1,
    "SCRIPT_NAMES": [
        "handshake",
        "enqueue",
        "enqueue_delayed",
        "enqueue_bulk",
        "claim",
        "ack_and_claim",
        "fail_and_claim",
        "extend_lock",
        "nack",
        "stall_sweep",
        "release_worker",
        "cancel",
        "retry_dead",
        "purge_dead",
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
    ],
}

KEYS_SNAPSHOT = {
    "base('')": "taskora",
    "base('app')": "taskora:app",
    "meta_key('')": "taskora:{_global}:meta",
    "meta_key('app')": "taskora:app:{_global}:meta",
    "task_registry_key('')": "taskora:{_global}:tasks",
    "task_registry_key('app')": "taskora:app:{_global}:tasks",
    "workers_key('')": "taskora:{_global}:workers",
    "workers_key('app')": "taskora:app:{_global}:workers",
    "worker_key('app', 'h:1:w')": "taskora:app:{_global}:worker:h:1:w",
    "schedule_due_key('')": "taskora:{_schedules}:due",
    "schedule_due_key('app')": "taskora:app:{_schedules}:due",
    "schedule_key('app', 'nightly')": "taskora:app:{_schedules}:s:nightly",
    "schedule_names_key('')": "taskora:{_schedules}:names",
    "schedule_names_key('app')": "taskora:app:{_schedules}:names",
    "scheduler_lease_key('')": "taskora:{_schedules}:lease",
    "scheduler_lease_key('app')": "taskora:app:{_schedules}:lease",
    "TaskKeys('', 'send-email').active": "taskora:{send-email}:active",
    "TaskKeys('', 'send-email').tag": "taskora:{send-email}:",
    "TaskKeys('app', 'send-email').active": "taskora:app:{send-email}:active",
    "TaskKeys('app', 'send-email').cancel_channel": "taskora:app:{send-email}:cancel",
    "TaskKeys('app', 'send-email').cancelled": "taskora:app:{send-email}:cancelled",
    "TaskKeys('app', 'send-email').completed": "taskora:app:{send-email}:completed",
    "TaskKeys('app', 'send-email').delayed": "taskora:app:{send-email}:delayed",
    "TaskKeys('app', 'send-email').events": "taskora:app:{send-email}:events",
    "TaskKeys('app', 'send-email').expired": "taskora:app:{send-email}:expired",
    "TaskKeys('app', 'send-email').failed": "taskora:app:{send-email}:failed",
    "TaskKeys('app', 'send-email').job('j1')": "taskora:app:{send-email}:j:j1",
    "TaskKeys('app', 'send-email').logs('j1')": "taskora:app:{send-email}:j:j1:logs",
    "TaskKeys('app', 'send-email').marker": "taskora:app:{send-email}:marker",
    "TaskKeys('app', 'send-email').prioritized": "taskora:app:{send-email}:prio",
    "TaskKeys('app', 'send-email').seq": "taskora:app:{send-email}:seq",
    "TaskKeys('app', 'send-email').sweep": "taskora:app:{send-email}:sweep",
    "TaskKeys('app', 'send-email').tag": "taskora:app:{send-email}:",
    "TaskKeys('app', 'send-email').wait": "taskora:app:{send-email}:wait",
}

HEADERS_SNAPSHOT = {
    "cancel": {
        "KEYS": ["wait LIST", "prio ZSET", "delayed ZSET", "events STREAM", "cancelled ZSET"],
        "ARGV": ["tag", "id", "now_ms", "reason", "channel"],
    },
    "ack_and_claim": {
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
        ],
        "ARGV": [
            "tag",
            "now_ms",
            "lock_ttl_ms",
            "worker",
            "count",
            "promote_limit",
            "max_age_ms",
            "max_items",
            "acks",
            "per finished job: id, token, result",
        ],
    },
    "claim": {
        "KEYS": [
            "wait LIST",
            "prio ZSET",
            "delayed ZSET",
            "active ZSET",
            "events STREAM",
            "marker ZSET",
            "expired ZSET",
        ],
        "ARGV": ["tag", "now_ms", "lock_ttl_ms", "worker", "count", "promote_limit"],
    },
    "enqueue": {
        "KEYS": ["wait LIST", "prio ZSET", "events STREAM", "marker ZSET"],
        "ARGV": ["tag", "id", "data", "now_ms", "priority", "expire_at_ms"],
    },
    "enqueue_bulk": {
        "KEYS": ["wait LIST", "prio ZSET", "delayed ZSET", "events STREAM", "marker ZSET"],
        "ARGV": ["tag", "now_ms", "per job: id, data, priority, run_at_ms, expire_at_ms"],
    },
    "enqueue_delayed": {
        "KEYS": ["delayed ZSET", "events STREAM", "marker ZSET"],
        "ARGV": ["tag", "id", "data", "now_ms", "priority", "run_at_ms", "expire_at_ms"],
    },
    "extend_lock": {
        "KEYS": ["active ZSET"],
        "ARGV": ["tag", "now_ms", "lock_ttl_ms", "per job: id, token"],
    },
    "fail_and_claim": {
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
        ],
        "ARGV": [
            "tag",
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
        ],
    },
    "handshake": {
        "KEYS": ["meta HASH"],
        "ARGV": ["wire_version", "min_compat", "written_by", "now_ms"],
    },
    "nack": {
        "KEYS": [
            "wait LIST",
            "prio ZSET",
            "active ZSET",
            "events STREAM",
            "marker ZSET",
            "cancelled ZSET",
        ],
        "ARGV": ["tag", "now_ms", "per job: id, token"],
    },
    "purge_dead": {
        "KEYS": ["failed ZSET", "events STREAM"],
        "ARGV": ["tag", "per job: id"],
    },
    "release_worker": {
        "KEYS": ["active ZSET", "sweep STRING"],
        "ARGV": ["tag", "worker"],
    },
    "retry_dead": {
        "KEYS": ["wait LIST", "prio ZSET", "failed ZSET", "events STREAM", "marker ZSET"],
        "ARGV": ["tag", "now_ms", "per job: id"],
    },
    "stall_sweep": {
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
        ],
        "ARGV": [
            "tag",
            "now_ms",
            "interval_ms",
            "max_stalls",
            "limit",
            "completed_max_age_ms",
            "completed_max_items",
            "failed_max_age_ms",
            "failed_max_items",
        ],
    },
    "scheduler_tick": {
        "KEYS": ["lease HASH", "due ZSET"],
        "ARGV": ["token", "now_ms", "lease_ms", "limit"],
    },
    "scheduler_release": {"KEYS": ["lease HASH"], "ARGV": ["token"]},
    "schedule_register": {
        "KEYS": ["schedule HASH", "due ZSET", "names SET"],
        "ARGV": ["name", "def", "timing", "first_ms", "now_ms"],
    },
    "schedule_claim": {
        "KEYS": ["schedule HASH", "due ZSET"],
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
    },
    "schedule_settle": {"KEYS": ["schedule HASH", "due ZSET"], "ARGV": ["name", "job_id"]},
    "schedule_skip": {
        "KEYS": ["schedule HASH", "due ZSET"],
        "ARGV": ["name", "rev", "expected_next", "next_ms", "skipped", "now_ms"],
    },
    "schedule_pause": {"KEYS": ["schedule HASH", "due ZSET"], "ARGV": ["name", "now_ms"]},
    "schedule_resume": {
        "KEYS": ["schedule HASH", "due ZSET"],
        "ARGV": ["name", "expected_next", "next_ms"],
    },
    "schedule_remove": {"KEYS": ["schedule HASH", "due ZSET", "names SET"], "ARGV": ["name"]},
    "schedule_triggered": {"KEYS": ["schedule HASH"], "ARGV": ["job_id", "task", "now_ms"]},
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
    called = set(re.findall(r'self\._run\(\s*"(\w+)"', ENGINE_SOURCE.read_text()))
    for source in (DEAD_SOURCE, SCHEDULES_SOURCE):
        called |= set(re.findall(r'engine\._run\(\s*"(\w+)"', source.read_text()))
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
    original = Engine._run

    async def recording(self: Engine, name: str, keys: Any, args: Any) -> Any:
        calls.append((name, len(keys), len(args)))
        return await original(self, name, keys, args)

    monkeypatch.setattr(Engine, "_run", recording)
    engine = Engine(redis_url, "contract")
    try:
        await exercise(engine)
    finally:
        await engine.close()

    assert {name for name, _, _ in calls} == set(SCRIPT_NAMES), (
        "exercise() must call every script: add the new ones to it"
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
    await engine.enqueue(task, NewJob("a", "{}"), now)
    await engine.enqueue(task, NewJob("d", "{}", run_at_ms=now + 10), now)
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
    await engine.nack(task, [(job.id, job.token) for job in again], now + 80)
    await engine.release_worker(task, "w1")
    await engine.stall_sweep(task, now + 90, 1000, 1, retention=keep)
    await engine.cancel(task, "d", "", now + 95)
    await dead.retry_dead(engine, task, ["a"], now + 100)
    await dead.retry_dead(engine, task, ["a", "b"], now + 100)
    await dead.purge_dead(engine, task, ["a"])
    await dead.purge_dead(engine, task, ["a", "b"])
    await es.tick(engine, "w1", now, ttl, 10)
    await es.register(engine, "s", '{"task":"contract"}', "every 1000", now + 1000, now)
    fire = es.Fire(now + 1000, now + 2000, "s@1", task, '{"id":"s@1"}', 0)
    await es.claim(engine, "s", "1", now + 1000, fire, now + 1000)
    await es.settle(engine, "s", "s@1")
    await es.skip(engine, "s", "1", now + 2000, now + 3000, 1, now + 2000)
    await es.pause(engine, "s", now)
    await es.resume(engine, "s", now + 3000, now + 4000)
    await es.triggered(engine, "s", "t1", task, now)
    await es.remove(engine, "s")
    await es.release(engine, "w1")


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
    found["schedule_key('app', 'nightly')"] = k.schedule_key("app", "nightly")
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
