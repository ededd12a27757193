"""Live migration in the plan (allow-migrate=true): migrate_to then migrate_from instead of
stop and start, a partial migration completed, a completed one cleaned up on its source."""

from raftha.crmsh import parse_configuration
from raftha.model.status import (
    ClusterStatus,
    NodeStatus,
    OperationRecord,
    ResourceHistory,
    online_node,
)
from raftha.scheduler import plan

CONFIG = """
node n1
node n2
property stonith-enabled=false
primitive m ocf:pacemaker:Dummy meta allow-migrate={allow} op monitor interval=5s
location m-prefers-n2 m 100: n2
"""


def record(operation, call_id, rc=0, **extra):
    return OperationRecord(operation=operation, call_id=call_id, rc=rc, id="m_last_0",
                           target_rc=0, **extra)


def status(per_node):
    nodes = []
    for name in ("n1", "n2"):
        records = per_node.get(name, ())
        histories = (ResourceHistory("m", "ocf", "pacemaker", "Dummy", tuple(records)),) \
            if records else ()
        nodes.append(NodeStatus(**{**online_node(name).__dict__, "histories": histories}))
    return ClusterStatus(nodes=tuple(nodes), now=100)


def one_shot(result):
    return sorted((action.verb, action.node) for action in result.actions
                  if action.verb not in ("probe", "monitor"))


RUNNING_ON_N1 = {"n1": [record("start", 3)], "n2": [record("monitor", 2, rc=7)]}


def test_moving_primitive_migrates_instead_of_stop_and_start():
    result = plan(parse_configuration(CONFIG.format(allow="true")), status(RUNNING_ON_N1))
    assert one_shot(result) == [("migrate_from", "n2"), ("migrate_to", "n1")]
    assert ("migrate_to:m:n1", "migrate_from:m:n2") in set(result.orderings)
    assert ("migrate_from:m:n2", "monitor:m:n2:5000") in set(result.orderings)
    reasons = {action.verb: action.reason for action in result.actions}
    assert reasons["migrate_to"] == "live migration to n2"
    assert result.placement("m").final_nodes == ("n2",)


def test_without_allow_migrate_it_stops_and_starts():
    result = plan(parse_configuration(CONFIG.format(allow="false")), status(RUNNING_ON_N1))
    assert one_shot(result) == [("start", "n2"), ("stop", "n1")]


def test_group_member_is_not_migrated():
    text = CONFIG.format(allow="true").replace("location m-prefers-n2 m 100: n2",
                                              "group g m\nlocation g-prefers-n2 g 100: n2")
    result = plan(parse_configuration(text), status(RUNNING_ON_N1))
    assert one_shot(result) == [("start", "n2"), ("stop", "n1")]


def test_partial_migration_only_needs_migrate_from():
    partial = {"n1": [record("migrate_to", 4, migrate_source="n1", migrate_target="n2")],
               "n2": [record("monitor", 2, rc=7)]}
    result = plan(parse_configuration(CONFIG.format(allow="true")), status(partial))
    assert one_shot(result) == [("migrate_from", "n2")]


def test_completed_migration_is_active_on_target_and_stopped_on_source():
    done = {"n1": [record("migrate_to", 4, migrate_source="n1", migrate_target="n2")],
            "n2": [record("migrate_from", 5, migrate_source="n1", migrate_target="n2")]}
    result = plan(parse_configuration(CONFIG.format(allow="true")), status(done))
    assert result.placement("m").current_nodes == ("n2",)
    assert one_shot(result) == [("stop", "n1")]
    stop = next(action for action in result.actions if action.verb == "stop")
    assert stop.reason == "source of a completed live migration"
    # Once the stop is recorded, nothing is left to do.
    done["n1"] = [record("stop", 6)]
    assert one_shot(plan(parse_configuration(CONFIG.format(allow="true")), status(done))) == []


def test_simulate_summary_says_migrate():
    from raftha.cli.simulate import _transition_lines
    migrating = plan(parse_configuration(CONFIG.format(allow="true")), status(RUNNING_ON_N1))
    assert _transition_lines(migrating) == ["  * Migrate    m ( n1 -> n2 )"]
    moving = plan(parse_configuration(CONFIG.format(allow="false")), status(RUNNING_ON_N1))
    assert _transition_lines(moving) == ["  * Move       m ( n1 -> n2 )"]
