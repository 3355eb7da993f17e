"""Payload versioning: declaration checks, the verdict per job version, the migration chain."""

from __future__ import annotations

from typing import Any

import pytest

from taskora_cli.errors import UsageError
from taskora_cli.versioning import Versioning, job_version, raisable_since


def add(key: str) -> Any:
    def step(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "trail": [*data.get("trail", []), key]}

    return step


def test_default_is_version_one_accepting_only_itself() -> None:
    v = Versioning.build()
    assert (v.version, v.since, dict(v.steps)) == (1, 1, {})
    assert [v.verdict(n) for n in (1, 2)] == ["run", "too_new"]
    assert v.stamp() == {}


def test_dict_form_runs_steps_above_the_job_version_in_order() -> None:
    v = Versioning.build(version=4, migrate={4: add("to4"), 2: add("to2")})  # sparse: no 3
    assert v.upgrade({}, 1) == {"trail": ["to2", "to4"]}
    assert v.upgrade({}, 2) == {"trail": ["to4"]}
    assert v.upgrade({"x": 1}, 4) == {"x": 1}
    assert v.stamp() == {"v": 4}


def test_list_form_starts_at_since_and_sets_the_version() -> None:
    v = Versioning.build(since=2, migrate=[add("to3"), add("to4")])
    assert (v.version, v.since, sorted(v.steps)) == (4, 2, [3, 4])
    assert v.upgrade({}, 2) == {"trail": ["to3", "to4"]}
    assert [v.verdict(n) for n in (1, 2, 4, 5)] == ["too_old", "run", "run", "too_new"]


def test_level_one_bump_needs_no_migration() -> None:
    assert Versioning.build(version=2).upgrade({"a": 1}, 1) == {"a": 1}


async def _async_step(data: Any) -> Any:
    return data


@pytest.mark.parametrize(
    ("kwargs", "fix"),
    [
        ({"version": 0}, ">= 1"),
        ({"version": "2"}, "must be an int"),
        ({"version": 2, "since": 3}, "must be <= version"),
        ({"version": 3, "migrate": {4: add("x")}}, "raise version= to 4"),
        ({"version": 3, "since": 2, "migrate": {2: add("x")}}, "remove it"),
        ({"version": 2, "migrate": {2: "nope"}}, "must be a function"),
        ({"version": 2, "migrate": {2: _async_step}}, "make it a def"),
        ({"version": 5, "migrate": [add("x")]}, "drop version="),
        ({"migrate": 3}, "must be a dict"),
    ],
)
def test_build_refuses_inconsistent_declarations(kwargs: dict[str, Any], fix: str) -> None:
    with pytest.raises(UsageError, match=fix):
        Versioning.build(**kwargs)


def test_raisable_since_is_the_oldest_version_still_queued() -> None:
    assert raisable_since({2: 5, 3: 142}, since=1, version=3) == 2
    assert raisable_since({}, since=1, version=3) == 3
    assert raisable_since({1: 0, 4: 2}, since=1, version=3) == 3  # empty and too-new ignored
    assert raisable_since({1: 2}, since=2, version=3) == 2  # never lowered


def test_job_version_reads_the_hash_field() -> None:
    assert (job_version(None), job_version("3"), job_version(2)) == (1, 3, 2)
