"""`taskora gateway`: serves until Ctrl-C, checks the token, emits the project's tasks."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from websockets.sync.client import connect

from .conftest import Project, wait_for


def test_the_gateway_command_serves_checks_the_token_and_stops_on_ctrl_c(
    project: Project,
) -> None:
    log = project.root / "gateway.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "taskora_cli", "gateway", "--port", "0"],
            cwd=project.root, env={**project.env, "TASKORA_GATEWAY_TOKEN": "t0k"},
            stdout=out, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    try:
        wait_for(lambda: "taskora gateway on" in log.read_text() or proc.poll() is not None, 30)
        url = log.read_text().split("taskora gateway on ", 1)[1].split()[0]
        with connect(f"{url}/?token=nope") as ws:
            assert json.loads(ws.recv())["code"] == "unauthorized"
        with connect(url, additional_headers={"Authorization": "Bearer t0k"}) as ws:
            ws.send(json.dumps({"type": "emit", "event": "echo", "data": {"hi": 1}}))
            assert json.loads(ws.recv())["type"] == "emitted"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
