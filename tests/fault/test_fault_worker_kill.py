"""kill -9 of a worker process mid-batch (a lone worker, and one child of ``work -p 2``): the
batch finishes, every job completes exactly once, and only the jobs that were in flight at the
kill run again (at most once more)."""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

import pytest
from fault_harness import (
    Fleet,
    Journal,
    Kill,
    Server,
    assert_each_completed_once,
    sigkill,
    wait_for,
)
from fault_procs import ASYNC_TASK, build_app

pytestmark = pytest.mark.fault

JOBS = 150


async def dispatch_batch(url: str, root: Path) -> list[str]:
    app = build_app(url, str(root), None)
    handles = await app.get_task(ASYNC_TASK).adispatch_many([{"sleep": 0.1}] * JOBS)
    await app.aclose()
    return [h.id for h in handles]


async def test_a_worker_killed_mid_batch_loses_nothing_and_reruns_only_its_jobs_in_flight(
    redis_url: str, root: Path, fleet: Fleet, server: Server
) -> None:
    ids = await dispatch_batch(redis_url, root)
    journal = root / "journal"
    doomed = fleet.worker(redis_url, journal, "--concurrency", "8", name="doomed")
    wait_for(lambda: len(Journal.read(journal).ends) >= JOBS // 3, 30, "a third of the batch")
    sigkill(doomed.pid)
    assert doomed.process.wait(10) == -9
    kill = Kill.snapshot(server, ASYNC_TASK, ids, journal)
    assert kill.finished and len(kill.finished) < JOBS

    # Its claims hold until their lock deadline (500 ms here), then the stall sweep frees them.
    fleet.worker(redis_url, journal, "--concurrency", "8", name="survivor")
    wait_for(lambda: server.completed(ASYNC_TASK) == JOBS, 30, "every job to complete")
    assert_each_completed_once(server, ASYNC_TASK, ids, journal, kill)

    # each job the kill left behind was announced as stalled once, and recovered
    app = build_app(redis_url, str(root), None)
    events = app.events([ASYNC_TASK], recent=10 * JOBS, follow=False)
    stalled = [event async for event in events if event.name == "stalled"]
    await app.aclose()
    assert {(e.details or {}).get("action") for e in stalled} == {"recovered"}
    assert {(e.details or {}).get("count") for e in stalled} == {"1"}
    stalled_ids = {e.job_id for e in stalled}
    assert kill.in_flight <= stalled_ids and not stalled_ids & kill.finished


# The CLI's app: fault_procs.py's tasks, journalling next to the config.
CLI_TASKS = """
import sys
from pathlib import Path

sys.path.insert(0, {procs_dir!r})
from fault_procs import Journal, build_app

HERE = Path(__file__).parent
app = build_app({url!r}, str(HERE), Journal(str(HERE / "journal")))
"""


async def test_a_killed_child_of_work_p2_is_restarted_and_the_batch_completes_once(
    redis_url: str, root: Path, fleet: Fleet, server: Server
) -> None:
    procs_dir = str(Path(__file__).parent)
    (root / "faulttasks.py").write_text(
        textwrap.dedent(CLI_TASKS.format(procs_dir=procs_dir, url=redis_url))
    )
    config = root / "taskora.toml"
    config.write_text(
        f'url = "{redis_url}"\napp = "faulttasks:app"\n'
        f'[defaults]\nstall_interval = "200ms"\n' + config.read_text()
    )
    ids = await dispatch_batch(redis_url, root)
    journal = root / "journal"
    supervisor = fleet.taskora_work("-p", "2", "--concurrency", "4", "--task", ASYNC_TASK)
    log = supervisor.log  # type: ignore[attr-defined]
    wait_for(lambda: log.read_text().count("started for") == 2, 30, "both children to start")
    wait_for(lambda: len(Journal.read(journal).ends) >= JOBS // 3, 30, "a third of the batch")
    victim = int(journal.read_text().splitlines()[-1].split()[3])  # a child that runs jobs
    assert victim != supervisor.pid
    sigkill(victim)
    wait_for(lambda: "was killed by signal 9" in log.read_text(), 15, "the supervisor to notice")
    kill = Kill.snapshot(server, ASYNC_TASK, ids, journal)

    wait_for(lambda: server.completed(ASYNC_TASK) == JOBS, 30, "every job to complete")
    wait_for(lambda: log.read_text().count("started for") == 3, 15, "the child's replacement")
    assert "restarting it" in log.read_text()
    assert_each_completed_once(server, ASYNC_TASK, ids, journal, kill)
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(30) == 0, log.read_text()[-3000:]
