"""A clean stop of a node, unit level (fake Raft layer, fake agents, actions run inline).

- Without a quorum a stopping executor still stops every resource it runs, and stops trying
  to record the results (no proposal waits out a quorum that will not come back).
- A start whose result never reached the log is stopped too: the executor remembers what
  its agents left active, not only what the committed state shows.
- Unmanaged resources are left running.
"""

from __future__ import annotations

import pytest
from test_reconcile_unit import BASE, running, settle
from test_reconcile_unit import nodes as fake_cluster  # noqa: F401 - the "nodes" fixture

from raftha.agents import make_result
from raftha.scheduler import Action


@pytest.fixture
def nodes(fake_cluster):  # noqa: F811 - the imported fixture, under its own name
    """Three executors over the fake Raft layer (test_reconcile_unit's cluster)."""
    return fake_cluster


class CountingProposer:
    """Wraps a proposer and counts the results it was asked to commit."""

    def __init__(self, proposer) -> None:
        self.proposer = proposer
        self.results = 0

    def propose(self, kind, body, **arguments):
        if kind == "OperationCompleted":
            self.results += 1
        return self.proposer.propose(kind, body, **arguments)


def test_without_a_quorum_a_stopping_node_stops_everything_and_stops_recording(nodes):
    nodes["n1"].call("configure_load", text=BASE + """
primitive a ocf:heartbeat:Dummy
primitive b ocf:heartbeat:Dummy
primitive c ocf:heartbeat:Dummy
location a-on-n1 a inf: n1
location b-on-n1 b inf: n1
location c-on-n1 c inf: n1
""")
    settle(nodes)
    assert running(nodes["n1"], "a") == running(nodes["n1"], "c") == ["n1"]
    nodes["n2"].raft.stop()
    nodes["n3"].raft.stop()                     # the rest of the cluster went down first
    executor = nodes["n1"].executor
    counting = executor.proposer = CountingProposer(executor.proposer)
    executor.stop()
    runner = nodes["n1"].runner
    assert [runner.state(name) for name in "abc"] == ["stopped"] * 3
    assert executor.shutdown_unrecorded
    assert counting.results == 0                # no quorum in sight: nothing proposed


def test_with_a_quorum_the_shutdown_stops_are_recorded(nodes):
    nodes["n1"].call("configure_load", text=BASE + """
primitive a ocf:heartbeat:Dummy
location a-on-n1 a inf: n1
""")
    settle(nodes)
    executor = nodes["n1"].executor
    executor.stop()
    assert not executor.shutdown_unrecorded
    assert running(nodes["n2"], "a") == []


def test_a_start_whose_result_was_never_committed_is_stopped_at_shutdown(nodes):
    nodes["n1"].call("configure_load", text=BASE + "primitive late ocf:heartbeat:Dummy\n")
    settle(nodes)
    [where] = running(nodes["n1"], "late")
    other = next(name for name in sorted(nodes) if name != where)
    executor = nodes[other].executor
    view = executor.current_view(nodes[other].machine.state)
    call = view.call_for(Action(key=f"start:late:{other}", verb="start", resource="late",
                                node=other, runnable=True))
    # The agent started it here, and the result never reached the log (a quorum loss).
    result = executor.run_agent(call)
    executor.note_outcome(call, result)
    assert nodes[other].runner.state("late") == "started"
    executor.stop()
    assert nodes[other].runner.state("late") == "stopped"
    assert nodes[where].runner.state("late") == "started"   # the committed copy is not ours


def test_an_unmanaged_resource_is_left_running_at_shutdown(nodes):
    nodes["n1"].call("configure_load", text=BASE + """
primitive keep ocf:heartbeat:Dummy meta is-managed=false
""")
    nodes["n1"].runner.script("keep", "monitor", make_result(0))   # found running by the probe
    settle(nodes)
    assert running(nodes["n2"], "keep") == ["n1"]
    nodes["n1"].executor.stop()
    assert not nodes["n1"].runner.calls_for("keep", "stop")
