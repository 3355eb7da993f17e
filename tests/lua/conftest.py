"""Fixtures for the table-driven Lua tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from harness import Lua


@pytest.fixture
def lua(redis_url: str) -> Iterator[Lua]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        yield Lua(client)
    finally:
        client.close()
