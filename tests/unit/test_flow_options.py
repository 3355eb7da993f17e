"""Parsing the flow-control options: the records they become and the errors they raise."""

from __future__ import annotations

from typing import Any

import pytest

from taskora_cli.errors import UsageError
from taskora_cli.flow import (
    Collect,
    Debounce,
    Deduplicate,
    Throttle,
    Ttl,
    merge_ttl,
    parse_collect,
    parse_flow,
    parse_ttl,
)


@pytest.mark.parametrize(
    ("value", "wanted"),
    [
        (None, None),
        ("1h", Ttl(3_600_000)),
        (30, Ttl(30_000)),
        ({"max": "5m", "on_expire": "discard"}, Ttl(300_000, "discard")),
        ({"max": "5m"}, Ttl(300_000, "fail")),
    ],
)
def test_ttl_forms(value: Any, wanted: Ttl | None) -> None:
    assert parse_ttl(value) == wanted


def test_a_bare_dispatch_ttl_keeps_the_tasks_on_expire() -> None:
    task = Ttl(3_600_000, "discard")
    assert merge_ttl(task, parse_ttl("1m"), "1m") == Ttl(60_000, "discard")
    raw = {"max": "1m", "on_expire": "fail"}
    assert merge_ttl(task, parse_ttl(raw), raw) == Ttl(60_000, "fail")
    assert merge_ttl(task, None, None) == task


@pytest.mark.parametrize(
    ("kwargs", "wanted"),
    [
        ({"debounce": {"key": "d", "delay": "2s"}}, Debounce("d", 2000)),
        ({"throttle": {"key": "t", "max": 3, "window": "1m"}}, Throttle("t", 3, 60_000)),
        ({"deduplicate": {"key": "k"}}, Deduplicate("k")),
        (
            {"deduplicate": {"key": "k", "while": ["active", "active"]}},
            Deduplicate("k", ("active",)),
        ),
    ],
)
def test_flow_options_become_records(kwargs: dict[str, Any], wanted: object) -> None:
    options = {"debounce": None, "throttle": None, "deduplicate": None} | kwargs
    assert parse_flow(**options) == wanted


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"debounce": {"key": "d"}}, 'debounce needs "delay"'),
        ({"debounce": {"key": "", "delay": 1}}, "debounce key must be a non-empty string"),
        ({"throttle": {"key": "t", "max": 0, "window": 1}}, "throttle max must be an int >= 1"),
        ({"throttle": {"key": "t", "max": 1, "window": 0}}, "window must be longer than 0"),
        ({"throttle": {"key": "t", "max": 1, "per": 1}}, "unknown option(s) ['per']"),
        ({"deduplicate": {"key": "k", "while": "active"}}, "non-empty list of states"),
        ({"deduplicate": {"key": "k"}, "debounce": {"key": "d", "delay": 1}}, "cannot be combined"),
    ],
)
def test_bad_flow_options_say_what_is_wrong(kwargs: dict[str, Any], message: str) -> None:
    options = {"debounce": None, "throttle": None, "deduplicate": None} | kwargs
    with pytest.raises(UsageError) as caught:
        parse_flow(**options)
    assert message in str(caught.value)


def test_collect_keys_may_be_functions_of_the_item() -> None:
    config = parse_collect({"key": lambda item: f"r:{item['r']}", "delay": "1s", "max_size": 5})
    assert isinstance(config, Collect)
    assert (config.delay_ms, config.max_size, config.max_wait_ms) == (1000, 5, 0)
    assert config.key_for({"r": "eu"}) == "r:eu"
    with pytest.raises(UsageError, match="collect key must be a non-empty string"):
        parse_collect({"key": lambda item: "", "delay": 1}).key_for(None)  # type: ignore[union-attr]
