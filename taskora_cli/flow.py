"""Dispatch-time flow control: TTL, deduplicate, throttle, debounce, concurrency keys.

Users pass plain dicts (``throttle={"key": "stripe", "max": 100, "window": "1m"}``); this
module checks them once, before any server I/O, and turns them into small frozen records with
durations in milliseconds. Errors are UsageErrors naming the option and the fix.

The records are NamedTuples: every command that imports tasks builds these classes, and a
dataclass costs half a millisecond of start-up each (CollectInfo, public, stays one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from .durations import Duration, to_ms
from .errors import UsageError
from .job_state import DEDUP_STATES

ON_EXPIRE = ("fail", "discard")


class Ttl(NamedTuple):
    """How long a job may wait for its first start, and what happens when it did not."""

    max_ms: int
    on_expire: str = "fail"


class Deduplicate(NamedTuple):
    """While a job holding ``key`` is in one of ``states``, a dispatch with the key is a no-op."""

    key: str
    states: tuple[str, ...] = DEDUP_STATES


class Throttle(NamedTuple):
    """At most ``max`` dispatches with ``key`` are accepted in any ``window_ms`` span."""

    key: str
    max: int
    window_ms: int


class Debounce(NamedTuple):
    """A dispatch with ``key`` replaces the pending one; it runs ``delay_ms`` after the last."""

    key: str
    delay_ms: int


FlowControl = Deduplicate | Throttle | Debounce


class Collect(NamedTuple):
    """Dispatches accumulate per key; the handler gets the list. A batch flushes ``delay_ms``
    after its newest item, at ``max_size`` items, or ``max_wait_ms`` after its oldest item,
    whichever comes first (0 = that trigger is off)."""

    key: str | Callable[[Any], str]
    delay_ms: int
    max_size: int = 0
    max_wait_ms: int = 0

    def key_for(self, data: Any) -> str:
        """The buffer key of one item (``key`` may be a function of the item)."""
        key = self.key(data) if callable(self.key) else self.key
        if not isinstance(key, str) or not key:
            raise UsageError(f"collect key must be a non-empty string, got {key!r}")
        return key


@dataclass(frozen=True, slots=True)
class CollectInfo:
    """A collect buffer at a glance: how many items, and when the oldest and newest came
    (epoch ms)."""

    count: int
    oldest_at_ms: int
    newest_at_ms: int


def parse_collect(value: Mapping[str, Any] | None) -> Collect | None:
    """``{"key": ..., "delay": "5s", "max_size": 100, "max_wait": "30s"}`` -> Collect."""
    if value is None:
        return None
    example = '{"key": "inserts", "delay": "2s", "max_size": 100, "max_wait": "10s"}'
    _only_keys(value, {"key", "delay", "max_size", "max_wait"}, "collect", example=example)
    key = _required(value, "key", "collect")
    if not callable(key) and (not isinstance(key, str) or not key):
        raise UsageError(f"collect key must be a non-empty string or a function, got {key!r}")
    delay_ms = to_ms(_required(value, "delay", "collect"), what="collect delay")
    if delay_ms <= 0:
        raise UsageError("collect delay must be longer than 0")
    max_size = value.get("max_size") or 0
    if type(max_size) is not int or max_size < 0:
        raise UsageError(f"collect max_size must be an int >= 1, got {max_size!r}")
    wait = value.get("max_wait")
    max_wait_ms = 0 if wait is None else to_ms(wait, what="collect max_wait")
    return Collect(key, delay_ms, max_size, max_wait_ms)


def parse_ttl(value: Duration | Mapping[str, Any] | None, *, what: str = "ttl") -> Ttl | None:
    """``"1h"`` / 3600 / ``{"max": "1h", "on_expire": "fail" | "discard"}`` -> Ttl."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        _only_keys(value, {"max", "on_expire"}, what)
        if "max" not in value:
            raise UsageError(f'{what} needs "max", e.g. {{"max": "1h", "on_expire": "discard"}}')
        on_expire = value.get("on_expire", "fail")
        if on_expire not in ON_EXPIRE:
            raise UsageError(f'{what}: on_expire must be "fail" or "discard", got {on_expire!r}')
        ttl = Ttl(to_ms(value["max"], what=f"{what} max"), on_expire)
    else:
        ttl = Ttl(to_ms(value, what=what))
    if ttl.max_ms <= 0:
        raise UsageError(f"{what} must be longer than 0 (omit it for jobs that never expire)")
    return ttl


def merge_ttl(task_ttl: Ttl | None, dispatch_ttl: Ttl | None, raw: object) -> Ttl | None:
    """A dispatch's ttl overrides the task's; a bare duration keeps the task's on_expire."""
    if dispatch_ttl is None:
        return task_ttl
    if task_ttl is not None and not isinstance(raw, Mapping):
        return Ttl(dispatch_ttl.max_ms, task_ttl.on_expire)
    return dispatch_ttl


def check_concurrency_options(singleton: bool, concurrency_limit: int | None) -> None:
    """A task's ``singleton`` / ``concurrency_limit`` options, checked together."""
    if concurrency_limit is not None and (
        type(concurrency_limit) is not int or concurrency_limit < 1
    ):
        raise UsageError(f"concurrency_limit must be an int >= 1, got {concurrency_limit!r}")
    if singleton and concurrency_limit is not None:
        raise UsageError(
            "singleton=True already limits the task to one active job: drop "
            "concurrency_limit, or use it without singleton"
        )


def parse_flow(
    debounce: Mapping[str, Any] | None,
    throttle: Mapping[str, Any] | None,
    deduplicate: Mapping[str, Any] | None,
) -> FlowControl | None:
    """Check the flow-control options of one dispatch; at most one may be given."""
    given = [
        name
        for name, value in (
            ("debounce", debounce),
            ("throttle", throttle),
            ("deduplicate", deduplicate),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise UsageError(
            f"{' and '.join(given)} cannot be combined in one dispatch: flow-control options "
            "are mutually exclusive; pick one"
        )
    if debounce is not None:
        return _debounce(debounce)
    if throttle is not None:
        return _throttle(throttle)
    if deduplicate is not None:
        return _deduplicate(deduplicate)
    return None


def _debounce(value: Mapping[str, Any]) -> Debounce:
    _only_keys(value, {"key", "delay"}, "debounce", example='{"key": "doc:1", "delay": "2s"}')
    delay_ms = to_ms(_required(value, "delay", "debounce"), what="debounce delay")
    if delay_ms <= 0:
        raise UsageError("debounce delay must be longer than 0")
    return Debounce(_key(value, "debounce"), delay_ms)


def _throttle(value: Mapping[str, Any]) -> Throttle:
    example = '{"key": "stripe", "max": 100, "window": "1m"}'
    _only_keys(value, {"key", "max", "window"}, "throttle", example=example)
    limit = _required(value, "max", "throttle")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise UsageError(f"throttle max must be an int >= 1, got {limit!r}")
    window_ms = to_ms(_required(value, "window", "throttle"), what="throttle window")
    if window_ms <= 0:
        raise UsageError("throttle window must be longer than 0")
    return Throttle(_key(value, "throttle"), limit, window_ms)


def _deduplicate(value: Mapping[str, Any]) -> Deduplicate:
    example = '{"key": "report:7", "while": ["waiting", "active"]}'
    _only_keys(value, {"key", "while"}, "deduplicate", example=example)
    states = value.get("while", DEDUP_STATES)
    if isinstance(states, str) or not isinstance(states, Sequence) or not states:
        raise UsageError(f"deduplicate while must be a non-empty list of states, got {states!r}")
    bad = [s for s in states if s not in DEDUP_STATES]
    if bad:
        raise UsageError(
            f"deduplicate while: unknown state(s) {bad}; choose from {list(map(str, DEDUP_STATES))}"
        )
    return Deduplicate(_key(value, "deduplicate"), tuple(dict.fromkeys(states)))


def _key(value: Mapping[str, Any], what: str) -> str:
    key = _required(value, "key", what)
    if not isinstance(key, str) or not key:
        raise UsageError(f"{what} key must be a non-empty string, got {key!r}")
    return key


def _required(value: Mapping[str, Any], name: str, what: str) -> Any:
    if name not in value:
        raise UsageError(f'{what} needs "{name}"')
    return value[name]


def _only_keys(value: Mapping[str, Any], allowed: set[str], what: str, example: str = "") -> None:
    if not isinstance(value, Mapping):
        raise UsageError(f"{what} must be a dict, e.g. {example}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        hint = f", e.g. {example}" if example else ""
        raise UsageError(f"{what}: unknown option(s) {unknown}; known: {sorted(allowed)}{hint}")
