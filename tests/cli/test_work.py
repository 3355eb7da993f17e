"""`taskora work` end to end: burst, processes, reload, drain, queues."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis

from taskora_cli.engine.keys import TaskKeys
from taskora_cli.engine.records import job_state

from .conftest import Project, wait_for


def test_burst_runs_what_is_waiting_then_exits_0(project: Project) -> None:
    ids = project.taskora("dispatch", "slow", "--ndjson", "-", input="0.01\n" * 6).stdout.split()
    done = project.taskora("work", "--burst", "--task", "slow", timeout=60)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (project.root / "done").iterdir()) == sorted(ids)


def test_json_log_format_writes_one_object_per_job_event(project: Project) -> None:
    project.taskora("dispatch", "add", "--data", '{"a": 1, "b": 2}')
    done = project.taskora("work", "--burst", "--task", "add", "--log-format", "json")
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    jobs = [e for e in events if e["event"] in ("started", "completed")]
    assert [e["event"] for e in jobs] == ["started", "completed"]
    assert {e["task"] for e in jobs} == {"add"}


def test_a_failed_attempt_logs_its_traceback_once_unless_the_task_listens(
    project: Project,
) -> None:
    project.taskora("dispatch", "explode")
    text = project.taskora("work", "--burst", "--task", "explode").stderr
    assert text.count("Traceback (most recent call last)") == 1, text
    assert 'raise ValueError("boom")' in text and "failed" in text
    project.taskora("dispatch", "explode")
    done = project.taskora("work", "--burst", "--task", "explode", "--log-format", "json")
    [failed] = [json.loads(line) for line in done.stderr.splitlines() if '"failed"' in line]
    assert failed["error"] == "ValueError: boom" and "ValueError" in failed["traceback"]
    with (project.root / "mytasks.py").open("a") as tasks:
        tasks.write("\nexplode.on('failed', lambda event: None)\n")
    project.taskora("dispatch", "explode")
    text = project.taskora("work", "--burst", "--task", "explode").stderr
    assert "Traceback" not in text and "ValueError: boom" in text  # the line, not the trace


def test_sigterm_drains_and_loses_nothing(project: Project) -> None:
    ids = project.taskora("dispatch", "slow", "--ndjson", "-", input="0.3\n" * 12).stdout.split()
    worker = project.start_worker("--task", "slow", "--grace", "10s")
    done_dir = project.root / "done"
    wait_for(lambda: done_dir.exists() and any(done_dir.iterdir()))
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    finished = {p.name for p in done_dir.iterdir()}
    assert len(finished) < len(ids), "the drain should have stopped before the queue was empty"
    rest = project.taskora("work", "--burst", "--task", "slow")
    assert rest.returncode == 0, rest.stderr
    assert {p.name for p in done_dir.iterdir()} == set(ids)


def test_a_killed_child_process_is_restarted_and_its_job_completes(project: Project) -> None:
    project.start_worker("--processes", "2", "--queue", "fragile")
    out = project.root / "result.txt"
    dispatch = [sys.executable, "-m", "taskora_cli", "dispatch", "crash-once"]
    with out.open("w") as stdout:  # the child keeps its own copy of the descriptor
        waiter = subprocess.Popen(
            [*dispatch, "--wait", "--timeout", "25s"],
            cwd=project.root,
            env=project.env,
            stdout=stdout,
            stderr=subprocess.STDOUT,
        )
    victim = project.root / "victim.pid"
    wait_for(lambda: victim.exists() and victim.read_text() != "")
    os.kill(int(victim.read_text()), signal.SIGKILL)
    # The lock TTL is 30 s: finishing well inside the 25 s wait shows the claim was released.
    assert waiter.wait(30) == 0, out.read_text()
    assert out.read_text().strip() == '"survived"'
    log = project.workers[0].log.read_text()  # type: ignore[attr-defined]
    assert "was killed by signal 9" in log and "1 of its jobs went back to the queue" in log


def test_reload_runs_the_edited_code(project: Project) -> None:
    module = project.root / "mytasks.py"
    project.start_worker("--reload", "--task", "echo")
    first = project.taskora("dispatch", "echo", "--data", '"v1"', "--wait", "--timeout", "20s")
    assert first.stdout == '"v1"\n', first.stderr
    module.write_text(module.read_text().replace("    return data\n", "    return 'edited'\n", 1))

    def runs_new_code() -> bool:
        got = project.taskora("dispatch", "echo", "--data", '"v2"', "--wait", "--timeout", "5s")
        return got.stdout == '"edited"\n'

    wait_for(runs_new_code, 45)


def test_an_unknown_queue_is_a_usage_error_naming_the_queues(project: Project) -> None:
    done = project.taskora("work", "--queue", "nope")
    assert done.returncode == 2
    assert "unknown queue 'nope'" in done.stderr and "default, emails, fragile" in done.stderr


def test_a_bad_queue_flag_is_a_usage_error(project: Project) -> None:
    done = project.taskora("work", "--queue", "fragile=zero")
    assert done.returncode == 2 and "NAME=N" in done.stderr


def test_a_module_that_fails_to_import_exits_2_naming_it(project: Project) -> None:
    (project.root / "mytasks.py").write_text("import nothing_here\n")
    done = project.taskora("work", "--burst")
    assert done.returncode == 2
    assert "cannot import task module 'mytasks'" in done.stderr
    assert "Traceback" not in done.stderr


def test_max_jobs_runs_exactly_that_many_and_leaves_the_rest_waiting(
    project: Project, redis_url: str
) -> None:
    project.taskora("dispatch", "slow", "--ndjson", "-", input="0.01\n" * 10)
    # 4 slots (the task's own concurrency) and a prefetch: it must still claim only 3
    done = project.taskora("work", "--task", "slow", "--max-jobs", "3")
    assert done.returncode == 0, done.stderr
    assert len(list((project.root / "done").iterdir())) == 3
    keys = TaskKeys("", "slow")
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        assert (client.zcard(keys.completed), client.llen(keys.wait)) == (3, 7)
        assert client.zcard(keys.active) == 0
    finally:
        client.close()


GATHER = """

@task("gather", concurrency=1)  # the code's default: one at a time
def gather(want, ctx):
    def count(folder):
        return len(list((HERE / folder).iterdir()))

    for folder in ("in", "out", "met"):
        (HERE / folder).mkdir(exist_ok=True)
    (HERE / "in" / ctx.id).write_text("")
    running = count("in") - count("out")
    deadline = time.monotonic() + 20
    while count("in") < want and time.monotonic() < deadline:  # alone: gives up, never hangs
        time.sleep(0.01)
    # started while this one ran (it waited for them all), or running when this one started
    (HERE / "met" / ctx.id).write_text(str(count("in") if want > 1 else running))
    (HERE / "out" / ctx.id).write_text("")
"""


def test_the_concurrency_flag_beats_the_tasks_own(project: Project) -> None:
    with (project.root / "mytasks.py").open("a") as module:
        module.write(GATHER)
    for flag, at_once in [(["-c", "3"], 3), ([], 1)]:
        project.taskora("dispatch", "gather", "--ndjson", "-", input=f"{at_once}\n" * 3)
        done = project.taskora("work", "--burst", "--task", "gather", *flag)
        assert done.returncode == 0, done.stderr
        met = sorted(int(p.read_text()) for p in (project.root / "met").iterdir())
        assert met == [at_once] * 3, flag
        assert re.search(rf"gather\s+default\s+{at_once}\b", done.stderr)  # the banner
        for folder in ("in", "out", "met"):
            shutil.rmtree(project.root / folder)


def test_sigterm_to_the_supervisor_drains_every_child(project: Project) -> None:
    supervisor = project.start_worker("--processes", "2", "--task", "echo")
    log = project.workers[0].log  # type: ignore[attr-defined]
    wait_for(lambda: log.read_text().count("started for") == 2)
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(30) == 0
    wait_for(lambda: log.read_text().count("stopped") == 2)


def test_a_second_signal_stops_at_once_and_hands_the_running_job_back(
    project: Project, redis_url: str
) -> None:
    job = project.taskora("dispatch", "aslow", "--data", "60").stdout.strip()
    worker = project.start_worker("--task", "aslow", "--grace", "60s")
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    key = TaskKeys("", "aslow").job(job)
    try:
        wait_for(lambda: client.hget(key, "state") == "active")
        worker.send_signal(signal.SIGTERM)
        log = worker.log  # type: ignore[attr-defined]
        wait_for(lambda: "draining" in log.read_text())
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(15) == 0
        assert job_state(*client.hmget(key, "state", "t")) == "waiting"
        assert client.hget(key, "attempt") == "0"  # the interrupted run does not count
    finally:
        client.close()


def test_a_thread_handler_past_the_grace_goes_back_at_once_and_the_worker_exits(
    project: Project, redis_url: str
) -> None:
    job = project.taskora("dispatch", "slow", "--data", "60").stdout.strip()
    worker = project.start_worker("--task", "slow", "--grace", "0.2s")
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    key = TaskKeys("", "slow").job(job)
    try:
        wait_for(lambda: client.hget(key, "state") == "active")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(15) == 0  # it does not wait the minute for the thread
        # back at the front of the queue at once (the thread died with the process), with
        # neither an attempt nor a stall counted
        assert job_state(*client.hmget(key, "state", "t")) == "waiting"
        assert (client.hget(key, "attempt"), client.hget(key, "stalls")) == ("0", None)
        assert client.lindex(TaskKeys("", "slow").wait, 0) == job
    finally:
        client.close()


def test_a_draining_worker_stops_even_when_the_server_is_gone(
    project: Project,
    restartable_valkey: Any,  # tests/conftest.py's RestartableValkey
) -> None:
    config = project.root / "taskora.toml"
    config.write_text(config.read_text().replace(redis_url_in(config), restartable_valkey.url))
    # The job ends within the grace, but its result cannot be recorded: the drain must give up
    # at the end of the grace rather than retry for ever.
    job = project.taskora("dispatch", "aslow", "--data", "0.5").stdout.strip()
    worker = project.start_worker("--task", "aslow", "--grace", "1.5s")
    client = redis.Redis.from_url(restartable_valkey.url, decode_responses=True)
    try:
        wait_for(lambda: client.hget(TaskKeys("", "aslow").job(job), "state") == "active")
    finally:
        client.close()
    restartable_valkey.stop()
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(60) == 0  # the last settle retries reconnecting for ~16 s first
    log = worker.log.read_text()  # type: ignore[attr-defined]
    assert "could not be recorded and will run again after the lock TTL" in log


def redis_url_in(config: Path) -> str:
    return config.read_text().split('"')[1]


def test_stopping_by_itself_does_not_speak_of_signals(project: Project) -> None:
    project.taskora("dispatch", "add", "--data", '{"a": 1, "b": 2}')
    project.taskora("dispatch", "echo", "--data", "1")
    burst = project.taskora("work", "--burst", "--task", "add")
    counted = project.taskora("work", "--task", "echo", "--max-jobs", "1")
    for done in (burst, counted):
        assert done.returncode == 0, done.stderr
        assert "draining" in done.stderr
        assert "signal again" not in done.stderr


def test_a_drained_worker_does_not_speak_of_signals(project: Project) -> None:
    worker = project.start_worker("--task", "echo")
    workers = json.loads(project.taskora("workers", "ls", "--json").stdout)
    asked = project.taskora("workers", "drain", workers[0]["id"], "--wait", "--timeout", "30s")
    assert asked.returncode == 0, asked.stderr
    assert worker.wait(30) == 0
    log = worker.log.read_text()  # type: ignore[attr-defined]
    assert "draining" in log and "signal again" not in log


def test_a_signal_says_a_second_one_stops_at_once(project: Project) -> None:
    worker = project.start_worker("--task", "echo")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    assert "signal again to stop at once" in worker.log.read_text()  # type: ignore[attr-defined]


def test_an_unreachable_server_is_one_line_and_no_banner(project: Project) -> None:
    project.env["TASKORA_URL"] = "redis://127.0.0.1:1/0"
    for args in (["work", "--burst"], ["work", "--burst", "-p", "2"]):
        done = project.taskora(*args)
        assert done.returncode == 3, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "cannot reach" in done.stderr


def test_too_many_processes_or_slots_are_refused_and_more_processes_than_cpus_warn(
    project: Project, redis_url: str
) -> None:
    import redis

    from taskora_cli.worker.limits import cpu_count, process_cap

    client = redis.Redis.from_url(redis_url)
    cap = process_cap(cpu_count())
    for flags in (
        ["-p", str(cap + 1)],
        ["-c", "10001"],
        ["-p", "1000", "-c", "5"],
        ["-q", "emails=10001"],
    ):
        refused = project.taskora("work", "--burst", *flags)
        assert refused.returncode == 2, refused
        assert refused.stderr.count("\n") == 1 and "--force" in refused.stderr, refused.stderr
    assert client.dbsize() == 0  # refused before anything connected
    client.close()
    # --force lets it through, in the supervisor and in the children it starts
    forced = project.taskora("work", "--burst", "-p", "2", "-q", "emails=10001", "--force")
    assert forced.returncode == 0, forced.stderr

    warned = project.taskora("work", "--burst", "-p", str(cpu_count() + 1))
    assert warned.returncode == 0, warned.stderr
    first = warned.stderr.splitlines()[0]
    assert first == (
        f"taskora: warning: {cpu_count() + 1} processes on {cpu_count()} CPUs; more processes "
        "than CPUs only adds memory and switching (raise --concurrency instead)"
    )
    assert "-p" in project.taskora("work", "--help").stdout
    assert "4 per CPU" in " ".join(project.taskora("work", "--help").stdout.split())
