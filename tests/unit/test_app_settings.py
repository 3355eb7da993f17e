"""Whose url and prefix an app uses: TASKORA_* (and flags) beat its constructor, which beats the
config file, as celery's CELERY_BROKER_URL beats ``Celery(broker=...)``, which beats its config."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskora_cli import Taskora, UsageError
from taskora_cli.config import Config, load_config
from taskora_cli.errors import ConfigError

FILE = 'url = "redis://file:6379/0"\nprefix = "file"\n'


def _config(tmp_path: Path, env: dict[str, str], toml: str = FILE) -> Config:
    (tmp_path / "taskora.toml").write_text(toml)
    return load_config(env=env, cwd=tmp_path)


def test_the_constructors_url_and_prefix_beat_the_config_file(tmp_path: Path) -> None:
    app = Taskora("redis://code:6379/0", prefix="code", config=_config(tmp_path, {}))
    assert (app.resolve_url(), app.prefix) == ("redis://code:6379/0", "code")


def test_taskora_url_and_prefix_beat_the_constructor(tmp_path: Path) -> None:
    env = {"TASKORA_URL": "redis://env:6379/0", "TASKORA_PREFIX": "env"}
    app = Taskora("redis://code:6379/0", prefix="code", config=_config(tmp_path, env))
    assert (app.resolve_url(), app.prefix) == ("redis://env:6379/0", "env")


def test_flags_beat_the_constructor(tmp_path: Path) -> None:
    (tmp_path / "taskora.toml").write_text(FILE)
    config = load_config(env={}, cwd=tmp_path, overrides={"prefix": "flag"})
    assert Taskora(prefix="code", config=config).prefix == "flag"


def test_without_constructor_arguments_the_config_decides(tmp_path: Path) -> None:
    app = Taskora(config=_config(tmp_path, {}))
    assert (app.resolve_url(), app.prefix) == ("redis://file:6379/0", "file")


def test_a_prefix_with_braces_is_refused_wherever_it_comes_from(tmp_path: Path) -> None:
    # a brace would open a second hash tag in every key: scripts would span cluster slots
    config = _config(tmp_path, {})
    with pytest.raises(UsageError, match=r"Taskora\(prefix=\.\.\.\) must be a string without"):
        Taskora("redis://code:6379/0", prefix="x{", config=config)
    with pytest.raises(UsageError, match="without braces or whitespace"):
        Taskora("redis://code:6379/0", prefix="a b", config=config)
    with pytest.raises(ConfigError, match="without braces"):
        _config(tmp_path, {"TASKORA_PREFIX": "a}b"})
