"""Helpers shared by the agent runner tests (constants, process cleanup, waiting)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import time
from pathlib import Path

import pytest

from raftha.agents.runner import DEFAULT_OCF_ROOT, REPOSITORY_ROOT

FIXTURES = Path(__file__).resolve().parent / "fixtures"
OWN_AGENTS = REPOSITORY_ROOT / "agents" / "ocf"
INSTALLED_AGENTS = DEFAULT_OCF_ROOT / "resource.d"
NODE_NAME = "node-a"

needs_resource_agents = pytest.mark.skipif(
    not (INSTALLED_AGENTS / "heartbeat" / "Dummy").exists(),
    reason="Debian resource-agents is not installed (/usr/lib/ocf/resource.d/heartbeat)")
needs_pacemaker_agents = pytest.mark.skipif(
    not (INSTALLED_AGENTS / "pacemaker" / "Dummy").exists(),
    reason="pacemaker-resource-agents is not installed (/usr/lib/ocf/resource.d/pacemaker)")


class ProcessJanitor:
    """Remembers pids and process groups a test created and kills them at the end."""

    def __init__(self) -> None:
        self.pids: list[int] = []
        self.groups: list[int] = []
        self.pid_files: list[Path] = []

    def watch_pid_file(self, path: Path) -> None:
        self.pid_files.append(Path(path))

    def cleanup(self) -> None:
        for path in self.pid_files:
            try:
                self.pids.append(int(path.read_text().split()[0]))
            except (OSError, ValueError, IndexError):
                pass
        for group in self.groups:
            _signal_quietly(lambda group=group: os.killpg(group, signal.SIGKILL))
        for pid in self.pids:
            _signal_quietly(lambda pid=pid: os.kill(pid, signal.SIGKILL))


def _signal_quietly(send) -> None:
    try:
        send()
    except (ProcessLookupError, PermissionError):
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate, timeout_s: float, interval_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()


def ocf_tester_path() -> str | None:
    return shutil.which("ocf-tester")
