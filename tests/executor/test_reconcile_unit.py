"""Unit tests of the reconcile loop: executors over the in-process fake Raft layer, with
FakeAgentRunner agents and actions run inline, stepped by hand until nothing changes."""

from __future__ import annotations

import time
from concurrent.futures import Future

import pytest

from raftha.agents import FakeAgentRunner, make_result, timed_out_result
from raftha.daemon.api import ControlApi
from raftha.daemon.bootstrap import init_cluster
from raftha.daemon.config import load_node_config
from raftha.daemon.executor import Executor
from raftha.daemon.executor_plan import failure_timeout_due_ms
from raftha.daemon.leader import LeaderDuties
from raftha.daemon.machine import ReducerStateMachine
from raftha.daemon.proposer import Proposer
from raftha.model.reducer import stored_configuration
from raftha.raft.fake import FakeRaftCluster

ADDRESSES = ("127.0.0.1:7201", "127.0.0.1:7202", "127.0.0.1:7203")
BASE = "property stonith-enabled=false\n"


class InlinePool:
    """Runs each submitted action at once on the calling thread."""

    def submit(self, function, *args):
        future: Future = Future()
        future.set_result(function(*args))
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


class Node:
    def __init__(self, cluster: FakeRaftCluster, config) -> None:
        self.config = config
        self.name = config.node_name
        self.machine = ReducerStateMachine(None, on_fatal=self.fatal)
        self.raft = cluster.make_log(config.raft_address, self.machine)
        self.proposer = Proposer(self.raft, self.machine, self.name, no_quorum_grace_ms=100)
        self.api = ControlApi(config, self.raft, self.machine, self.proposer, None)
        self.duties = LeaderDuties(config, self.raft, self.machine, self.proposer)
        self.runner = FakeAgentRunner()
        self.executor = self.new_executor()

    def new_executor(self) -> Executor:
        return Executor(self.name, self.machine, self.proposer, self.raft, self.runner,
                        pool=InlinePool())

    def fatal(self) -> None:
        raise AssertionError("the state machine hit a fatal error")

    def call(self, op: str, **args):
        response = self.api.handle({"op": op, "args": args}, "tester")
        assert response["ok"], response
        return response["result"]


@pytest.fixture
def nodes(tmp_path):
    members = [(f"n{number}", address) for number, address in enumerate(ADDRESSES, start=1)]
    written = init_cluster(tmp_path / "cluster", "unit", members)
    cluster = FakeRaftCluster(ADDRESSES)
    built = {files.name: Node(cluster, load_node_config(files.config_path))
             for files in written}
    for node in built.values():
        node.raft.start()
    leader = next(node for node in built.values() if node.raft.status().is_leader)
    for moment in (0.0, 0.0, 10.0):
        leader.duties.step(moment)
    yield built
    for node in built.values():
        node.raft.stop()


def settle(nodes: dict, rounds: int = 40, order: list[str] | None = None) -> None:
    """Steps every executor until the committed state stops moving."""
    names = order or sorted(nodes)
    for _ in range(rounds):
        before = nodes[names[0]].machine.state.last_index
        for name in names:
            nodes[name].executor.step(time.monotonic() + 3600)
        if nodes[names[0]].machine.state.last_index == before:
            return
    raise AssertionError("the executors did not settle")


def operations(node: Node) -> list[tuple[str, str, str, int, int]]:
    """(node, resource, operation, interval, rc) of every committed result, in log order."""
    found = []
    for history_node, histories in node.machine.state.operation_histories:
        for history in histories:
            for record in history.operations:
                found.append((record.call_id, history_node, history.resource,
                              record.operation, record.interval_ms, record.rc))
    return [item[1:] for item in sorted(set(found))]


def running(node: Node, resource: str) -> list[str]:
    """Where the committed status says the resource runs."""
    return sorted(node.call("status")["resources"][resource]["nodes"])


def test_probes_first_then_one_start_and_a_monitor_and_nothing_twice(nodes):
    nodes["n1"].call("configure_load", text=BASE + """
primitive d1 ocf:heartbeat:Dummy op monitor interval=10s
""")
    settle(nodes)
    calls = [(name, call.action, call.interval_ms) for name, node in sorted(nodes.items())
             for call in node.runner.calls]
    assert sorted(name for name, action, interval in calls
                  if action == "monitor" and interval == 0) == ["n1", "n2", "n3"]
    starts = [name for name, action, _ in calls if action == "start"]
    assert len(starts) == 1
    where = starts[0]
    assert (where, "monitor", 10000) in calls
    settle(nodes)                                   # steady: nothing runs again
    assert [call.action for call in nodes[where].runner.calls].count("start") == 1
    assert running(nodes["n2"], "d1") == [where]


def test_a_start_waits_for_its_prerequisite_on_another_node(nodes):
    nodes["n1"].call("configure_load", text=BASE + """
primitive first ocf:heartbeat:Dummy
primitive then ocf:heartbeat:Dummy
location first-on-n1 first inf: n1
location then-on-n2 then inf: n2
order first-then-then Mandatory: first then
""")
    nodes["n2"].executor.step(0.0)             # probes of n2 only
    nodes["n3"].executor.step(0.0)
    for _ in range(5):
        nodes["n2"].executor.step(0.0)
        nodes["n3"].executor.step(0.0)
    assert not nodes["n2"].runner.calls_for("then", "start")   # n1 has not even probed
    settle(nodes, order=["n2", "n3", "n1"])
    results = operations(nodes["n3"])
    start_first = results.index(("n1", "first", "start", 0, 0))
    start_then = results.index(("n2", "then", "start", 0, 0))
    assert start_first < start_then


def test_monitor_failure_recovers_in_place_then_moves_at_the_threshold(nodes):
    nodes["n1"].call("configure_load", text=BASE + """
primitive svc ocf:heartbeat:Dummy meta migration-threshold=2 op monitor interval=10s
location svc-likes-n1 svc 50: n1
""")
    settle(nodes)
    assert running(nodes["n1"], "svc") == ["n1"]
    runner = nodes["n1"].runner
    runner.set_state("svc", "stopped")          # the service died behind our back
    settle(nodes)
    assert runner.calls_for("svc", "start").__len__() == 2        # restarted in place
    assert dict(nodes["n1"].machine.state.transient_of("n1"))[
        "fail-count-svc#monitor_10000"] == "1"
    runner.set_state("svc", "stopped")
    settle(nodes)
    assert running(nodes["n1"], "svc") != ["n1"]                  # threshold reached: moved
    assert len(running(nodes["n1"], "svc")) == 1


def test_failed_start_bans_the_node_and_cleanup_lets_it_try_again(nodes):
    nodes["n1"].call("configure_load", text=BASE + """
primitive app ocf:heartbeat:Dummy
location app-likes-n1 app 50: n1
""")
    nodes["n1"].runner.script("app", "start", make_result(1, exit_reason="disk full"))
    settle(nodes)
    where = running(nodes["n1"], "app")
    assert len(where) == 1 and where != ["n1"]
    status = nodes["n2"].call("status")
    assert [(item["operation"], item["exit_reason"])
            for item in status["nodes"]["n1"]["failed_actions"]] == [("start", "disk full")]
    nodes["n1"].call("resource_cleanup", resource="app", node="n1")
    settle(nodes)
    assert running(nodes["n1"], "app") == ["n1"]                  # preferred node again


def test_a_timed_out_start_is_recorded_as_timed_out(nodes):
    nodes["n1"].call("configure_load", text=BASE + """
primitive hang ocf:heartbeat:Dummy
location hang-on-n1 hang inf: n1
""")
    nodes["n1"].runner.script("hang", "start", timed_out_result(20000))
    settle(nodes)
    failed = nodes["n1"].call("status")["nodes"]["n1"]["failed_actions"]
    assert [(item["operation"], item["status_text"]) for item in failed] == [
        ("start", "Timed Out")]


def test_a_restarted_executor_reprobes_and_starts_no_second_copy(nodes):
    nodes["n1"].call("configure_load", text=BASE + "primitive one ocf:heartbeat:Dummy\n")
    settle(nodes)
    [where] = running(nodes["n1"], "one")
    node = nodes[where]
    node.executor = node.new_executor()            # a daemon restart: nothing known yet
    settle(nodes)
    probes = [call for call in node.runner.calls_for("one", "monitor") if call.interval_ms == 0]
    assert len(probes) == 2                        # the first start-up and the restart
    assert sum(len(other.runner.calls_for("one", "start")) for other in nodes.values()) == 1
    assert running(nodes["n1"], "one") == [where]


def test_stop_on_shutdown_records_the_stop(nodes):
    nodes["n1"].call("configure_load", text=BASE + "primitive two ocf:heartbeat:Dummy\n")
    settle(nodes)
    [where] = running(nodes["n1"], "two")
    nodes[where].executor.stop()
    assert nodes[where].runner.state("two") == "stopped"
    assert operations(nodes[where])[-1][:3] == (where, "two", "stop")


def test_failure_timeout_asks_for_a_clock_tick_only_while_it_is_pending(nodes):
    nodes["n1"].call("configure_load", text=BASE + """
primitive brittle ocf:heartbeat:Dummy meta failure-timeout=30s op monitor interval=10s
""")
    settle(nodes)
    [where] = running(nodes["n1"], "brittle")
    nodes[where].runner.set_state("brittle", "stopped")
    settle(nodes)
    state = nodes["n1"].machine.state
    configuration = stored_configuration(state)
    due = failure_timeout_due_ms(state, configuration)
    last = int(dict(state.transient_of(where))["last-failure-brittle#monitor_10000"])
    assert due == (last + 31) * 1000
    nodes["n1"].proposer.propose("ClockTicked", {}, timeout_ms=2000)
    assert failure_timeout_due_ms(nodes["n1"].machine.state, configuration) == due


def test_on_fail_block_runs_nothing_more_for_the_resource(nodes):
    nodes["n1"].call("configure_load", text=BASE + """
primitive frozen ocf:heartbeat:Dummy op monitor interval=10s on-fail=block
""")
    settle(nodes)
    [where] = running(nodes["n1"], "frozen")
    runner = nodes[where].runner
    runner.set_state("frozen", "stopped")
    settle(nodes)
    assert not runner.calls_for("frozen", "stop")
    assert len(runner.calls_for("frozen", "start")) == 1
    assert nodes["n1"].call("status")["resources"]["frozen"]["managed"] is False


def claim(node: Node, resource: str, operation: str, shared: bool):
    return node.proposer.propose("OperationsPending", {"node": node.name, "operations": [{
        "resource": resource, "agent": "ocf:pacemaker:Stateful", "operation": operation,
        "interval_ms": 0, "shared": shared}]}, timeout_ms=2000)


def test_a_claim_is_refused_while_another_node_has_the_resource_pending(nodes):
    from raftha.daemon.proposer import ProposalRejected
    claim(nodes["n1"], "st", "promote", False)
    with pytest.raises(ProposalRejected, match="promote pending on n1"):
        claim(nodes["n2"], "st", "promote", False)
    claim(nodes["n1"], "db", "start", True)
    claim(nodes["n2"], "db", "start", True)           # anonymous clone instances: parallel
    with pytest.raises(ProposalRejected, match="start pending on"):
        claim(nodes["n3"], "db", "promote", False)
    history = {history.resource: history for history in
               nodes["n3"].machine.state.histories_of("n1")}
    assert [record.op_status for record in history["st"].operations] == [-1]


def test_a_start_claimed_from_a_plan_older_than_another_nodes_start_is_refused(nodes):
    # Two nodes plan from the same state; n1 claims, starts and records its result first.
    # n2's claim still carries the older plan, so it must be refused: plan again.
    from raftha.daemon.proposer import ProposalRejected
    planned = nodes["n2"].machine.state.next_call_id
    claim(nodes["n1"], "st", "start", False)
    nodes["n1"].proposer.propose("OperationCompleted", {
        "node": "n1", "resource": "st", "agent": "ocf:pacemaker:Stateful",
        "operation": "start", "interval_ms": 0, "rc": 0, "op_status": 0, "target_rc": None,
        "exit_reason": "", "duration_ms": 5}, timeout_ms=2000)
    stale = {"node": "n2", "planned_call_id": planned, "operations": [{
        "resource": "st", "agent": "ocf:pacemaker:Stateful", "operation": "start",
        "interval_ms": 0, "shared": False}]}
    with pytest.raises(ProposalRejected, match="changed on n1 since this plan"):
        nodes["n2"].proposer.propose("OperationsPending", stale, timeout_ms=2000)
    fresh = dict(stale, planned_call_id=nodes["n2"].machine.state.next_call_id)
    nodes["n2"].proposer.propose("OperationsPending", fresh, timeout_ms=2000)
