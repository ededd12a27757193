"""raftha-watchdog with real processes: petting keeps everything alive; a lapse kills the
registered process groups and the daemon within the timeout plus slack; disarm is orderly;
recycled group numbers are left alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from raftha.agents.process import process_group_exists
from raftha.daemon.fencer import (
    ProcessGroupRegistry,
    WatchdogClient,
    read_process_group_registry,
    start_watchdog,
)

TIMEOUT_MS = 600
SLACK_S = 10.0   # shared 2-core machine: generous


class Processes:
    """Spawns test processes in their own sessions and kills every group at the end."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen] = []
        self.extra_pids: list[int] = []

    def spawn_group(self, members: int = 2) -> subprocess.Popen:
        script = " ".join(["sleep 600 &"] * (members - 1)) + " exec sleep 600"
        child = subprocess.Popen(["sh", "-c", script], start_new_session=True,
                                 stdin=subprocess.DEVNULL)
        self.children.append(child)
        return child

    def cleanup(self) -> None:
        for child in self.children:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.wait()
        for pid in self.extra_pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def processes():
    keeper = Processes()
    try:
        yield keeper
    finally:
        keeper.cleanup()


@pytest.fixture
def watchdog_dir(tmp_path, processes):
    directory = tmp_path / "watchdog"
    yield directory
    pid = WatchdogClient(directory).running_pid()
    if pid is not None:
        os.kill(pid, signal.SIGKILL)


def wait_until(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def reaped_gone(child: subprocess.Popen) -> bool:
    return child.poll() is not None


def test_petting_keeps_everything_alive_then_a_lapse_kills_groups_and_daemon(
        processes, watchdog_dir):
    daemon = processes.spawn_group(1)
    resources = [processes.spawn_group(3), processes.spawn_group(2)]
    pid = start_watchdog(watchdog_dir, TIMEOUT_MS, daemon.pid, kill_wait_ms=3000)
    client = WatchdogClient(watchdog_dir, daemon.pid)
    registry = client.registry
    for index, child in enumerate(resources):
        assert registry.add(child.pid, f"resource-{index}")
    assert [entry.label for entry in read_process_group_registry(registry.path)] == [
        "resource-0", "resource-1"]
    # pet for 4 timeouts: nothing may die
    end = time.monotonic() + 4 * TIMEOUT_MS / 1000
    while time.monotonic() < end:
        assert client.pet()
        time.sleep(TIMEOUT_MS / 1000 / 6)
    assert all(process_group_exists(child.pid) for child in resources)
    assert daemon.poll() is None
    assert not (watchdog_dir / "fired").exists()
    # stop petting
    stopped = time.monotonic()
    assert wait_until(lambda: reaped_gone(daemon), TIMEOUT_MS / 1000 + SLACK_S)
    assert wait_until(lambda: not any(process_group_exists(c.pid) for c in resources
                                      if c.poll() is None or process_group_exists(c.pid)),
                      SLACK_S)
    for child in resources:
        child.wait(timeout=SLACK_S)
        assert not process_group_exists(child.pid)
    elapsed_s = time.monotonic() - stopped
    assert elapsed_s >= TIMEOUT_MS / 1000 * 0.9
    assert wait_until(lambda: (watchdog_dir / "fired").exists(), SLACK_S)
    record = json.loads((watchdog_dir / "fired").read_text().splitlines()[-1])
    assert sorted(group["pgid"] for group in record["groups"]) == sorted(
        child.pid for child in resources)
    assert record["daemon_pid"] == daemon.pid and record["daemon_killed"]
    assert record["all_gone"]
    assert wait_until(lambda: client.running_pid() is None, SLACK_S)
    assert not client.pet()        # nobody listens any more
    assert pid > 0


def test_unarmed_watchdog_never_fires(processes, watchdog_dir):
    daemon = processes.spawn_group(1)
    resource = processes.spawn_group(1)
    start_watchdog(watchdog_dir, 100, daemon.pid)
    WatchdogClient(watchdog_dir, daemon.pid).registry.add(resource.pid, "r")
    time.sleep(0.8)
    assert daemon.poll() is None and resource.poll() is None
    assert not (watchdog_dir / "fired").exists()


def test_disarm_is_orderly_and_the_watchdog_leaves_with_the_daemon(processes, watchdog_dir):
    daemon = processes.spawn_group(1)
    resource = processes.spawn_group(1)
    watchdog_pid = start_watchdog(watchdog_dir, 200, daemon.pid)
    client = WatchdogClient(watchdog_dir, daemon.pid)
    client.registry.add(resource.pid, "r")
    assert client.pet()
    assert client.disarm()
    time.sleep(0.8)
    assert daemon.poll() is None and resource.poll() is None
    os.killpg(daemon.pid, signal.SIGKILL)
    daemon.wait()
    assert wait_until(lambda: client.running_pid() is None, SLACK_S)
    assert resource.poll() is None                       # resources were not touched
    assert not (watchdog_dir / "fired").exists()
    assert not WatchdogClient(watchdog_dir, daemon.pid).pet()
    assert watchdog_pid > 0


def test_daemon_crash_still_fires(processes, watchdog_dir):
    daemon = processes.spawn_group(1)
    resource = processes.spawn_group(2)
    start_watchdog(watchdog_dir, 300, daemon.pid)
    client = WatchdogClient(watchdog_dir, daemon.pid)
    client.registry.add(resource.pid, "r")
    assert client.pet()
    os.killpg(daemon.pid, signal.SIGKILL)       # the daemon dies: nobody pets any more
    daemon.wait()
    resource.wait(timeout=0.3 + SLACK_S)
    assert wait_until(lambda: not process_group_exists(resource.pid), SLACK_S)


def test_recycled_group_number_is_not_killed(processes, watchdog_dir):
    daemon = processes.spawn_group(1)
    bystander = processes.spawn_group(1)
    registry = ProcessGroupRegistry(watchdog_dir / "process-groups")
    watchdog_dir.mkdir(parents=True)
    # a stale entry: right number, wrong leader start time
    registry.path.write_text(f"# stale entry\n{bystander.pid} 1 old-resource\n")
    start_watchdog(watchdog_dir, 100, daemon.pid)
    assert WatchdogClient(watchdog_dir, daemon.pid).pet()
    assert wait_until(lambda: daemon.poll() is not None, SLACK_S)
    assert wait_until(lambda: (watchdog_dir / "fired").exists(), SLACK_S)
    assert bystander.poll() is None
    assert json.loads((watchdog_dir / "fired").read_text())["groups"] == []


def test_registry_add_remove_and_refusals(tmp_path, processes):
    registry = ProcessGroupRegistry(tmp_path / "r" / "process-groups")
    child = processes.spawn_group(1)
    assert registry.add(child.pid, "my resource")
    assert registry.entries()[0].label == "my_resource"
    assert registry.add(child.pid, "again")            # replaces, no duplicate
    assert [entry.label for entry in registry.entries()] == ["again"]
    registry.remove(child.pid)
    assert registry.entries() == []
    assert not registry.add(1, "init")
    assert not registry.add(2 ** 22 + 12345, "gone")


def test_watchdog_refuses_bad_arguments(tmp_path):
    program = ["python3", "-I", str(__import__("raftha.daemon.fencer", fromlist=["x"])
                                    .WATCHDOG_PROGRAM)]
    result = subprocess.run([*program, "--dir", str(tmp_path), "--timeout-ms", "5"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "--timeout-ms must be within" in result.stderr
    result = subprocess.run([*program, "--dir", str(tmp_path / "missing"), "--timeout-ms",
                             "500"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "no directory" in result.stderr


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lease_is_measured_from_the_send_time():
    from raftha.daemon.fencer import Lease

    clock = FakeClock()
    lease = Lease(3000, clock)
    assert not lease.valid() and lease.remaining_ms() == 0
    sent = lease.heartbeat_sent()
    clock.now += 2.0                       # the commit took 2 s to be seen
    lease.heartbeat_committed(sent)
    assert lease.valid() and lease.remaining_ms() == 1000
    older = sent - 5.0
    lease.heartbeat_committed(older)       # a late, older commit never shortens it
    assert lease.remaining_ms() == 1000
    clock.now += 1.0
    assert not lease.valid()
    lease.heartbeat_committed(lease.heartbeat_sent())
    assert lease.valid()
    lease.revoke()
    assert not lease.valid()


def test_lease_guard_pets_only_while_the_lease_is_valid(processes, watchdog_dir):
    from raftha.daemon.fencer import Lease, LeaseGuard

    daemon = processes.spawn_group(1)
    start_watchdog(watchdog_dir, 5000, daemon.pid)
    clock = FakeClock()
    lease = Lease(1000, clock)
    guard = LeaseGuard(lease, WatchdogClient(watchdog_dir, daemon.pid))
    assert not guard.tick()                # no lease yet: no pet, the watchdog stays unarmed
    lease.heartbeat_committed(lease.heartbeat_sent())
    assert guard.tick() and guard.watchdog_listening
    clock.now += 1.5
    assert not guard.tick()
    guard.stand_down()
    os.killpg(daemon.pid, signal.SIGKILL)
    daemon.wait()
    assert wait_until(lambda: WatchdogClient(watchdog_dir).running_pid() is None, SLACK_S)
    assert not (watchdog_dir / "fired").exists()


def test_paused_daemon_and_resources_are_killed(processes, watchdog_dir):
    """SIGSTOP of the daemon's group (a pause) does not reach the watchdog's own session."""
    daemon = processes.spawn_group(2)
    resource = processes.spawn_group(2)
    start_watchdog(watchdog_dir, 300, daemon.pid)
    client = WatchdogClient(watchdog_dir, daemon.pid)
    client.registry.add(resource.pid, "r")
    assert client.pet()
    os.killpg(daemon.pid, signal.SIGSTOP)
    os.killpg(resource.pid, signal.SIGSTOP)
    daemon.wait(timeout=0.3 + SLACK_S)
    resource.wait(timeout=SLACK_S)
    assert wait_until(lambda: not process_group_exists(resource.pid), SLACK_S)
    assert wait_until(lambda: not process_group_exists(daemon.pid), SLACK_S)
