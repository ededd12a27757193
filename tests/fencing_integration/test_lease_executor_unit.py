"""Watchdog mode: the executor starts nothing while its node's lease is not valid (a real
reducer and executor over the in-process fake Raft layer, fake agents, actions inline)."""

from __future__ import annotations

import time
from concurrent.futures import Future

import pytest

from raftha.agents import FakeAgentRunner
from raftha.daemon.api import ControlApi
from raftha.daemon.bootstrap import init_cluster
from raftha.daemon.config import load_node_config
from raftha.daemon.executor import Executor
from raftha.daemon.fencer import Lease
from raftha.daemon.fencing_duties import FencingDuties
from raftha.daemon.leader import LeaderDuties
from raftha.daemon.machine import ReducerStateMachine
from raftha.daemon.proposer import Proposer
from raftha.raft.fake import FakeRaftCluster

ADDRESS = "127.0.0.1:7251"
WATCHDOG_MODE = ("property stonith-enabled=true stonith-watchdog-timeout=5s lease-time=2s "
                 "watchdog-timeout=2s\n")


class InlinePool:
    def submit(self, function, *args):
        future: Future = Future()
        future.set_result(function(*args))
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def node(tmp_path):
    written = init_cluster(tmp_path / "cluster", "unit", [("n1", ADDRESS)])
    config = load_node_config(written[0].config_path)
    cluster = FakeRaftCluster((ADDRESS,))
    machine = ReducerStateMachine(None)
    raft = cluster.make_log(ADDRESS, machine)
    proposer = Proposer(raft, machine, "n1", no_quorum_grace_ms=100)
    raft.start()
    LeaderDuties(config, raft, machine, proposer).step(0.0)
    LeaderDuties(config, raft, machine, proposer).step(0.0)
    runner = FakeAgentRunner()
    executor = Executor("n1", machine, proposer, raft, runner, pool=InlinePool())
    clock = FakeClock()
    duties = FencingDuties(config, raft, machine, proposer, monotonic=clock)
    duties.executor = executor                 # as the node daemon wires them
    api = ControlApi(config, raft, machine, proposer, None)
    try:
        yield api, executor, runner, duties.lease, clock
    finally:
        raft.stop()


def configure(api, text: str) -> None:
    response = api.handle({"op": "configure_load", "args": {"text": text}}, "tester")
    assert response["ok"], response


def steps(executor: Executor, count: int = 6) -> None:
    for _ in range(count):
        executor.step(time.monotonic())


def started(runner: FakeAgentRunner) -> list[str]:
    return [call.action for call in runner.calls if call.action == "start"]


def test_in_watchdog_mode_nothing_starts_without_a_valid_lease(node):
    api, executor, runner, lease_duty, clock = node
    configure(api, WATCHDOG_MODE + "primitive d1 ocf:heartbeat:Dummy\n")
    steps(executor)
    assert started(runner) == []                # no lease yet: the start waits
    lease_duty.lease = Lease(2000, clock)
    lease_duty.lease.heartbeat_committed(clock.now)
    steps(executor)
    assert started(runner) == ["start"]


def test_an_expired_lease_holds_back_new_starts(node):
    api, executor, runner, lease_duty, clock = node
    lease_duty.lease = Lease(2000, clock)
    lease_duty.lease.heartbeat_committed(clock.now)
    clock.now += 2.5                            # lapsed
    configure(api, WATCHDOG_MODE + "primitive d1 ocf:heartbeat:Dummy\n")
    steps(executor)
    assert started(runner) == []


def test_without_watchdog_mode_the_lease_does_not_matter(node):
    api, executor, runner, _lease_duty, _clock = node
    configure(api, "property stonith-enabled=false\nprimitive d1 ocf:heartbeat:Dummy\n")
    steps(executor)
    assert started(runner) == ["start"]


# An OCF agent whose start leaves a process in the agent's own process group, with a clean
# environment (no RAFTHA_SOCKET marker): only the process-group registry can find it.
LEAVER = """#!/bin/sh
case "$1" in
start)   env -i sleep 300 </dev/null >/dev/null 2>&1 &
         echo $! > "$OCF_RESKEY_pid_file"; exit 0 ;;
stop)    kill "$(cat "$OCF_RESKEY_pid_file")" 2>/dev/null; rm -f "$OCF_RESKEY_pid_file"; exit 0 ;;
monitor) [ -f "$OCF_RESKEY_pid_file" ] && exit 0; exit 7 ;;
meta-data) echo '<?xml version="1.0"?><resource-agent name="Leaver"><actions>
<action name="start" timeout="20s"/><action name="stop" timeout="20s"/>
<action name="monitor" timeout="20s"/><action name="meta-data" timeout="5s"/>
</actions></resource-agent>'; exit 0 ;;
*) exit 3 ;;
esac
"""


def test_the_watchdog_kills_what_a_resource_agent_left_in_its_process_group(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from raftha.agents import AgentRunner, AgentRunnerSettings
    from raftha.daemon.fencer import (
        WATCHDOG_REGISTRY_NAME,
        ProcessGroupRegistry,
        WatchdogClient,
        process_start_time,
        start_watchdog,
    )
    agent = tmp_path / "ocf" / "test" / "Leaver"
    agent.parent.mkdir(parents=True)
    agent.write_text(LEAVER)
    agent.chmod(0o755)
    written = init_cluster(tmp_path / "cluster", "unit", [("n1", ADDRESS)])
    config = load_node_config(written[0].config_path)
    cluster = FakeRaftCluster((ADDRESS,))
    machine = ReducerStateMachine(None)
    raft = cluster.make_log(ADDRESS, machine)
    proposer = Proposer(raft, machine, "n1", no_quorum_grace_ms=100)
    raft.start()
    directory = tmp_path / "watchdog"
    registry = ProcessGroupRegistry(directory / WATCHDOG_REGISTRY_NAME)
    runner = AgentRunner(AgentRunnerSettings(ocf_search_path=(tmp_path / "ocf",),
                                             resource_tmp_dir=str(tmp_path)))
    executor = Executor("n1", machine, proposer, raft, runner, registry=registry,
                        pool=InlinePool())
    pid_file = tmp_path / "leaver.pid"
    # `daemon` stands in for the node daemon (the watchdog kills it when it fires).
    daemon = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                              start_new_session=True)
    watchdog_pid = None
    left = None
    try:
        for _ in range(2):
            LeaderDuties(config, raft, machine, proposer).step(0.0)
        api = ControlApi(config, raft, machine, proposer, None)
        configure(api, "property stonith-enabled=false\n"
                       f"primitive r1 ocf:test:Leaver params pid_file={pid_file}\n")
        steps(executor)
        left = int(pid_file.read_text())
        assert process_start_time(left) is not None
        assert [entry.label for entry in registry.entries()] == ["r1"]
        watchdog_pid = start_watchdog(directory, 200, daemon.pid)
        WatchdogClient(directory, daemon.pid).pet()      # arm; then stop petting
        deadline = time.monotonic() + 20
        while process_start_time(left) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process_start_time(left) is None           # killed with its group
    finally:
        raft.stop()
        if left is not None and process_start_time(left) is not None:
            os.kill(left, signal.SIGKILL)
        if daemon.poll() is None:
            daemon.kill()
        daemon.wait()
        if watchdog_pid is not None:
            try:
                os.kill(watchdog_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_stopped_resource_leaves_the_registry(tmp_path):
    import subprocess

    from raftha.daemon.fencer import ProcessGroupRegistry
    registry = ProcessGroupRegistry(tmp_path / "process-groups")
    leader = subprocess.Popen(["sh", "-c", "sleep 300 </dev/null >/dev/null 2>&1 & exit 0"],
                              start_new_session=True)
    leader.wait()
    try:
        assert registry.add(leader.pid, "r1")             # the leader is gone, sleep is not
        assert registry.entries()[0].leader_start_time == "leaderless"
        registry.remove_label("r1")
        assert registry.entries() == []
    finally:
        import os
        import signal
        os.killpg(leader.pid, signal.SIGKILL)
