"""The dead-letter queue end to end: real workers fail jobs; list, group, retry, purge."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from servers import raw_client
from support import make_app, until

from taskora_cli import JobFailedError, JobNotFoundError, Taskora, UsageError
from taskora_cli.engine.keys import TaskKeys, task_registry_key

MANY = 10_000


@pytest.fixture
async def app(redis_url: str, tmp_path: Path) -> AsyncIterator[Taskora]:
    made = make_app(redis_url, tmp_path)
    yield made
    await made.aclose()


def define_tasks(app: Taskora, broken: set[str]) -> None:
    @app.task("charge")
    def charge(data: dict[str, Any]) -> str:
        if data["card"] in broken:
            raise ValueError(f"card {data['card']} declined")
        return "charged"

    @app.task("mail")
    async def mail(data: str) -> str:
        if "mail" in broken:
            raise TimeoutError("smtp timed out")
        return f"sent {data}"


async def fail_some(app: Taskora, broken: set[str]) -> dict[str, list[str]]:
    """Dispatch jobs that a real worker fails: 3 declined cards of one kind, 1 of another,
    2 mails; returns the ids by task."""
    charge, mail = app.tasks["charge"], app.tasks["mail"]
    handles = [await charge.adispatch({"card": "visa"}) for _ in range(3)]
    handles.append(await charge.adispatch({"card": "amex"}))
    handles += [await mail.adispatch(f"m{i}") for i in range(2)]
    worker = await app.start()
    try:
        for handle in handles:
            with pytest.raises(JobFailedError):
                await handle.aresult(10)
    finally:
        await worker.stop()
    return {
        "charge": [h.id for h in handles if h.task == "charge"],
        "mail": [h.id for h in handles if h.task == "mail"],
    }


async def test_failed_jobs_are_listed_newest_first_and_grouped_by_error(app: Taskora) -> None:
    broken = {"visa", "amex", "mail"}
    define_tasks(app, broken)
    ids = await fail_some(app, broken)
    dlq = app.dead_letters()

    letters = await dlq.alist()
    assert sorted(letter.id for letter in letters) == sorted(ids["charge"] + ids["mail"])
    assert [letter.failed_at_ms for letter in letters] == sorted(
        (letter.failed_at_ms for letter in letters), reverse=True
    )
    first = next(letter for letter in letters if letter.id == ids["charge"][0])
    assert (first.task, first.attempts, first.error_type) == ("charge", 1, "ValueError")
    assert first.error_message == "card visa declined"
    assert "Traceback" in (first.traceback or "")

    mails = await dlq.alist("mail")
    assert [letter.id for letter in mails] == [x.id for x in letters if x.task == "mail"]
    page = await dlq.alist(offset=1, limit=2)
    assert [letter.id for letter in page] == [letter.id for letter in letters[1:3]]
    assert await dlq.acount() == 6 and await dlq.acount(app.tasks["mail"]) == 2

    groups = [(g.error_type, g.error_message, g.count, g.tasks) for g in await dlq.agroups()]
    assert groups == [
        ("ValueError", "card visa declined", 3, ("charge",)),
        ("TimeoutError", "smtp timed out", 2, ("mail",)),
        ("ValueError", "card amex declined", 1, ("charge",)),
    ]


async def test_a_retried_dead_letter_runs_again_with_a_fresh_attempt_and_completes(
    app: Taskora,
) -> None:
    broken = {"visa", "amex", "mail"}
    define_tasks(app, broken)
    ids = await fail_some(app, broken)
    broken.clear()  # the bug is fixed
    job_id = ids["charge"][0]
    worker = await app.start()
    try:
        retried = await app.dead_letters().aretry(job_id)  # found without naming its task
        assert (retried.task, retried.error_message) == ("charge", "card visa declined")
        assert await app.handle("charge", job_id).aresult(10) == "charged"
    finally:
        await worker.stop()
    engine = await app.connect()
    record = await engine.job("charge", job_id)
    assert record is not None and record.attempt == 1 and record.error is None
    logs = [json.loads(line) for line in await engine.job_logs("charge", job_id)]
    assert logs[-1]["msg"] == "retried from the dead-letter queue"
    assert logs[-1]["fields"]["error"]["message"] == "card visa declined"
    assert len(await app.dead_letters().alist()) == 5


async def test_retrying_a_job_that_is_not_dead_says_why(app: Taskora) -> None:
    broken: set[str] = set()
    define_tasks(app, broken)
    handle = await app.tasks["mail"].adispatch("x")
    with pytest.raises(UsageError, match="is waiting, not a dead letter"):
        await app.dead_letters().aretry(handle.id)
    with pytest.raises(JobNotFoundError, match="no job 'nope' in any task"):
        await app.dead_letters().aretry("nope")
    with pytest.raises(JobNotFoundError, match="in task 'mail'"):
        await app.dead_letters().aretry("nope", "mail")


async def test_retry_all_filters_by_task_error_and_age(app: Taskora) -> None:
    broken = {"visa", "amex", "mail"}
    define_tasks(app, broken)
    ids = await fail_some(app, broken)
    dlq = app.dead_letters()

    dry = await dlq.aretry_all(error_match=r"^ValueError: card visa", dry_run=True)
    assert (dry.matched, dry.done, dry.by_task) == (3, 0, {"charge": 3})
    assert await dlq.acount() == 6
    assert (await dlq.aretry_all(since="1h", error_match="nothing like it")).matched == 0

    done = await dlq.aretry_all("charge", error_match="visa", limit=2)
    assert (done.matched, done.done) == (2, 2)
    again = await dlq.aretry_all("charge", error_match="visa")
    assert (again.matched, again.done) == (1, 1)  # only what is still dead
    engine = await app.connect()
    states = [await engine.job_state("charge", job_id) for job_id in ids["charge"]]
    assert states == ["waiting", "waiting", "waiting", "failed"]
    with pytest.raises(UsageError, match="not a valid regular expression"):
        await dlq.aretry_all(error_match="(")


def seed_dead(url: str, task: str, count: int) -> list[str]:
    """``count`` dead letters written straight into the server (as fail_and_claim leaves them),
    in one pipeline: two kinds of error, and only 20 distinct failure times, so many jobs share
    a score and the bulk walk must page through ties."""
    keys = TaskKeys("", task)
    errors = [
        json.dumps({"type": "ValueError", "message": "bad input", "traceback": "..."}),
        json.dumps({"type": "TimeoutError", "message": "upstream slow", "traceback": "..."}),
    ]
    ids = [f"dead{i:05}" for i in range(count)]
    client = raw_client(url, decode_responses=True)
    try:
        pipe = client.pipeline(transaction=False)
        client.hset(task_registry_key(""), task, "default")
        for i, job_id in enumerate(ids):
            finished = 1_700_000_000_000 + i % 20
            pipe.hset(
                keys.job(job_id),
                mapping={
                    "state": "failed",
                    "t": "1",
                    "1": str(i),
                    "attempt": "3",
                    "finished": str(finished),
                    "error": errors[i % 2],
                },
            )
            pipe.zadd(keys.failed, {job_id: finished})
        pipe.execute()
    finally:
        client.close()
    return ids


async def test_retry_all_of_ten_thousand_dead_jobs_runs_them_all_again(
    app: Taskora, redis_url: str
) -> None:
    seen: set[int] = set()

    @app.task("bulk", concurrency=64)
    async def bulk(n: int) -> int:
        seen.add(n)
        return n

    seed_dead(redis_url, "bulk", MANY)
    dlq = app.dead_letters()
    reports: list[tuple[int, int]] = []

    # an interrupted run (here: a limit), then a run that only retries what is still dead
    first = await dlq.aretry_all("bulk", error_match="^TimeoutError", limit=1234)
    assert (first.matched, first.done) == (1234, 1234)
    rest = await dlq.aretry_all("bulk", progress=lambda *p: reports.append(p))
    assert (rest.matched, rest.done) == (MANY - 1234, MANY - 1234)
    assert reports[0] == (0, MANY - 1234) and reports[-1] == (MANY - 1234, MANY - 1234)
    assert await dlq.acount("bulk") == 0
    assert (await dlq.aretry_all("bulk")).matched == 0

    engine = await app.connect()
    assert (await engine.counts("bulk"))["waiting"] == MANY
    worker = await app.start()
    try:
        await until(lambda: len(seen) == MANY, timeout=30)
    finally:
        await worker.stop()
    assert seen == set(range(MANY))


async def test_a_dry_run_walks_ties_without_looping_and_purge_deletes_everything(
    app: Taskora, redis_url: str
) -> None:
    ids = seed_dead(redis_url, "bulk", 1500)
    dlq = app.dead_letters()
    dry = await dlq.apurge("bulk", error_match="TimeoutError", dry_run=True)
    assert (dry.matched, dry.done) == (750, 0)
    purged = await dlq.apurge("bulk", error_match="TimeoutError")
    assert (purged.matched, purged.done) == (750, 750)
    assert await dlq.acount("bulk") == 750
    assert (await dlq.apurge("bulk")).done == 750

    client = raw_client(redis_url, decode_responses=True)
    try:
        left = [key for key in client.scan_iter("taskora:{bulk}:*")]
    finally:
        client.close()
    assert left == ["taskora:{bulk}:events"]
    assert await dlq.alist("bulk") == [] and ids


@pytest.mark.parametrize("seed", range(5))
async def test_the_bulk_walk_acts_on_exactly_the_matching_jobs_across_ties_and_pages(
    app: Taskora, redis_url: str, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    import random

    import taskora_cli.views.dead_letters as dl

    monkeypatch.setattr(dl, "BATCH", 7)  # many pages, with ties across page boundaries
    rng = random.Random(seed)
    keys = TaskKeys("", "walk")
    client = raw_client(redis_url, decode_responses=True)
    kinds: dict[str, str] = {}
    try:
        client.hset(task_registry_key(""), "walk", "default")
        for i in range(120):
            job_id, kind = f"j{i:03}", rng.choice(["Alpha", "Beta", "Gamma"])
            kinds[job_id] = kind
            error = json.dumps({"type": kind, "message": "x"})
            finished = 1_000 + rng.randrange(6)  # six failure times: long runs of ties
            client.hset(keys.job(job_id), mapping={"state": "failed", "error": error})
            client.zadd(keys.failed, {job_id: finished})
        dlq = app.dead_letters()
        wanted = {job_id for job_id, kind in kinds.items() if kind != "Beta"}
        dry = await dlq.aretry_all("walk", error_match="Alpha|Gamma", dry_run=True)
        assert dry.matched == len(wanted)
        done = await dlq.aretry_all("walk", error_match="Alpha|Gamma")
        assert (done.matched, done.done) == (len(wanted), len(wanted))
        left = set(client.zrange(keys.failed, 0, -1))
        assert left == set(kinds) - wanted
        assert set(client.lrange(keys.wait, 0, -1)) == wanted
    finally:
        client.close()
