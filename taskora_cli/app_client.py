"""The half of an app that talks to the server through its runtime: settings, connections,
dispatch by task name, jobs by id, job events, the read and admin views, and the workers.

``Taskora`` is one (it adds what a process declares: tasks, contracts, schedules, listeners,
middleware, and runs workers); anything holding a Runtime and a TaskRegistry can be one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from .blocking import blocking_twin
from .errors import JobNotFoundError
from .handle import JobHandle

if TYPE_CHECKING:
    # Imported where used, so `import taskora_cli` (and `taskora --help`) skips redis and
    # asyncio.
    import asyncio

    from .config import Config
    from .durations import Duration
    from .engine.engine import Engine
    from .engine.records import WireMigration
    from .event import Event
    from .runtime import Clock, Runtime
    from .task import Task
    from .task_registry import TaskRegistry
    from .views.dead_letters import DeadLetters
    from .views.inspector import Inspector
    from .views.job_admin import CleanResult
    from .views.queues import Queues
    from .views.schedule_manager import ScheduleManager
    from .views.worker_registry import WorkerInfo
    from .views.workflows import Workflows
    from .workflow import WorkflowHandle


class AppClient:
    """An app's runtime and tasks, and what the server can be asked through them; every
    blocking method has an async twin named with an ``a`` in front."""

    def __init__(self, runtime: Runtime, registry: TaskRegistry) -> None:
        self.runtime = runtime
        self.registry = registry

    # -- settings ------------------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        """Epoch milliseconds, as the app reads them (a virtual clock in tests)."""
        return self.runtime.clock

    @property
    def config(self) -> Config:
        """The effective configuration (discovered on first use)."""
        return self.runtime.config

    def configure(self, config: Config) -> None:
        """Replace the configuration; only before the app has connected."""
        self.runtime.configure(config)

    @property
    def prefix(self) -> str:
        """The key prefix in use (see :meth:`resolve_url` for which one wins)."""
        return self.runtime.prefix

    def resolve_url(self) -> str:
        """The server URL, starting the embedded server when none is configured.

        A flag or TASKORA_* variable beats the URL given to the constructor, which beats the
        config file: the deployment overrides the code, the code overrides the project's file
        (as celery's ``-b`` and CELERY_BROKER_URL beat ``Celery(broker=...)``).
        """
        return self.runtime.resolve_url()

    # -- connections ---------------------------------------------------------------------------

    async def connect(self) -> Engine:
        """Connect the running event loop (starting the embedded server if needed) and return
        its engine; later calls return the same one.

        Raises:
            ServerError: it cannot be reached, or holds an incompatible wire format.
        """
        return await self.runtime.engine()

    async def aclose(self) -> None:
        """Close the connections of the current event loop."""
        await self.runtime.aclose()

    def close(self) -> None:
        """Close the blocking API's connections."""
        self.runtime.close()

    def server_info(self) -> dict[str, str]:
        """Connect (starting the embedded server if needed) and describe the server (blocking).

        Raises:
            ServerError: it cannot be reached, or holds an incompatible wire format.
        """

        async def describe() -> dict[str, str]:
            return await (await self.runtime.engine()).server_info()

        return self.runtime.call(describe())

    async def amigrate_wire_format(self) -> WireMigration:
        """Hand a server whose data an older taskora wrote (wire format 2 or 3) to this version,
        which then connects to it: its jobs stay, rewritten into this version's layout. Run it
        only once every process of the older version has stopped: they would misread what this
        one writes.

        Returns:
            What it did: its outcome ("migrated"; "current": nothing to do; "unreadable": too
            old to take over, drain it with the taskora that wrote it; "newer": a newer
            taskora's, upgrade this one), the format stored before (None when there was
            none) and how many job hashes it rewrote.

        Raises:
            ServerError: the server cannot be reached.
        """
        return await self.runtime.amigrate_wire()

    migrate_wire_format = blocking_twin(amigrate_wire_format)

    # -- dispatch by task name -----------------------------------------------------------------

    async def resolve_task(self, name: str) -> Task:
        """The task ``name``: registered here, or known to the server's task registry.

        Raises:
            UnknownTaskError: neither knows it; the message lists every known name.
        """
        return await self.registry.resolve(name)

    async def adispatch(self, /, name: str, data: Any = None, **options: Any) -> JobHandle:
        """Dispatch by task name; see :meth:`Task.adispatch` for the options.

        The name may belong to a task this process has not imported, as long as a worker or
        producer somewhere has registered it on the server (so shell scripts can dispatch
        without the task's code).

        A task known only by name is dispatched with the contract its workers published:
        its queue, singleton, TTL, concurrency limit, collect and version stamp, and its data
        checked against the published JSON Schema. ``skip_validation=True`` skips the check.

        Raises:
            ValidationError: the data breaks the task's input schema (local or published);
                ``issues`` lists every bad field. Nothing was enqueued.
            UnknownTaskError: no app here or on the server knows the name.
        """
        return await (await self.resolve_task(name)).adispatch(data, **options)

    def dispatch(self, /, name: str, data: Any = None, **options: Any) -> JobHandle:
        """Blocking twin of :meth:`adispatch`: a task registered here dispatches on the
        calling thread (see :meth:`Task.dispatch`); one known only to the server is resolved
        on the background loop first."""
        local = self.registry.tasks.get(name)
        if local is not None:
            return local.dispatch(data, **options)
        return self.runtime.call(self.adispatch(name, data, **options))

    async def adispatch_many(
        self, /, name: str, items: Iterable[Any], **options: Any
    ) -> list[JobHandle]:
        """Dispatch many jobs by task name, one round trip per batch."""
        return await (await self.resolve_task(name)).adispatch_many(items, **options)

    def dispatch_many(self, /, name: str, items: Iterable[Any], **options: Any) -> list[JobHandle]:
        """Blocking twin of :meth:`adispatch_many` (see :meth:`dispatch`)."""
        local = self.registry.tasks.get(name)
        if local is not None:
            return local.dispatch_many(items, **options)
        return self.runtime.call(self.adispatch_many(name, items, **options))

    # -- jobs ----------------------------------------------------------------------------------

    def handle(self, name: str, job_id: str) -> JobHandle:
        """A handle for an existing job of task ``name``."""
        return JobHandle(self.runtime, name, job_id)

    async def acancel(
        self, job_id: str, reason: str | None = None, *, task: str | None = None
    ) -> str:
        """Cancel a job by id; see :meth:`JobHandle.cancel`. Without ``task`` the
        job is looked for under every known task."""
        from .handle import cancel_job

        if task is None:
            engine = await self.runtime.engine()
            found = await engine.find_job(job_id, await self.registry.known_names())
            if found is None:
                raise JobNotFoundError(f"no job {job_id} under any known task", job_id)
            task = found.task
        return await cancel_job(self.runtime, task, job_id, reason)

    cancel = blocking_twin(acancel)

    async def adelete_job(self, job_id: str, *, task: str | None = None) -> str:
        """Delete a job for good (its data, result, error and logs), whatever line or set holds
        it: waiting, delayed, retrying or finished. Without ``task`` the job is looked for
        under every known task.

        Returns:
            The state the job was in.

        Raises:
            JobActiveError: a worker is running it; cancel it first, or wait for it to end.
            JobNotFoundError: no such job.
        """
        from .views.job_admin import delete_job

        return await delete_job(self, job_id, task)

    delete_job = blocking_twin(adelete_job)

    async def aclean_jobs(
        self,
        state: str,
        older_than: Duration,
        *,
        task: str | None = None,
        dry_run: bool = False,
    ) -> CleanResult:
        """Delete the jobs that ended ``state`` (completed, failed, cancelled or expired) more
        than ``older_than`` ago (``"7d"``, seconds, a ``timedelta``), in batches; safe to run
        again after an interruption.

        Args:
            state: completed, failed, cancelled or expired.
            older_than: how long ago they must have ended.
            task: only this task's jobs (default: every known task).
            dry_run: only count them; change nothing.

        Raises:
            UsageError: a bad state, duration or task name.
        """
        from .views.job_admin import clean_jobs

        return await clean_jobs(self, state, older_than, task, dry_run=dry_run)

    clean_jobs = blocking_twin(aclean_jobs)

    def events(
        self,
        tasks: Iterable[str] | None = None,
        *,
        recent: int = 0,
        follow: bool = True,
        following: asyncio.Event | None = None,
    ) -> AsyncIterator[Event]:
        """Iterate over job events (async): the last ``recent`` of each task first, then new
        ones as they come (with ``follow``). Every reader sees every event. ``following``, if
        given, is set once the streams' current ends are known (the iteration starts at the
        first ``anext``): every event written after that comes."""
        from .views.job_events import events

        return events(self, tasks, recent=recent, follow=follow, following=following)

    # -- views ---------------------------------------------------------------------------------

    def inspect(self) -> Inspector:
        """Read-only views of tasks and jobs: ``stats()``, ``jobs(task, state)``, ``find(id)``."""
        from .views.inspector import Inspector

        return Inspector(self)

    def dead_letters(self) -> DeadLetters:
        """The dead-letter queue: jobs that failed for good; list, group, retry, purge."""
        from .views.dead_letters import DeadLetters

        return DeadLetters(self)

    def queues(self) -> Queues:
        """The queues: list them with their counts, pause and resume them."""
        from .views.queues import Queues

        return Queues(self)

    def schedules(self) -> ScheduleManager:
        """The server's schedules: ``list``, ``get``, ``add``, ``pause``, ``resume``,
        ``trigger``, ``update``, ``remove``, ``upcoming``, with async twins."""
        from .views.schedule_manager import ScheduleManager

        return ScheduleManager(self)

    def workflow(self, workflow_id: str) -> WorkflowHandle:
        """A handle for an existing workflow (see ``chain(...).dispatch()``)."""
        from .workflow import WorkflowHandle

        return WorkflowHandle(self.runtime, workflow_id)

    def workflows(self) -> Workflows:
        """The stored workflows: ``list(state=None)`` and ``get(id)``, with async twins."""
        from .views.workflows import Workflows

        return Workflows(self)

    # -- workers -------------------------------------------------------------------------------

    async def aworkers(self) -> list[WorkerInfo]:
        """Every registered worker process, live and gone, most recent heartbeat first."""
        from .views.worker_registry import list_workers

        return await list_workers(self.runtime)

    workers = blocking_twin(aworkers)

    async def adrain_workers(self, node: str) -> list[str]:
        """Ask workers to finish their running jobs and exit; ``node`` is a worker
        id or a host name (every worker on it). Returns the ids asked; none is an error.

        Raises:
            UsageError: no live worker has that id or host.
        """
        from .views.worker_registry import drain_workers

        return await drain_workers(self.runtime, node)

    drain_workers = blocking_twin(adrain_workers)

    async def arelease_worker(self, worker_id: str, tasks: Iterable[str] | None = None) -> int:
        """Send the jobs a dead worker held back to their queues now, not after its locks expire.

        Args:
            worker_id: the dead worker's id.
            tasks: the task names it served (default: every task known to the server).

        Returns:
            How many jobs it held.
        """
        from .views.worker_registry import release_worker

        return await release_worker(self.runtime, worker_id, tasks)

    async def areap_workers(self, *, alive: Iterable[str] = ()) -> dict[str, int]:
        """Release the jobs of every gone worker at once and drop it from the registry.

        Args:
            alive: ids never to reap: a worker calling this knows it is alive, whatever its
                record's age says (after a jump of a virtual clock, say).

        Returns:
            Worker id -> how many jobs it held, for each worker reaped.
        """
        from .views.worker_registry import reap_workers

        return await reap_workers(self.runtime, frozenset(alive))
