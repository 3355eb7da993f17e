import pytest

from taskora_cli.urls import mask_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("redis://user:hunter2@host:6379/1", "redis://user:****@host:6379/1"),
        ("redis://:hunter2@host", "redis://:****@host"),
        ("redis://hunter2@host", "redis://****@host"),
        ("rediss://user:p@ss@host:6380", "rediss://user:****@host:6380"),
        ("redis://host/0?password=hunter2&db=1", "redis://host/0?password=****&db=1"),
        ("unix:///tmp/s.sock?password=hunter2", "unix:///tmp/s.sock?password=****"),
        ("unix:///tmp/s.sock", "unix:///tmp/s.sock"),
        ("redis://user:hunter2@[::1:6379", "redis://user:****@[::1:6379"),
        ("not a url password=hunter2", "not a url password=hunter2"),
        ("password=hunter2", "password=****"),
    ],
)
def test_a_password_never_shows(url: str, shown: str) -> None:
    assert mask_url(url) == shown
