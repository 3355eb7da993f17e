"""Durations the library accepts are bounded: a typo of a million days is refused, not stored."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from servers import raw_client

from taskora_cli import Retry, Taskora, UsageError
from taskora_cli.config import load_config
from taskora_cli.durations import MAX_MS, to_ms


@pytest.mark.parametrize(
    "value", ["3000000d", "3651d", MAX_MS / 1000 + 1, 10**400, math.inf, math.nan, -1, "1e400"]
)
def test_a_duration_past_3650d_or_not_finite_is_refused_naming_the_limit(value: object) -> None:
    with pytest.raises(UsageError) as refused:
        to_ms(value, what="delay")  # type: ignore[arg-type]
    assert str(refused.value).startswith("delay")
    assert len(str(refused.value)) < 200


def test_the_longest_duration_is_accepted() -> None:
    assert to_ms("3650d") == MAX_MS


async def test_dispatch_with_a_huge_delay_or_ttl_raises_ours_and_writes_nothing(
    redis_url: str, tmp_path: Path
) -> None:
    app = Taskora(redis_url, config=load_config(env={}, cwd=tmp_path))

    @app.task("echo")
    async def echo(data: object) -> object:
        return data

    client = raw_client(redis_url)
    before = client.dbsize()
    try:
        with pytest.raises(UsageError, match="3650d"):
            await echo.adispatch(1, delay="3000000d")
        with pytest.raises(UsageError, match="3650d"):
            await echo.adispatch(1, ttl=10**12)
        with pytest.raises(UsageError, match="3650d"):
            Retry(attempts=2, delay="99999d")
        assert client.dbsize() == before
    finally:
        client.close()
        await app.aclose()
