"""``app.queues().names()``: the known queues without any task's counts, the same names
``list()`` gives (what ``taskora queues pause|resume`` check a name against)."""

from __future__ import annotations

from pathlib import Path

from support import make_app

from taskora_cli import Taskora


async def test_the_names_are_the_listed_queues_of_tasks_here_on_the_server_and_paused(
    redis_url: str, tmp_path: Path
) -> None:
    elsewhere = make_app(redis_url, tmp_path)  # another process's task, known to the server
    other = elsewhere.task("report", queue="reports")(lambda data: data)
    await other.adispatch(1)
    await elsewhere.aclose()

    app: Taskora = make_app(redis_url, tmp_path)
    app.task("mail", queue="emails")(lambda data: data)
    app.task("report", queue="nightly")(lambda data: data)  # here it moved: this one wins
    await app.queues().apause("ghost")  # a queue no task uses, paused ahead of its tasks
    try:
        names = await app.queues().anames()
        assert names == [q.name for q in await app.queues().alist()]
        assert names == ["emails", "ghost", "nightly"]
    finally:
        await app.aclose()
