"""JobState names exactly the states the Lua scripts write to a job's hash."""

import re
from pathlib import Path

from taskora_cli.job_state import (
    DEDUP_STATES,
    LISTED_STATES,
    RETRYABLE_STATES,
    TERMINAL_STATES,
    JobState,
)

LUA = Path(__file__).parents[2] / "lua"


def test_job_state_has_one_member_per_state_the_scripts_write() -> None:
    written = {"waiting"}  # a waiting job stores no state: the one state no script writes
    for script in LUA.rglob("*.lua"):
        if "workflow" in script.name:  # a workflow's hash holds workflow states, not job ones
            continue
        written |= set(re.findall(r'"HSET", [^)]*"state", "([a-z]+)"', script.read_text()))
    assert written == {state.value for state in JobState}


def test_every_state_but_retrying_is_listed_once_and_the_groups_are_listed_states() -> None:
    assert sorted(LISTED_STATES) == sorted(set(JobState) - {JobState.RETRYING})
    assert {*TERMINAL_STATES, *RETRYABLE_STATES, *DEDUP_STATES} <= set(LISTED_STATES)


def test_a_state_is_its_wire_string() -> None:
    assert JobState.COMPLETED == "completed"
    assert f"{JobState.FAILED}" == "failed"
    assert "expired" in TERMINAL_STATES
