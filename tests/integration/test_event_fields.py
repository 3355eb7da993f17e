"""Every job event a listener hears, with the fields it carries (issue 19)."""

from __future__ import annotations

from pathlib import Path

from support import make_app, until

from taskora_cli import JobContext, Retry
from taskora_cli.views.job_events import LISTENABLE, Event


async def test_each_event_carries_its_fields(redis_url: str, tmp_path: Path) -> None:
    app = make_app(redis_url, tmp_path)

    @app.task("fields", retry=Retry(attempts=2, delay=0.01, jitter=False))
    async def fields(n: int, ctx: JobContext) -> int:
        ctx.progress(n)
        if n < 0 and (ctx.attempt == 1 or n < -1):
            raise ValueError("no")
        return n

    seen: list[Event] = []
    for name in LISTENABLE:
        app.on(f"task:{name}", seen.append)
    worker = await app.start()
    try:
        ok, flaky, doomed = [await fields.adispatch(n) for n in (1, -1, -2)]
        later = await fields.adispatch(5, delay="1h")
        await later.acancel("not needed")
        await until(lambda: sum(e.name == "completed" for e in seen) == 2)
        await until(lambda: sum(e.name == "failed" for e in seen) == 3)
    finally:
        await worker.stop()
        await app.aclose()

    def shown(event: Event) -> dict[str, object]:
        return {k: v for k, v in event.as_dict().items() if k not in ("task", "job", "at")}

    def of(name: str, job: str) -> list[dict[str, object]]:
        return [shown(e) for e in seen if e.name == name and e.job_id == job]

    [done] = of("completed", ok.id)
    assert int(str(done.pop("duration_ms"))) >= 0
    assert done == {"event": "completed", "attempt": 1, "result": 1, "error": None,
                    "progress": None}  # fmt: skip
    no = {"type": "ValueError", "message": "no"}
    assert of("failed", flaky.id) == [
        {"event": "failed", "attempt": 1, "result": None, "error": no, "progress": None,
         "will_retry": "1"},
    ]  # fmt: skip
    assert [(e["attempt"], e["will_retry"]) for e in of("failed", doomed.id)] == [
        (1, "1"),
        (2, "0"),
    ]
    [retrying] = [e for e in seen if e.name == "retrying" and e.job_id == flaky.id]
    assert retrying.details is not None and int(retrying.details["at"]) > 0
    assert retrying.as_dict()["error"] == no
    assert of("cancelled", later.id) == [
        {"event": "cancelled", "attempt": None, "result": None, "error": None,
         "progress": None, "reason": "not needed"},
    ]  # fmt: skip
    assert [e["event"] for e in of("delayed", later.id)] == ["delayed"]
    assert {e["attempt"] for e in of("active", flaky.id)} == {1, 2}
    assert [e["progress"] for e in of("progress", ok.id)] == [1]
    assert [e["event"] for e in of("waiting", ok.id)] == ["waiting"]
    heard = [e for e in seen if e.job_id == flaky.id and e.name == "failed"]
    assert [e.will_retry for e in heard] == [True]
