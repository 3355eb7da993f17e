"""The spec's TaskManager README examples through the Python API, on the real engine in
virtual time: handlers, ctx.emit, logs, both retry levels, the dead-letter predicate,
identical-emit dedup and a 6-field cron repeat."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from taskora_cli import Taskora, UsageError
from taskora_cli.manager import ManagerJob, Sdk, TaskManager
from taskora_cli.testing import TaskRunner

MakeManager = Callable[..., TaskManager]


def test_the_readme_basic_setup_runs_handlers_logs_and_child_jobs(
    make_manager: MakeManager, runner: TaskRunner
) -> None:
    tm = make_manager(
        ctx={"greeting": "hi"}, concurrency=4,
        processor={"retry": {"max_retries": 3, "retry_delay_ms": 1000}, "max_logs_per_task": 2},
    )  # fmt: skip
    children: list[Any] = []

    async def handler(job: ManagerJob, ctx: Any) -> None:
        job.logger("Job started")
        job.logger({"step": "working"})
        ctx.emit(event="child-job", data={"parentId": job.data["id"], "hi": ctx.greeting})
        job.logger("Job completed")

    def child(job: ManagerJob, ctx: Any) -> None:  # a plain handler runs in a thread
        children.append((job.name, job.queue, job.data))

    tm.register_handler(handler, event="my-event", queue="default")
    tm.register_handler(child, {"event": "child-job"})  # the alternate form (R9)
    job_id = tm.emit(event="my-event", data={"id": 1})
    runner.process_all()

    assert children == [("child-job", "default", {"parentId": 1, "hi": "hi"})]
    document = Sdk(tm.app).get_job(job_id, "default")
    assert document is not None and document["status"] == "completed"
    assert document["event"] == "my-event" and document["data"] == {"id": 1}
    # max_logs_per_task=2: the oldest line went first
    assert [line["msg"] for line in document["logs"]] == ['{"step": "working"}', "Job completed"]
    assert tm.get_context()["greeting"] == "hi" and callable(tm.get_context().emit)


def test_init_on_an_app_that_dispatched_already_applies_the_log_cap(
    app: Taskora, make_manager: MakeManager, runner: TaskRunner
) -> None:
    @app.task("warm-up")
    def warm_up(n: int) -> int:
        return n

    warm_up.dispatch(1)  # a producer that dispatched before making its manager: connected
    tm = make_manager(processor={"max_logs_per_task": 2})

    def handler(job: ManagerJob) -> None:
        for line in ("one", "two", "three"):
            job.logger(line)

    tm.register_handler(handler, event="chatty")
    job_id = tm.emit(event="chatty", data={})
    runner.process_all()
    document = Sdk(tm.app).get_job(job_id, "default")
    assert document is not None
    assert [line["msg"] for line in document["logs"]] == ["two", "three"]


def test_one_manager_per_process(make_manager: MakeManager) -> None:
    tm = make_manager(concurrency=2)
    assert make_manager(concurrency=2) is tm is TaskManager.current()
    with pytest.raises(UsageError, match="already called in this process with other options"):
        make_manager(concurrency=3)


def test_handlers_register_before_start_once_per_event(make_manager: MakeManager) -> None:
    tm = make_manager()
    tm.register_handler(lambda job: None, event="once")
    with pytest.raises(UsageError, match="already has a handler"):
        tm.register_handler(lambda job: None, event="once")
    with pytest.raises(UsageError, match="queue 'default', not 'other'"):
        tm.emit(event="once", queue="other")


def failing(seen: list[int]) -> Callable[[ManagerJob], None]:
    def handler(job: ManagerJob) -> None:
        seen.append(job.attempt)
        raise ValueError(str(job.data.get("why", "network")))

    return handler


@pytest.mark.parametrize(
    ("max_retries", "attempts", "emit_options", "data", "runs", "status"),
    [
        (5, 3, None, {}, 4, "failed"),  # R41: maxRetries 5 + attempts 3 = 3 retries
        (0, 3, None, {}, 1, "failed"),  # the processor's switch is off
        (5, 3, {"retry_count": 1}, {}, 2, "failed"),  # the emit's budget wins
        (5, 3, None, {"why": "validation"}, 1, "failed"),  # should_retry said no
    ],
)
def test_both_retry_levels_on_the_engine(
    make_manager: MakeManager,
    runner: TaskRunner,
    max_retries: int,
    attempts: int,
    emit_options: dict[str, Any] | None,
    data: dict[str, Any],
    runs: int,
    status: str,
) -> None:
    retry = {"max_retries": max_retries, "retry_delay_ms": 5000,
             "should_retry": lambda error, attempt: "validation" not in str(error)}  # fmt: skip
    tm = make_manager(processor={"retry": retry})
    seen: list[int] = []
    tm.register_handler(failing(seen), event="flaky", options={"attempts": attempts})
    job_id = tm.emit(event="flaky", data=data, options=emit_options)
    runner.advance("1m")
    assert seen == list(range(1, runs + 1))
    document = Sdk(tm.app).get_job(job_id, "default")
    assert document is not None and document["status"] == status
    assert document["attempts"] == runs


def test_the_dead_letter_predicate_keeps_some_failures_and_cancels_the_rest(
    make_manager: MakeManager, runner: TaskRunner
) -> None:
    calls: list[tuple[str, str, int]] = []

    def keep(job: dict[str, Any], error: BaseException, attempts: int) -> bool:
        calls.append((job["event"], str(error), attempts))
        return attempts >= 3

    dlq = {"stream_key": "remq-dlq", "should_send_to_dlq": keep}
    tm = make_manager(processor={"retry": {"max_retries": 3, "retry_delay_ms": 10}, "dlq": dlq})
    tm.register_handler(failing([]), event="tries", options={"attempts": 2})
    tm.register_handler(failing([]), event="once")
    kept, dropped = tm.emit(event="tries"), tm.emit(event="once")
    runner.advance("1s")

    assert sorted(calls) == [("once", "network", 1), ("tries", "network", 3)]
    sdk = Sdk(tm.app)
    assert sdk.get_job(kept, "default")["status"] == "failed"  # type: ignore[index]
    gone = sdk.get_job(dropped, "default")
    assert gone is not None and gone["status"] == "cancelled"
    assert "not sent to the dead-letter queue: ValueError: network" in gone["cancel_reason"]


def test_an_identical_emit_while_pending_is_the_same_job(
    make_manager: MakeManager, runner: TaskRunner
) -> None:
    tm = make_manager()
    seen: list[Any] = []
    tm.register_handler(lambda job: seen.append(job.data), event="dedup")
    first = tm.emit(event="dedup", data={"user": 1})
    assert tm.emit(event="dedup", data={"user": 1}) == first
    other = tm.emit(event="dedup", data={"user": 2})
    assert other != first
    assert tm.emit(event="dedup", data={}, options={"id": "chosen"}) == "chosen"
    runner.process_all()
    assert sorted(seen, key=str) == [{"user": 1}, {"user": 2}, {}]
    runner.advance("1s")  # a later emit (one in the same ms, same data, is the same call)
    assert tm.emit(event="dedup", data={"user": 1}) == first  # ended: a new run, same id
    runner.process_all()
    assert len(seen) == 4


def test_a_delayed_emit_runs_at_its_time(make_manager: MakeManager, runner: TaskRunner) -> None:
    tm = make_manager()
    seen: list[Any] = []
    tm.register_handler(lambda job: seen.append(job.data), event="later", queue="emails")
    start = datetime.fromtimestamp(runner.clock() / 1000, tz=UTC)
    tm.emit(event="later", data={"n": 1}, options={"delay_until": start + timedelta(minutes=1)})
    runner.advance("59s")
    assert seen == []
    runner.advance("2s")
    assert seen == [{"n": 1}]


def test_a_six_field_cron_repeats_every_30_seconds_in_virtual_time(
    make_manager: MakeManager, runner: TaskRunner
) -> None:
    tm = make_manager()
    ran: list[int] = []
    tm.register_handler(
        lambda job: ran.append(runner.clock()), event="tick", queue="scheduler",
        options={"repeat": {"pattern": "*/30 * * * * *"}},
    )  # fmt: skip
    runner.advance("2m")
    assert 4 <= len(ran) <= 5
    assert all(at % 30_000 == 0 for at in ran)


def test_a_handler_debounce_runs_the_last_emit_once_the_window_passes(
    make_manager: MakeManager, runner: TaskRunner
) -> None:
    tm = make_manager()
    seen: list[Any] = []
    tm.register_handler(
        lambda job: seen.append(job.data), event="typing", options={"debounce": 500}
    )
    for n in range(3):
        tm.emit(event="typing", data={"n": n})
        runner.advance("100ms")
    assert seen == []
    runner.advance("1s")
    assert seen == [{"n": 2}]


def test_an_emit_with_repeat_emits_its_data_on_the_pattern(
    make_manager: MakeManager, runner: TaskRunner
) -> None:
    tm = make_manager()
    seen: list[Any] = []
    tm.register_handler(lambda job: seen.append(job.data), event="digest")
    tm.emit(event="digest", data={"to": "ops"}, options={"repeat": {"pattern": "0 * * * * *"}})
    runner.process_all()
    assert seen == []  # nothing runs now: the schedule emits it
    runner.advance("3m")
    assert seen == [{"to": "ops"}] * 3
