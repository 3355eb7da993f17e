"""`taskora dispatch` end to end: the real entry point, a real worker, a real server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import redis

from taskora_cli.engine.keys import TaskKeys

from .conftest import Project, wait_for

pytestmark = pytest.mark.cli_in_process  # `project.taskora` runs in-process


def test_dispatch_wait_round_trip_prints_the_result_as_json(project: Project) -> None:
    project.start_worker()
    done = project.taskora("dispatch", "add", "--data", '{"a": 2, "b": 3}', "--wait")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "5\n"


def test_dispatch_without_wait_prints_only_the_job_id(project: Project) -> None:
    done = project.taskora("dispatch", "echo", "--data", '"hi"')
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip().splitlines()) == 1
    assert done.stdout.strip().isalnum()


def test_data_comes_from_a_file_or_standard_input(project: Project) -> None:
    project.start_worker()
    (project.root / "payload.json").write_text('{"from": "file"}')
    from_file = project.taskora("dispatch", "echo", "--data", "@payload.json", "--wait")
    from_stdin = project.taskora(
        "dispatch", "echo", "--data", "@-", "--wait", input='{"from": "stdin"}'
    )
    assert json.loads(from_file.stdout) == {"from": "file"}
    assert json.loads(from_stdin.stdout) == {"from": "stdin"}


def test_ndjson_dispatches_one_job_per_line_and_prints_their_ids(project: Project) -> None:
    project.start_worker()
    lines = "\n".join(json.dumps({"a": i, "b": 1}) for i in range(25)) + "\n\n"
    done = project.taskora("dispatch", "add", "--ndjson", "-", input=lines)
    assert done.returncode == 0, done.stderr
    ids = done.stdout.split()
    assert len(ids) == len(set(ids)) == 25
    waited = project.taskora("dispatch", "add", "--data", '{"a": 0, "b": 0}', "--wait")
    assert waited.returncode == 0


def test_a_bad_ndjson_line_dispatches_nothing_and_names_the_line(project: Project) -> None:
    done = project.taskora("dispatch", "add", "--ndjson", "-", input='{"a": 1}\n{oops\n')
    assert done.returncode == 2
    assert "line 2 of standard input is not valid JSON" in done.stderr
    assert "nothing was dispatched" in done.stderr
    assert done.stdout == ""


def test_json_output_parses(project: Project) -> None:
    project.start_worker()
    queued = project.taskora("dispatch", "echo", "--data", "1", "--json")
    assert json.loads(queued.stdout) | {"id": "x"} == {"id": "x", "task": "echo", "enqueued": True}
    waited = project.taskora("dispatch", "echo", "--data", "[1, 2]", "--json", "--wait")
    parsed = json.loads(waited.stdout)
    assert parsed["state"] == "completed" and parsed["result"] == [1, 2]


def test_a_failed_job_exits_1_with_the_remote_error_on_stderr(project: Project) -> None:
    project.start_worker()
    done = project.taskora("dispatch", "explode", "--wait")
    assert done.returncode == 1
    assert "ValueError: boom" in done.stderr
    assert "Traceback" not in done.stderr
    as_json = project.taskora("dispatch", "explode", "--wait", "--json")
    error = json.loads(as_json.stdout)["error"]
    assert (
        as_json.returncode == 1 and error["type"] == "ValueError" and "boom" in error["traceback"]
    )


def test_malformed_json_is_a_usage_error_with_one_line(project: Project) -> None:
    done = project.taskora("dispatch", "add", "--data", "{not json")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "is not valid JSON" in done.stderr


def test_an_unknown_task_exits_2_naming_the_known_tasks(project: Project) -> None:
    done = project.taskora("dispatch", "nope")
    assert done.returncode == 2
    assert "unknown task 'nope'" in done.stderr
    assert "add, aslow, crash-once, echo, explode, mail, slow" in done.stderr


def test_a_missing_data_file_exits_2(project: Project) -> None:
    done = project.taskora("dispatch", "add", "--data", "@missing.json")
    assert done.returncode == 2
    assert "cannot read missing.json" in done.stderr


def test_bad_flags_exit_2(project: Project) -> None:
    assert project.taskora("dispatch", "add", "--priority", "999").returncode == 2
    assert project.taskora("dispatch", "add", "--delay", "soon").returncode == 2
    assert project.taskora("dispatch", "add", "--timeout", "5s").returncode == 2


def test_an_unreachable_server_exits_3(project: Project) -> None:
    project.env["TASKORA_URL"] = "redis://127.0.0.1:1/0"
    done = project.taskora("dispatch", "add", "--data", "{}")
    assert done.returncode == 3
    assert "cannot reach the server" in done.stderr
    assert "Traceback" not in done.stderr


def test_wait_timeout_exits_124_and_the_job_keeps_waiting(project: Project) -> None:
    done = project.taskora("dispatch", "echo", "--data", "1", "--wait", "--timeout", "0.2s")
    assert done.returncode == 124
    assert "keeps running" in done.stderr


def test_a_task_only_the_server_knows_can_be_dispatched_without_its_module(
    project: Project,
) -> None:
    project.start_worker()  # registers the task names on the server
    (project.root / "taskora.toml").write_text(
        (project.root / "taskora.toml").read_text().replace('modules = ["mytasks"]', "modules = []")
    )
    done = project.taskora("dispatch", "add", "--data", '{"a": 1, "b": 1}', "--wait")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "2\n"


def start_waiting_dispatch(project: Project, redis_url: str, *args: str) -> subprocess.Popen[str]:
    """Run `taskora dispatch echo ARGS --wait` and return once its job is queued."""
    waiter = subprocess.Popen(
        [sys.executable, "-m", "taskora_cli", "dispatch", "echo", *args, "--wait"],
        cwd=project.root,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    client = redis.Redis.from_url(redis_url)
    try:
        wait_for(lambda: client.llen(TaskKeys("", "echo").wait) == 1)
    finally:
        client.close()
    return waiter


def test_ttl_expires_a_job_no_worker_started_in_time(project: Project, redis_url: str) -> None:
    # The worker starts only once the job is queued, so its 1 ms TTL has surely passed.
    waiter = start_waiting_dispatch(project, redis_url, "--ttl", "1ms")
    burst = project.taskora("work", "--burst", "--task", "echo")
    assert burst.returncode == 0, burst.stderr
    _, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 1
    assert "expired before a worker started it" in err


def test_ctrl_c_while_waiting_exits_130_without_noise(project: Project, redis_url: str) -> None:
    waiter = start_waiting_dispatch(project, redis_url, "--data", "1")
    waiter.send_signal(signal.SIGINT)
    _, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 130
    assert err == ""
