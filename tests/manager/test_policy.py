"""The manager's decisions as pure functions: both retry levels (R36-R41), the dead-letter
predicate, default ids, and the options' dict forms and documented mistakes."""

from __future__ import annotations

from typing import Any

import pytest

from taskora_cli import UsageError
from taskora_cli.manager import DlqOptions, EmitOptions, HandlerOptions, ProcessorOptions
from taskora_cli.manager.options import RetryOptions, coerce
from taskora_cli.manager.policy import content_id, retry_budget, send_to_dlq, should_retry


def no_validation(error: BaseException, attempt: int) -> bool:
    return "validation" not in str(error)


@pytest.mark.parametrize(
    ("retries", "max_retries", "error", "attempt", "expected"),
    [
        (3, 5, "network", 1, True),  # both levels allow: retry (R41: 3 retries)
        (3, 5, "network", 3, True),  # the third retry is still left
        (3, 5, "network", 4, False),  # three retries spent
        (0, 5, "network", 1, False),  # the job has no retries
        (3, 0, "network", 1, False),  # the processor's switch is off
        (3, 5, "validation", 1, False),  # should_retry said no
    ],
)
def test_the_two_retry_levels_must_both_allow_then_should_retry_decides(
    retries: int, max_retries: int, error: str, attempt: int, expected: bool
) -> None:
    policy = RetryOptions(max_retries=max_retries, should_retry=no_validation)
    assert should_retry(ValueError(error), attempt, retries, policy) is expected


def test_should_retry_sees_the_error_and_the_attempt() -> None:
    seen: list[tuple[str, int]] = []

    def record(error: BaseException, attempt: int) -> bool:
        seen.append((str(error), attempt))
        return True

    assert should_retry(ValueError("x"), 2, 3, RetryOptions(max_retries=1, should_retry=record))
    assert seen == [("x", 2)]


def test_the_job_budget_is_the_emits_else_the_handlers() -> None:
    handler = HandlerOptions(attempts=3)
    assert retry_budget(EmitOptions(), handler) == 3
    assert retry_budget(EmitOptions(retry_count=1), handler) == 1
    assert retry_budget(EmitOptions(attempts=0), handler) == 0
    assert retry_budget(EmitOptions(), None) == 0


def test_the_dead_letter_predicate() -> None:
    job: dict[str, Any] = {"id": "j"}
    error = ValueError("x")
    at_least_3 = DlqOptions(should_send_to_dlq=lambda _, __, attempts: attempts >= 3)
    assert send_to_dlq(None, job, error, 1)  # no dlq option: taskora keeps every failure
    assert send_to_dlq(DlqOptions(), job, error, 1)
    assert not send_to_dlq(DlqOptions(enabled=False), job, error, 5)
    assert not send_to_dlq(at_least_3, job, error, 2)
    assert send_to_dlq(at_least_3, job, error, 3)


def test_identical_events_and_data_share_an_id() -> None:
    assert content_id("e", {"a": 1, "b": 2}) == content_id("e", {"b": 2, "a": 1})
    assert content_id("e", {"a": 1}) != content_id("e", {"a": 2})
    assert content_id("e", {"a": 1}) != content_id("f", {"a": 1})


def test_options_come_as_dicts_and_the_documented_mistakes_are_refused() -> None:
    processor = coerce(ProcessorOptions, {"retry": {"max_retries": 3}, "dlq": {}}, "processor")
    assert processor.retry.max_retries == 3 and processor.dlq == DlqOptions()
    with pytest.raises(UsageError, match="processor callback"):
        coerce(EmitOptions, {"should_retry": no_validation}, "options")
    with pytest.raises(UsageError, match="per handler"):
        coerce(EmitOptions, {"debounce": 100}, "options")
    with pytest.raises(UsageError, match="give one"):
        EmitOptions(attempts=1, retry_count=1)
    with pytest.raises(UsageError, match="unknown option 'maxRetries'"):
        coerce(RetryOptions, {"maxRetries": 3}, "processor.retry")
