"""A node without quorum carries out no-quorum-policy alone (fake Raft layer, fake agents,
actions inline): no claim, no recorded result, the policy's stops and demotes only; a
re-probe after a read barrier when the quorum returns. Also: the first plan after a start
waits for a read barrier (a replayed state is not trusted)."""

from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import replace

import pytest
from test_reconcile_unit import BASE, operations, running, settle
from test_reconcile_unit import nodes as fake_cluster  # noqa: F401 - the "nodes" fixture

from raftha.daemon.fencer import SELF_FENCE_EXIT_STATUS, ProcessGroupRegistry


@pytest.fixture
def nodes(fake_cluster):  # noqa: F811 - the imported fixture, under its own name
    """Three executors over the fake Raft layer; quorum counts as lost at once (no grace)."""
    for node in fake_cluster.values():
        node.executor.settings = replace(node.executor.settings, quorum_loss_grace_ms=0)
    return fake_cluster


class RecordingProposer:
    """Wraps a proposer and keeps the kinds it was asked to commit."""

    def __init__(self, proposer) -> None:
        self.proposer = proposer
        self.kinds: list[str] = []

    def propose(self, kind, body, **arguments):
        self.kinds.append(kind)
        return self.proposer.propose(kind, body, **arguments)

    def read_barrier(self, timeout_ms: int) -> int:
        self.kinds.append("ReadBarrier")
        return self.proposer.read_barrier(timeout_ms)


def isolate(nodes: dict, name: str) -> RecordingProposer:
    """Cuts `name` off; returns its executor's proposer, now recording what it is asked."""
    nodes[name].raft._cluster.disconnect(nodes[name].config.raft_address)
    executor = nodes[name].executor
    recording = executor.proposer = RecordingProposer(executor.proposer)
    return recording


def step(node, count: int = 4) -> None:
    for _ in range(count):
        node.executor.step(time.monotonic() + 3600)


def verbs(node, resource: str) -> list[str]:
    return [call.action for call in node.runner.calls_for(resource)
            if call.action in ("start", "stop", "promote", "demote")]


def configure_on_n1(nodes: dict, text: str) -> None:
    nodes["n1"].call("configure_load", text=BASE + text)
    settle(nodes)


def test_stop_policy_stops_alone_without_claims_in_group_order(nodes):
    configure_on_n1(nodes, """
primitive a ocf:heartbeat:Dummy
primitive b ocf:heartbeat:Dummy
primitive c ocf:heartbeat:Dummy
group g a b
location g-on-n1 g inf: n1
location c-on-n1 c inf: n1
""")
    assert running(nodes["n2"], "b") == running(nodes["n2"], "c") == ["n1"]
    runner = nodes["n1"].runner
    runner.calls.clear()
    proposed = isolate(nodes, "n1")
    step(nodes["n1"])
    assert [runner.state(name) for name in "abc"] == ["stopped"] * 3
    stops = [call.resource_id for call in runner.calls if call.action == "stop"]
    assert stops.index("b") < stops.index("a")             # the group's order, in reverse
    assert "OperationsPending" not in proposed.kinds      # nothing claimed
    assert "OperationCompleted" not in proposed.kinds     # nothing waits on the log
    assert not [call for call in runner.calls if call.action == "start"]
    status = nodes["n1"].executor.status()
    assert status["no_quorum_policy"] == "stop"
    assert status["done_without_quorum"] == ["stop:a:n1", "stop:b:n1", "stop:c:n1"]
    step(nodes["n1"])
    assert len([call for call in runner.calls if call.action == "stop"]) == 3   # once each


def test_freeze_keeps_what_runs_and_starts_nothing(nodes):
    configure_on_n1(nodes, """
property no-quorum-policy=freeze
primitive a ocf:heartbeat:Dummy
location a-on-n1 a inf: n1
""")
    runner = nodes["n1"].runner
    runner.calls.clear()
    isolate(nodes, "n1")
    step(nodes["n1"])
    assert runner.state("a") == "started"
    assert verbs(nodes["n1"], "a") == []
    assert nodes["n1"].executor.announced_policy == "freeze"


def test_demote_policy_demotes_the_promoted_and_stops_the_rest(nodes):
    configure_on_n1(nodes, """
property no-quorum-policy=demote
primitive s ocf:pacemaker:Stateful op monitor interval=10s role=Promoted \\
    op monitor interval=11s role=Unpromoted
clone ms s meta promotable=true
primitive a ocf:heartbeat:Dummy
location ms-on-n1 ms rule role=Promoted 100: #uname eq n1
location a-on-n1 a inf: n1
""")
    view = nodes["n2"].call("status")["resources"]
    assert [item["nodes"] for item in view.values() if item["role"] == "Promoted"] == [["n1"]]
    runner = nodes["n1"].runner
    runner.calls.clear()
    isolate(nodes, "n1")
    step(nodes["n1"])
    assert verbs(nodes["n1"], "s") == ["demote"]        # kept, Unpromoted
    assert runner.state("s") == "started"
    assert verbs(nodes["n1"], "a") == ["stop"]


def test_a_resource_that_requires_nothing_keeps_running(nodes):
    configure_on_n1(nodes, """
primitive free ocf:heartbeat:Dummy meta requires=nothing
primitive bound ocf:heartbeat:Dummy
location free-on-n1 free inf: n1
location bound-on-n1 bound inf: n1
""")
    isolate(nodes, "n1")
    step(nodes["n1"])
    runner = nodes["n1"].runner
    assert (runner.state("free"), runner.state("bound")) == ("started", "stopped")


def test_a_start_whose_result_never_committed_is_stopped_too(nodes):
    configure_on_n1(nodes, "primitive a ocf:heartbeat:Dummy\nlocation a-n2 a inf: n2\n")
    executor = nodes["n1"].executor
    from raftha.scheduler import Action
    view = executor.current_view(nodes["n1"].machine.state)
    call = view.call_for(Action(key="start:a:n1", verb="start", resource="a", node="n1",
                                runnable=True))
    executor.note_outcome(call, executor.run_agent(call))   # ran here; the log never heard
    isolate(nodes, "n1")
    step(nodes["n1"])
    assert nodes["n1"].runner.state("a") == "stopped"
    assert nodes["n2"].runner.state("a") == "started"       # the committed copy is not ours


def test_suicide_without_fencing_is_stop_and_with_fencing_ends_the_daemon(nodes, tmp_path):
    configure_on_n1(nodes, """
property no-quorum-policy=suicide
primitive a ocf:heartbeat:Dummy
location a-on-n1 a inf: n1
""")
    exits: list[int] = []
    executor = nodes["n1"].executor
    executor.exit_process = exits.append
    isolate(nodes, "n1")
    step(nodes["n1"])
    assert nodes["n1"].runner.state("a") == "stopped" and exits == []   # fencing is off
    fencing_state = replace(nodes["n1"].machine.state, properties=tuple(sorted(
        {**dict(nodes["n1"].machine.state.properties), "stonith-enabled": "true",
         "stonith-watchdog-timeout": "5s"}.items())))
    assert executor.no_quorum_policy(fencing_state) == "fence"
    # A resource's process group, registered as the executor registers them: fencing
    # oneself kills it outright (no stop), then ends the daemon.
    resource = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        registry = ProcessGroupRegistry(tmp_path / "groups")
        assert registry.add(resource.pid, "a")
        executor.registry = registry
        executor.fence_self()
        assert exits == [SELF_FENCE_EXIT_STATUS] == [75]
        assert resource.wait(timeout=5) == -signal.SIGKILL
    finally:
        resource.kill()
        resource.wait()


def test_the_majority_recovers_and_the_rejoining_node_probes_before_planning(nodes):
    configure_on_n1(nodes, "primitive a ocf:heartbeat:Dummy\nlocation a-n1 a 100: n1\n")
    assert running(nodes["n2"], "a") == ["n1"]
    proposed = isolate(nodes, "n1")
    step(nodes["n1"])
    assert nodes["n1"].runner.state("a") == "stopped"
    leader = nodes["n2"]
    for moment in (100.0, 200.0, 300.0):      # the majority declares n1 lost (fencing off)
        leader.duties.step(moment)
    settle(nodes, order=["n2", "n3"])
    [recovered] = running(nodes["n2"], "a")
    assert recovered != "n1"
    nodes["n1"].raft._cluster.reconnect(nodes["n1"].config.raft_address)
    proposed.kinds.clear()
    nodes["n1"].runner.calls.clear()
    leader = next(node for node in nodes.values() if node.raft.status().is_leader)
    for moment in range(400, 1000, 50):        # and back, once the link held long enough
        leader.duties.step(float(moment))
        settle(nodes)
    assert nodes["n2"].machine.state.node("n1").state == "online"
    assert proposed.kinds[0] == "ReadBarrier"           # before anything is planned
    first = nodes["n1"].runner.calls[0]
    assert (first.resource_id, first.action, first.interval_ms) == ("a", "monitor", 0)
    assert running(nodes["n2"], "a") in (["n1"], [recovered])
    assert nodes["n1"].runner.state("a") == ("started" if running(nodes["n2"], "a") == ["n1"]
                                              else "stopped")


def restart_executor(node):
    """The daemon restarts: a new executor (nothing probed yet, nothing known to run here)
    while the resources its agents started keep running."""
    executor = node.new_executor()
    executor.settings = replace(executor.settings, quorum_loss_grace_ms=0)
    executor.exit_process = node.executor.exit_process
    node.executor = executor
    recording = executor.proposer = RecordingProposer(node.proposer)
    return recording


@pytest.mark.parametrize("policy, left", [("stop", "stopped"), ("freeze", "started")])
def test_a_daemon_restarted_without_quorum_probes_alone_and_applies_the_policy(
        nodes, policy, left):
    configure_on_n1(nodes, f"property no-quorum-policy={policy}\n"
                           "primitive a ocf:heartbeat:Dummy\nlocation a-n1 a inf: n1\n")
    assert running(nodes["n2"], "a") == ["n1"]
    isolate(nodes, "n1")
    proposed = restart_executor(nodes["n1"])
    nodes["n1"].runner.calls.clear()
    step(nodes["n1"])
    calls = [(call.action, call.interval_ms) for call in nodes["n1"].runner.calls_for("a")]
    assert calls[0] == ("monitor", 0)          # probed alone, though no barrier was possible
    assert nodes["n1"].runner.state("a") == left
    assert set(proposed.kinds) == {"ReadBarrier"}   # nothing recorded, nothing claimed
    nodes["n1"].runner.calls.clear()
    nodes["n1"].raft._cluster.reconnect(nodes["n1"].config.raft_address)
    settle(nodes)           # quorum back: barrier, the recorded probe, then the plan
    calls = [(call.action, call.interval_ms) for call in nodes["n1"].runner.calls_for("a")]
    assert calls[0] == ("monitor", 0)
    assert nodes["n1"].runner.state("a") == "started"
    assert running(nodes["n2"], "a") == ["n1"]


def test_quorum_back_before_a_loss_is_declared_reprobes_what_was_stopped(nodes):
    configure_on_n1(nodes, "primitive a ocf:heartbeat:Dummy\nlocation a-n1 a inf: n1\n")
    isolate(nodes, "n1")
    step(nodes["n1"])
    assert nodes["n1"].runner.state("a") == "stopped"
    nodes["n1"].runner.calls.clear()
    nodes["n1"].raft._cluster.reconnect(nodes["n1"].config.raft_address)
    # The log still shows `a` started on n1: the re-probe tells it otherwise, and it starts.
    settle(nodes)
    calls = [(call.action, call.interval_ms) for call in nodes["n1"].runner.calls_for("a")]
    assert calls[:2] == [("monitor", 0), ("start", 0)]
    assert nodes["n1"].runner.state("a") == "started"
    assert ("n1", "a", "start", 0, 0) in operations(nodes["n2"])


class LaggingMachine:
    """A daemon's state machine right after a restart: it serves an old state (replayed from
    its own journal) until a read barrier has gone through the log."""

    def __init__(self, machine, old_state) -> None:
        self.machine = machine
        self.old_state = old_state
        self.changed = machine.changed
        self.caught_up = False

    @property
    def state(self):
        return self.machine.state if self.caught_up else self.old_state


class CatchingUpProposer:
    def __init__(self, proposer, machine: LaggingMachine) -> None:
        self.proposer = proposer
        self.machine = machine

    def propose(self, kind, body, **arguments):
        return self.proposer.propose(kind, body, **arguments)

    def read_barrier(self, timeout_ms: int) -> int:
        index = self.proposer.read_barrier(timeout_ms)
        self.machine.caught_up = True
        return index


def test_a_restarted_executor_probes_with_the_current_configuration(nodes):
    configure_on_n1(nodes, "primitive ip ocf:heartbeat:Dummy params state=/old\n"
                           "location ip-n2 ip inf: n2\n")
    node = nodes["n1"]
    old_state = node.machine.state
    nodes["n2"].call("configure_load", text="primitive ip ocf:heartbeat:Dummy "
                     "params state=/new\n")
    settle(nodes)
    lagging = LaggingMachine(node.machine, old_state)
    node.machine = lagging
    executor = node.new_executor()          # a restart: probes first
    executor.machine = lagging
    executor.proposer = CatchingUpProposer(node.proposer, lagging)
    node.runner.calls.clear()
    executor.step(time.monotonic())
    probes = [call for call in node.runner.calls_for("ip") if call.action == "monitor"]
    assert [call.params.get("state") for call in probes] == ["/new"]
