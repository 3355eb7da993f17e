"""`taskora dispatch` flow-control flags end to end: the real entry point and server."""

from __future__ import annotations

import json

import pytest
import redis

from taskora_cli.engine.keys import TaskKeys

from .conftest import Project

pytestmark = pytest.mark.cli_in_process  # `project.taskora` runs in-process


def test_a_duplicate_dispatch_exits_1_names_the_holder_and_prints_its_id(project: Project) -> None:
    first = project.taskora("dispatch", "echo", "--data", '"a"', "--dedup", "report:7")
    assert first.returncode == 0, first.stderr
    holder = first.stdout.strip()
    again = project.taskora("dispatch", "echo", "--data", '"b"', "--dedup", "report:7")
    assert again.returncode == 1
    assert again.stdout.strip() == holder
    assert f"deduplicated: job {holder} holds the key" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    allowed = project.taskora("dispatch", "echo", "--dedup", "report:7", "--allow-reject", "--json")
    assert allowed.returncode == 0
    out = json.loads(allowed.stdout)
    assert (out["enqueued"], out["reason"], out["existing_id"]) == (False, "duplicate", holder)


def test_throttle_accepts_max_then_rejects_with_the_reason_in_json(project: Project) -> None:
    codes = [
        project.taskora("dispatch", "echo", "--throttle", "api=2/1h").returncode for _ in range(3)
    ]
    assert codes == [0, 0, 1]
    rejected = project.taskora("dispatch", "echo", "--throttle", "api=2/1h", "--json")
    assert rejected.returncode == 1
    out = json.loads(rejected.stdout)
    assert (out["enqueued"], out["reason"], out["existing_id"]) == (False, "throttled", None)
    assert out["retry_after"] > 3500
    assert "throttled: the key accepts another in" in rejected.stderr


def test_debounce_replaces_the_pending_job(project: Project, redis_url: str) -> None:
    first = project.taskora("dispatch", "echo", "--data", "1", "--debounce", "doc=1h", "--json")
    second = project.taskora("dispatch", "echo", "--data", "2", "--debounce", "doc=1h", "--json")
    assert first.returncode == second.returncode == 0
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert two["replaced_id"] == one["id"]
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    keys = TaskKeys("", "echo")
    assert client.zrange(keys.delayed, 0, -1) == [two["id"]]
    assert client.hget(keys.job(one["id"]), "state") == "cancelled"
    client.close()


def test_ttl_on_expire_and_concurrency_key_reach_the_job(project: Project, redis_url: str) -> None:
    done = project.taskora(
        "dispatch", "echo", "--ttl", "10m", "--on-expire", "discard",
        "--concurrency-key", "user:7=3",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    keys = TaskKeys("", "echo")
    job = client.hgetall(keys.job(done.stdout.strip()))
    client.close()
    assert job["on_expire"] == "discard"
    assert (job["conc"], job["conc_max"]) == (keys.concurrency("user:7"), "3")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--throttle", "api=lots/1m"], "--throttle 'api=lots/1m': expected KEY=MAX/WINDOW"),
        (["--throttle", "api=5"], "--throttle 'api=5': expected KEY=MAX/WINDOW"),
        (["--debounce", "doc"], "--debounce 'doc': expected KEY=DELAY"),
        (["--debounce", "doc=soon"], "--debounce: 'soon' is not a positive duration"),
        (["--concurrency-key", "u=0"], "LIMIT must be a whole number >= 1"),
        (["--on-expire", "discard"], "--on-expire only applies with --ttl"),
        (["--dedup", "a", "--throttle", "a=1/1s"], "--throttle and --dedup cannot be combined"),
        (["--dedup", "a", "--dedup-while", "done"], "unknown state(s) ['done']"),
    ],
)
def test_bad_flow_flags_exit_2_with_one_line(
    project: Project, args: list[str], message: str
) -> None:
    done = project.taskora("dispatch", "echo", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
