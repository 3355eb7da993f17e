"""The server ``redis_url`` hands out is the one TASKORA_TEST_SERVER picks (see conftest.py)."""

from __future__ import annotations

from servers import TEST_SERVER, TEST_URL, raw_client


def test_redis_url_is_the_server_asked_for(redis_url: str) -> None:
    with raw_client(redis_url, decode_responses=True) as client:
        server = client.info("server")
        cluster = client.info("cluster")
    if TEST_URL:
        return  # the runner's own server: whatever it is
    assert bool(int(cluster.get("cluster_enabled", 0))) == (TEST_SERVER == "cluster")
    if TEST_SERVER == "redis7":
        assert "valkey_version" not in server
        assert server["redis_version"].startswith("7.")
    else:
        assert "valkey_version" in server
