"""`taskora work` runs the handlers a TaskManager registers in the configured modules."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from taskora_cli import Taskora
from taskora_cli.config import load_config
from taskora_cli.manager import Sdk

from .conftest import clean_env, run_taskora

MODULE = """
from pathlib import Path

from taskora_cli.manager import TaskManager

HERE = Path(__file__).parent
tm = TaskManager.init(ctx={"greeting": "hello"}, processor={"retry": {"max_retries": 1}})


def greet(job, ctx):
    job.logger("greeting")
    out = {"event": job.name, "queue": job.queue, "data": job.data, "says": ctx.greeting}
    (HERE / "greeted.json").write_text(__import__("json").dumps(out))
    return "greeted"


tm.register_handler(greet, event="mgr-greet", queue="mgr-emails", options={"attempts": 2})
"""


def test_taskora_work_runs_a_task_manager_handler(tmp_path: Path, redis_url: str) -> None:
    (tmp_path / "mgrmod.py").write_text(textwrap.dedent(MODULE))
    (tmp_path / "taskora.toml").write_text(f'url = "{redis_url}"\nmodules = ["mgrmod"]\n')
    env = clean_env()
    sent = run_taskora("dispatch", "mgr-greet", "--data", '{"name": "ada"}', cwd=tmp_path, env=env)
    assert sent.returncode == 0, sent.stderr
    job_id = sent.stdout.strip()
    done = run_taskora("work", "--burst", "--queue", "mgr-emails", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr

    assert json.loads((tmp_path / "greeted.json").read_text()) == {
        "event": "mgr-greet", "queue": "mgr-emails", "data": {"name": "ada"}, "says": "hello",
    }  # fmt: skip
    app = Taskora(redis_url, config=load_config(env={}, cwd=tmp_path / "reader"))
    try:
        document = Sdk(app).get_job(job_id, "mgr-emails")
    finally:
        app.close()
    assert document is not None and document["status"] == "completed"
    assert document["result"] == "greeted" and document["logs"][0]["msg"] == "greeting"


def test_a_manager_on_its_own_server_url_is_found_too(tmp_path: Path, redis_url: str) -> None:
    module = MODULE.replace("TaskManager.init(", f"TaskManager.init(db={redis_url!r}, ")
    (tmp_path / "mgrmod.py").write_text(textwrap.dedent(module))
    (tmp_path / "taskora.toml").write_text('modules = ["mgrmod"]\n')
    listed = run_taskora("tasks", "ls", "--json", cwd=tmp_path, env=clean_env())
    assert listed.returncode == 0, listed.stderr
    assert "mgr-greet" in {entry["name"] for entry in json.loads(listed.stdout)}
