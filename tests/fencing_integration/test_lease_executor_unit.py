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
