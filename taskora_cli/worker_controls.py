"""Running workers from code: ``app.worker()``, ``app.start()``, ``app.run_worker()``, and the
start-up and shutdown hooks every worker process runs (``@app.on_startup``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import UsageError

if TYPE_CHECKING:
    from .durations import Duration
    from .runtime import Runtime
    from .task_registry import TaskRegistry
    from .worker.pool import Worker

HookFn = TypeVar("HookFn", bound=Callable[..., Any])


class WorkerControls:
    """The part of an app that makes and runs its workers (``Taskora`` is one)."""

    registry: TaskRegistry
    runtime: Runtime

    def on_startup(self, fn: HookFn) -> HookFn:
        """Run ``fn`` once in each worker process before it claims a job (``taskora work``,
        every child of ``--processes N``, ``app.start()``), to build what handlers share:
        ``fn(state)`` sets attributes on the worker's namespace, which handlers read as
        ``ctx.state`` (from threads and from ``async`` handlers alike). ``fn`` may be
        ``async`` and may take no argument. Hooks run in the order added; one that raises
        stops the worker's start. Usable as a decorator.

        Raises:
            UsageError: not callable, or it takes more than one argument.
        """
        from .worker.lifespan import check_hook

        self.registry.on_startup.append(check_hook(fn, "on_startup"))
        return fn

    def on_shutdown(self, fn: HookFn) -> HookFn:
        """Run ``fn(state)`` (or ``fn()``) once in each worker process as it stops, after its
        jobs finished or went back: close what the start-up hooks opened. One that raises
        is logged and the rest still run. Usable as a decorator.

        Raises:
            UsageError: not callable, or it takes more than one argument.
        """
        from .worker.lifespan import check_hook

        self.registry.on_shutdown.append(check_hook(fn, "on_shutdown"))
        return fn

    # -- workers -----------------------------------------------------------------------------

    def worker(
        self, tasks: Iterable[str] | None = None, *, concurrency: int | None = None
    ) -> Worker:
        """A worker for ``tasks`` (default: all registered); start it with ``await w.start()``.

        Args:
            tasks: the task names to work on.
            concurrency: jobs of each task it runs at once, tasks that set their own
                ``concurrency=`` included (as ``taskora work --concurrency``). None: the
                task's own, else [worker] concurrency, else [defaults] concurrency.
        """
        from .worker.pool import Worker

        chosen = self.registry.to_run(tasks)
        if not chosen:
            raise UsageError("no tasks to work on: register tasks or import the task modules first")
        return Worker(self, chosen, concurrency=concurrency)

    async def start(
        self, tasks: Iterable[str] | None = None, *, concurrency: int | None = None
    ) -> Worker:
        """Start a worker in the running event loop and return it (stop with ``await w.stop()``);
        ``concurrency`` as in :meth:`worker`."""
        worker = self.worker(tasks, concurrency=concurrency)
        await worker.start()
        return worker

    def run_worker(
        self,
        tasks: Iterable[str] | None = None,
        *,
        concurrency: int | None = None,
        grace: Duration | None = None,
    ) -> int:
        """Run a worker in this process until SIGINT/SIGTERM, then drain within ``grace``
        (blocking), through the same launcher as ``taskora work`` (worker/launch.py).

        If a thread handler is still running once the grace is over (a thread cannot be
        stopped; its job is already back in its queue), the process exits at once, as
        ``taskora work`` does, rather than wait for the thread; with too many threads stuck
        past their timeout, its exit code is 5.

        Args:
            tasks: the task names to work on (default: every task with a handler here).
            concurrency: jobs of each task at once, tasks that set their own ``concurrency=``
                included (as ``taskora work --concurrency``). None: the task's own, else
                [worker] concurrency, else [defaults] concurrency.
            grace: how long running jobs may finish after the first signal. None: [worker]
                grace.

        Returns:
            The exit code ``taskora work`` would leave with: 0, or 5 (too many stuck threads).

        Raises:
            UsageError: a bad option or task name, before anything connects.
        """
        from .worker.launch import WorkOptions, run

        # One process and every queue, whatever [worker] says: processes are `taskora work`'s
        # (its children re-import the app from the config), and so are its queue filters.
        options = WorkOptions(
            tasks=tuple(tasks or ()), queues={}, concurrency=concurrency, processes=1,
            grace=grace, force=True,
        )  # fmt: skip
        return run(self, options)
