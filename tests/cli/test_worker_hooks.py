"""Worker start-up and shutdown hooks: once per worker process, their state reaching thread
and async handlers as ``ctx.state`` (issue 19)."""

from __future__ import annotations

import json
import signal

from .conftest import Project, wait_for

HOOKS = """

from taskora_cli import default_app

HOOKS = HERE / "hooks"


@default_app().on_startup
async def open_pool(state):
    HOOKS.mkdir(exist_ok=True)
    with (HOOKS / f"start-{os.getpid()}").open("a") as f:
        f.write("started\\n")
    state.pool = f"pool-{os.getpid()}"


@default_app().on_shutdown
def close_pool(state):
    with (HOOKS / f"stop-{os.getpid()}").open("a") as f:
        f.write(state.pool + "\\n")


@task("state-thread")
def state_thread(data, ctx):
    return [ctx.state.pool, os.getpid()]


@task("state-async")
async def state_async(data, ctx):
    return [ctx.state.pool, os.getpid()]
"""


def test_hooks_run_once_in_each_worker_process_and_reach_every_handler(project: Project) -> None:
    with (project.root / "mytasks.py").open("a") as module:
        module.write(HOOKS)
    supervisor = project.start_worker(
        "--processes", "2", "--task", "state-thread", "--task", "state-async"
    )
    log = project.workers[0].log  # type: ignore[attr-defined]
    wait_for(lambda: log.read_text().count("started for") == 2)
    results = []
    for name in ("state-thread", "state-async") * 2:
        done = project.taskora("dispatch", name, "--wait", "--timeout", "20s")
        assert done.returncode == 0, done.stderr
        results.append(json.loads(done.stdout))
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(30) == 0
    hooks = project.root / "hooks"
    started = {p.name.removeprefix("start-"): p.read_text() for p in hooks.glob("start-*")}
    stopped = {p.name.removeprefix("stop-"): p.read_text() for p in hooks.glob("stop-*")}
    assert len(started) == 2 and set(started.values()) == {"started\n"}  # once per child
    assert stopped == {pid: f"pool-{pid}\n" for pid in started}
    for pool, pid in results:  # the handler saw its own process's state
        assert pool == f"pool-{pid}" and str(pid) in started
