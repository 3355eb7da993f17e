"""The board's REST API through an HTTP client, on real jobs run by a real worker: every
endpoint, paging, errors, read-only, and redaction in nested data and logs."""

from __future__ import annotations

from typing import Any

import pytest
from board_support import client, until

from taskora_cli import Taskora
from taskora_cli.board import MASK, create_board

REDACT = ["password", "TOKEN", "api_key"]


async def _settled(app: Taskora, *ids: str) -> bool:
    states = [await app.handle("signup", job_id).astate() for job_id in ids]
    return set(states) <= {"completed", "failed"}


@pytest.fixture
async def ran(app: Taskora) -> dict[str, str]:
    """One completed and one failed signup, and three idle jobs waiting (no worker runs
    the slow queue)."""
    worker = await app.start(["signup"])
    try:
        ok = await app.adispatch("signup", {"name": "ann", "password": "PW-sec", "plan": "basic"})
        bad = await app.adispatch(
            "signup", {"name": "bo", "password": "PW-sec", "plan": "gold", "fail": True}
        )
        await until(lambda: _settled(app, ok.id, bad.id))
    finally:
        await worker.stop()
    for n in range(3):
        await app.adispatch("idle", n)
    return {"ok": ok.id, "bad": bad.id}


async def test_every_read_endpoint_answers_the_cli_documents(
    app: Taskora, ran: dict[str, str]
) -> None:
    board = create_board(app, base_path="/board", redact=REDACT)
    async with client(board) as http:

        async def get(path: str) -> Any:
            answer = await http.get(f"/board/api{path}")
            assert answer.status_code == 200, (path, answer.text)
            return answer.json()

        assert (await get("/config"))["read_only"] is False
        overview = await get("/overview")
        assert len(overview["throughput"]) == 1440  # a day, per minute
        assert overview["server"]["server"] in ("valkey", "redis")
        assert {t["task"]: t["failed"] for t in overview["tasks"]} == {"idle": 0, "signup": 1}
        assert (await get("/stats"))["total"]["waiting"] == 3
        assert len(await get("/throughput?minutes=5")) == 5
        assert {t["task"] for t in await get("/tasks")} == {"idle", "signup"}
        assert (await get("/tasks/signup/stats"))["completed"] == 1
        assert (await get("/tasks/signup/migrations"))["task"] == "signup"

        done = await get(f"/jobs/{ran['ok']}")
        assert done["state"] == "completed" and done["workflow"] is None
        # redaction: any case, at any depth, in data, result and log fields
        assert done["data"]["password"] == MASK
        assert done["result"] == {"name": "ann", "token": MASK, "nested": [{"api_key": MASK}]}
        [entry] = done["logs"]
        assert entry["fields"]["user"] == {"name": "ann", "Password": MASK}
        assert "PW-sec" not in (await http.get(f"/board/api/jobs/{ran['ok']}")).text

        failed = await get(f"/jobs/{ran['bad']}")
        assert failed["error"]["type"] == "ValueError"
        assert "Traceback" in failed["error"]["traceback"]
        assert failed["timeline"]["finished_at"] is not None

        page = await get("/tasks/idle/jobs?state=waiting&limit=2&offset=0")
        assert (page["total"], len(page["jobs"])) == (3, 2)
        rest = await get("/tasks/idle/jobs?state=waiting&limit=2&offset=2")
        assert [j["data"] for j in page["jobs"] + rest["jobs"]] == [0, 1, 2]

        dead = await get("/dlq?limit=10")
        assert dead["count"] == 1 and dead["letters"][0]["id"] == ran["bad"]
        [group] = await get("/dlq/groups")
        assert group["count"] == 1 and group["error"]["type"] == "ValueError"
        assert await get("/schedules") == []
        assert {q["name"] for q in await get("/queues")} == {"default", "slow"}
        assert await get("/workers") == []  # the worker stopped and deregistered
        assert await get("/workflows") == []


async def test_paging_and_unknown_names_are_client_errors(
    app: Taskora, ran: dict[str, str]
) -> None:
    async with client(create_board(app)) as http:
        for path, status in [
            ("/api/tasks/idle/jobs?state=sideways", 400),
            ("/api/tasks/idle/jobs?limit=0", 400),
            ("/api/tasks/idle/jobs?limit=1001", 400),
            ("/api/tasks/idle/jobs?offset=-1", 400),
            ("/api/tasks/idle/jobs?limit=x", 400),
            ("/api/tasks/nope/jobs", 404),
            ("/api/jobs/nope", 404),
            ("/api/schedules/nope", 404),
            ("/api/workflows/nope", 404),
        ]:
            answer = await http.get(path)
            assert answer.status_code == status, (path, answer.text)
            assert "error" in answer.json()
        assert (await http.get("/api/jobs/x/retry")).status_code == 405  # mutations: POST only


async def test_the_actions_change_jobs_queues_and_dead_letters(
    app: Taskora, ran: dict[str, str]
) -> None:
    @app.task("tick")
    async def tick(data: Any) -> None:
        return None

    await app.schedules().aadd("nightly", "tick", every="1h")
    async with client(create_board(app)) as http:

        async def post(path: str) -> Any:
            answer = await http.post(f"/api{path}")
            assert answer.status_code == 200, (path, answer.text)
            return answer.json()

        assert await post(f"/jobs/{ran['bad']}/retry") == {
            "id": ran["bad"], "task": "signup", "was": "failed", "state": "waiting",
        }  # fmt: skip
        assert (await http.post(f"/api/jobs/{ran['ok']}/retry")).status_code == 400  # completed
        waiting = (await http.get("/api/tasks/idle/jobs")).json()["jobs"][0]["id"]
        assert await post(f"/jobs/{waiting}/cancel?reason=test") == {
            "id": waiting, "state": "cancelled",
        }  # fmt: skip
        assert (await http.post(f"/api/jobs/{waiting}/cancel")).status_code == 409
        assert await post(f"/jobs/{waiting}/retry") == {
            "id": waiting, "task": "idle", "was": "cancelled", "state": "waiting",
        }  # fmt: skip
        assert await post("/queues/slow/pause") == {
            "queue": "slow", "state": "paused", "changed": True,
        }  # fmt: skip
        assert (await post("/queues/slow/resume"))["state"] == "running"
        assert (await http.post("/api/queues/typo/pause")).status_code == 404
        assert (await post("/queues/typo/pause?force=true"))["changed"] is True
        assert (await post("/schedules/nightly/pause"))["paused"] is True
        assert (await post("/schedules/nightly/resume"))["paused"] is False
        triggered = await post("/schedules/nightly/trigger")
        assert triggered["task"] == "tick" and triggered["enqueued"] is True
        assert (await http.post("/api/workers/nobody/drain")).status_code == 400
        # dead letters: the failed signup was retried above; fail it again for retry-all
        worker = await app.start(["signup"])
        try:
            await until(lambda: _settled(app, ran["bad"]))
        finally:
            await worker.stop()
        assert (await post("/dlq/retry-all?dry_run=true"))["matched"] == 1
        assert (await post("/dlq/retry-all"))["done"] == 1
        assert (await http.post(f"/api/dlq/{ran['bad']}/retry")).status_code == 400  # waiting


async def test_schedules_change_and_go_and_old_jobs_are_cleaned(
    app: Taskora, ran: dict[str, str]
) -> None:
    @app.task("tick")
    async def tick(data: Any) -> None:
        return None

    await app.schedules().aadd("nightly", "tick", every="1h")
    async with client(create_board(app)) as http:
        changed = await http.put("/api/schedules/nightly", json={"every": "5m", "data": {"n": 1}})
        assert changed.status_code == 200, changed.text
        assert (changed.json()["every_ms"], changed.json()["data"]) == (300_000, {"n": 1})
        assert (await app.schedules().aget("nightly")).spec.every_ms == 300_000
        for body, status in [
            ({}, 400),
            ({"name": "other"}, 400),
            ({"every": "1m", "cron": "* * * * *"}, 400),
            ({"every": "soon"}, 400),
            ([1], 400),
        ]:
            answer = await http.put("/api/schedules/nightly", json=body)
            assert answer.status_code == status, (body, answer.text)
        assert (await http.put("/api/schedules/nope", json={"every": "1m"})).status_code == 404
        too_big = {"data": "x" * 70_000}
        assert (await http.put("/api/schedules/nightly", json=too_big)).status_code == 400
        removed = await http.delete("/api/schedules/nightly")
        assert removed.json() == {"name": "nightly", "removed": True}
        assert (await http.delete("/api/schedules/nightly")).status_code == 404
        assert await app.schedules().alist() == []

        clean = "/api/tasks/signup/clean?state=completed&older_than=0s"
        assert (await http.post(f"{clean}&dry_run=true")).json() == {
            "state": "completed", "matched": 1, "deleted": 0, "dry_run": True,
            "by_task": {"signup": 1},
        }  # fmt: skip
        assert (await http.post(clean)).json()["deleted"] == 1
        assert (await http.get(f"/api/jobs/{ran['ok']}")).status_code == 404
        assert (await http.get(f"/api/jobs/{ran['bad']}")).json()["state"] == "failed"
        assert (await http.post("/api/tasks/signup/clean?state=completed")).status_code == 400
        assert (await http.post(f"{clean.replace('completed', 'active')}")).status_code == 400
        assert (
            await http.post("/api/tasks/nope/clean?state=failed&older_than=1d")
        ).status_code == 404
        assert (await http.get(clean)).status_code == 405


async def test_read_only_refuses_every_mutation_and_serves_every_read(
    app: Taskora, ran: dict[str, str]
) -> None:
    board = create_board(app, read_only=True)
    async with client(board) as http:
        assert (await http.get("/api/overview")).status_code == 200
        mutations = [
            (method, r.path)
            for r in _routes(board)
            for method in (getattr(r, "methods", None) or ())
            if method in ("POST", "PUT", "DELETE")
        ]
        assert len(mutations) >= 15
        for method, path in mutations:
            concrete = path.replace("{", "").replace("}", "")
            answer = await http.request(method, concrete, json={"every": "1m"})
            assert answer.status_code == 403, (method, path)
        assert (await app.handle("signup", ran["bad"]).astate()) == "failed"


async def test_a_cross_site_post_is_refused(app: Taskora, ran: dict[str, str]) -> None:
    async with client(create_board(app)) as http:
        path = f"/api/jobs/{ran['bad']}/retry"
        for origin in ("http://evil.example", "null"):
            answer = await http.post(path, headers={"Origin": origin})
            assert answer.status_code == 403
        answer = await http.post(path, headers={"Referer": "https://evil.example/x"})
        assert answer.status_code == 403
        assert (await http.post(path, headers={"Origin": "http://testserver"})).is_success


def _routes(board: Any) -> list[Any]:
    """Every route of the board, with its full path, through its mounts."""
    found: list[Any] = []

    def walk(routes: Any, prefix: str) -> None:
        for route in routes:
            inner = getattr(route, "routes", None)
            if inner and not hasattr(route, "methods"):
                walk(inner, prefix + route.path)
            else:
                route.path = prefix + route.path
                found.append(route)

    walk(board.routes, "")
    return found


async def test_the_page_is_served_with_its_base_and_a_strict_policy(app: Taskora) -> None:
    async with client(create_board(app, base_path="/ops/board")) as http:
        page = await http.get("/ops/board/jobs")  # any page path serves the one page
        assert page.status_code == 200
        assert '<meta name="taskora-base" content="/ops/board">' in page.text
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        script = await http.get("/ops/board/static/board.js")
        assert script.status_code == 200 and "EventSource" in script.text


async def test_allowed_hosts_refuse_a_rebound_name(app: Taskora) -> None:
    board = create_board(app, allowed_hosts=["127.0.0.1", "localhost"])
    async with client(board) as http:
        assert (await http.get("/api/config")).status_code == 400  # Host: testserver
        local = await http.get("/api/config", headers={"Host": "localhost:8080"})
        assert local.status_code == 200
