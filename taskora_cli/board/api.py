"""The REST API under ``{base}/api``: the documents of the CLI's ``--json`` (taskora_cli/
documents.py), read through the library's views; each mutation a POST."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import documents
from ..errors import UsageError
from ..job_state import LISTED_STATES
from ..schedule_spec import TABLE_KEYS
from ..views.inspector import MAX_THROUGHPUT_MINUTES
from .errors import NotFound
from .guard import api

if TYPE_CHECKING:
    from .context import BoardContext

MAX_PAGE = 1000
"""The most jobs (or dead letters) one page holds."""

MAX_BODY = 64 * 1024
"""The largest request body read (a schedule's changes): more is refused unread."""


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise UsageError(f"{name} must be within {low}..{high}, got {value}")
    return value


def _text(request: Request, name: str) -> str | None:
    return request.query_params.get(name) or None


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes")


async def _object(request: Request) -> dict[str, Any]:
    """The request's body: a JSON object of at most MAX_BODY bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise UsageError(f"the body is over {MAX_BODY} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise UsageError(f"the body is over {MAX_BODY} bytes")
    try:
        found = json.loads(body or b"null")
    except ValueError:
        raise UsageError("the body is not JSON") from None
    if not isinstance(found, dict):
        raise UsageError("the body must be a JSON object")
    return found


class Api:
    """The handlers, each a thin read or action on the app's views."""

    def __init__(self, board: BoardContext) -> None:
        self.board = board
        self.app = board.app

    def routes(self) -> list[Route]:
        """Every API route, guarded (see guard.api)."""
        read = {
            "/config": self.config,
            "/overview": self.overview,
            "/stats": self.stats,
            "/throughput": self.throughput,
            "/tasks": self.tasks,
            "/tasks/{task}/stats": self.task_stats,
            "/tasks/{task}/jobs": self.task_jobs,
            "/tasks/{task}/migrations": self.migrations,
            "/jobs/{job_id}": self.job,
            "/dlq": self.dead_letters,
            "/dlq/groups": self.dead_groups,
            "/schedules": self.schedules,
            "/schedules/{name}": self.schedule,
            "/queues": self.queues,
            "/workers": self.workers,
            "/workflows": self.workflows,
            "/workflows/{workflow_id}": self.workflow,
        }
        write = {
            "/tasks/{task}/retry-all": self.task_retry_all,
            "/jobs/{job_id}/retry": self.retry,
            "/jobs/{job_id}/cancel": self.cancel,
            "/dlq/retry-all": self.dead_retry_all,
            "/dlq/{job_id}/retry": self.dead_retry,
            "/schedules/{name}/pause": self.schedule_pause,
            "/schedules/{name}/resume": self.schedule_resume,
            "/schedules/{name}/trigger": self.schedule_trigger,
            "/queues/{queue}/pause": self.queue_pause,
            "/queues/{queue}/resume": self.queue_resume,
            "/workers/{node}/drain": self.drain,
            "/workflows/{workflow_id}/cancel": self.workflow_cancel,
        }
        board = self.board
        return [
            *[Route(p, api(board, h), methods=["GET"]) for p, h in read.items()],
            *[Route(p, api(board, h, mutation=True), methods=["POST"]) for p, h in write.items()],
            Route("/tasks/{task}/clean", api(board, self.clean, mutation=True), methods=["POST"]),
            Route("/schedules/{name}", api(board, self.schedule_update, mutation=True),
                  methods=["PUT"]),
            Route("/schedules/{name}", api(board, self.schedule_remove, mutation=True),
                  methods=["DELETE"]),
        ]  # fmt: skip

    # -- reads ---------------------------------------------------------------------------------

    async def config(self, request: Request) -> Response:
        """What the page needs to know about this board."""
        settings = self.board.settings
        auth = settings.auth
        kind = "none" if auth is None else "hook" if callable(auth) else "session"
        return self.board.json({
            "title": settings.title, "base_path": self.board.prefix(request),
            "read_only": settings.read_only, "auth": kind,
            "stats_interval_ms": int(settings.stats_interval_s * 1000),
            "states": list(LISTED_STATES),
        })  # fmt: skip

    async def overview(self, request: Request) -> Response:
        """``top --json``'s Overview, with the last 24 hours' per-minute throughput."""
        inspector = self.app.inspect()
        task = _text(request, "task")
        taken = self.app.clock()
        found = await inspector.astats()
        engine = await self.app.runtime.engine()
        document = documents.overview(
            taken,
            await engine.server_info(),
            found,
            await self.app.queues().alist(found),
            await inspector.athroughput(task, MAX_THROUGHPUT_MINUTES),
            await self.app.aworkers(),
        )
        return self.board.json(document)

    async def stats(self, request: Request) -> Response:
        """``taskora stats --json``."""
        inspector = self.app.inspect()
        found = await inspector.astats()
        minutes = await inspector.athroughput(minutes=60)
        return self.board.json(documents.stats(found, minutes, self.app.config.retention))

    async def throughput(self, request: Request) -> Response:
        minutes = _int(request, "minutes", MAX_THROUGHPUT_MINUTES, 1, MAX_THROUGHPUT_MINUTES)
        found = await self.app.inspect().athroughput(_text(request, "task"), minutes)
        return self.board.json([m.as_dict() for m in found])

    async def tasks(self, request: Request) -> Response:
        """Every known task's counts by state."""
        found = await self.app.inspect().astats()
        return self.board.json([s.as_dict() for s in found.tasks])

    async def _task_stats(self, task: str) -> Any:
        found = await self.app.inspect().astats()
        for row in found.tasks:
            if row.task == task:
                return row
        raise NotFound(f"unknown task {task!r}")

    async def task_stats(self, request: Request) -> Response:
        row = await self._task_stats(request.path_params["task"])
        return self.board.json(row.as_dict())

    async def task_jobs(self, request: Request) -> Response:
        """One page of a task's jobs in one state, in the order `jobs ls` lists them, with
        how many there are in that state."""
        task = request.path_params["task"]
        state = request.query_params.get("state") or "waiting"
        if state not in LISTED_STATES:
            raise UsageError(f"unknown state {state!r}; use one of {', '.join(LISTED_STATES)}")
        limit = _int(request, "limit", 50, 1, MAX_PAGE)
        offset = _int(request, "offset", 0, 0, 2**53 - MAX_PAGE)
        row = await self._task_stats(task)
        jobs = await self.app.inspect().ajobs(task, state, offset, limit)
        return self.board.json({
            "task": task, "state": state, "offset": offset, "limit": limit,
            "total": getattr(row, state), "jobs": [documents.job(job) for job in jobs],
        })  # fmt: skip

    async def migrations(self, request: Request) -> Response:
        found = await self.app.inspect().amigrations(request.path_params["task"])
        return self.board.json(found.as_dict())

    async def job(self, request: Request) -> Response:
        """Everything about one job: ``jobs show --json``."""
        job_id = request.path_params["job_id"]
        found = await self.app.inspect().afind(job_id, _text(request, "task"))
        if found is None:
            raise NotFound(f"no job {job_id} under any known task")
        return self.board.json(documents.job(found))

    async def dead_letters(self, request: Request) -> Response:
        """One page of dead letters, newest first, and how many there are."""
        dlq = self.app.dead_letters()
        task = _text(request, "task")
        limit = _int(request, "limit", 50, 1, MAX_PAGE)
        offset = _int(request, "offset", 0, 0, 2**53 - MAX_PAGE)
        letters = await dlq.alist(task, offset, limit)
        return self.board.json({
            "count": await dlq.acount(task), "offset": offset, "limit": limit,
            "letters": [letter.to_dict() for letter in letters],
        })  # fmt: skip

    async def dead_groups(self, request: Request) -> Response:
        """Dead letters grouped by error, largest group first (``dlq ls --group --json``)."""
        groups = await self.app.dead_letters().agroups(_text(request, "task"))
        return self.board.json([group.to_dict() for group in groups])

    async def schedules(self, request: Request) -> Response:
        return self.board.json([info.as_dict() for info in await self.app.schedules().alist()])

    async def schedule(self, request: Request) -> Response:
        info = await self.app.schedules().aget(request.path_params["name"])
        return self.board.json(info.as_dict())

    async def queues(self, request: Request) -> Response:
        return self.board.json([q.as_dict() for q in await self.app.queues().alist()])

    async def workers(self, request: Request) -> Response:
        return self.board.json([w.as_dict() for w in await self.app.aworkers()])

    async def workflows(self, request: Request) -> Response:
        found = await self.app.workflows().alist(_text(request, "state"))
        return self.board.json([documents.workflow_summary(info) for info in found])

    async def workflow(self, request: Request) -> Response:
        workflow_id = request.path_params["workflow_id"]
        found = await self.app.workflows().aget(workflow_id)
        if found is None:
            raise NotFound(f"no workflow {workflow_id}")
        return self.board.json(found.to_dict())

    # -- actions -------------------------------------------------------------------------------

    async def retry(self, request: Request) -> Response:
        """Run a failed, cancelled or expired job again (``jobs retry --json``)."""
        job_id = request.path_params["job_id"]
        found = await self.app.inspect().afind(job_id, _text(request, "task"))
        if found is None:
            raise NotFound(f"no job {job_id} under any known task")
        await self.app.handle(found.task, job_id).aretry()
        return self.board.json(documents.job_retried(job_id, found.task, found.state))

    async def cancel(self, request: Request) -> Response:
        """Cancel a job (``jobs cancel --json``); ``reason`` is stored with it."""
        job_id = request.path_params["job_id"]
        state = await self.app.acancel(
            job_id, _text(request, "reason"), task=_text(request, "task")
        )
        return self.board.json(documents.job_cancelled(job_id, state))

    async def task_retry_all(self, request: Request) -> Response:
        """Retry every dead letter of one task (``dlq retry-all --task T --json``)."""
        done = await self.app.dead_letters().aretry_all(request.path_params["task"])
        return self.board.json(done.to_dict())

    async def dead_retry(self, request: Request) -> Response:
        letter = await self.app.dead_letters().aretry(
            request.path_params["job_id"], _text(request, "task")
        )
        return self.board.json(documents.dead_retried(letter))

    async def dead_retry_all(self, request: Request) -> Response:
        """Retry dead letters in server-side batches (``dlq retry-all --json``): all, or
        those of ``task``, matching ``error_match``, failed within ``since``, ``limit``."""
        limit = request.query_params.get("limit")
        done = await self.app.dead_letters().aretry_all(
            _text(request, "task"),
            error_match=_text(request, "error_match"),
            since=_text(request, "since"),
            limit=None if not limit else _int(request, "limit", 0, 0, 2**53),
            dry_run=_flag(request, "dry_run"),
        )
        return self.board.json(done.to_dict())

    async def clean(self, request: Request) -> Response:
        """Delete one task's jobs that ended ``state`` more than ``older_than`` ago
        (``jobs clean --task T --state S --older-than D --json``); ``dry_run`` only counts."""
        task = request.path_params["task"]
        await self._task_stats(task)  # an unknown task is 404
        state, older_than = _text(request, "state"), _text(request, "older_than")
        if state is None or older_than is None:
            raise UsageError('give state (completed, failed, cancelled or expired) and '
                             'older_than (e.g. "7d"; "0s" for all of them)')  # fmt: skip
        done = await self.app.aclean_jobs(
            state, older_than, task=task, dry_run=_flag(request, "dry_run")
        )
        return self.board.json(done.to_dict())

    async def schedule_update(self, request: Request) -> Response:
        """Change some of a schedule's options (``schedules update --json``): a JSON object
        of task, cron, every, data, timezone, on_missed, overlap; a new timing moves its
        next run."""
        changes = await _object(request)
        if not changes:
            raise UsageError("nothing to change: give task, cron, every, data, timezone, "
                             "on_missed or overlap")  # fmt: skip
        unknown = sorted(set(changes) - set(TABLE_KEYS))
        if unknown:
            raise UsageError(f"unknown schedule option {unknown[0]!r}; allowed: "
                             f"{', '.join(TABLE_KEYS)}")  # fmt: skip
        if "every" in changes and "cron" in changes:
            raise UsageError("give every or cron, not both")
        info = await self.app.schedules().aupdate(request.path_params["name"], **changes)
        return self.board.json(info.as_dict())

    async def schedule_remove(self, request: Request) -> Response:
        """Delete a schedule (``schedules rm --json``); jobs it dispatched stay."""
        name = request.path_params["name"]
        await self.app.schedules().aremove(name)
        return self.board.json({"name": name, "removed": True})

    async def schedule_pause(self, request: Request) -> Response:
        info = await self.app.schedules().apause(request.path_params["name"])
        return self.board.json(info.as_dict())

    async def schedule_resume(self, request: Request) -> Response:
        info = await self.app.schedules().aresume(request.path_params["name"])
        return self.board.json(info.as_dict())

    async def schedule_trigger(self, request: Request) -> Response:
        """Dispatch the schedule's job now; its next run stays (``schedules trigger``)."""
        handle = await self.app.schedules().atrigger(request.path_params["name"])
        return self.board.json(documents.dispatched(handle))

    async def queue_pause(self, request: Request) -> Response:
        return await self._switch(request, paused=True)

    async def queue_resume(self, request: Request) -> Response:
        return await self._switch(request, paused=False)

    async def _switch(self, request: Request, *, paused: bool) -> Response:
        """As ``queues pause|resume``: a queue no task uses is refused unless ``force``."""
        from ..names import check_queue_name

        name = check_queue_name(request.path_params["queue"])
        queues = self.app.queues()
        if not _flag(request, "force") and name not in [q.name for q in await queues.alist()]:
            raise NotFound(f"unknown queue {name!r} (force=true acts on it anyway)")
        changed = await (queues.apause(name) if paused else queues.aresume(name))
        return self.board.json(documents.queue_switched(name, paused=paused, changed=changed))

    async def drain(self, request: Request) -> Response:
        """Ask a worker (or every worker on a host) to finish and exit."""
        asked = await self.app.adrain_workers(request.path_params["node"])
        return self.board.json(documents.workers_drained(asked, None))

    async def workflow_cancel(self, request: Request) -> Response:
        workflow_id = request.path_params["workflow_id"]
        state = await self.app.workflow(workflow_id).acancel(_text(request, "reason"))
        return self.board.json(documents.workflow_cancelled(workflow_id, state))
