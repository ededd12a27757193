"""Removing a node that may still run resources is refused: a removed node never sees the
log again, so what it runs would run twice once the scheduler places it elsewhere."""

from __future__ import annotations

import pytest
from test_reconcile_unit import BASE
from test_reconcile_unit import nodes as fake_cluster  # noqa: F401 - the "nodes" fixture


@pytest.fixture
def nodes(fake_cluster):  # noqa: F811 - the imported fixture, under its own name
    """Three executors over the fake Raft layer (test_reconcile_unit's cluster)."""
    return fake_cluster


def record(node, target: str, operation: str) -> None:
    node.proposer.propose("OperationCompleted", {
        "node": target, "resource": "web", "agent": "ocf:heartbeat:Dummy",
        "operation": operation, "interval_ms": 0, "rc": 0, "op_status": 0, "target_rc": 0,
        "exit_reason": "", "duration_ms": 5}, timeout_ms=2000)


def test_a_node_running_a_resource_is_not_removed_until_it_stopped(nodes):
    node = nodes["n1"]
    node.call("configure_load", text=BASE + "primitive web ocf:heartbeat:Dummy\n")
    record(node, "n2", "start")
    response = node.api.handle({"op": "node_remove", "args": {"name": "n2"}}, "tester")
    assert not response["ok"]
    assert response["error"].startswith("node n2 may still run web: stop its daemon first")
    assert node.machine.state.node("n2") is not None
    record(node, "n2", "stop")
    node.call("node_remove", name="n2")
    assert node.machine.state.node("n2") is None


def test_force_removes_a_node_that_may_still_run_a_resource(nodes):
    node = nodes["n1"]
    node.call("configure_load", text=BASE + "primitive web ocf:heartbeat:Dummy\n")
    record(node, "n3", "start")
    node.call("node_remove", name="n3", force=True)
    assert node.machine.state.node("n3") is None
