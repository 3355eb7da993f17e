"""TOML configuration -> frozen records, with precedence flag > TASKORA_* env > file > default.

Every effective value remembers where it came from (`Config.sources`), so `taskora config` can
show why a setting has the value it has. The keys themselves are declared in `config_schema`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from . import config_schema as schema
from .empty_mapping import EMPTY
from .errors import ConfigError

DEFAULT_STATE_DIR = ".taskora"


class RetryDefaults(NamedTuple):
    """How a failed job is retried unless its task says otherwise."""

    attempts: int = 1
    backoff: str = "exponential"
    """One of "fixed", "linear", "exponential"."""
    delay_ms: int = 1000
    max_delay_ms: int | None = None
    jitter: bool = True


class TaskDefaults(NamedTuple):
    """Settings every task gets unless its own definition overrides them."""

    timeout_ms: int = 30_000
    concurrency: int = 1
    retry: RetryDefaults = RetryDefaults()
    stall_interval_ms: int = 30_000
    max_stalls: int = 1


class WorkerConfig(NamedTuple):
    """How `taskora work` runs: concurrency, processes, queue slots, shutdown grace."""

    concurrency: int | None = None
    """Jobs per task at once for tasks without their own; None falls back to [defaults]."""
    processes: int = 1
    queues: Mapping[str, int] = EMPTY
    """Queue name -> jobs of each of its tasks run at once; empty means every task's queue."""
    grace_ms: int = 30_000
    heartbeat_ms: int = 10_000
    """How often a worker renews its locks and its registry record; 3 missed beats = gone."""


class RetentionConfig(NamedTuple):
    """How long finished jobs are kept (None means no limit), and how many log lines each."""

    completed_max_age_ms: int | None = 86_400_000
    completed_max_items: int | None = 10_000
    failed_max_age_ms: int | None = 7 * 86_400_000
    failed_max_items: int | None = 10_000
    max_logs_per_job: int = 1000
    """``ctx.log`` entries kept per job; older ones are trimmed as new ones come."""


class SchedulerConfig(NamedTuple):
    """The scheduler every worker runs; the one holding the lease fires the schedules."""

    enabled: bool = True
    """False keeps this worker out of the leader election (it never fires schedules)."""
    poll_ms: int = 1000
    """How often the scheduler looks for due schedules (and renews its lease)."""
    lease_ms: int = 30_000
    """How long the leader's lease holds unrenewed: a dead leader is replaced after it."""


class TlsConfig(NamedTuple):
    """Files for ``rediss://`` connections (managed Redis, a server with ``tls-port``); paths
    relative to the config file's folder. Each is passed to Python's ssl module."""

    ca: Path | None = None
    """The CA bundle that signed the server's certificate; None trusts the system's CAs."""
    cert: Path | None = None
    """A client certificate, for a server that asks for one (``tls-auth-clients yes``)."""
    key: Path | None = None
    """The client certificate's private key."""


class BoardConfig(NamedTuple):
    """``taskora board``'s login and redaction ([board] table)."""

    user: str | None = None
    """With ``password``: the one account the login form accepts."""
    password: str | None = None
    secret: str | None = None
    """Signs the session cookie; at least 32 characters."""
    authenticate: str | None = None
    """"module:attr" of an ``authenticate(username, password)`` callable."""
    redact: tuple[str, ...] = ()
    """Field names masked (any case, at any depth) in what the board serves."""
    session_ttl_ms: int | None = None
    """A login lasts this long after its last API call (rolling); None: the browser session."""


@dataclass(frozen=True)
class Config:
    """The effective configuration, with the source of each value in `sources`."""

    url: str | None = None
    """None runs against the embedded server."""
    app: str | None = None
    """"module:attr" of the app to use; None finds it in `modules` (else the default app)."""
    modules: tuple[str, ...] = ()
    prefix: str = ""
    cluster: bool | None = None
    """True: the server is a Redis/Valkey Cluster (routed by slot) whatever its INFO says;
    False: it is a standalone server (no INFO round trip to ask); None: its INFO tells
    (``cluster_enabled:1``)."""
    state_dir: Path = field(default_factory=lambda: Path.cwd() / DEFAULT_STATE_DIR)
    root: Path = field(default_factory=Path.cwd)
    """Directory of the config file, else cwd; workers put it on sys.path."""
    path: Path | None = None
    defaults: TaskDefaults = field(default_factory=TaskDefaults)
    worker: WorkerConfig = field(default_factory=WorkerConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    tls: TlsConfig = field(default_factory=TlsConfig)
    board: BoardConfig = field(default_factory=BoardConfig)
    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    """Dotted key -> "default", "file <path>", "env TASKORA_X" or "flag"."""


# A layer maps dotted keys to (raw value, where it came from for errors, source label).
_Layer = dict[str, tuple[object, str, str]]


def _label(path: Path, cwd: Path) -> str:
    # Short names in messages when the file sits under cwd, as users usually typed them.
    try:
        return str(path.relative_to(cwd))
    except ValueError:
        return str(path)


def _read_toml(path: Path, label: str) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{label}: invalid TOML: {error}") from None
    except OSError as error:
        raise ConfigError(f"{label}: cannot read config file: {error.strerror}") from None


def _taskora_table(data: object) -> object:
    tool = data.get("tool") if isinstance(data, dict) else None
    return tool.get("taskora") if isinstance(tool, dict) else None


def find_config_file(
    explicit: Path | None, env: Mapping[str, str], cwd: Path
) -> tuple[Path, bool] | None:
    """Find the config file: explicit path > TASKORA_CONFIG > ./taskora.toml > ./pyproject.toml.

    A pyproject.toml is only picked up by discovery when it has a [tool.taskora] table.

    Returns:
        (absolute path, whether it is a pyproject.toml), or None when there is no file.

    Raises:
        ConfigError: an explicit or TASKORA_CONFIG file does not exist.
    """
    origin = "given by --config"
    if explicit is None and env.get("TASKORA_CONFIG"):
        explicit, origin = Path(env["TASKORA_CONFIG"]), "from TASKORA_CONFIG"
    if explicit is not None:
        chosen = cwd / explicit
        if not chosen.is_file():
            label = _label(chosen, cwd)
            raise ConfigError(f"{label}: config file not found ({origin}); check the path")
        return chosen, chosen.name == "pyproject.toml"
    if (cwd / "taskora.toml").is_file():
        return cwd / "taskora.toml", False
    pyproject = cwd / "pyproject.toml"
    data = _read_toml(pyproject, _label(pyproject, cwd)) if pyproject.is_file() else {}
    if isinstance(_taskora_table(data), dict):  # an empty [tool.taskora] still opts in
        return pyproject, True
    return None


def _file_layer(path: Path, is_pyproject: bool, cwd: Path) -> _Layer:
    label = _label(path, cwd)
    data: object = _read_toml(path, label)
    outer = "tool.taskora" if is_pyproject else ""
    if is_pyproject:
        data = _taskora_table(data)
    if not isinstance(data, dict):
        raise ConfigError(f"{label}: no [tool.taskora] table; add one or use taskora.toml")
    raw = schema.flatten(data, label, outer)
    where = {name: schema.file_where(label, outer, name) for name in raw}
    return {name: (value, where[name], f"file {label}") for name, value in raw.items()}


def _env_layer(env: Mapping[str, str]) -> _Layer:
    layer: _Layer = {}
    for key in schema.KEYS:
        # An empty variable counts as unset, so `TASKORA_URL= taskora ...` falls back cleanly.
        if key.env is not None and env.get(key.env):
            layer[key.name] = (key.from_env(env[key.env]), key.env, f"env {key.env}")
    return layer


def _flag_layer(overrides: Mapping[str, Any]) -> _Layer:
    # None means "flag not given", which is what CLI option defaults look like.
    given = {name: value for name, value in overrides.items() if value is not None}
    schema.check_flag_names(list(given))
    return {name: (value, f"flag {name}", "flag") for name, value in given.items()}


def _resolve(layers: list[_Layer]) -> tuple[dict[str, Any], dict[str, str]]:
    """Pick each key from the first layer that has it; layers come highest precedence first."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key in schema.KEYS:
        sources[key.name] = "default"
        for layer in layers:
            if key.name in layer:
                raw, where, source = layer[key.name]
                values[key.name] = key.parse(raw, where)
                sources[key.name] = source
                break
    return values, sources


def _kwargs(values: Mapping[str, Any], table: str) -> dict[str, Any]:
    # Keys left at their default are not passed, so the classes stay the one home of defaults.
    return {k.attr: values[k.name] for k in schema.KEYS if k.table == table and k.name in values}


def _build(
    values: Mapping[str, Any], sources: dict[str, str], root: Path, path: Path | None
) -> Config:
    top = _kwargs(values, "")
    state_dir = root / top.pop("state_dir", Path(DEFAULT_STATE_DIR))
    retry = RetryDefaults(**_kwargs(values, "defaults.retry"))
    return Config(
        **top,
        state_dir=state_dir,
        root=root,
        path=path,
        defaults=TaskDefaults(retry=retry, **_kwargs(values, "defaults")),
        worker=WorkerConfig(**_kwargs(values, "worker")),
        retention=RetentionConfig(**_kwargs(values, "retention")),
        scheduler=SchedulerConfig(**_kwargs(values, "scheduler")),
        tls=TlsConfig(**{name: root / file for name, file in _kwargs(values, "tls").items()}),
        board=BoardConfig(**_kwargs(values, "board")),
        sources=sources,
    )


def load_config(
    path: Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Load the effective configuration.

    Args:
        path: an explicit config file (the --config flag); it must exist.
        overrides: values from CLI flags by dotted key, e.g. {"worker.concurrency": 8};
            None values are ignored. Durations may be seconds or strings like "30s".
        env: the environment to read TASKORA_* from; defaults to os.environ.
        cwd: where discovery starts; defaults to the process's working directory.

    Raises:
        ConfigError: a missing explicit file, bad TOML, an unknown key, or a bad value;
            the message names the file or variable, the key, and what is allowed.
    """
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    found = find_config_file(path, env, cwd)
    file_layer = _file_layer(found[0], found[1], cwd) if found else {}
    layers = [_flag_layer(overrides or {}), _env_layer(env), file_layer]
    values, sources = _resolve(layers)
    file_path = found[0] if found else None
    root = file_path.parent if file_path else cwd
    return _build(values, sources, root, file_path)


def _effective(config: Config, key: schema.Key) -> Any:
    holder: Any = config
    for part in filter(None, key.table.split(".")):
        holder = getattr(holder, part)
    return getattr(holder, key.attr)


def config_to_toml(config: Config) -> str:
    """The effective configuration as TOML in the file's own key names, for `taskora config`.

    Durations are written the short way ("30s"); unset optional values and empty tables are
    omitted, and retention limits switched off are written as `false`, so the output loads
    back as-is, except a password in the URL, which is shown as ``****``.
    """
    document: dict[str, Any] = {}
    for key in schema.KEYS:
        value = key.dump(_effective(config, key))
        if value is None or value == {}:  # empty tables (queues, schedules) are the default
            continue
        table = document
        for part in filter(None, key.table.split(".")):
            table = table.setdefault(part, {})
        table[key.leaf] = value
    import tomli_w  # only `taskora config` writes TOML

    return tomli_w.dumps(document)
