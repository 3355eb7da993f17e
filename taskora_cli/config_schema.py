"""The shape of taskora's config: every key, how to read it from a file, env var or flag, and back.

Each key is declared once, by its dotted name as written in TOML, so the file reader, the
environment and flag layers, the error messages and `config_to_toml` cannot drift apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple

from .durations import format_ms, to_ms
from .errors import ConfigError, UsageError
from .names import is_key_prefix
from .urls import mask_url

Parser = Callable[[object, str], Any]
"""Checks a raw value and returns the effective one; the `str` names where it came from."""

_DURATION = 'a duration (seconds, or a string like "500ms", "30s", "5m", "2h", "1d")'
BACKOFFS = ("fixed", "linear", "exponential")


def _shown(value: object) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list | tuple):
        return "an array"
    try:
        return json.dumps(value)
    except TypeError:  # TOML dates and times have no JSON form
        return type(value).__name__


def fail(where: str, expected: str, value: object) -> ConfigError:
    """The one error shape: where the value came from, what is allowed, what was found."""
    return ConfigError(f"{where}: expected {expected}, got {_shown(value)}")


def text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise fail(where, "a string", value)
    return value


def url(value: object, where: str) -> str:
    """A server URL redis-py can connect with: scheme, port 1-65535, database >= 0."""
    from .server_url import url_problem

    if not isinstance(value, str):
        raise fail(where, "a URL starting with redis://, rediss:// or unix://", value)
    problem = url_problem(value)
    if problem is not None:
        raise ConfigError(f"{where}: {problem}")  # the URL shown with its password masked
    return value


def prefix(value: object, where: str) -> str:
    if not is_key_prefix(value):  # (braces: a second hash tag in every key)
        raise fail(where, "a string without braces or whitespace", value)
    assert isinstance(value, str)
    return value


def path(value: object, where: str) -> Path:
    if isinstance(value, Path):
        return value
    if not isinstance(value, str) or not value:
        raise fail(where, "a directory path", value)
    return Path(value)


def file_path(value: object, where: str) -> Path:
    if not isinstance(value, str) or not value:
        raise fail(where, "a file path", value)
    return Path(value)


_APP_REF = r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*"  # compiled on first use


def app_ref(value: object, where: str) -> str:
    """ "package.module:attr", as uvicorn and gunicorn write it (the attr may be dotted)."""
    if not isinstance(value, str) or not re.fullmatch(_APP_REF, value.strip()):
        raise fail(where, 'MODULE:ATTR naming your Taskora app, e.g. "myapp.tasks:app"', value)
    return value.strip()


def modules(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(m, str) and m for m in value):
        raise fail(where, 'an array of module names, e.g. ["app.tasks"]', value)
    return tuple(value)


def boolean(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise fail(where, "true or false", value)
    return value


def choice(*allowed: str) -> Parser:
    def parse(value: object, where: str) -> str:
        if value not in allowed:
            raise fail(where, "one of " + ", ".join(f'"{a}"' for a in allowed), value)
        return str(value)

    return parse


def integer(minimum: int, *, nullable: bool = False) -> Parser:
    """Whole numbers >= minimum; with `nullable`, `false` means "no limit" (None)."""
    expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    expected += " or false (no limit)" if nullable else ""

    def parse(value: object, where: str) -> int | None:
        if nullable and value is False:
            return None
        # bool is an int subclass; `true` must not read as 1.
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise fail(where, expected, value)
        return value

    return parse


def duration(minimum_ms: int, *, nullable: bool = False) -> Parser:
    """Durations to milliseconds; with `nullable`, `false` means "no limit" (None)."""
    expected = _DURATION + (" or false (no limit)" if nullable else "")

    def parse(value: object, where: str) -> int | None:
        if nullable and value is False:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str | timedelta):
            raise fail(where, expected, value)
        try:
            ms = to_ms(value, what=where)
        except UsageError as error:
            raise ConfigError(str(error)) from None
        if ms < minimum_ms:
            raise fail(where, f"a duration of at least {format_ms(minimum_ms)}", value)
        return ms

    return parse


def queue_slots(value: object, where: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise fail(where, "a table of queue name = slots", value)
    slots = integer(1)
    return {name: slots(n, f"{where}.{name}") for name, n in value.items()}


def schedule_tables(value: object, where: str) -> dict[str, dict[str, Any]]:
    """[schedules.NAME] tables, each checked in full (task, cron or every, zone, policies)."""
    from .schedule_spec import ScheduleSpec, check_name

    if not isinstance(value, dict):
        raise fail(where, "a table of [schedules.NAME] tables", value)
    for name, table in value.items():
        if not isinstance(table, dict):
            raise fail(f"{where}.{name}", f"a table ([schedules.{name}])", table)
        try:
            check_name(name)
            ScheduleSpec.from_mapping(table, f"{where}.{name}")
        except UsageError as error:
            raise ConfigError(str(error)) from None
    return {name: dict(table) for name, table in value.items()}


def env_int(raw: str) -> object:
    """Env values are strings; numbers become ints so the shared parser can judge them."""
    try:
        return int(raw.strip())
    except ValueError:
        return raw


def env_bool(raw: str) -> object:
    """ "true"/"1"/"yes" and "false"/"0"/"no" become booleans; anything else is judged as is."""
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    return raw


def env_list(raw: str) -> object:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _same(value: Any) -> Any:
    return value


def _str(value: Any) -> Any:
    return str(value)


def _list(value: Any) -> Any:
    return list(value)


def _ms(value: Any) -> Any:
    return None if value is None else format_ms(value)


def _ms_or_false(value: Any) -> Any:
    # Retention limits default to a number, so "no limit" must be written out, not omitted.
    return False if value is None else format_ms(value)


def _masked_url(value: Any) -> Any:
    # `taskora config` prints where it connects, never the password
    return None if value is None else mask_url(value)


def _hidden(value: Any) -> Any:
    # `taskora config` shows that a board password or secret is set, never what it is
    return None if value is None else "****"


def key_names(value: object, where: str) -> tuple[str, ...]:
    """Field names to mask (the board's ``redact``): non-empty strings."""
    if not isinstance(value, list | tuple) or not all(isinstance(k, str) and k for k in value):
        raise fail(where, 'an array of field names, e.g. ["password", "token"]', value)
    return tuple(value)


def _or_false(value: Any) -> Any:
    return False if value is None else value


class Key(NamedTuple):
    """One config key: its dotted TOML name, where it lands, and how it is read and written.

    A NamedTuple, not a dataclass: every command reads the config, and a dataclass costs half
    a millisecond to build at import."""

    name: str
    """Dotted name as in the file and in `Config.sources`, e.g. "defaults.retry.delay"."""
    attr: str
    """Attribute of the Config (or of its section) that holds the key's table."""
    parse: Parser
    dump: Callable[[Any], Any] = _same
    """Effective value -> TOML value; None omits the key."""
    env: str | None = None
    from_env: Callable[[str], object] = _same

    @property
    def table(self) -> str:
        return self.name.rpartition(".")[0]

    @property
    def leaf(self) -> str:
        return self.name.rpartition(".")[2]


TABLES = ("defaults", "defaults.retry", "worker", "retention", "scheduler", "tls", "board")
"""Tables whose keys are declared one by one (worker.queues and schedules are values)."""

_COUNT = integer(1)
_LIMIT_AGE = duration(0, nullable=True)
_SESSION_TTL = duration(1000)
_LIMIT_ITEMS = integer(0, nullable=True)

KEYS = (
    Key("url", "url", url, _masked_url, env="TASKORA_URL"),
    Key("app", "app", app_ref, env="TASKORA_APP"),
    Key("modules", "modules", modules, _list, env="TASKORA_MODULES", from_env=env_list),
    Key("prefix", "prefix", prefix, env="TASKORA_PREFIX"),
    Key("cluster", "cluster", boolean, env="TASKORA_CLUSTER", from_env=env_bool),
    Key("state_dir", "state_dir", path, _str, env="TASKORA_STATE_DIR"),
    Key("schedules", "schedules", schedule_tables),
    Key("defaults.timeout", "timeout_ms", duration(1), _ms),
    Key("defaults.concurrency", "concurrency", _COUNT),
    Key("defaults.stall_interval", "stall_interval_ms", duration(1), _ms),
    Key("defaults.max_stalls", "max_stalls", integer(0)),
    Key("defaults.retry.attempts", "attempts", _COUNT),
    Key("defaults.retry.backoff", "backoff", choice(*BACKOFFS)),
    Key("defaults.retry.delay", "delay_ms", duration(0), _ms),
    Key("defaults.retry.max_delay", "max_delay_ms", duration(0, nullable=True), _ms),
    Key("defaults.retry.jitter", "jitter", boolean),
    Key("worker.concurrency", "concurrency", _COUNT, env="TASKORA_CONCURRENCY", from_env=env_int),
    Key("worker.processes", "processes", _COUNT, env="TASKORA_PROCESSES", from_env=env_int),
    Key("worker.queues", "queues", queue_slots, dict),
    Key("worker.grace", "grace_ms", duration(0), _ms),
    Key("worker.heartbeat", "heartbeat_ms", duration(100), _ms),
    Key("scheduler.enabled", "enabled", boolean, env="TASKORA_SCHEDULER", from_env=env_bool),
    Key("scheduler.poll_interval", "poll_ms", duration(10), _ms),
    Key("scheduler.lease", "lease_ms", duration(100), _ms),
    Key("retention.completed_max_age", "completed_max_age_ms", _LIMIT_AGE, _ms_or_false),
    Key("retention.completed_max_items", "completed_max_items", _LIMIT_ITEMS, _or_false),
    Key("retention.failed_max_age", "failed_max_age_ms", _LIMIT_AGE, _ms_or_false),
    Key("retention.failed_max_items", "failed_max_items", _LIMIT_ITEMS, _or_false),
    Key("retention.max_logs_per_job", "max_logs_per_job", integer(1)),
    Key("tls.ca", "ca", file_path, _str, env="TASKORA_TLS_CA"),
    Key("tls.cert", "cert", file_path, _str, env="TASKORA_TLS_CERT"),
    Key("tls.key", "key", file_path, _str, env="TASKORA_TLS_KEY"),
    Key("board.user", "user", text, env="TASKORA_BOARD_USER"),
    Key("board.password", "password", text, _hidden, env="TASKORA_BOARD_PASSWORD"),
    Key("board.secret", "secret", text, _hidden, env="TASKORA_BOARD_SECRET"),
    Key("board.authenticate", "authenticate", app_ref),
    Key("board.redact", "redact", key_names, _list, env="TASKORA_BOARD_REDACT", from_env=env_list),
    Key("board.session_ttl", "session_ttl_ms", _SESSION_TTL, _ms, env="TASKORA_BOARD_SESSION_TTL"),
)
KEYS_BY_NAME = {key.name: key for key in KEYS}


def allowed_in(table: str) -> list[str]:
    """Names allowed directly inside `table` ("" = top level), keys before sub-tables."""
    names = [key.leaf for key in KEYS if key.table == table]
    return names + [t.rpartition(".")[2] for t in TABLES if t.rpartition(".")[0] == table]


def file_where(label: str, outer: str, name: str) -> str:
    """`tasks.toml: [worker] grace` — `outer` is "tool.taskora" inside pyproject.toml."""
    table, _, leaf = name.rpartition(".")
    header = ".".join(part for part in (outer, table) if part)
    return f"{label}: [{header}] {leaf}" if header else f"{label}: {leaf}"


def flatten(data: Mapping[str, Any], label: str, outer: str, table: str = "") -> dict[str, Any]:
    """A parsed TOML table -> {dotted key: raw value}, refusing unknown keys and non-tables."""
    found: dict[str, Any] = {}
    for leaf, value in data.items():
        name = f"{table}.{leaf}" if table else leaf
        where = file_where(label, outer, name)
        if name in TABLES:
            if not isinstance(value, dict):
                raise fail(where, f"a table ([{name}])", value)
            found.update(flatten(value, label, outer, name))
        elif name in KEYS_BY_NAME:
            found[name] = value
        else:
            allowed = ", ".join(allowed_in(table))
            raise ConfigError(f"{where}: unknown key; allowed: {allowed}")
    return found


def check_flag_names(names: Sequence[str]) -> None:
    """Flags name keys the same dotted way; an unknown one is a bug in the CLI, said plainly."""
    for name in names:
        if name not in KEYS_BY_NAME:
            allowed = ", ".join(key.name for key in KEYS)
            raise ConfigError(f"flag {name}: unknown key; allowed: {allowed}")
