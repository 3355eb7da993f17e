"""A task module that builds its own app (`app = Taskora(...)`): found through the `app` key,
`taskora --app`, TASKORA_APP or by looking in the task modules; bad references exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from .conftest import Project, clean_env

OWN_APP = """
from taskora_cli import Taskora

app = Taskora({args})
not_an_app = "a string"


@app.task("own-add")
def add(data, ctx):
    return data["a"] + data["b"]


@app.task("own-explode")
def explode(data, ctx):
    raise ValueError("boom")
"""

OTHER_APP = """
from taskora_cli import Taskora

other = Taskora()


@other.task("other-echo")
def echo(data, ctx):
    return data
"""

DEFAULT_APP = """
from taskora_cli import task


@task("plain-echo")
def echo(data, ctx):
    return data
"""


@pytest.fixture
def own(tmp_path: Path, redis_url: str) -> Iterator[Project]:
    """A project whose module `ownapp` builds its own app; taskora.toml lists it in `modules`."""
    proj = _project(tmp_path, redis_url, 'modules = ["ownapp"]\n')
    try:
        yield proj
    finally:
        proj.stop_workers()


def _project(root: Path, redis_url: str, toml: str, app_args: str = "") -> Project:
    (root / "ownapp.py").write_text(textwrap.dedent(OWN_APP.format(args=app_args)))
    (root / "otherapp.py").write_text(textwrap.dedent(OTHER_APP))
    (root / "plainapp.py").write_text(textwrap.dedent(DEFAULT_APP))
    (root / "taskora.toml").write_text(f'url = "{redis_url}"\n{toml}')
    # its commands run in this process through the real entry point; the README example
    # below (test_the_own_app_example_runs_as_the_readme_says) keeps real children
    return Project(root, clean_env(), in_process=True)


def _configure(project: Project, toml: str) -> None:
    url = (project.root / "taskora.toml").read_text().splitlines()[0]
    (project.root / "taskora.toml").write_text(f"{url}\n{toml}")


def _dispatch_and_burst(project: Project, *before: str) -> dict[str, object]:
    """Dispatch own-add, run `work --burst`, and return the job as `jobs show --json` sees it."""
    sent = project.taskora(*before, "dispatch", "own-add", "--data", '{"a": 2, "b": 3}')
    assert sent.returncode == 0, sent.stderr
    job_id = sent.stdout.strip()
    worked = project.taskora(*before, "work", "--burst")
    assert worked.returncode == 0, worked.stderr
    shown = project.taskora(*before, "jobs", "show", job_id, "--json")
    assert shown.returncode == 0, shown.stderr
    job: dict[str, object] = json.loads(shown.stdout)
    return job


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def _keys(redis_url: str) -> list[str]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return sorted(str(key) for key in client.keys("*"))
    finally:
        client.close()


# -- finding the app -----------------------------------------------------------------------------


def test_an_app_built_in_a_task_module_is_found_there_by_work_and_dispatch(own: Project) -> None:
    job = _dispatch_and_burst(own)
    assert (job["state"], job["result"]) == ("completed", 5)
    banner = own.taskora("work", "--burst").stderr
    assert "app        ownapp:app" in banner, banner


def test_the_app_key_names_the_app_even_when_modules_is_empty(own: Project) -> None:
    _configure(own, 'app = "ownapp:app"\n')
    job = _dispatch_and_burst(own)
    assert (job["state"], job["result"]) == ("completed", 5)


def test_the_app_flag_before_the_command_needs_no_config_key(own: Project) -> None:
    _configure(own, "")
    job = _dispatch_and_burst(own, "--app", "ownapp:app")
    assert (job["state"], job["result"]) == ("completed", 5)


def test_the_app_flag_after_the_command_works_as_well_and_wins(own: Project) -> None:
    _configure(own, 'app = "otherapp:other"\n')
    sent = own.taskora("dispatch", "own-add", "--data", '{"a": 2, "b": 2}', "--app", "ownapp:app")
    assert sent.returncode == 0, sent.stderr
    worked = own.taskora("--app", "otherapp:other", "work", "--burst", "--app", "ownapp:app")
    assert worked.returncode == 0, worked.stderr
    shown = own.taskora("jobs", "show", sent.stdout.strip(), "--json", "--app", "ownapp:app")
    assert json.loads(shown.stdout)["result"] == 4


def test_every_command_that_loads_an_app_takes_the_app_flag(own: Project) -> None:
    for command in (
        ["work"], ["dispatch"], ["jobs", "ls"], ["jobs", "show"], ["jobs", "logs"],
        ["jobs", "retry"], ["jobs", "cancel"], ["jobs", "wait"], ["dlq", "ls"], ["dlq", "retry"],
        ["dlq", "retry-all"], ["dlq", "purge"], ["queues", "ls"], ["queues", "pause"],
        ["schedules", "ls"], ["schedules", "trigger"], ["workers", "ls"], ["workers", "drain"],
        ["events"], ["stats"], ["top"], ["doctor"], ["config"], ["board"], ["gateway"],
    ):  # fmt: skip
        done = own.taskora_in_process(*command, "--help")  # the help of the real entry point
        assert "--app MODULE:ATTR" in done.stdout, command


def test_taskora_app_in_the_environment_names_the_app(own: Project) -> None:
    _configure(own, "")
    own.env["TASKORA_APP"] = "ownapp:app"
    job = _dispatch_and_burst(own)
    assert (job["state"], job["result"]) == ("completed", 5)


def test_the_app_flag_reaches_every_supervised_worker_process(own: Project) -> None:
    _configure(own, "")
    sent = own.taskora("--app", "ownapp:app", "dispatch", "own-add", "--data", '{"a": 1, "b": 1}')
    assert sent.returncode == 0, sent.stderr
    worked = own.taskora("--app", "ownapp:app", "work", "--processes", "2", "--burst")
    assert worked.returncode == 0, worked.stderr
    shown = own.taskora("--app", "ownapp:app", "jobs", "show", sent.stdout.strip(), "--json")
    assert json.loads(shown.stdout)["state"] == "completed"


def test_commands_that_need_no_tasks_use_the_found_app_too(tmp_path: Path, redis_url: str) -> None:
    # dlq ls imports no task module for its tasks, but the app's own prefix still matters.
    project = _project(tmp_path, redis_url, 'modules = ["ownapp"]\n', 'prefix="mine"')
    sent = project.taskora("dispatch", "own-explode")
    assert sent.returncode == 0, sent.stderr
    assert project.taskora("work", "--burst").returncode == 0
    listed = project.taskora("dlq", "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [d["id"] for d in json.loads(listed.stdout)] == [sent.stdout.strip()]


def test_task_names_complete_from_the_found_app(own: Project) -> None:
    env = own.env | {
        "_TASKORA_COMPLETE": "complete_bash",
        "COMP_WORDS": "taskora dispatch own",
        "COMP_CWORD": "2",
    }
    done = subprocess.run(
        [sys.executable, "-m", "taskora_cli"], cwd=own.root, env=env, capture_output=True,
        text=True, timeout=30,
    )  # fmt: skip
    assert done.stdout.split() == ["own-add", "own-explode"]


# -- whose settings win --------------------------------------------------------------------------


def test_the_apps_own_prefix_beats_the_file_and_taskora_prefix_beats_both(
    tmp_path: Path, redis_url: str
) -> None:
    project = _project(
        tmp_path, redis_url, 'modules = ["ownapp"]\nprefix = "file"\n', 'prefix="code"'
    )
    assert project.taskora("dispatch", "own-add", "--data", "{}").returncode == 0
    assert {key.split(":")[1] for key in _keys(redis_url)} == {"code"}
    project.env["TASKORA_PREFIX"] = "deploy"
    assert project.taskora("dispatch", "own-add", "--data", "{}").returncode == 0
    assert {key.split(":")[1] for key in _keys(redis_url)} == {"code", "deploy"}


# -- ambiguity -----------------------------------------------------------------------------------


def test_tasks_on_two_apps_are_an_error_naming_both_and_the_app_key(own: Project) -> None:
    _configure(own, 'modules = ["ownapp", "otherapp"]\n')
    for command in (["dispatch", "own-add", "--data", "{}"], ["work", "--burst"], ["jobs", "ls"]):
        line = _one_error_line(own.taskora(*command))
        assert "ownapp:app (2 tasks)" in line and "otherapp:other (1 task)" in line, line
        assert 'app = "MODULE:ATTR"' in line and "taskora.toml" in line, line


def test_tasks_on_an_own_app_and_the_default_app_are_an_error_too(own: Project) -> None:
    _configure(own, 'modules = ["ownapp", "plainapp"]\n')
    line = _one_error_line(own.taskora("work", "--burst"))
    assert "ownapp:app (2 tasks)" in line and "the default app (@task) (1 task)" in line, line


def test_the_app_key_settles_which_app_when_there_are_several(own: Project) -> None:
    _configure(own, 'modules = ["ownapp", "otherapp"]\napp = "ownapp:app"\n')
    job = _dispatch_and_burst(own)
    assert job["state"] == "completed"
    unknown = own.taskora("dispatch", "other-echo")
    assert unknown.returncode == 2 and "unknown task 'other-echo'" in unknown.stderr


def test_the_default_app_is_still_used_when_no_module_builds_its_own(own: Project) -> None:
    _configure(own, 'modules = ["plainapp"]\n')
    sent = own.taskora("dispatch", "plain-echo", "--data", '"hi"')
    assert sent.returncode == 0, sent.stderr
    assert own.taskora("work", "--burst").returncode == 0
    shown = own.taskora("jobs", "show", sent.stdout.strip(), "--json")
    assert json.loads(shown.stdout)["result"] == "hi"


# -- bad references ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "says"),
    [
        ("nosuch.module:app", "no module named 'nosuch'"),
        ("ownapp:missing", "module 'ownapp' has no 'missing'; its Taskora apps: ownapp:app"),
        ("ownapp:not_an_app", "'not_an_app' is a str, not a Taskora app; its Taskora apps: "
         "ownapp:app"),
        ("ownapp:add", "'add' is a Task, not a Taskora app"),
        ("ownapp", 'expected MODULE:ATTR naming your Taskora app, e.g. "myapp.tasks:app"'),
    ],
)  # fmt: skip
@pytest.mark.parametrize("command", [["dispatch", "own-add"], ["work", "--burst"], ["dlq", "ls"]])
def test_a_bad_app_flag_is_one_line_exit_2_naming_the_fix(
    own: Project, redis_url: str, ref: str, says: str, command: list[str]
) -> None:
    line = _one_error_line(own.taskora("--app", ref, *command))
    assert line.startswith(f"taskora: --app{':' if ref == 'ownapp' else ' ' + ref + ':'}"), line
    assert says in line, line
    assert _keys(redis_url) == []  # nothing written


def test_a_bad_app_key_names_the_file(own: Project) -> None:
    _configure(own, 'app = "ownapp:missing"\n')
    line = _one_error_line(own.taskora("dispatch", "own-add"))
    assert line.startswith("taskora: taskora.toml: app = ownapp:missing: module 'ownapp' has no")


def test_a_bad_taskora_app_names_the_variable(own: Project) -> None:
    own.env["TASKORA_APP"] = "nosuch:app"
    line = _one_error_line(own.taskora("jobs", "ls"))
    assert line.startswith("taskora: TASKORA_APP nosuch:app: no module named 'nosuch'"), line


def test_an_app_module_that_fails_to_import_says_where(own: Project) -> None:
    (own.root / "broken.py").write_text("from taskora_cli import Taskora\n\napp = Taskora(\n1/0)\n")
    line = _one_error_line(own.taskora("--app", "broken:app", "jobs", "ls"))
    assert "cannot import 'broken' (broken.py, line 4): ZeroDivisionError" in line, line


# -- the README's example ------------------------------------------------------------------------


def test_the_own_app_example_runs_as_the_readme_says(redis_url: str) -> None:
    repo = Path(__file__).resolve().parents[2]
    env = clean_env() | {"TASKORA_URL": redis_url}
    example = Project(repo, env)
    at = ("--config", "examples/own_app.toml")
    sent = example.taskora("dispatch", "invoice", "--data", '{"customer": 7}', *at)
    assert sent.returncode == 0, sent.stderr
    assert {key.split(":")[1] for key in _keys(redis_url)} == {"billing"}
    assert example.taskora("work", "--burst", *at).returncode == 0
    shown = example.taskora("jobs", "show", sent.stdout.strip(), "--json", *at)
    assert json.loads(shown.stdout)["result"] == "invoice for customer 7"


def test_work_on_a_named_app_without_tasks_says_where_tasks_come_from(own: Project) -> None:
    (own.root / "bare.py").write_text("from taskora_cli import Taskora\n\napp = Taskora()\n")
    line = _one_error_line(own.taskora("work", "--burst", "--app", "bare:app"))
    assert line == (
        "taskora: no tasks to run: the app bare:app has none; list the modules that add tasks "
        "to it in `modules`"
    )


def test_init_writes_the_app_key_and_refuses_a_bad_one(own: Project) -> None:
    written = own.taskora("init", "--app", "ownapp:app", "--path", "new.toml")
    assert written.returncode == 0, written.stderr
    assert 'app = "ownapp:app"' in (own.root / "new.toml").read_text()
    line = _one_error_line(own.taskora("init", "--app", "ownapp", "--path", "bad.toml"))
    assert "app: expected MODULE:ATTR" in line and not (own.root / "bad.toml").exists()
