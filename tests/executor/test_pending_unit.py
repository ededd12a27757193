"""Claimed actions are shown as pending, never as their outcome, until a result commits.

A claim (OperationsPending) is in the history as a pending record. `committed_only` leaves
it out, so a plan or a status derived from it shows what results say (a claimed start is
not "Started" yet), and `pending_claims` lists the claim as crm_mon would ("Starting").
"""

from __future__ import annotations

import pytest
from test_reconcile_unit import BASE
from test_reconcile_unit import nodes as fake_cluster  # noqa: F401 - the "nodes" fixture

from raftha.model.scheduler_inputs import committed_only, pending_claims, scheduler_inputs
from raftha.scheduler import plan


@pytest.fixture
def nodes(fake_cluster):  # noqa: F811 - the imported fixture, under its own name
    """Three executors over the fake Raft layer (test_reconcile_unit's cluster)."""
    return fake_cluster


def claim_start(node, resource: str) -> None:
    node.proposer.propose("OperationsPending", {"node": node.name, "operations": [{
        "resource": resource, "agent": "ocf:heartbeat:Dummy", "operation": "start",
        "interval_ms": 0, "shared": False}]}, timeout_ms=2000)


def complete_start(node, resource: str) -> None:
    node.proposer.propose("OperationCompleted", {
        "node": node.name, "resource": resource, "agent": "ocf:heartbeat:Dummy",
        "operation": "start", "interval_ms": 0, "rc": 0, "op_status": 0, "target_rc": 0,
        "exit_reason": "", "duration_ms": 5}, timeout_ms=2000)


def current_nodes(state, resource: str, committed: bool) -> tuple[str, ...]:
    configuration, status = scheduler_inputs(state, True)
    if committed:
        status = committed_only(status)
    return plan(configuration, status).placement(resource).current_nodes


def test_a_claimed_start_is_pending_not_started_until_its_result_commits(nodes):
    node = nodes["n1"]
    node.call("configure_load", text=BASE + "primitive web ocf:heartbeat:Dummy\n")
    claim_start(node, "web")
    state = node.machine.state
    assert pending_claims(state) == {
        "web": [{"node": "n1", "operation": "start", "text": "Starting"}]}
    assert current_nodes(state, "web", committed=True) == ()
    assert current_nodes(state, "web", committed=False) == ("n1",)   # what fencing must assume
    complete_start(node, "web")
    state = node.machine.state
    assert pending_claims(state) == {}
    assert current_nodes(state, "web", committed=True) == ("n1",)


def test_status_shows_a_claimed_start_as_starting_not_started(nodes):
    node = nodes["n1"]
    node.call("configure_load", text=BASE + "primitive web ocf:heartbeat:Dummy\n")
    claim_start(node, "web")
    view = node.call("status")["resources"]["web"]
    assert (view["nodes"], view["role"]) == ([], "Stopped")
    assert view["pending"] == [{"node": "n1", "operation": "start", "text": "Starting"}]
