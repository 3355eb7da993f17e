"""Each Sdk method on the real engine, the per-job paused state included.

Once the runner has run jobs its worker keeps claiming in the background, so the jobs whose
state a test pins belong to "held", an event no handler here serves (a producer's emit)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from taskora_cli import UsageError
from taskora_cli.manager import ManagerJob, Sdk, TaskManager
from taskora_cli.testing import TaskRunner

MakeManager = Callable[..., TaskManager]


@pytest.fixture
def tm(make_manager: MakeManager) -> TaskManager:
    manager = make_manager()
    manager.register_handler(lambda job: job.data, event="send", queue="emails")
    manager.register_handler(lambda job: None, event="report", queue="scheduler")

    def fail(job: ManagerJob) -> None:
        raise RuntimeError("boom")

    manager.register_handler(fail, event="broken", queue="emails")
    return manager


def statuses(sdk: Sdk, queue: str, state: str | None = None) -> list[tuple[str, str]]:
    return [(d["event"], d["status"]) for d in sdk.list_jobs(queue=queue, state=state)]


def test_reading_listing_and_counting(tm: TaskManager, runner: TaskRunner) -> None:
    sdk = Sdk(tm.app)
    done = tm.emit(event="send", data={"to": "a"})
    dead = tm.emit(event="broken")
    runner.process_all()
    waiting = [tm.emit(event="held", queue="emails", data={"to": n}) for n in "bcd"]

    document = sdk.get_job(done, "emails")
    assert document is not None
    assert {k: document[k] for k in ("id", "queue", "event", "status", "data", "attempts")} == {
        "id": done, "queue": "emails", "event": "send", "status": "completed",
        "data": {"to": "a"}, "attempts": 1,
    }  # fmt: skip
    assert document["logs"] == [] and document["result"] == {"to": "a"}
    assert sdk.get_job(done, "scheduler") is None  # found within its queue only
    assert sdk.get_job("nope", "emails") is None

    assert [d["id"] for d in sdk.list_jobs(queue="emails", state="waiting")] == waiting
    page = sdk.list_jobs(queue="emails", state="waiting", offset=1, limit=1)
    assert [d["id"] for d in page] == waiting[1:2]
    assert statuses(sdk, "emails", "failed") == [("broken", "failed")]
    assert sdk.get_job(dead, "emails")["error"]["message"] == "boom"  # type: ignore[index]
    with pytest.raises(UsageError, match="unknown state"):
        sdk.list_jobs(state="nope")

    stats = sdk.get_queue_stats("emails")
    assert (stats["waiting"], stats["completed"], stats["failed"], stats["paused"]) == (3, 1, 1, 0)
    assert {"emails", "scheduler"} <= set(sdk.get_queues())
    info = {q["name"]: q for q in sdk.get_queues_info()}
    assert info["emails"]["events"] == ["broken", "held", "send"]
    assert info["emails"]["waiting"] == 3


def test_delete_retry_and_cancel(tm: TaskManager, runner: TaskRunner) -> None:
    sdk = Sdk(tm.app)
    queued = tm.emit(event="held", queue="emails", data={"to": "x"})
    gone = tm.emit(event="held", queue="emails", data={"to": "y"})

    with pytest.raises(UsageError, match="only failed, cancelled or expired"):
        sdk.retry_job(queued, "emails")
    assert sdk.cancel_job(queued, "emails") is True
    assert sdk.get_job(queued, "emails")["status"] == "cancelled"  # type: ignore[index]
    assert sdk.cancel_job(queued, "emails") is False  # ended already
    retried = sdk.retry_job(queued, "emails")
    assert retried is not None and retried["status"] == "waiting"
    assert sdk.delete_job(gone, "emails") is True
    assert sdk.get_job(gone, "emails") is None
    assert sdk.delete_job(gone, "emails") is False


def test_queue_pause_and_resume(tm: TaskManager, runner: TaskRunner) -> None:
    sdk = Sdk(tm.app)
    sdk.pause_queue("emails")
    assert sdk.is_queue_paused("emails") and tm.is_queue_paused("emails")
    assert not sdk.is_queue_paused("scheduler")
    job_id = tm.emit(event="send", data={"to": "p"})  # emits still work
    runner.process_all()
    assert sdk.get_job(job_id, "emails")["status"] == "waiting"  # type: ignore[index]
    tm.resume_queue("emails")
    assert not sdk.is_queue_paused("emails")
    deadline = time.monotonic() + 10  # workers see a resume within a control tick
    while sdk.get_job(job_id, "emails")["status"] != "completed":  # type: ignore[index]
        assert time.monotonic() < deadline, "the resumed queue's job never ran"
        runner.process_all()
        time.sleep(0.05)


def test_pause_job_keeps_a_job_from_running_until_resumed(
    tm: TaskManager, runner: TaskRunner
) -> None:
    sdk = Sdk(tm.app)
    first, second = (tm.emit(event="send", data={"n": n}) for n in (1, 2))
    later = tm.emit(event="send", data={"n": 3}, options={"delay_until": _in(runner, 60)})
    paused: dict[str, Any] | None = sdk.pause_job(first, "emails")
    assert paused is not None and paused["status"] == "paused"
    assert sdk.pause_job(later, "emails")["status"] == "paused"  # type: ignore[index]
    assert sdk.get_queue_stats("emails")["paused"] == 2
    assert {j.id for j in tm.app.inspect().jobs("send", "paused")} == {first, later}

    runner.advance("2m")  # neither runs while paused, not even the one now due
    assert sdk.get_job(second, "emails")["status"] == "completed"  # type: ignore[index]
    assert sdk.get_job(first, "emails")["status"] == "paused"  # type: ignore[index]
    with pytest.raises(UsageError, match="only waiting, delayed or retrying"):
        sdk.pause_job(second, "emails")
    sdk.resume_job(first, "emails")
    sdk.resume_job(later, "emails")
    runner.process_all()
    assert sdk.get_queue_stats("emails")["completed"] == 3


def test_a_job_resumes_in_the_state_it_was_paused_in(tm: TaskManager, runner: TaskRunner) -> None:
    sdk = Sdk(tm.app)
    now = tm.emit(event="held", queue="emails", data={"n": 1})
    later = tm.emit(
        event="held", queue="emails", data={"n": 2}, options={"delay_until": _in(runner, 3600)}
    )
    assert sdk.pause_job(now, "emails")["status"] == "paused"  # type: ignore[index]
    assert sdk.pause_job(now, "emails")["status"] == "paused"  # type: ignore[index]
    assert sdk.pause_job(later, "emails")["status"] == "paused"  # type: ignore[index]
    assert sdk.pause_job("nope", "emails") is None
    assert sdk.list_jobs(queue="emails", state="waiting") == []
    assert sdk.resume_job(now, "emails")["status"] == "waiting"  # type: ignore[index]
    assert sdk.resume_job(now, "emails")["status"] == "waiting"  # not paused: unchanged
    back = sdk.resume_job(later, "emails")
    assert back is not None and back["status"] == "delayed"
    assert back["run_at"] is not None  # still due at its own time
    assert [d["id"] for d in sdk.list_jobs(queue="emails", state="waiting")] == [now]


def test_a_paused_job_can_be_cancelled_and_deleted(tm: TaskManager, runner: TaskRunner) -> None:
    sdk = Sdk(tm.app)
    one, two = (tm.emit(event="held", queue="emails", data={"n": n}) for n in (1, 2))
    sdk.pause_job(one, "emails")
    sdk.pause_job(two, "emails")
    assert sdk.cancel_job(one, "emails") is True
    assert sdk.delete_job(two, "emails") is True
    assert sdk.get_queue_stats("emails")["paused"] == 0


def _in(runner: TaskRunner, seconds: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(runner.clock() / 1000 + seconds, tz=UTC)


def test_a_job_waiting_to_be_retried_resumes_retrying(
    make_manager: MakeManager, runner: TaskRunner
) -> None:
    tm = make_manager(processor={"retry": {"max_retries": 1, "retry_delay_ms": 3_600_000}})

    def fail(job: ManagerJob) -> None:
        raise RuntimeError("later")

    tm.register_handler(fail, event="again", options={"attempts": 1})
    job_id = tm.emit(event="again")
    runner.process_all()
    sdk = Sdk(tm.app)
    assert sdk.get_job(job_id, "default")["status"] == "retrying"  # type: ignore[index]
    assert sdk.pause_job(job_id, "default")["status"] == "paused"  # type: ignore[index]
    back = sdk.resume_job(job_id, "default")
    assert back is not None and back["status"] == "retrying" and back["attempts"] == 1
    runner.advance("2h")
    assert sdk.get_job(job_id, "default")["status"] == "failed"  # type: ignore[index]
