"""The suite's own hygiene: a pytest session killed without its teardown leaves servers
running, and the next session stops them, never those of a session still running."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from servers import (
    OWNER_FILE,
    ServerProcess,
    claim_session,
    free_ports,
    stop_servers_of_ended_sessions,
    valkey_binary,
)


def test_servers_of_ended_sessions_stop_and_those_of_a_running_one_do_not(
    tmp_path: Path,
) -> None:
    root = tmp_path / "pytest-of-someone"
    killed, deleted, running = (root / f"pytest-{n}" for n in (1, 2, 3))
    for session in (killed, deleted, running):
        session.mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    (killed / OWNER_FILE).write_text(str(gone.pid))  # its pytest was killed
    claim_session(running)  # this process: alive
    ports = free_ports(3)
    servers = [
        ServerProcess(valkey_binary(), port, session / "valkey0")
        for port, session in zip(ports, (killed, deleted, running), strict=True)
    ]
    try:
        for server in servers:
            server.start()
        # as pytest removes a session three runs old: renamed, then deleted
        shutil.rmtree(deleted.rename(root / "garbage-1f2e"))

        stopped = stop_servers_of_ended_sessions(root)

        ended = [server.process for server in servers[:2]]
        assert sorted(stopped) == sorted(p.pid for p in ended if p is not None)
        for process in ended:
            assert process is not None and process.wait(timeout=10) == 0
        assert servers[2].process is not None and servers[2].process.poll() is None
    finally:
        for server in servers:
            server.stop()
