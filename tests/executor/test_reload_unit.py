"""Unit tests of parameter changes and live migration in the reconcile loop: executors over
the fake Raft layer with FakeAgentRunner agents (see test_reconcile_unit)."""

from __future__ import annotations

from test_reconcile_unit import BASE, nodes, running, settle  # noqa: F401 - the fixture

from raftha.agents import FakeAgentRunner

METADATA = """<?xml version="1.0"?>
<resource-agent name="Fake" version="1.0"><version>1.1</version>
<shortdesc lang="en">fake</shortdesc><longdesc lang="en">fake</longdesc>
<parameters>
<parameter name="state" unique-group="state"><content type="string"/></parameter>
<parameter name="fake" reloadable="1"><content type="string"/></parameter>
</parameters>
<actions><action name="start" timeout="20s"/><action name="stop" timeout="20s"/>
<action name="monitor" timeout="20s" interval="10s"/><action name="reload-agent" timeout="5s"/>
{migrate}<action name="meta-data" timeout="5s"/></actions></resource-agent>
"""
MIGRATE = '<action name="migrate_to" timeout="5s"/><action name="migrate_from" timeout="5s"/>'
SERVICE = BASE + """
primitive svc ocf:heartbeat:Dummy params state={state} fake={fake} \\
    meta allow-migrate=true op monitor interval=10s
location svc-on svc 100: {node}
"""


def use_runners(nodes, migrate: bool):  # noqa: F811
    for node in nodes.values():
        node.runner = FakeAgentRunner(metadata_xml=METADATA.format(
            migrate=MIGRATE if migrate else ""))
        node.executor = node.new_executor()


def actions(nodes):  # noqa: F811
    return [(name, call.action) for name, node in sorted(nodes.items())
            for call in node.runner.calls
            if call.action not in ("monitor", "meta-data")]


def last_results(node):
    """node name -> the resource's last one-shot result there."""
    return {history_node: record
            for history_node, histories in node.machine.state.operation_histories
            for history in histories for record in history.operations
            if record.id == "svc_last_0"}


def load(nodes, state="/s1", fake="1", node="n1"):  # noqa: F811
    nodes["n1"].call("configure_load", mode="replace",
                     text=SERVICE.format(state=state, fake=fake, node=node))
    settle(nodes)


def test_reload_then_restart_then_nothing_more(nodes):  # noqa: F811
    use_runners(nodes, migrate=False)
    load(nodes)
    assert running(nodes["n1"], "svc") == ["n1"]
    before = len(actions(nodes))
    load(nodes, fake="2")                               # reloadable: reload-agent only
    assert actions(nodes)[before:] == [("n1", "reload-agent")]
    before = len(actions(nodes))
    load(nodes, state="/s2", fake="2")                  # not reloadable: restart in place
    assert actions(nodes)[before:] == [("n1", "stop"), ("n1", "start")]
    start = nodes["n1"].runner.calls_for("svc", "start")[-1]
    assert start.params["state"] == "/s2"
    before = len(actions(nodes))
    settle(nodes)                                       # the recorded digests match now
    assert actions(nodes)[before:] == []


def test_move_migrates_when_the_agent_can_and_stops_and_starts_otherwise(nodes):  # noqa: F811
    use_runners(nodes, migrate=True)
    load(nodes)
    before = len(actions(nodes))
    load(nodes, node="n2")
    assert sorted(actions(nodes)[before:]) == [("n1", "migrate_to"), ("n1", "stop"),
                                               ("n2", "migrate_from")]
    last = last_results(nodes["n1"])
    assert last["n2"].operation == "migrate_from" and last["n1"].operation == "stop"
    assert last["n2"].call_id < last["n1"].call_id     # the source stops after the migration
    assert (last["n2"].migrate_source, last["n2"].migrate_target) == ("n1", "n2")
    migrate_to = nodes["n1"].runner.calls_for("svc", "migrate_to")[-1]
    assert (migrate_to.meta["migrate_source"], migrate_to.meta["migrate_target"]) == (
        "n1", "n2")
    assert running(nodes["n1"], "svc") == ["n2"]
    use_runners(nodes, migrate=False)
    for node in nodes.values():                          # the fakes keep no state: restore it
        node.runner.set_state("svc", "started" if node.name == "n2" else "stopped")
    before = len(actions(nodes))
    load(nodes, node="n3")
    assert actions(nodes)[before:] == [("n2", "stop"), ("n3", "start")]
    assert running(nodes["n1"], "svc") == ["n3"]
