"""`taskora stats` and `taskora jobs ...` end to end through the real entry point."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import redis

from taskora_cli import Taskora, group
from taskora_cli.engine.keys import TaskKeys

from .conftest import Project, wait_for

pytestmark = pytest.mark.cli_in_process  # `project.taskora` runs in-process


def test_stats_counts_jobs_by_state_as_a_table_and_as_json(
    project: Project, producer: Taskora
) -> None:
    for n in range(3):
        producer.dispatch("echo", n)
    producer.close()
    as_json = project.taskora("stats", "--json")
    assert as_json.returncode == 0, as_json.stderr
    parsed = json.loads(as_json.stdout)
    echo = next(s for s in parsed["tasks"] if s["task"] == "echo")
    assert (echo["waiting"], echo["completed"], parsed["total"]["waiting"]) == (3, 0, 3)
    assert echo["latency"] >= 0
    shown = project.taskora("stats")
    assert shown.returncode == 0, shown.stderr
    assert "WAITING" in shown.stdout and "LATENCY" in shown.stdout
    assert any(line.split()[:2] == ["echo", "3"] for line in shown.stdout.splitlines())
    assert "last hour 0 completed, 0 failed" in shown.stdout


def test_stats_watch_prints_a_fresh_snapshot_each_interval_until_ctrl_c(
    project: Project, producer: Taskora
) -> None:
    watcher = subprocess.Popen(
        [sys.executable, "-m", "taskora_cli", "stats", "--watch", "--interval", "100ms", "--json"],
        cwd=project.root,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert watcher.stdout is not None
    first = json.loads(watcher.stdout.readline())
    assert first["total"]["completed"] == 0 and first["last_hour"]["completed"] == 0
    project.start_worker("--task", "echo")
    assert producer.dispatch("echo", 1).result(timeout=15) == 1
    while True:  # the refreshes go on: one of them sees the job completed
        line = json.loads(watcher.stdout.readline())
        if line["last_hour"]["completed"] == 1:
            break
    assert line["last_minute"]["completed"] + line["total"]["completed"] >= 1
    watcher.send_signal(signal.SIGINT)
    _, err = watcher.communicate(timeout=20)
    assert (watcher.returncode, err) == (0, "")


def test_jobs_ls_lists_the_waiting_line_in_order_as_a_table_and_as_json(
    project: Project, producer: Taskora
) -> None:
    ids = [producer.dispatch("echo", {"n": n}).id for n in range(3)]
    producer.close()
    listed = project.taskora("jobs", "ls", "--task", "echo", "--state", "waiting", "--json")
    assert listed.returncode == 0, listed.stderr
    jobs = json.loads(listed.stdout)
    assert [job["id"] for job in jobs] == ids
    assert jobs[0]["data"] == {"n": 0} and jobs[0]["state"] == "waiting"
    shown = project.taskora("jobs", "ls", "--limit", "2")
    assert shown.returncode == 0, shown.stderr
    assert ids[0] in shown.stdout and ids[1] in shown.stdout and ids[2] not in shown.stdout
    bad = project.taskora("jobs", "ls", "--state", "sleeping")
    assert bad.returncode == 2 and "unknown state 'sleeping'" in bad.stderr


def test_jobs_show_and_logs_print_the_error_traceback_and_log_lines(
    project: Project, redis_url: str
) -> None:
    project.start_worker()
    failed = project.taskora("dispatch", "explode", "--json", "--wait")
    job_id = json.loads(failed.stdout)["id"]
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    entry = {
        "ts": 1_700_000_000_000,
        "level": "info",
        "msg": "about to explode",
        "fields": {"n": 1},
    }
    client.rpush(TaskKeys("", "explode").logs(job_id), json.dumps(entry))
    client.close()
    shown = project.taskora("jobs", "show", job_id)
    assert shown.returncode == 0, shown.stderr
    assert "state:      failed" in shown.stdout
    assert "error:      ValueError: boom" in shown.stdout
    assert 'raise ValueError("boom")' in shown.stdout  # the remote traceback
    as_json = json.loads(project.taskora("jobs", "show", job_id, "--json").stdout)
    assert as_json["error"]["type"] == "ValueError" and as_json["attempt"] == 1
    assert as_json["timeline"]["finished_at"] is not None
    logs = project.taskora("jobs", "logs", job_id)
    assert logs.returncode == 0, logs.stderr
    assert "about to explode" in logs.stdout and "n=1" in logs.stdout
    missing = project.taskora("jobs", "show", "nope")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "no job nope" in missing.stderr


def test_jobs_cancel_a_queued_job_then_report_it_not_cancellable(
    project: Project, producer: Taskora
) -> None:
    job_id = producer.dispatch("echo", 1).id
    producer.close()
    done = project.taskora("jobs", "cancel", job_id, "--reason", "not needed")
    assert (done.returncode, done.stdout) == (0, f"{job_id} cancelled\n"), done.stderr
    again = project.taskora("jobs", "cancel", job_id)
    assert again.returncode == 1
    assert "already ended cancelled" in again.stderr and "Traceback" not in again.stderr
    assert project.taskora("jobs", "cancel", "nope").returncode == 2
    waited = project.taskora("jobs", "wait", job_id)
    assert (waited.returncode, waited.stdout) == (1, f"{job_id} cancelled\n")


def test_jobs_cancel_stops_an_active_job_and_wait_reports_each_ending(project: Project) -> None:
    worker = project.start_worker()
    # Long enough that it is surely still running when the cancel arrives; async, so the
    # cancel interrupts it at once.
    slow = project.taskora("dispatch", "aslow", "--data", "60").stdout.strip()
    wait_for(
        lambda: (
            json.loads(project.taskora("jobs", "show", slow, "--json").stdout)["state"] == "active"
        )
    )
    done = project.taskora("jobs", "cancel", slow, "--json")
    assert json.loads(done.stdout) == {"id": slow, "state": "cancelling"}, done.stderr
    ok = project.taskora("dispatch", "add", "--data", '{"a": 1, "b": 2}').stdout.strip()
    waited = project.taskora("jobs", "wait", ok, slow, "--json")
    assert waited.returncode == 1, waited.stderr
    lines = json.loads(waited.stdout)
    assert [(line["id"], line["state"]) for line in lines] == [
        (ok, "completed"),
        (slow, "cancelled"),
    ]
    assert lines[0]["result"] == 3
    assert project.taskora("jobs", "wait", ok).returncode == 0
    assert project.taskora("jobs", "wait", ok, "nope").returncode == 2
    assert f"cancelled aslow {slow}" in worker.log.read_text()  # type: ignore[attr-defined]


def test_jobs_wait_times_out_with_124(project: Project, producer: Taskora) -> None:
    job_id = producer.dispatch("echo", 1).id
    producer.close()
    done = project.taskora("jobs", "wait", job_id, "--timeout", "0.2s")
    assert (done.returncode, done.stdout) == (124, f"{job_id} timeout\n"), done.stderr


def test_jobs_logs_follow_prints_new_entries_until_the_job_ends(
    project: Project, producer: Taskora, redis_url: str
) -> None:
    job_id = producer.dispatch("echo", "hi").id
    producer.close()
    follower = subprocess.Popen(
        [sys.executable, "-m", "taskora_cli", "jobs", "logs", job_id, "--follow", "--json"],
        cwd=project.root,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert follower.stdout is not None
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        for n in (1, 2):
            entry = {"ts": 1_700_000_000_000 + n, "level": "info", "msg": f"step {n}"}
            client.rpush(TaskKeys("", "echo").logs(job_id), json.dumps(entry))
            assert json.loads(follower.stdout.readline())["msg"] == f"step {n}"
    finally:
        client.close()
    project.start_worker("--task", "echo")  # the job completes, so the follow ends by itself
    out, err = follower.communicate(timeout=30)
    assert (follower.returncode, out, err) == (0, "", "")


def test_jobs_retry_runs_a_failed_job_again_and_refuses_a_completed_one(
    project: Project,
) -> None:
    project.start_worker("--task", "explode", "--task", "add")
    failed = json.loads(project.taskora("dispatch", "explode", "--json", "--wait").stdout)
    found = project.taskora("jobs", "ls", "--error", "BOOM", "--json")
    assert [job["id"] for job in json.loads(found.stdout)] == [failed["id"]]
    assert project.taskora("jobs", "ls", "--error", "no such text").stdout.strip() == "no jobs"
    retried = project.taskora("jobs", "retry", failed["id"])
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.strip() == f"{failed['id']} was failed; waiting again"
    waited = project.taskora("jobs", "wait", failed["id"], "--timeout", "15s")
    assert waited.returncode == 1 and "boom" in waited.stdout  # it ran again, and failed again
    assert (
        "retried from the dead-letter queue" in project.taskora("jobs", "logs", failed["id"]).stdout
    )
    done = json.loads(project.taskora("dispatch", "add", "--data", '{"a":1,"b":1}', "--json",
                                      "--wait").stdout)  # fmt: skip
    refused = project.taskora("jobs", "retry", done["id"])
    assert refused.returncode == 2
    assert "is completed; only failed, cancelled or expired jobs" in refused.stderr


def test_a_delay_past_the_longest_duration_is_refused_in_one_line_and_nothing_is_queued(
    project: Project, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    before = client.dbsize()
    for flags in (["--delay", "3000000d"], ["--ttl", "99999999999s"], ["--delay", "1e400"]):
        refused = project.taskora("dispatch", "echo", *flags)
        assert refused.returncode == 2, refused
        assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
        assert "3650d" in refused.stderr or "cannot read" in refused.stderr, refused.stderr
    assert client.dbsize() == before
    client.close()


def test_jobs_with_absurd_stored_times_still_list_show_and_log(
    project: Project, producer: Taskora, redis_url: str
) -> None:
    """Anything may write a job hash: a time no calendar can show prints as stored."""
    far, before_time, garbage = 10**17, -(10**17), "soon"
    ids = [producer.dispatch("echo", n).id for n in range(3)]
    producer.close()
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    keys = TaskKeys("", "echo")
    client.hset(keys.job(ids[0]), mapping={"t": far, "run_at": far, "started": before_time})
    client.hset(keys.job(ids[1]), mapping={"t": garbage, "finished": "inf"})
    client.hset(keys.job(ids[2]), mapping={"ts": 2**70})
    client.rpush(keys.logs(ids[0]), json.dumps({"ts": far, "msg": "from the future"}))
    client.rpush(keys.logs(ids[0]), json.dumps({"ts": "nan", "msg": "no time at all"}))
    client.close()

    listed = project.taskora("jobs", "ls", "--wide")
    assert listed.returncode == 0, listed.stderr
    assert f"{far}ms (out of range)" in listed.stdout
    as_json = project.taskora("jobs", "ls", "--json")
    assert as_json.returncode == 0, as_json.stderr
    timelines = {job["id"]: job["timeline"] for job in json.loads(as_json.stdout)}
    assert timelines[ids[0]]["dispatched_at"] == far
    assert timelines[ids[0]]["started_at"] == before_time
    assert timelines[ids[1]]["dispatched_at"] is None  # not a number: read as absent
    shown = project.taskora("jobs", "show", ids[0])
    assert shown.returncode == 0, shown.stderr
    assert f"due:        {far}ms (out of range)" in shown.stdout
    assert f"started:    {before_time}ms (out of range)" in shown.stdout
    logs = project.taskora("jobs", "logs", ids[0])
    assert logs.returncode == 0, logs.stderr
    assert f"{far}ms (out of range)" in logs.stdout and "'nan' (not a time)" in logs.stdout
    top = project.taskora("top", "--once")
    assert top.returncode == 0, top.stderr


def test_jobs_show_names_the_workflow_and_node_of_a_node_job(
    project: Project, producer: Taskora
) -> None:
    echo = producer.get_task("echo")
    handle = group(echo.s(1), echo.s(2)).dispatch()
    producer.close()
    shown = project.taskora("jobs", "show", f"{handle.id}.1")
    assert shown.returncode == 0, shown.stderr
    assert f"workflow:   {handle.id}, node 1" in shown.stdout
