"""Clone notifications in the plan: which pre/post notify actions are due, where, with which
variables and orderings, derived from the recorded history alone."""

from raftha.crmsh import parse_configuration
from raftha.model.status import (
    ClusterStatus,
    NodeStatus,
    OperationRecord,
    ResourceHistory,
    online_node,
)
from raftha.scheduler import plan

NODES = ("n1", "n2", "n3")
CLONE = """
node n1
node n2
node n3
property stonith-enabled=false
primitive d ocf:pacemaker:Dummy
clone dc d meta notify={notify}
"""


def record(operation, call_id, record_id="d_last_0", rc=0):
    return OperationRecord(operation=operation, call_id=call_id, rc=rc, id=record_id,
                           target_rc=0 if operation != "monitor" else None)


def notified(notify_type, operation, call_id, history_id="d"):
    return record("notify", call_id, f"{history_id}_{notify_type}_notify_{operation}_0")


def status(per_node, history_id="d", agent=("ocf", "pacemaker", "Dummy"), attributes=None):
    nodes = []
    for name in NODES:
        records = per_node.get(name, ())
        histories = (ResourceHistory(history_id, *agent, tuple(records)),) if records else ()
        base = online_node(name, attributes=(attributes or {}).get(name, ()))
        nodes.append(NodeStatus(**{**base.__dict__, "histories": histories}))
    return ClusterStatus(nodes=tuple(nodes), now=100)


def notify_actions(result):
    return sorted(action.key for action in result.actions if action.verb == "notify")


def variables(result, key):
    found = next(item for item in result.notifications if item.key == key)
    return dict(found.variables)


def probed_stopped():
    return {name: [record("monitor", index, rc=7)] for index, name in enumerate(NODES)}


def test_no_notifications_without_notify_meta():
    config = parse_configuration(CLONE.format(notify="false"))
    first = {"n1": [record("start", 5)], "n2": [record("monitor", 2, rc=7)],
             "n3": [record("monitor", 3, rc=7)]}
    assert notify_actions(plan(config, status(first))) == []


def test_first_starts_need_no_pre_notification_and_post_follows_each_start():
    config = parse_configuration(CLONE.format(notify="true"))
    assert notify_actions(plan(config, status(probed_stopped()))) == []
    # n1 started first: it is told (post start); the pending starts wait for pre start on n1.
    history = {"n1": [record("start", 5)], "n2": [record("monitor", 2, rc=7)],
               "n3": [record("monitor", 3, rc=7)]}
    result = plan(config, status(history))
    assert notify_actions(result) == ["notify:post:start:dc:n1", "notify:pre:start:dc:n1"]
    post = variables(result, "notify:post:start:dc:n1")
    assert (post["notify_type"], post["notify_operation"]) == ("post", "start")
    assert (post["notify_start_resource"], post["notify_start_uname"]) == ("d:0", "n1")
    pre = variables(result, "notify:pre:start:dc:n1")
    assert pre["notify_start_uname"] == "n2 n3"
    assert pre["notify_active_uname"] == "n1"
    assert pre["notify_inactive_resource"] == "d:1 d:2"
    assert pre["notify_all_uname"] == "n1 n2 n3"
    orderings = set(result.orderings)
    assert ("notify:post:start:dc:n1", "notify:pre:start:dc:n1") in orderings
    starts = [action.key for action in result.actions if action.verb == "start"]
    assert starts and all(("notify:pre:start:dc:n1", key) in orderings for key in starts)


def test_recorded_notifications_leave_the_plan_and_new_results_bring_new_ones():
    config = parse_configuration(CLONE.format(notify="true"))
    history = {"n1": [record("start", 5), notified("post", "start", 6),
                      notified("pre", "start", 7)],
               "n2": [record("monitor", 2, rc=7)], "n3": [record("monitor", 3, rc=7)]}
    assert notify_actions(plan(config, status(history))) == []
    # n2's start completes: n1 and n2 (its own start) are told; n3's start still waits,
    # and n2, active now, hears of it (n1 was told before).
    history["n2"] = [record("start", 8)]
    result = plan(config, status(history))
    assert notify_actions(result) == ["notify:post:start:dc:n1", "notify:post:start:dc:n2",
                                      "notify:pre:start:dc:n2"]
    assert variables(result, "notify:pre:start:dc:n2")["notify_start_uname"] == "n3"
    assert variables(result, "notify:post:start:dc:n1")["notify_start_uname"] == "n2"
    assert variables(result, "notify:post:start:dc:n2")["notify_start_uname"] == "n2"


def test_stop_is_announced_to_all_active_and_reported_to_the_remaining():
    config = parse_configuration(CLONE.format(notify="true") + "location away dc -inf: n3\n")
    settled = {name: [record("start", index + 1), notified("post", "start", 10 + index)]
               for index, name in enumerate(NODES)}
    result = plan(config, status(settled))
    assert notify_actions(result) == [f"notify:pre:stop:dc:{name}" for name in NODES]
    assert variables(result, "notify:pre:stop:dc:n1")["notify_stop_uname"] == "n3"
    stop = next(action.key for action in result.actions if action.verb == "stop")
    assert all((f"notify:pre:stop:dc:{name}", stop) in set(result.orderings) for name in NODES)
    # The stop done: the two remaining instances are told, the stopped one is not.
    stopped = dict(settled)
    stopped["n3"] = [record("stop", 30)]
    for name in NODES:
        stopped[name] = stopped[name] + [notified("pre", "stop", 20 + NODES.index(name))]
    result = plan(config, status(stopped))
    assert notify_actions(result) == ["notify:post:stop:dc:n1", "notify:post:stop:dc:n2"]
    post = variables(result, "notify:post:stop:dc:n2")
    assert post["notify_stop_uname"] == "n3"
    assert post["notify_active_uname"] == "n1 n2"


def test_promotable_clone_promotion_lists_and_old_role_names():
    config = parse_configuration("""
node n1
node n2
node n3
property stonith-enabled=false
primitive st ocf:pacemaker:Stateful
clone st-clone st meta promotable=true notify=true
""")
    started = {name: [record("start", index + 1, "st_last_0"),
                      notified("post", "start", 10 + index, "st")]
               for index, name in enumerate(NODES)}
    scores = {"n2": (("master-st", "10"),), "n1": (("master-st", "5"),),
              "n3": (("master-st", "5"),)}
    result = plan(config, status(started, "st", ("ocf", "pacemaker", "Stateful"), scores))
    assert notify_actions(result) == [f"notify:pre:promote:st-clone:{name}" for name in NODES]
    pre = variables(result, "notify:pre:promote:st-clone:n1")
    assert pre["notify_promote_uname"] == "n2"
    assert pre["notify_unpromoted_uname"] == "n1 n2 n3"
    assert pre["notify_promoted_resource"] == ""


def test_promoted_instance_leaving_demote_stop_promote_are_announced_in_turn():
    config = parse_configuration("""
node n1
node n2
node n3
property stonith-enabled=false
primitive st ocf:pacemaker:Stateful
clone st-clone st meta promotable=true notify=true
location away st-clone -inf: n1
""")
    agent = ("ocf", "pacemaker", "Stateful")
    scores = {name: (("master-st", "10" if name == "n1" else "5"),) for name in NODES}
    promoted = {name: [notified("post", "start", 5 + index, "st"),
                       notified("post", "promote", 8 + index, "st")]
                for index, name in enumerate(NODES)}
    promoted["n1"].append(record("promote", 4, "st_last_0"))
    promoted["n2"].append(record("start", 2, "st_last_0"))
    promoted["n3"].append(record("start", 3, "st_last_0"))
    result = plan(config, status(promoted, "st", agent, scores))
    verbs = sorted(action.verb for action in result.actions if action.verb != "probe")
    assert {"demote", "stop", "promote"} <= set(verbs)
    # Only the first kind (demote) is announced; stop and promote wait for it.
    assert notify_actions(result) == [f"notify:pre:demote:st-clone:{name}" for name in NODES]
    keys = {action.verb: action.key for action in result.actions}
    orderings = set(result.orderings)
    assert (keys["demote"], keys["stop"]) in orderings
    assert (keys["demote"], keys["promote"]) in orderings
    assert (keys["stop"], keys["promote"]) in orderings


def test_operations_of_a_notify_clone_run_in_turn_even_with_nothing_to_announce():
    config = parse_configuration("""
node n1
node n2
node n3
property stonith-enabled=false
primitive st ocf:pacemaker:Stateful
clone st-clone st meta promotable=true notify=true
""")
    result = plan(config, status(probed_stopped(), "st", ("ocf", "pacemaker", "Stateful"),
                                 {"n2": (("master-st", "10"),)}))
    assert notify_actions(result) == []          # nothing is active: nobody to tell
    starts = [action.key for action in result.actions if action.verb == "start"]
    promote = next(action.key for action in result.actions if action.verb == "promote")
    assert starts and all((start, promote) in set(result.orderings) for start in starts)
