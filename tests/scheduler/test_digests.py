"""Operation digests: Pacemaker's digest format, the comparison, and what the scheduler plans
when a resource's parameters change (restart with dependents, reload, monitor re-schedule)."""

from pathlib import Path

import pytest

from raftha.cib import parse_cib
from raftha.crmsh import parse_configuration
from raftha.model.events import EventError, validate_operation_completed
from raftha.model.status import (
    ClusterStatus,
    NodeStatus,
    OperationRecord,
    ResourceHistory,
    online_node,
)
from raftha.scheduler import plan
from raftha.scheduler.digests import (
    MATCH,
    RELOAD,
    RESCHEDULE,
    RESTART,
    UNKNOWN,
    compare_record,
    configured_parameters,
    operation_digest,
    record_digests,
)
from raftha.scheduler.simulate import final_placement_from_cib

CORPUS = Path(__file__).resolve().parent.parent / "pacemaker-cases" / "xml"


# ------------------------------------------------------------------ the digest itself

def test_digest_equals_the_digests_pacemaker_recorded():
    # group-dependents: an LSB resource without parameters (probe) and its 1 s monitor
    # with a 20 s timeout, as Pacemaker recorded them.
    assert operation_digest({}) == "f2317cad3d54cec5d7d7aa7d0bf35cf8"
    assert operation_digest({"CRM_meta_timeout": "20000"}) == "4811cef7f7f94e3a35a70be7916cb2fd"


def test_digest_ignores_attribute_order_and_sees_every_value():
    first = operation_digest({"a": "1", "b": "2"})
    assert first == operation_digest({"b": "2", "a": "1"})
    assert first != operation_digest({"a": "1", "b": "3"})
    assert operation_digest({"a": 'x"<y'}) != operation_digest({"a": "x<y"})


def test_configured_parameters_of_a_corpus_resource_match_its_recorded_digests():
    config, status = parse_cib((CORPUS / "group-dependents.xml").read_text())
    primitive = next(item for item in config.all_primitives() if item.id == "fs_drbd")
    params = dict(primitive.params)
    records = [record for node in status.nodes for history in node.histories
               if history.resource == "fs_drbd" for record in history.operations
               if record.interval_ms == 0]
    assert records
    for record in records:
        parameters = configured_parameters(config, primitive, params, record.operation, 0)
        assert "start-delay" not in parameters  # an op meta attribute, not a parameter
        assert operation_digest(parameters) == record.op_digest


# ------------------------------------------------------------------ the comparison

def record_with(parameters, *, operation="start", interval_ms=0, non_reloadable=None,
                call_id=5):
    digests = record_digests(parameters, interval_ms, non_reloadable)
    return OperationRecord(
        operation=operation, call_id=call_id, rc=0, interval_ms=interval_ms, target_rc=0,
        id="r_last_0" if interval_ms == 0 else f"r_{operation}_{interval_ms}",
        operation_key=f"r_{operation}_{interval_ms}", op_digest=digests.op_digest,
        op_restart_digest=digests.op_restart_digest,
        op_force_restart=digests.op_force_restart,
        parameter_digests=digests.parameter_digests)


def test_same_parameters_match():
    record = record_with({"state": "/a", "fake": "1"}, non_reloadable=["state"])
    assert compare_record(record, {"state": "/a", "fake": "1"}).kind == MATCH


def test_change_of_a_non_reloadable_parameter_restarts_and_names_it():
    record = record_with({"state": "/a", "fake": "1"}, non_reloadable=["state"])
    check = compare_record(record, {"state": "/b", "fake": "1"})
    assert check.kind == RESTART
    assert check.changed == ("state",)
    assert check.reason() == "parameters changed: state"


def test_change_of_reloadable_parameters_only_reloads():
    record = record_with({"state": "/a", "fake": "1"}, non_reloadable=["state"])
    check = compare_record(record, {"state": "/a", "fake": "2", "new": "x"})
    assert check.kind == RELOAD
    assert check.changed == ("fake", "new")


def test_agent_without_reload_restarts_on_any_change():
    record = record_with({"state": "/a", "fake": "1"}, non_reloadable=None)
    assert record.op_restart_digest is None
    assert compare_record(record, {"state": "/a", "fake": "2"}).kind == RESTART


def test_recurring_op_change_only_reschedules():
    record = record_with({"fake": "1", "CRM_meta_timeout": "20000"}, operation="monitor",
                         interval_ms=10000, non_reloadable=["fake"])
    assert record.op_restart_digest is None  # recurring ops never reload
    check = compare_record(record, {"fake": "1", "CRM_meta_timeout": "30000"})
    assert check.kind == RESCHEDULE
    assert check.changed == ("CRM_meta_timeout",)


def test_record_without_digest_is_unknown_and_changes_nothing():
    record = OperationRecord(operation="start", call_id=1, rc=0, id="r_last_0")
    assert compare_record(record, {"x": "1"}).kind == UNKNOWN


# ------------------------------------------------------------------ the plan

def status_with(histories_by_node):
    nodes = []
    for name in ("n1", "n2"):
        node = online_node(name)
        nodes.append(NodeStatus(**{**node.__dict__,
                                   "histories": tuple(histories_by_node.get(name, ()))}))
    return ClusterStatus(nodes=tuple(nodes), now=1_000_000)


def started(config, resource_id, *, non_reloadable=None, call_id=10, monitor_ms=0):
    """A history saying `resource_id` was started with the parameters of `config`."""
    primitive = next(item for item in config.all_primitives() if item.id == resource_id)
    params = dict(primitive.params)
    start = record_with(configured_parameters(config, primitive, params, "start", 0),
                        non_reloadable=non_reloadable, call_id=call_id)
    start = OperationRecord(**{**start.__dict__, "id": f"{resource_id}_last_0"})
    records = [start]
    if monitor_ms:
        monitor = record_with(configured_parameters(config, primitive, params, "monitor",
                                                    monitor_ms),
                              operation="monitor", interval_ms=monitor_ms, call_id=call_id + 1)
        records.append(OperationRecord(**{**monitor.__dict__,
                                          "id": f"{resource_id}_monitor_{monitor_ms}"}))
    return ResourceHistory(resource=resource_id, agent_class="ocf", provider="pacemaker",
                           agent_type="Dummy", operations=tuple(records))


BASE = """
node n1
node n2
property stonith-enabled=false
primitive db ocf:pacemaker:Dummy params state=/run/db fake=1 op monitor interval=10s timeout=20s
primitive web ocf:pacemaker:Dummy params state=/run/web
primitive other ocf:pacemaker:Dummy params state=/run/other
order db-then-web Mandatory: db web
location db-on-n1 db 100: n1
colocation web-with-db inf: web db
location other-on-n2 other 100: n2
"""


def planned(old_text, new_text, non_reloadable=None):
    old = parse_configuration(old_text)
    histories = {"n1": [started(old, "db", non_reloadable=non_reloadable, call_id=10,
                                monitor_ms=10000),
                        started(old, "web", non_reloadable=non_reloadable, call_id=20)],
                 "n2": [started(old, "other", non_reloadable=non_reloadable, call_id=30)]}
    return plan(parse_configuration(new_text), status_with(histories))


def verbs_of(result):
    return sorted((action.verb, action.resource, action.node) for action in result.actions
                  if action.verb not in ("probe", "monitor"))


def test_unchanged_configuration_plans_nothing():
    assert verbs_of(planned(BASE, BASE, ["state"])) == []


def test_changed_parameter_restarts_resource_and_its_dependent_in_order():
    result = planned(BASE, BASE.replace("state=/run/db", "state=/run/db2"), ["state"])
    assert verbs_of(result) == [("start", "db", "n1"), ("start", "web", "n1"),
                                ("stop", "db", "n1"), ("stop", "web", "n1")]
    reasons = {action.key: action.reason for action in result.actions}
    assert reasons["stop:db:n1"] == "parameters changed: state"
    assert reasons["stop:web:n1"] == "restarted after db"
    orderings = set(result.orderings)
    assert ("stop:web:n1", "stop:db:n1") in orderings
    assert ("stop:db:n1", "start:db:n1") in orderings
    assert ("start:db:n1", "start:web:n1") in orderings
    explanation = result.explanation("db")
    assert ("n1", "restart", "parameters changed: state") in explanation.parameter_changes
    # The resource stays where it is.
    assert result.placement("db").final_nodes == ("n1",)


def test_reloadable_change_plans_one_reload_and_no_restart():
    result = planned(BASE, BASE.replace("fake=1", "fake=2"), ["state"])
    assert verbs_of(result) == [("reload", "db", "n1")]
    reload = next(action for action in result.actions if action.verb == "reload")
    assert reload.reason == "parameters changed: fake"
    assert ("reload:db:n1", "monitor:db:n1:10000") in set(result.orderings)


def test_reloadable_change_restarts_when_agent_cannot_reload():
    result = planned(BASE, BASE.replace("fake=1", "fake=2"), None)
    assert ("stop", "db", "n1") in verbs_of(result)
    assert ("stop", "web", "n1") in verbs_of(result)


def test_changed_monitor_timeout_reschedules_that_monitor_only():
    result = planned(BASE, BASE.replace("timeout=20s", "timeout=30s"), ["state"])
    assert verbs_of(result) == []
    changes = result.explanation("db").parameter_changes
    assert changes and changes[0][:2] == ("n1", "reschedule")


def test_resource_that_moves_anyway_is_not_restarted_in_place():
    changed = BASE.replace("state=/run/db", "state=/run/db2").replace(
        "location db-on-n1 db 100: n1", "location db-on-n1 db -inf: n1")
    result = planned(BASE, changed, ["state"])
    assert ("start", "db", "n2") in verbs_of(result)
    assert ("start", "db", "n1") not in verbs_of(result)


def test_pacemaker_case_failure_with_changed_parameters_no_longer_bans():
    # bug-5025-4: a start failed (fail count INFINITY) with parameters since changed.
    result = final_placement_from_cib((CORPUS / "bug-5025-4.xml").read_text(),
                                      now=1_900_000_000)
    assert result["resources"]["remote-node"]["node"] == "18builder"


# ------------------------------------------------------------------ the event


def completed_body(**extra):
    body = {"node": "n1", "resource": "db", "agent": "ocf:pacemaker:Dummy",
            "operation": "start", "interval_ms": 0, "rc": 0, "op_status": 0, "target_rc": 0,
            "exit_reason": "", "duration_ms": 3}
    body.update(extra)
    return body


def test_event_accepts_digests_and_refuses_malformed_ones():
    digests = record_digests({"state": "/a"}, 0, ["state"]).to_body()
    validate_operation_completed(completed_body(**digests))
    validate_operation_completed(completed_body())  # optional
    with pytest.raises(EventError, match="op_digest"):
        validate_operation_completed(completed_body(op_digest="not hex"))
    with pytest.raises(EventError, match="go together"):
        validate_operation_completed(completed_body(op_restart_digest="ab" * 16))
    with pytest.raises(EventError, match="parameter"):
        validate_operation_completed(completed_body(parameter_digests={"x": 5}))


def test_simulate_summary_names_restarts_and_reloads():
    from raftha.cli.simulate import _transition_lines
    restart = planned(BASE, BASE.replace("state=/run/db", "state=/run/db2"), ["state"])
    lines = _transition_lines(restart)
    assert "  * Restart    db ( n1 )  parameters changed: state" in lines
    assert "  * Restart    web ( n1 )  restarted after db" in lines
    reload = _transition_lines(planned(BASE, BASE.replace("fake=1", "fake=2"), ["state"]))
    assert reload == ["  * Reload     db ( n1 )  parameters changed: fake"]


def test_explain_text_names_the_parameter_changes():
    from raftha.cli.why import explanation_lines
    result = planned(BASE, BASE.replace("state=/run/db", "state=/run/db2"), ["state"])
    explanation = result.explanation("web")
    placement = result.placement("web")
    lines = explanation_lines({
        "resource": "web", "scores": explanation.scores, "chosen": explanation.chosen,
        "decided_by": explanation.decided_by, "contributions": explanation.contributions,
        "parameter_changes": explanation.parameter_changes,
        "current_nodes": placement.current_nodes, "current_role": placement.current_role,
        "target_node": placement.target_node, "target_role": placement.target_role})
    assert "  restart on n1: restarted after db" in lines
