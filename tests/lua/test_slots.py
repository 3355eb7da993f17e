"""Workflow ids chosen so a workflow's hash shares its task's cluster slot (engine/slots.py),
checked against the slot Redis Cluster computes (slots.py, the suite's own CRC16)."""

from __future__ import annotations

import re

from slots import hash_slot

from taskora_cli.engine import keys as k
from taskora_cli.engine.slots import key_slot, shares_slot, tag_slot, workflow_id_in_slot_of


def test_a_workflow_id_made_for_a_task_puts_its_hash_in_that_tasks_slot() -> None:
    for n in range(300):
        task = f"task-{n}"
        workflow = workflow_id_in_slot_of(task)
        assert re.fullmatch(r"[a-z2-7]{16}", workflow), workflow  # a job id's alphabet and size
        wait = k.TaskKeys("app", task).wait
        assert hash_slot(k.workflow_key("app", workflow)) == hash_slot(wait), (task, workflow)
        assert hash_slot(k.workflow_key("", workflow)) == tag_slot(task)
        assert shares_slot(k.workflow_key("app", workflow), wait)


def test_ids_stay_random_and_other_ids_land_anywhere() -> None:
    made = {workflow_id_in_slot_of("send-email") for _ in range(1_000)}
    assert len(made) == 1_000
    others = [f"{n:016d}" for n in range(200)]  # ids of another origin (an older taskora's)
    assert len({hash_slot(k.workflow_key("", w)) for w in others}) > 150
    wait = k.TaskKeys("", "send-email").wait
    assert sum(shares_slot(k.workflow_key("", w), wait) for w in others) <= 2


def test_a_keys_slot_is_read_as_redis_cluster_reads_it() -> None:
    keys = ["plain", "a{b}c", "a{}b{c}", "{}x", "x{y", "x}{y}", "ü{ñ}", "t:{a{b}:c", "{w:x}.{y}"]
    keys += [f"taskora:p{n}:{{task-{n}}}:wait" for n in range(100)]
    for key in keys:
        assert key_slot(key) == hash_slot(key), key
