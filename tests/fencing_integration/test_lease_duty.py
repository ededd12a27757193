"""The lease and the watchdog on fakes: renewal measured from the send time, pets only while
the lease is valid, no-quorum-policy applied once when it lapses."""

from __future__ import annotations

import hashlib
import itertools
from types import SimpleNamespace

import pytest

from raftha.daemon.fencing_duties import LeaseDuty
from raftha.daemon.proposer import ProposalError
from raftha.model.events import encode_event, make_event
from raftha.model.reducer import apply
from raftha.model.state import EMPTY_STATE

COUNTER = itertools.count()


def state_with(properties: dict[str, str]):
    def entry(kind, body):
        event_id = hashlib.sha256(f"{kind}{body}{next(COUNTER)}".encode()).digest()[:16]
        return encode_event(make_event(event_id, kind, "n1", "", 1000, body))
    state = apply(EMPTY_STATE, 1, entry("ClusterCreated", {"name": "demo", "nodes": [
        {"name": "n1", "address": "127.0.0.1:7001"}]}))
    for index, (name, value) in enumerate(properties.items(), start=2):
        state = apply(state, index, entry("ClusterPropertySet", {"name": name,
                                                                  "value": value}))
    return state


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeWatchdog:
    def __init__(self) -> None:
        self.pets = 0
        self.disarmed = 0

    def pet(self) -> bool:
        self.pets += 1
        return True

    def disarm(self) -> bool:
        self.disarmed += 1
        return True


class FakeProposer:
    def __init__(self, clock: FakeClock, delay_s: float = 0.0, fail: bool = False) -> None:
        self.clock, self.delay_s, self.fail = clock, delay_s, fail
        self.proposed: list[tuple[str, dict]] = []

    def propose(self, kind, body, user="", timeout_ms=0, event_id=None):
        self.proposed.append((kind, dict(body)))
        self.clock.now += self.delay_s
        if self.fail:
            raise ProposalError("no quorum")
        return SimpleNamespace(index=1)


class FakeExecutor:
    def __init__(self) -> None:
        self.deadlines: list[float] = []

    def stop_local_resources(self, deadline: float) -> None:
        self.deadlines.append(deadline)


def make_duty(properties: dict[str, str], proposer_delay_s: float = 0.0):
    clock = FakeClock()
    machine = SimpleNamespace(state=state_with(properties))
    config = SimpleNamespace(node_name="n1", data_dir="/nonexistent")
    proposer = FakeProposer(clock, proposer_delay_s)
    exits: list[int] = []
    duty = LeaseDuty(config, machine, proposer, monotonic=clock, exit_process=exits.append)
    watchdog = FakeWatchdog()
    duty.start_watchdog = lambda timeout_ms: watchdog
    duty.executor = FakeExecutor()
    return duty, clock, proposer, watchdog, exits


WATCHDOG_MODE = {"stonith-watchdog-timeout": "5s", "lease-time": "2s",
                 "watchdog-timeout": "2s"}


def renew(duty: LeaseDuty, proposer: FakeProposer) -> None:
    sent = duty.lease.heartbeat_sent()
    proposer.propose("LeaseRenewed", {"name": "n1"})
    duty.lease.heartbeat_committed(sent)


def test_without_a_watchdog_wait_there_is_no_lease():
    duty, _clock, _proposer, watchdog, _exits = make_duty({})
    assert duty.refresh_settings() is False
    assert duty.valid()
    duty.guard_step()
    assert watchdog.pets == 0


def test_lease_runs_from_the_send_time_not_the_commit():
    duty, clock, proposer, watchdog, _exits = make_duty(WATCHDOG_MODE, proposer_delay_s=1.5)
    assert duty.refresh_settings()
    assert not duty.valid()            # no heartbeat committed yet: no pet, watchdog unarmed
    duty.guard_step()
    assert watchdog.pets == 0
    renew(duty, proposer)              # sent at 100.0, committed at 101.5
    assert duty.lease.remaining_ms() == 500
    duty.guard_step()
    assert watchdog.pets == 1
    clock.now += 0.6                   # 102.1 > 100.0 + 2.0: lapsed
    duty.guard_step()
    assert watchdog.pets == 1


@pytest.mark.parametrize("policy, stops, exits", [
    ("stop", 1, []), ("demote", 1, []), ("freeze", 0, []), ("ignore", 0, []),
    ("suicide", 0, [75]),
])
def test_expiry_applies_no_quorum_policy_once(policy, stops, exits):
    duty, clock, proposer, watchdog, exited = make_duty(
        {**WATCHDOG_MODE, "no-quorum-policy": policy})
    duty.refresh_settings()
    renew(duty, proposer)
    duty.guard_step()
    clock.now += 3
    duty.guard_step()
    duty.guard_step()
    assert len(duty.executor.deadlines) == stops
    if stops:
        # The stop must end before the watchdog fires: within WD - K of the expiry.
        assert duty.executor.deadlines[0] <= clock.now + (2000 - 500) / 1000
    assert exited == exits
    assert watchdog.pets == 1
    renew(duty, proposer)              # quorum back: petting resumes, a later lapse counts
    duty.guard_step()
    assert watchdog.pets == 2


def test_switching_the_watchdog_mode_off_disarms():
    duty, _clock, _proposer, watchdog, _exits = make_duty(WATCHDOG_MODE)
    duty.refresh_settings()
    duty.machine.state = state_with({})
    assert duty.refresh_settings() is False
    assert watchdog.disarmed == 1 and duty.lease is None


def test_the_watchdog_kills_marked_processes_outside_the_registry(tmp_path):
    """A resource process in a session of its own (a daemonising agent's child) carries the
    node's marker in its environment: a firing watchdog kills it too."""
    import os
    import subprocess
    import sys
    import time

    from raftha.daemon.fencer import WatchdogClient, start_watchdog

    marker = f"RAFTHA_SOCKET={tmp_path}/control.sock"
    environment = dict(os.environ, RAFTHA_SOCKET=f"{tmp_path}/control.sock")
    escaped = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                               env=environment, start_new_session=True)
    # `daemon` stands in for the node daemon (the watchdog kills it when it fires).
    daemon = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                 start_new_session=True)
    directory = tmp_path / "watchdog"
    watchdog_pid = start_watchdog(directory, 200, daemon.pid,
                                  environment_marker=marker)
    try:
        WatchdogClient(directory, daemon.pid).pet()      # arm; then stop petting
        deadline = time.monotonic() + 20
        while escaped.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert escaped.poll() is not None                   # killed: it carried the marker
    finally:
        for process in (escaped, daemon):
            if process.poll() is None:
                process.kill()
            process.wait()
        try:
            os.kill(watchdog_pid, 9)
        except ProcessLookupError:
            pass
