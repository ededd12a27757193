"""Fixtures for the agent runner tests: runners pointed at temp dirs, shims, cleanup.

Every fixture that can leave something behind (state files, daemons started by agents)
cleans it up in a finalizer, even when the test fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_test_support import (
    FIXTURES,
    INSTALLED_AGENTS,
    NODE_NAME,
    OWN_AGENTS,
    ProcessJanitor,
)

from raftha.agents import AgentRunner, AgentRunnerSettings


@pytest.fixture
def janitor():
    keeper = ProcessJanitor()
    try:
        yield keeper
    finally:
        keeper.cleanup()


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    """A temp dir nobody can confuse with another test's (pytest removes tmp_path)."""
    directory = tmp_path / "work"
    directory.mkdir()
    return directory


@pytest.fixture
def shim_environment(tmp_path: Path) -> dict[str, str]:
    """Environment for the fixture shims: a call log and an attribute store."""
    attributes = tmp_path / "attributes"
    attributes.mkdir()
    return {
        "RAFTHA_TEST_SHIM_LOG": str(tmp_path / "shim-calls.log"),
        "RAFTHA_TEST_ATTRIBUTE_DIR": str(attributes),
        "RAFTHA_TEST_NODE_NAME": NODE_NAME,
    }


@pytest.fixture
def runner(tmp_path: Path) -> AgentRunner:
    """A runner over our agents, the installed agents and the test fixtures."""
    rsc_tmp = tmp_path / "rsctmp"
    rsc_tmp.mkdir()
    settings = AgentRunnerSettings(
        ocf_search_path=(OWN_AGENTS, INSTALLED_AGENTS, FIXTURES / "ocf"),
        lsb_directory=FIXTURES,
        shims_dir=FIXTURES / "shims",
        kill_grace_ms=1000,
        resource_tmp_dir=str(rsc_tmp),
        varrun_dir=str(rsc_tmp),
    )
    return AgentRunner(settings)


