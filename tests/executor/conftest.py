"""Fixtures of the executor tests: a real 3-node sandbox, always torn down."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from executor_cluster import ExecutorCluster  # noqa: E402


@pytest.fixture
def cluster(tmp_path):
    instance = None
    try:
        instance = ExecutorCluster(tmp_path / "sandbox")
        yield instance
    finally:
        if instance is not None:
            instance.close()
