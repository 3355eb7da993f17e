"""Fixtures for the table-driven Lua tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness import Lua
from servers import raw_client


@pytest.fixture
def lua(redis_url: str) -> Iterator[Lua]:
    client = raw_client(redis_url, decode_responses=True)
    try:
        yield Lua(client)
    finally:
        client.close()
