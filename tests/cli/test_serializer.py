"""An app with the msgpack serializer, end to end through the real CLI: `taskora dispatch`
encodes with it, the worker decodes and encodes with it, and `jobs show` decodes both."""

from __future__ import annotations

import json
import textwrap

import pytest
import redis

from taskora_cli.engine.keys import TaskKeys
from taskora_cli.engine.records import DATA_FIELD

from .conftest import Project

PACKED = """
from taskora_cli import Taskora

app = Taskora(serializer="msgpack")


@app.task("shout")
def shout(data, ctx):
    return {"loud": data["text"].upper(), "raw": data["text"].encode()}
"""


def test_msgpack_data_and_results_round_trip_through_dispatch_work_and_jobs_show(
    project: Project, redis_url: str
) -> None:
    pytest.importorskip("msgspec")
    (project.root / "packed.py").write_text(textwrap.dedent(PACKED))
    config = project.root / "taskora.toml"
    config.write_text(f'app = "packed:app"\n{config.read_text()}')
    project.start_worker()
    sent = project.taskora("dispatch", "shout", "--data", '{"text": "hi"}', "--wait", "--json")
    assert sent.returncode == 0, sent.stderr
    done = json.loads(sent.stdout)
    assert done["result"]["loud"] == "HI", done
    assert done["result"]["raw"] == "base64:aGk="  # bytes travel; JSON output shows them so
    stored = redis.Redis.from_url(redis_url).hmget(
        TaskKeys("", "shout").job(done["id"]), DATA_FIELD, "result"
    )
    assert all(raw is not None and raw.startswith(b"~msgpack:") for raw in stored), stored
    shown = json.loads(project.taskora("jobs", "show", done["id"], "--json").stdout)
    assert shown["data"] == {"text": "hi"} and shown["result"]["loud"] == "HI", shown
