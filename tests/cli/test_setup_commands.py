"""`taskora init`, `config`, `doctor`, `server` and the shell completions."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from servers import raw_client

from taskora_cli.cli.completions import SHELLS, script
from taskora_cli.config import load_config

from .conftest import Project, clean_env, run_taskora

REPO = Path(__file__).resolve().parents[2]


def test_init_writes_a_config_that_loads_back(tmp_path: Path) -> None:
    done = run_taskora(
        "init", "--url", "redis://localhost:6379/2", "--module", "app.tasks", "--module", "more",
        "--prefix", "shop", "--concurrency", "4", cwd=tmp_path, env=clean_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    loaded = load_config(tmp_path / "taskora.toml", env={})
    assert loaded.url == "redis://localhost:6379/2"
    assert loaded.modules == ("app.tasks", "more")
    assert loaded.prefix == "shop" and loaded.worker.concurrency == 4


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    (tmp_path / "taskora.toml").write_text("# mine\n")
    refused = run_taskora("init", cwd=tmp_path, env=clean_env())
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert (tmp_path / "taskora.toml").read_text() == "# mine\n"
    assert run_taskora("init", "--force", cwd=tmp_path, env=clean_env()).returncode == 0


def test_init_with_a_bad_value_writes_nothing(tmp_path: Path) -> None:
    done = run_taskora("init", "--url", "http://nope", cwd=tmp_path, env=clean_env())
    assert done.returncode == 2 and "url" in done.stderr
    assert not (tmp_path / "taskora.toml").exists()


def test_config_prints_values_and_where_they_came_from(project: Project) -> None:
    project.env["TASKORA_PREFIX"] = "fromenv"
    done = project.taskora("config")
    assert done.returncode == 0, done.stderr
    assert 'prefix = "fromenv"' in done.stdout
    assert "env TASKORA_PREFIX" in done.stdout
    assert "file taskora.toml" in done.stdout
    as_json = json.loads(project.taskora("config", "--json").stdout)
    assert as_json["values"]["prefix"] == "fromenv"
    assert as_json["sources"]["modules"] == "file taskora.toml"
    assert as_json["sources"]["defaults.timeout"] == "default"


def test_config_output_loads_back_as_a_config_file(project: Project, tmp_path: Path) -> None:
    printed = project.taskora("config").stdout
    copy = tmp_path / "copy.toml"
    copy.write_text(printed)
    assert tomllib.loads(printed)["modules"] == ["mytasks"]
    assert load_config(copy, env={}).modules == ("mytasks",)


def test_a_config_error_exits_2_naming_the_file_and_key(project: Project) -> None:
    (project.root / "taskora.toml").write_text('modules = ["mytasks"]\nconcurency = 3\n')
    done = project.taskora("dispatch", "add")
    assert done.returncode == 2
    assert "taskora.toml" in done.stderr and "concurency" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_config_flag_beats_taskora_config_and_discovery(
    project: Project, tmp_path: Path
) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text('prefix = "fromflag"\n')
    project.env["TASKORA_CONFIG"] = str(project.root / "taskora.toml")
    shown = json.loads(project.taskora("config", "--json", "--config", str(other)).stdout)
    assert shown["values"]["prefix"] == "fromflag"


def test_doctor_passes_on_a_good_setup(project: Project) -> None:
    done = project.taskora("doctor")
    assert done.returncode == 0, done.stderr
    assert "7 tasks" in done.stdout and "valkey" in done.stdout
    checks = json.loads(project.taskora("doctor", "--json").stdout)
    assert checks["ok"] and [c["check"] for c in checks["checks"]] == [
        "config", "modules", "server", "wire",
    ]  # fmt: skip


def test_doctor_names_the_first_problem(project: Project) -> None:
    (project.root / "mytasks.py").write_text("raise RuntimeError('bad module')\n")
    broken = project.taskora("doctor")
    assert (
        broken.returncode == 2 and "modules: cannot import task module 'mytasks'" in broken.stderr
    )
    (project.root / "mytasks.py").write_text("")
    project.env["TASKORA_URL"] = "redis://127.0.0.1:1/0"
    unreachable = project.taskora("doctor")
    assert unreachable.returncode == 3 and "server: cannot reach" in unreachable.stderr


def test_server_start_status_stop_manage_the_embedded_server(tmp_path: Path) -> None:
    env = clean_env() | {"TASKORA_STATE_DIR": str(tmp_path / "state")}
    try:
        started = run_taskora("server", "start", cwd=tmp_path, env=env)
        assert started.returncode == 0, started.stderr
        assert started.stdout.startswith("unix://")
        status = json.loads(run_taskora("server", "status", "--json", cwd=tmp_path, env=env).stdout)
        assert status["running"] and status["aof"] is True and status["pid"] > 0
        assert status["version"]
    finally:
        stopped = run_taskora("server", "stop", cwd=tmp_path, env=env)
    assert stopped.stdout.strip() == "stopped"
    status = json.loads(run_taskora("server", "status", "--json", cwd=tmp_path, env=env).stdout)
    assert status["running"] is False


def test_server_start_refuses_when_a_url_is_configured(project: Project) -> None:
    done = project.taskora("server", "start")
    assert done.returncode == 2 and "does not start that one" in done.stderr


def test_completion_scripts_regenerate_identically() -> None:
    for shell, name in SHELLS.items():
        shipped = (REPO / "completions" / name).read_text()
        assert shipped == script(shell) + "\n", (
            f"completions/{name} is stale: run python -m taskora_cli.cli.completions completions/"
        )


def test_task_names_complete_from_the_config(project: Project) -> None:
    env = project.env | {
        "_TASKORA_COMPLETE": "complete_bash",
        "COMP_WORDS": "taskora dispatch e",
        "COMP_CWORD": "2",
    }
    done = subprocess.run(
        [sys.executable, "-m", "taskora_cli"], cwd=project.root, env=env, capture_output=True,
        text=True, timeout=30,
    )  # fmt: skip
    assert done.stdout.split() == ["echo", "explode"]


def test_help_explains_every_flag_and_the_exit_codes() -> None:
    done = run_taskora("dispatch", "--help", cwd=REPO, env=clean_env())
    for flag in ("--data", "--delay", "--priority", "--wait", "--timeout", "--ndjson", "--json"):
        assert flag in done.stdout
    assert "124 --wait timed out" in " ".join(done.stdout.split())


def test_server_migrate_takes_a_server_over_from_the_format_the_refusal_names(
    project: Project, redis_url: str
) -> None:
    meta = "taskora:{_global}:meta"
    client = raw_client(redis_url, decode_responses=True)
    try:
        client.hset(meta, mapping={"wire_version": 3, "min_compat": 3})
        client.hset("taskora:{echo}:j:a1", mapping={"state": "completed", "ts": "1", "data": "1"})
        refused = project.taskora("dispatch", "echo", "--data", "1")
        assert refused.returncode == 3 and "run `taskora server migrate`" in refused.stderr
        unasked = project.taskora("server", "migrate")  # no TTY to ask on
        assert unasked.returncode == 2 and "pass --yes" in unasked.stderr
        migrated = project.taskora("server", "migrate", "--yes", "--json")
        assert migrated.returncode == 0, migrated.stderr
        assert json.loads(migrated.stdout) == {
            "outcome": "migrated", "from": 3, "to": 4, "jobs_rewritten": 1
        }  # fmt: skip
        assert project.taskora("dispatch", "echo", "--data", "1").returncode == 0
        again = project.taskora("server", "migrate", "--yes")
        assert again.stdout == "nothing to do: the server is at wire format 4\n"
        client.hset(meta, mapping={"wire_version": 3, "min_compat": 3})
        client.hset("taskora:{echo}:j:a2", mapping={"state": "completed", "ts": "1", "data": "2"})
        as_text = project.taskora("server", "migrate", "--yes")
        assert as_text.stdout == "migrated from wire format 3 to 4: 1 job rewritten\n"
        client.hset(meta, mapping={"wire_version": 1, "min_compat": 1})
        unreadable = project.taskora("server", "migrate", "--yes")
        assert unreadable.returncode == 3 and "drain its queues" in unreadable.stderr
    finally:
        client.close()
