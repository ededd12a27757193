"""fence_raftha_sandbox against a real 3-node sandbox, driven through the fence runner:
off kills the node's daemon and its registered resource groups (status then says 2), on
brings it back and it rejoins, reboot replaces the daemon."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from raftha.agents.process import process_group_exists
from raftha.daemon.config import load_node_config
from raftha.daemon.fencer import (
    WATCHDOG_REGISTRY_NAME,
    ProcessGroupRegistry,
    WatchdogClient,
    execute_fencing,
    start_watchdog,
    watchdog_directory,
)
from raftha.model.fencing import FenceDevice
from raftha.sandbox import Sandbox, process_matches

READY_TIMEOUT_S = 120.0


@pytest.fixture
def sandbox_dir(tmp_path):
    directory = tmp_path / "sandbox"
    spawned: list[subprocess.Popen] = []
    try:
        Sandbox(directory).up(3, timeout_s=READY_TIMEOUT_S)
        yield directory, spawned
    finally:
        try:
            Sandbox(directory).down()   # a fresh object: the agent rewrote sandbox.json
        finally:
            for name in Sandbox(directory).nodes if directory.exists() else ():
                watchdog_pid = WatchdogClient(registry_of(directory, name).path.parent
                                              ).running_pid()
                if watchdog_pid is not None:
                    os.kill(watchdog_pid, signal.SIGKILL)
            for child in spawned:
                try:
                    os.killpg(child.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                child.wait()


def wait_until(predicate, timeout_s: float) -> bool:
    """Zombies of killed processes linger until init reaps them: poll for the end."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def device_for(directory) -> FenceDevice:
    return FenceDevice("sandbox-fence", "fence_raftha_sandbox",
                       params=(("sandbox_dir", str(directory)),))


def registry_of(directory, node: str) -> ProcessGroupRegistry:
    config = load_node_config(Sandbox(directory).node(node).config_path)
    return ProcessGroupRegistry(watchdog_directory(config.data_dir) / WATCHDOG_REGISTRY_NAME)


def test_off_on_reboot_of_a_sandbox_node(runner, sandbox_dir):
    directory, spawned = sandbox_dir
    device = device_for(directory)
    before = Sandbox(directory)
    node2_pid = before.pids["node2"]
    node2_config = before.node("node2").config_path
    # a stand-in for a resource the executor started on node2
    resource = subprocess.Popen(["sh", "-c", "sleep 600 & exec sleep 600"],
                                start_new_session=True)
    spawned.append(resource)
    registry = registry_of(directory, "node2")
    assert registry.add(resource.pid, "stand-in")
    watchdog = WatchdogClient(registry.path.parent, node2_pid)
    watchdog_pid = start_watchdog(registry.path.parent, 60_000, node2_pid)

    assert runner.status(device, "node2", 30_000).rc == 0
    check = runner.check_host(device, "node2", 30_000)
    assert check.method == "dynamic-list" and check.can_fence

    outcome = execute_fencing("node2", "off", [device], [], runner, timeout_ms=60_000)
    assert outcome.ok, outcome.explanation
    assert not process_matches(node2_pid, node2_config)
    resource.wait(timeout=30)
    assert wait_until(lambda: not process_group_exists(resource.pid), 30.0)
    assert runner.status(device, "node2", 30_000).rc == 2
    assert "node2" not in Sandbox(directory).pids
    assert watchdog.running_pid() is None                   # the node's watchdog went too
    assert watchdog_pid > 0 and not watchdog.pet()
    # fencing an already-off node still succeeds
    assert runner.fence_device(device, "node2", "off", timeout_ms=60_000).ok

    assert runner.fence_device(device, "node2", "on", timeout_ms=120_000).ok
    assert runner.status(device, "node2", 30_000).rc == 0
    Sandbox(directory).wait_ready(READY_TIMEOUT_S)   # node2 rejoined: every node online

    node3_pid = Sandbox(directory).pids["node3"]
    rebooted = runner.fence_device(device, "node3", "reboot", timeout_ms=120_000)
    assert rebooted.ok, rebooted.reason
    after = Sandbox(directory)
    assert after.is_running("node3") and after.pids["node3"] != node3_pid
    after.wait_ready(READY_TIMEOUT_S)


def test_unknown_node_and_missing_sandbox_fail_cleanly(runner, tmp_path):
    device = device_for(tmp_path / "nothing-here")
    call = runner.status(device, "node1", 30_000)
    assert call.rc == 1 and "no sandbox" in call.error_tail
    assert not runner.check_host(device, "node1", 30_000).can_fence
