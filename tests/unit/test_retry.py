"""Retry policy: each backoff, jitter bounds, the max_delay cap, and which errors retry."""

from __future__ import annotations

import random

import pytest

from taskora_cli import Retry, RetryError, TaskTimeoutError, UsageError


def delays(policy: Retry, attempts: int = 6) -> list[int]:
    return [policy.delay_ms(attempt) for attempt in range(1, attempts + 1)]


@pytest.fixture
def fixed_random(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Make the jitter draw whatever the test appends (default: the middle, no spread)."""
    draws: list[float] = []
    monkeypatch.setattr(random, "random", lambda: draws.pop(0) if draws else 0.5)
    return draws


def test_fixed_backoff_waits_the_same_delay_after_every_attempt() -> None:
    assert delays(Retry(backoff="fixed", delay="2s", jitter=False)) == [2000] * 6


def test_linear_backoff_grows_by_the_delay_each_attempt() -> None:
    assert delays(Retry(backoff="linear", delay=1, jitter=False)) == [
        1000,
        2000,
        3000,
        4000,
        5000,
        6000,
    ]


def test_exponential_backoff_doubles_from_the_delay() -> None:
    assert delays(Retry(backoff="exponential", delay="500ms", jitter=False)) == [
        500,
        1000,
        2000,
        4000,
        8000,
        16000,
    ]


def test_exponential_is_the_default_backoff_with_a_one_second_delay() -> None:
    assert delays(Retry(jitter=False), 3) == [1000, 2000, 4000]


def test_a_callable_backoff_gets_the_failed_attempt_and_returns_seconds() -> None:
    seen: list[int] = []

    def backoff(attempt: int) -> float:
        seen.append(attempt)
        return attempt * 0.25

    assert delays(Retry(backoff=backoff, jitter=False), 4) == [250, 500, 750, 1000]
    assert seen == [1, 2, 3, 4]


def test_max_delay_caps_every_backoff() -> None:
    capped = Retry(backoff="exponential", delay=1, max_delay="30s", jitter=False)
    assert delays(capped, 7) == [1000, 2000, 4000, 8000, 16000, 30000, 30000]
    assert delays(Retry(backoff="linear", delay=1, max_delay=2.5, jitter=False), 4) == [
        1000,
        2000,
        2500,
        2500,
    ]
    assert Retry(backoff=lambda _: 3600, max_delay="1m", jitter=False).delay_ms(1) == 60_000


@pytest.mark.parametrize("draw, factor", [(0.0, 0.75), (0.5, 1.0), (0.999999, 1.25)])
def test_jitter_spreads_a_delay_by_a_quarter_either_way(
    fixed_random: list[float], draw: float, factor: float
) -> None:
    fixed_random.append(draw)
    assert Retry(backoff="fixed", delay="1s").delay_ms(1) == round(1000 * factor)


def test_jittered_delays_stay_within_the_bounds_and_do_vary() -> None:
    random.seed(1234)
    policy = Retry(backoff="exponential", delay="1s")
    second = [policy.delay_ms(2) for _ in range(2000)]
    assert all(1500 <= d <= 2500 for d in second)
    assert min(second) < 1600 and max(second) > 2400


def test_max_delay_is_a_hard_cap_even_with_jitter(fixed_random: list[float]) -> None:
    policy = Retry(backoff="exponential", delay="1s", max_delay="10s")
    fixed_random.extend([0.999999, 0.0])
    assert policy.delay_ms(8) == 10_000  # 128 s, jittered up: still 10 s
    assert policy.delay_ms(8) == 10_000  # jittered down from 128 s: 96 s, capped to 10 s
    random.seed(99)
    assert all(policy.delay_ms(n) <= 10_000 for n in range(1, 12) for _ in range(200))


def test_jitter_below_the_cap_still_spreads(fixed_random: list[float]) -> None:
    fixed_random.append(0.0)
    assert Retry(backoff="fixed", delay="4s", max_delay="10s").delay_ms(1) == 3000


def test_a_zero_delay_never_waits() -> None:
    assert delays(Retry(backoff="exponential", delay=0)) == [0] * 6


@pytest.mark.parametrize(
    "options, match",
    [
        ({"attempts": 0}, "attempts"),
        ({"attempts": True}, "attempts"),
        ({"backoff": "quadratic"}, "backoff"),
        ({"delay": -1}, "delay"),
        ({"delay": "soon"}, "delay"),
        ({"max_delay": "forever"}, "max_delay"),
        ({"retry_on": (int,)}, "retry_on"),
    ],
)
def test_a_bad_policy_is_refused_when_it_is_made(options: dict[str, object], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        Retry(**options)  # type: ignore[arg-type]


def test_attempts_count_the_first_one() -> None:
    policy = Retry(attempts=3)
    error = ConnectionError("down")
    assert [policy.should_retry(error, n) for n in (1, 2, 3)] == [True, True, False]
    assert not Retry(attempts=1).should_retry(error, 1)


def test_retry_on_and_no_retry_on_choose_which_errors_retry() -> None:
    only_io = Retry(attempts=5, retry_on=(OSError,))
    assert only_io.should_retry(ConnectionError(), 1)
    assert not only_io.should_retry(ValueError(), 1)
    not_value = Retry(attempts=5, no_retry_on=(ValueError,))
    assert not not_value.should_retry(ValueError(), 1)
    assert not_value.should_retry(KeyError(), 1)


def test_a_timeout_retries_only_when_listed_and_ctx_retry_always_does() -> None:
    timeout = TaskTimeoutError("slow")
    assert not Retry(attempts=5).should_retry(timeout, 1)
    assert Retry(attempts=5, retry_on=(TimeoutError,)).should_retry(timeout, 1)
    explicit = RetryError("again")
    assert Retry(attempts=2, retry_on=(OSError,)).should_retry(explicit, 1)
    assert not Retry(attempts=2).should_retry(explicit, 2)
