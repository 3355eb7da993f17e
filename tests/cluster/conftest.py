"""Tests of cluster routing itself; they run in the TASKORA_TEST_SERVER=cluster pass of CI
(``.ci/run``), where the session's Valkey Cluster is up anyway, and skip otherwise."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from servers import TEST_SERVER, TEST_URL

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))  # support.py


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if TEST_SERVER == "cluster" and not TEST_URL:
        return
    skip = pytest.mark.skip(reason="cluster routing: run with TASKORA_TEST_SERVER=cluster")
    for item in items:
        if "tests/cluster/" in str(item.path):
            item.add_marker(skip)
