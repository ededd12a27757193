"""Fixtures for the fencing tests: runners with an injected sleeper, agent locations."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from raftha.daemon.fencer import FenceRunner, FenceRunnerSettings

FIXTURES = Path(__file__).resolve().parent / "fixtures"
OWN_AGENTS = Path(__file__).resolve().parents[2] / "fencing"
FENCE_DUMMY = Path("/usr/sbin/fence_dummy")


class RecordingSleeper:
    """Stands in for time.sleep: records the seconds asked for and returns at once."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)

    @property
    def milliseconds(self) -> list[int]:
        return [round(value * 1000) for value in self.seconds]


@pytest.fixture
def sleeper() -> RecordingSleeper:
    return RecordingSleeper()


@pytest.fixture
def runner(sleeper) -> FenceRunner:
    settings = FenceRunnerSettings(agent_directories=(FIXTURES, OWN_AGENTS, Path("/usr/sbin")),
                                   kill_grace_ms=500, retry_pause_ms=10)
    return FenceRunner(settings, sleeper=sleeper, random_source=lambda: 0.5)


@pytest.fixture
def fence_dummy_installed() -> Path:
    if not FENCE_DUMMY.exists() or shutil.which("python3") is None:
        pytest.skip("fence_dummy (Debian fence-agents) is not installed")
    return FENCE_DUMMY
