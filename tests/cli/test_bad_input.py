"""Hostile input across the CLI: each row is refused with exactly one line on stderr, the
documented exit code (2 bad input or config, 3 server unreachable), no traceback, and nothing
written to the server."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import redis

from .conftest import Project, clean_env

BAD_CRON = '[schedules.nightly]\ntask = "echo"\ncron = "61 * * * *"\n'
HUGE_GRACE = '[worker]\ngrace = "3000000d"\n'
BAD_URL = 'url = "redis://127.0.0.1:6379/abc"\n'

ROWS: list[tuple[list[str], int]] = [
    # dispatch: durations, numbers, data, flow-control flags, names
    (["dispatch", "echo", "--delay", "3000000d"], 2),
    (["dispatch", "echo", "--delay", "-5s"], 2),
    (["dispatch", "echo", "--at", "tomorrow"], 2),
    (["dispatch", "echo", "--id", "a b"], 2),
    (["dispatch", "echo", "--delay", "nan"], 2),
    (["dispatch", "echo", "--delay", "inf"], 2),
    (["dispatch", "echo", "--delay", "1e400"], 2),
    (["dispatch", "echo", "--delay", ""], 2),
    (["dispatch", "echo", "--delay", "9" * 400], 2),
    (["dispatch", "echo", "--ttl", "99999999999s"], 2),
    (["dispatch", "echo", "--ttl", "0"], 2),
    (["dispatch", "echo", "--ttl", "1m", "--on-expire", "explode"], 2),
    (["dispatch", "echo", "--wait", "--timeout", "3000000d"], 2),
    (["dispatch", "echo", "--wait", "--timeout", "-1"], 2),
    (["dispatch", "echo", "--priority", "-1"], 2),
    (["dispatch", "echo", "--priority", "256"], 2),
    (["dispatch", "echo", "--priority", "nan"], 2),
    (["dispatch", "echo", "--priority", "9" * 40], 2),
    (["dispatch", "echo", "--data", "{bad"], 2),
    (["dispatch", "echo", "--data", ""], 2),
    (["dispatch", "echo", "--data", "NaN"], 2),
    (["dispatch", "echo", "--data", "1e999"], 2),
    (["dispatch", "echo", "--data", "[" * 100_000], 2),
    (["dispatch", "echo", "--config", "exits.toml"], 2),  # a task module calling sys.exit()
    (["dispatch", "echo", "--app", "exits:app"], 2),
    (["dispatch", "echo", "--data", "@missing.json"], 2),
    (["dispatch", "echo", "--data", "@"], 2),
    (["dispatch", "echo", "--ndjson", ""], 2),
    (["dispatch", "echo", "--ndjson", "missing.ndjson"], 2),
    (["dispatch", "echo", "--throttle", "k=0/1m"], 2),
    (["dispatch", "echo", "--throttle", "k=5/0s"], 2),
    (["dispatch", "echo", "--throttle", "k=-5/1m"], 2),
    (["dispatch", "echo", "--debounce", "k=3000000d"], 2),
    (["dispatch", "echo", "--concurrency-key", "k=-1"], 2),
    (["dispatch", "echo", "--concurrency-key", "k=abc"], 2),
    (["dispatch", "echo", "--dedup", ""], 2),
    (["dispatch", "echo", "--dedup", "k", "--dedup-while", "nonsense"], 2),
    (["dispatch", "nosuchtask"], 2),
    (["dispatch", ""], 2),
    (["dispatch", "\udcff"], 2),  # the byte 0xff: not UTF-8
    (["dispatch", "echo", "--data", '"\udcfe"'], 2),
    (["dispatch", "echo", "--nosuchflag"], 2),
    # jobs
    (["jobs", "ls", "--limit", "0"], 2),
    (["jobs", "ls", "--limit", "-1"], 2),
    (["jobs", "ls", "--limit", "nan"], 2),
    (["jobs", "ls", "--limit", "9" * 20], 2),
    (["jobs", "ls", "--state", "delayed", "--limit", "9" * 20], 2),
    (["jobs", "ls", "--state", "bogus"], 2),
    (["jobs", "ls", "--task", "nosuchtask"], 2),
    (["jobs", "show", "nosuchjob"], 2),
    (["jobs", "show", ""], 2),
    (["jobs", "logs", "nosuchjob"], 2),
    (["jobs", "retry", "nosuchjob"], 2),
    (["jobs", "cancel", "nosuchjob"], 2),
    (["jobs", "rm", "nosuchjob"], 2),
    (["jobs", "clean", "--state", "completed", "--older-than", "abc", "--yes"], 2),
    (["jobs", "clean", "--state", "waiting", "--older-than", "1d", "--yes"], 2),
    (["jobs", "wait", "nosuchjob", "--timeout", "abc"], 2),
    (["jobs", "wait", "nosuchjob", "--timeout", "3000000d"], 2),
    # tasks
    (["tasks", "show", "nosuchtask"], 2),
    (["tasks", "show", "nosuchtask", "--schema"], 2),
    (["tasks", "show", ""], 2),
    (["tasks", "ls", "extra"], 2),
    # queues, workers
    (["queues", "pause", "nosuchq"], 2),
    (["queues", "resume", "nosuchq"], 2),
    (["queues", "pause", ""], 2),
    (["queues", "pause", "a:b"], 2),
    (["workers", "drain", "nosuchworker"], 2),
    (["workers", "drain", "nosuchworker", "--wait", "--timeout", "inf"], 2),
    # schedules, dlq
    (["schedules", "show", "nosuch"], 2),
    (["schedules", "next", "nosuch"], 2),
    (["schedules", "next", "nosuch", "--limit", "0"], 2),
    (["schedules", "trigger", "nosuch"], 2),
    (["schedules", "pause", "nosuch"], 2),
    (["schedules", "rm", "nosuch", "--yes"], 2),
    (["schedules", "add", "x", "--task", "echo", "--every", "0s"], 2),
    (["schedules", "add", "x", "--task", "echo", "--cron", "bogus"], 2),
    (["schedules", "add", "x", "--task", "echo", "--cron", "0 9 * * *", "--timezone", ""], 2),
    (["schedules", "update", "nosuch", "--every", "1m"], 2),
    (["workflows", "ls", "--state", "bogus"], 2),
    (["workflows", "show", "nosuch"], 2),
    (["workflows", "cancel", "nosuch"], 2),
    (["workflows", "wait", "nosuch"], 2),
    (["workflows", "wait", "nosuch", "--timeout", "soon"], 2),
    (["dlq", "retry", "nosuchjob"], 2),
    (["dlq", "retry-all", "--since", "3000000d", "--yes"], 2),
    (["dlq", "retry-all", "--error-match", "(", "--yes"], 2),
    (["dlq", "purge", "--limit", "-1", "--yes"], 2),
    (["dlq", "ls", "--limit", "0"], 2),
    (["dlq", "ls", "--limit", "9" * 20], 2),
    # stats, top, events, doctor
    (["stats", "--watch", "--interval", "0s"], 2),
    (["stats", "--watch", "--interval", "nan"], 2),
    (["dispatch", "echo", "--ndjson", "deep.ndjson"], 2),
    (["top", "--interval", "-1"], 2),
    (["board", "--port", "99999"], 2),
    (["board", "--host", "0.0.0.0", "--check"], 2),
    (["gateway", "--port", "99999"], 2),
    (["gateway", "--host", "0.0.0.0", "--check"], 2),
    (["top", "--interval", "3000000d"], 2),
    (["events", "--limit", "-5"], 2),
    (["events", "--limit", "9" * 20], 2),
    (["doctor", "--max-latency", "3000000d"], 2),
    (["doctor", "--max-depth", "-1"], 2),
    # work (refused before anything runs)
    (["work", "-p", "0"], 2),
    (["work", "-p", "1000"], 2),
    (["work", "-c", "100000"], 2),
    (["work", "-c", "-3"], 2),
    (["work", "--grace", "3000000d"], 2),
    (["work", "--grace", "nan"], 2),
    (["work", "-q", "nosuchq"], 2),
    (["work", "-q", "emails=0"], 2),
    (["work", "-q", "emails=x"], 2),
    (["work", "-q", "emails=20000"], 2),
    (["work", "-q", "emails=" + "9" * 20], 2),
    (["work", "-t", "nosuchtask"], 2),
    (["work", "--max-jobs", "0"], 2),
    # config: files and the environment
    (["config", "--config", "missing.toml"], 2),
    (["config", "--config", "badcron.toml"], 2),
    (["work", "--burst", "--config", "hugegrace.toml"], 2),
    (["jobs", "ls", "--config", "badurl.toml"], 2),
    (["init", "--path", "taskora.toml"], 2),  # exists: --force to overwrite
    (["init", "--path", "."], 2),
    (["init", "--path", "mytasks.py/taskora.toml"], 2),  # a file where a folder should be
    (["init", "--path", "a" * 300 + ".toml"], 2),
    (["init", "--module", "my tasks", "--path", "new.toml"], 2),
    (["server", "start"], 2),  # the config names a server: not ours to start
    (["server", "start", "--cluster", "0"], 2),
    (["server", "start", "--cluster", "3", "--replicas", "-1"], 2),
    (["server", "start", "--replicas", "2"], 2),  # without --cluster
    (["server", "migrate"], 2),  # no TTY to ask on, and no --yes
    (["nosuchcommand"], 2),
]

ENV_ROWS: list[tuple[dict[str, str], list[str], int]] = [
    ({"TASKORA_URL": "redis://127.0.0.1:6379/abc"}, ["jobs", "ls"], 2),
    ({"TASKORA_URL": "redis://127.0.0.1:99999/0"}, ["jobs", "ls"], 2),
    ({"TASKORA_URL": "redis://127.0.0.1:0/0"}, ["dispatch", "echo"], 2),
    ({"TASKORA_URL": "redis://127.0.0.1:6379/-1"}, ["stats"], 2),
    ({"TASKORA_URL": "valkey://127.0.0.1:6379/0"}, ["stats"], 2),
    ({"TASKORA_URL": "http://127.0.0.1"}, ["stats"], 2),
    ({"TASKORA_URL": "127.0.0.1:6379"}, ["stats"], 2),
    ({"TASKORA_URL": "redis://"}, ["stats"], 2),
    ({"TASKORA_URL": "redis://127.0.0.1:DEAD/0"}, ["jobs", "ls"], 3),
    ({"TASKORA_URL": "redis://127.0.0.1:DEAD/0"}, ["dispatch", "echo"], 3),
    ({"TASKORA_URL": "redis://127.0.0.1:DEAD/0"}, ["queues", "pause", "emails"], 3),
    ({"TASKORA_URL": "redis://127.0.0.1:DEAD/0"}, ["top", "--once"], 3),
    ({"TASKORA_CONCURRENCY": "0"}, ["work", "--burst"], 2),
    ({"TASKORA_PROCESSES": "-1"}, ["work", "--burst"], 2),
    ({"TASKORA_PROCESSES": "nan"}, ["work", "--burst"], 2),
    ({"TASKORA_PREFIX": "\udcff"}, ["jobs", "ls"], 2),
]


@pytest.fixture
def hostile(project: Project, redis_url: str) -> Iterator[tuple[Project, redis.Redis]]:
    """The CLI project with the files the rows name, connected once (the handshake writes the
    layout's meta key: that is the only write a read-only command makes)."""
    (project.root / "badcron.toml").write_text(BAD_CRON)
    (project.root / "hugegrace.toml").write_text('modules = ["mytasks"]\n' + HUGE_GRACE)
    (project.root / "badurl.toml").write_text(BAD_URL)
    (project.root / "deep.ndjson").write_text("1\n" + "[" * 100_000 + "\n")
    (project.root / "exits.py").write_text("import sys\n\nsys.exit(0)\n")
    (project.root / "exits.toml").write_text('modules = ["exits"]\n')
    client = redis.Redis.from_url(redis_url)
    assert project.taskora_in_process("stats").returncode == 0
    for delay in ("", "1h"):  # a job in each line, so listings reach the server with --limit
        done = project.taskora_in_process(
            "dispatch", "echo", "--data", "1", *(["--delay", delay] * bool(delay))
        )
        assert done.returncode == 0, done.stderr
    yield project, client
    client.close()


def dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def snapshot(client: redis.Redis) -> list[tuple[bytes, bytes]]:
    return sorted((key, client.dump(key) or b"") for key in client.scan_iter())


def check(
    project: Project, client: redis.Redis, args: list[str], expected: int, *, child: bool = False
) -> None:
    """``args`` refused as documented; in this process through the real entry point (the
    table is long), or in a real child process with ``child``."""
    before = snapshot(client)
    done = project.taskora(*args, timeout=60) if child else project.taskora_in_process(*args)
    lines = done.stderr.splitlines()
    assert done.returncode == expected, (args, done.returncode, done.stderr[-2000:])
    assert len(lines) == 1 and lines[0].strip(), (args, done.stderr[-2000:])
    assert lines[0].startswith("taskora"), (args, lines[0])
    assert "Traceback" not in done.stderr + done.stdout
    assert snapshot(client) == before, args


@pytest.mark.parametrize(("args", "expected"), ROWS, ids=[" ".join(r[0])[:60] for r in ROWS])
def test_hostile_arguments_are_refused_in_one_line_writing_nothing(
    hostile: tuple[Project, redis.Redis], args: list[str], expected: int
) -> None:
    check(*hostile, args, expected)


@pytest.mark.parametrize(
    ("env", "args", "expected"),
    ENV_ROWS,
    ids=[f"{next(iter(r[0].items()))}-{' '.join(r[1])}"[:60] for r in ENV_ROWS],
)
def test_hostile_environment_is_refused_in_one_line_writing_nothing(
    hostile: tuple[Project, redis.Redis], env: dict[str, str], args: list[str], expected: int
) -> None:
    project, client = hostile
    port = str(dead_port())
    project.env = {**project.env, **{k: v.replace("DEAD", port) for k, v in env.items()}}
    check(project, client, args, expected)


@pytest.mark.parametrize("command", ["board", "gateway"])
def test_a_taken_port_is_one_line_not_a_traceback(
    hostile: tuple[Project, redis.Redis], command: str
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        check(*hostile, [command, "--port", port], 2)
        # a deploy script checks before it restarts the board that holds the port
        checked = hostile[0].taskora_in_process(command, "--check", "--port", port)
        assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize("check", [[], ["--check"]], ids=["serve", "check"])
def test_a_board_host_that_names_no_address_is_refused_after_its_warning(
    hostile: tuple[Project, redis.Redis], check: list[str]
) -> None:
    project, client = hostile
    before = snapshot(client)
    done = project.taskora_in_process("board", "--host", "not a host", "--insecure", *check)
    warning, refusal = done.stderr.splitlines()  # --insecure warns first, as it should
    assert done.returncode == 2, done.stderr
    assert warning.startswith("taskora: warning: serving not a host with no login")
    assert refusal.startswith("taskora: --host 'not a host' names no address here")
    assert "Traceback" not in done.stderr + done.stdout
    assert snapshot(client) == before


IN_A_CHILD: list[tuple[dict[str, str], list[str], int]] = [
    ({}, ["dispatch", "echo", "--delay", "nan"], 2),
    ({}, ["dispatch", "\udcff"], 2),
    ({}, ["config", "--config", "badcron.toml"], 2),
    ({}, ["nosuchcommand"], 2),
    ({"TASKORA_URL": "redis://127.0.0.1:DEAD/0"}, ["top", "--once"], 3),
]
"""Rows of both tables again, in a real `python -m taskora_cli` child each: the tables run in
this process, and the property (exit code, one stderr line, no traceback) belongs to the
process a user runs."""


def test_hostile_input_is_refused_the_same_in_a_real_process(
    hostile: tuple[Project, redis.Redis],
) -> None:
    project, client = hostile
    port = str(dead_port())
    for env, args, expected in IN_A_CHILD:
        assert (env, args, expected) in ENV_ROWS or ((args, expected) in ROWS and not env)
        project.env = {**clean_env(), **{k: v.replace("DEAD", port) for k, v in env.items()}}
        check(project, client, args, expected, child=True)


def test_the_table_covers_every_command() -> None:
    from .test_secrets import every_command

    covered = {" ".join(a[:2]) if a[0] in SUBCOMMANDS else a[0] for a, _ in ROWS}
    missing = [c for c in every_command() if c not in covered and c not in NO_BAD_INPUT]
    assert not missing, f"add hostile rows for {missing}"


SUBCOMMANDS = {"jobs", "queues", "workers", "schedules", "dlq", "server", "tasks", "workflows"}
NO_BAD_INPUT = {
    "server status",
    "server stop",
    "queues ls",
    "workers ls",
    "schedules ls",
    "schedules resume",
    "dlq purge",
}
"""Commands whose only inputs are the flags every command shares (--config, --json)."""


BUGGY_APP = """
from taskora_cli import Taskora


class Buggy(Taskora):
    def dispatch(self, *args, **kwargs):
        raise RuntimeError("kaput\\non two lines")


app = Buggy()


@app.task("echo")
def echo(data, ctx):
    return data
"""


def test_a_bug_is_one_line_with_exit_70_and_its_traceback_on_request(project: Project) -> None:
    (project.root / "buggy.py").write_text(BUGGY_APP)
    done = project.taskora("--app", "buggy:app", "dispatch", "echo")
    assert done.returncode == 70, done.stderr
    [line] = done.stderr.splitlines()
    assert line == (
        "taskora: unexpected error at buggy.py:7: RuntimeError: kaput on two lines (a bug: "
        "TASKORA_TRACEBACK=1 shows the traceback to report)"
    )
    project.env = {**project.env, "TASKORA_TRACEBACK": "1"}
    shown = project.taskora("--app", "buggy:app", "dispatch", "echo")
    assert "Traceback (most recent call last)" in shown.stderr
    assert 'raise RuntimeError("kaput' in shown.stderr
