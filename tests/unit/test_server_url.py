"""A bad server URL is bad config: refused where it is read, in one line, password masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskora_cli import Taskora, UsageError
from taskora_cli.config import load_config
from taskora_cli.errors import ConfigError
from taskora_cli.server_url import url_problem


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis://host:6379/abc", "the database ('abc') must be a whole number >= 0, e.g. /0"),
        ("redis://host:6379/-1", "the database ("),
        ("redis://host:6379/0?db=x", "the database ("),
        ("redis://host:99999/0", "the port must be between 1 and 65535"),
        ("redis://host:0/0", "the port must be between 1 and 65535"),
        ("redis://host:http/0", "the port must be a whole number between 1 and 65535"),
        ("valkey://host:6379/0", "use redis:// for a Valkey server too"),
        ("http://host", "expected a URL starting with redis://, rediss:// or unix://"),
        ("localhost:6379", "expected a URL starting with redis://"),
        ("redis://", "the URL names no host"),
        ("unix://", "a unix:// URL needs the socket's path"),
        ("redis://host:6379/0 ", "the URL holds a space"),
        ("", "the URL is empty"),
    ],
)
def test_a_bad_url_is_named_with_its_problem_and_the_forms_that_work(
    url: str, problem: str
) -> None:
    said = url_problem(url)
    assert said is not None and said.startswith(problem), said
    assert "write it as redis://host:6379/0" in said


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost",
        "redis://user:pw@db.example.com:6380/3",
        "rediss://db:6379/0?ssl_cert_reqs=none",
        "redis://[::1]:6379/0",
        "unix:///run/valkey.sock?db=2&password=pw",
    ],
)
def test_good_urls_pass(url: str) -> None:
    assert url_problem(url) is None


def test_the_environment_url_is_checked_once_with_its_password_masked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as bad:
        load_config(env={"TASKORA_URL": "redis://u:hunter2@h:99999/0"}, cwd=tmp_path)
    assert str(bad.value) == (
        'TASKORA_URL: the port must be between 1 and 65535, got "redis://u:****@h:99999/0"; '
        "write it as redis://host:6379/0 (user:pass@host with a password), rediss://... or "
        "unix:///path/to.sock"
    )


def test_the_constructor_url_is_checked_before_connecting(tmp_path: Path) -> None:
    app = Taskora("redis://:hunter2@h:6379/abc", config=load_config(env={}, cwd=tmp_path))
    with pytest.raises(UsageError, match="must be a whole number >= 0") as bad:
        app.resolve_url()
    assert "hunter2" not in str(bad.value)
