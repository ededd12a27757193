"""Unit tests of clone notifications in the reconcile loop: executors over the fake Raft layer
with FakeAgentRunner agents (see test_reconcile_unit), stepped until nothing changes."""

from __future__ import annotations

from test_reconcile_unit import BASE, nodes, settle  # noqa: F401 - the fixture

from raftha.agents import FakeAgentRunner

NOTIFY_METADATA = """<?xml version="1.0"?>
<resource-agent name="Fake" version="1.0"><version>1.1</version>
<shortdesc lang="en">fake</shortdesc><longdesc lang="en">fake</longdesc><parameters/>
<actions><action name="start" timeout="20s"/><action name="stop" timeout="20s"/>
<action name="monitor" timeout="20s" interval="10s"/><action name="notify" timeout="20s"/>
<action name="meta-data" timeout="5s"/></actions></resource-agent>
"""
CLONE = BASE + """
primitive d ocf:heartbeat:Dummy op monitor interval=10s
clone dc d meta notify=true
"""


def use_runners(nodes, metadata_xml=None):  # noqa: F811
    for node in nodes.values():
        node.runner = FakeAgentRunner(metadata_xml=metadata_xml) if metadata_xml else \
            FakeAgentRunner()
        node.executor = node.new_executor()


def notify_calls(nodes):  # noqa: F811
    return [(name, call.meta["notify_type"], call.meta["notify_operation"], call.meta)
            for name, node in sorted(nodes.items()) for call in node.runner.calls
            if call.action == "notify"]


def notify_records(node):
    return sorted((history_node, record.id, record.op_status)
                  for history_node, histories in node.machine.state.operation_histories
                  for history in histories for record in history.operations
                  if record.operation == "notify")


def test_every_active_instance_is_told_of_the_starts_and_the_loop_settles(nodes):  # noqa: F811
    use_runners(nodes, NOTIFY_METADATA)
    nodes["n1"].call("configure_load", text=CLONE)
    settle(nodes)
    calls = notify_calls(nodes)
    told = {name: set() for name in nodes}
    for name, notify_type, operation, meta in calls:
        assert notify_type in ("pre", "post") and operation == "start"
        if notify_type == "post":
            told[name].update(meta["notify_start_uname"].split())
    # Each node hears of every start from its own on; the earlier ones are in its active
    # list (each recorded start is a round of its own for a node that started after it).
    started = {history_node: record.call_id
               for history_node, histories in nodes["n1"].machine.state.operation_histories
               for history in histories for record in history.operations
               if record.id == "d_last_0" and record.operation == "start"}
    assert sorted(started) == ["n1", "n2", "n3"]
    assert told == {name: {other for other in started if started[other] >= started[name]}
                    for name in nodes}
    last = max(started, key=started.get)
    final = [meta for name, notify_type, _, meta in calls if name == last]
    assert final[-1]["notify_active_uname"] == "n1 n2 n3"
    assert {record[1] for record in notify_records(nodes["n1"])} >= {"d_post_notify_start_0"}
    before = len(calls)
    settle(nodes)                                   # steady: nothing is notified again
    assert len(notify_calls(nodes)) == before
    failcounts = nodes["n1"].call("resource_failcount", resource="d")["failcounts"]
    assert failcounts == []


def test_failed_notification_is_recorded_and_ignored(nodes):  # noqa: F811
    use_runners(nodes, NOTIFY_METADATA)
    nodes["n2"].runner.pin("d", "notify", 1)
    nodes["n1"].call("configure_load", text=CLONE)
    settle(nodes)
    failed = [record for record in notify_records(nodes["n1"]) if record[0] == "n2"]
    assert failed
    assert nodes["n1"].call("resource_failcount", resource="d")["failcounts"] == []
    status = nodes["n1"].call("status")["resources"]
    assert sorted(node for key, item in status.items() if key.startswith("d:")
                  for node in item["nodes"]) == ["n1", "n2", "n3"]


def test_agent_without_notify_action_is_not_called_and_nothing_waits(nodes):  # noqa: F811
    use_runners(nodes)                              # the generic fake has no notify action
    nodes["n1"].call("configure_load", text=CLONE)
    settle(nodes)
    assert notify_calls(nodes) == []
    records = notify_records(nodes["n1"])
    assert records and all(status == 3 for _, _, status in records)   # not supported
    settle(nodes)
    assert notify_records(nodes["n1"]) == records
