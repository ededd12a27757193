"""Pacemaker-faithful recovery, unit level: executors over the fake Raft layer with fake
agents (stepped by hand), and the pure scheduler on CIBs that crm_simulate also reads.

- on-fail=stop: a failed monitor is stopped and stays stopped (a completed stop does not
  clear on-fail=stop) until `resource cleanup`; on-fail=standby likewise keeps the node in
  standby.
- Orphans: a resource removed from the configuration while active is stopped with the agent
  and parameters its history recorded, then forgotten; stop-orphan-resources=false leaves it.
- Probe masking: a probe that finds the agent not installed (rc 5, or the executor's "not
  installed") or its parameters invalid (rc 2) makes the node ineligible for the resource
  (for every instance of a clone) without a fail count or a failed action; rc 6 (not
  configured) is fatal everywhere and shown. A failed probe never counts a failure.
"""

from __future__ import annotations

import pytest
from oracle import crm_simulate_available, oracle_placement
from test_reconcile_unit import BASE, running, settle
from test_reconcile_unit import nodes as fake_cluster  # noqa: F401 - the "nodes" fixture

from raftha.agents import ExecStatus, make_result
from raftha.scheduler.simulate import final_placement_from_cib

# -- pure scheduler: the history of one primitive on n1, crm_simulate as the oracle ------------

CIB = """<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.7" epoch="1" num_updates="1"
 admin_epoch="0" have-quorum="1" dc-uuid="n1">
  <configuration>
    <crm_config><cluster_property_set id="options">
      <nvpair id="o1" name="stonith-enabled" value="false"/>
    </cluster_property_set></crm_config>
    <nodes><node id="n1" uname="n1"/><node id="n2" uname="n2"/><node id="n3" uname="n3"/></nodes>
    <resources>{resources}</resources>
    <constraints/>
  </configuration>
  <status>
    <node_state id="n1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member">
      <lrm id="n1"><lrm_resources>
        <lrm_resource id="svc" class="ocf" provider="heartbeat" type="Dummy">{operations}
        </lrm_resource>
      </lrm_resources></lrm>
    </node_state>
    <node_state id="n2" uname="n2" in_ccm="true" crmd="online" join="member" expected="member">
      <lrm id="n2"><lrm_resources>
        <lrm_resource id="svc" class="ocf" provider="heartbeat" type="Dummy">{probed_n2}
        </lrm_resource>
      </lrm_resources></lrm>
    </node_state>
    <node_state id="n3" uname="n3" in_ccm="true" crmd="online" join="member" expected="member">
      <lrm id="n3"><lrm_resources>
        <lrm_resource id="svc" class="ocf" provider="heartbeat" type="Dummy">{probed_n3}
        </lrm_resource>
      </lrm_resources></lrm>
    </node_state>
  </status>
</cib>"""

PRIMITIVE = """<primitive id="svc" class="ocf" provider="heartbeat" type="Dummy">
  <operations><op id="svc-monitor" name="monitor" interval="10s" {on_fail}/></operations>
</primitive>"""


def operation(suffix: str, name: str, interval_ms: int, call_id: int, rc: int,
              target_rc: int, node: str = "n1") -> str:
    key = f"{call_id}:1:{target_rc}:6f1a8e2c-5a2e-4c8d-9c7e-3d0f6b1a2c44"
    return (f'<lrm_rsc_op id="svc_{suffix}" operation_key="svc_{name}_{interval_ms}" '
            f'operation="{name}" crm-debug-origin="do_update_resource" '
            f'crm_feature_set="3.16.1" transition-key="{key}" '
            f'transition-magic="0:{rc};{key}" exit-reason="" on_node="{node}" '
            f'call-id="{call_id}" rc-code="{rc}" op-status="0" interval="{interval_ms}" '
            f'last-rc-change="1700000000" exec-time="10" queue-time="0" '
            f'op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/>')


def monitor_failed_then_stopped(on_fail: str) -> str:
    operations = (operation("last_failure_0", "monitor", 10000, 4, 7, 0)
                  + operation("last_0", "stop", 0, 5, 0, 0))
    return cib(PRIMITIVE.format(on_fail=on_fail), operations)


def probe_answered(rc: int, cloned: bool = False) -> str:
    resources = PRIMITIVE.format(on_fail="")
    if cloned:
        resources = f'<clone id="svc-clone">{resources}</clone>'
    operations = (operation("last_failure_0", "monitor", 0, 3, rc, 7)
                  + operation("last_0", "monitor", 0, 3, rc, 7))
    return cib(resources, operations)


def cib(resources: str, operations: str) -> str:
    """The CIB with svc's history on n1; n2 and n3 probed it and found it stopped."""
    return CIB.format(resources=resources, operations=operations,
                      probed_n2=operation("last_0", "monitor", 0, 1, 7, 7, "n2"),
                      probed_n3=operation("last_0", "monitor", 0, 2, 7, 7, "n3"))


def where(placement: dict) -> dict[str, tuple[str | None, str]]:
    return {name: (entry["node"], entry["role"])
            for name, entry in placement["resources"].items()}


# "now" for our scheduler, long after the recorded failures (crm_simulate reads the clock).
NOW = 1_900_000_000


def agree_with_pacemaker(cib: str, expected: dict[str, tuple[str | None, str]]) -> None:
    assert where(final_placement_from_cib(cib, now=NOW)) == expected
    if crm_simulate_available():
        assert where(oracle_placement(cib)) == expected


def test_on_fail_stop_survives_the_completed_stop():
    agree_with_pacemaker(monitor_failed_then_stopped('on-fail="stop"'),
                         {"svc": (None, "Stopped")})


def test_on_fail_stop_ends_when_the_failure_expires():
    cib = monitor_failed_then_stopped('on-fail="stop"').replace(
        '<primitive id="svc" class="ocf" provider="heartbeat" type="Dummy">',
        '<primitive id="svc" class="ocf" provider="heartbeat" type="Dummy"><meta_attributes '
        'id="svc-meta"><nvpair id="svc-ft" name="failure-timeout" value="60s"/>'
        '</meta_attributes>')
    agree_with_pacemaker(cib, {"svc": ("n1", "Started")})


def test_on_fail_restart_is_cleared_by_the_completed_stop():
    agree_with_pacemaker(monitor_failed_then_stopped(""), {"svc": ("n1", "Started")})


def test_on_fail_standby_keeps_the_node_in_standby_after_the_stop():
    agree_with_pacemaker(monitor_failed_then_stopped('on-fail="standby"'),
                         {"svc": ("n2", "Started")})


@pytest.mark.parametrize("rc", [2, 5])
def test_a_masked_probe_failure_bans_the_node_and_starts_elsewhere(rc):
    agree_with_pacemaker(probe_answered(rc), {"svc": ("n2", "Started")})


def test_a_masked_probe_failure_keeps_every_clone_instance_off_the_node():
    placement = where(final_placement_from_cib(probe_answered(5, cloned=True), now=NOW))
    assert sorted(node for node, _role in placement.values() if node) == ["n2", "n3"]
    if crm_simulate_available():
        assert placement == where(oracle_placement(probe_answered(5, cloned=True)))


def test_a_probe_not_configured_is_fatal_everywhere():
    agree_with_pacemaker(probe_answered(6), {"svc": (None, "Stopped")})


# -- reconcile loop: fake agents ----------------------------------------------------------


@pytest.fixture
def nodes(fake_cluster):  # noqa: F811 - the imported fixture, under its own name
    """Three executors over the fake Raft layer (test_reconcile_unit's cluster)."""
    return fake_cluster


def fail_counts(node, name: str) -> dict[str, str]:
    return {key: value for key, value in node.machine.state.transient_of(name)
            if key.startswith("fail-count-")}


def test_on_fail_stop_stops_the_resource_and_keeps_it_stopped_until_cleanup(nodes):
    nodes["n1"].call("configure_load", text=BASE + """
primitive halt ocf:heartbeat:Dummy op monitor interval=10s on-fail=stop
location halt-on-n1 halt 100: n1
""")
    settle(nodes)
    assert running(nodes["n1"], "halt") == ["n1"]
    runner = nodes["n1"].runner
    runner.set_state("halt", "stopped")        # the monitor now answers 7
    settle(nodes)
    assert len(runner.calls_for("halt", "stop")) == 1
    assert sum(len(node.runner.calls_for("halt", "start")) for node in nodes.values()) == 1
    assert running(nodes["n2"], "halt") == []
    view = nodes["n2"].call("status")["resources"]["halt"]
    assert (view["role"], view["target_role"]) == ("Stopped", "Stopped")
    nodes["n1"].call("resource_cleanup", resource="halt", node=None)
    settle(nodes)
    assert running(nodes["n1"], "halt") == ["n1"]


def test_a_removed_resource_is_stopped_with_its_recorded_parameters_then_forgotten(nodes):
    nodes["n1"].call("configure_load", text=BASE + """
primitive gone ocf:heartbeat:Dummy params state=/run/gone.state op monitor interval=10s
primitive kept ocf:heartbeat:Dummy
""")
    settle(nodes)
    [home] = running(nodes["n1"], "gone")
    nodes["n1"].call("configure_load", mode="replace",
                     text=BASE + "primitive kept ocf:heartbeat:Dummy\n")
    settle(nodes)
    [stop] = nodes[home].runner.calls_for("gone", "stop")
    assert stop.params == {"state": "/run/gone.state"}
    assert stop.agent == "ocf:heartbeat:Dummy"
    assert nodes[home].runner.state("gone") == "stopped"
    state = nodes["n2"].machine.state
    assert all(history.resource != "gone"
               for name in nodes for history in state.histories_of(name))
    assert "gone" not in nodes["n2"].call("status")["resources"]


def test_stop_orphan_resources_false_leaves_a_removed_resource_running(nodes):
    nodes["n1"].call("configure_load", text=BASE + """
primitive gone ocf:heartbeat:Dummy
primitive kept ocf:heartbeat:Dummy
""")
    settle(nodes)
    [home] = running(nodes["n1"], "gone")
    nodes["n1"].call("configure_load", mode="replace", text=BASE + """
property stop-orphan-resources=false
primitive kept ocf:heartbeat:Dummy
""")
    settle(nodes)
    assert not nodes[home].runner.calls_for("gone", "stop")
    view = nodes["n2"].call("status")["resources"]["gone"]
    assert (view["nodes"], view["managed"]) == ([home], False)


def test_a_resource_configured_again_is_no_orphan(nodes):
    text = BASE + "primitive back ocf:heartbeat:Dummy params state=/run/back.one\n"
    nodes["n1"].call("configure_load", text=text)
    settle(nodes)
    [home] = running(nodes["n1"], "back")
    nodes["n1"].call("configure_load", mode="replace", text=BASE)
    nodes["n1"].call("configure_load", mode="replace", text=text)
    history = next(item for item in nodes["n1"].machine.state.histories_of(home)
                   if item.resource == "back")
    assert (history.orphaned, history.parameters) == (False, ())


@pytest.mark.parametrize("answer", [
    make_result(5, exit_reason="binary missing"), make_result(2),
    make_result(5, status=ExecStatus.NOT_INSTALLED)])
def test_a_probe_finding_the_agent_not_installed_only_makes_the_node_ineligible(nodes, answer):
    nodes["n1"].call("configure_load", text=BASE + """
primitive tool ocf:heartbeat:Dummy op monitor interval=10s
location tool-likes-n1 tool 100: n1
""")
    nodes["n1"].runner.script("tool", "monitor", answer)     # the probe's answer
    settle(nodes)
    [where] = running(nodes["n1"], "tool")
    assert where != "n1"
    assert not nodes["n1"].runner.calls_for("tool", "start")
    assert fail_counts(nodes["n1"], "n1") == {}
    status = nodes["n2"].call("status")
    assert status["nodes"]["n1"]["failed_actions"] == []
    assert status["resources"]["tool"]["failed"] is False


def test_a_not_installed_probe_keeps_every_clone_instance_off_the_node(nodes):
    nodes["n1"].call("configure_load", text=BASE + """
primitive tool ocf:heartbeat:Dummy
clone tool-clone tool
""")
    nodes["n1"].runner.script("tool", "monitor", make_result(5))
    settle(nodes)
    assert not nodes["n1"].runner.calls_for("tool", "start")
    assert all(len(nodes[name].runner.calls_for("tool", "start")) == 1 for name in ("n2", "n3"))


def test_a_probe_not_configured_stops_the_resource_everywhere_and_is_shown(nodes):
    nodes["n1"].call("configure_load", text=BASE + "primitive conf ocf:heartbeat:Dummy\n")
    nodes["n1"].runner.script("conf", "monitor", make_result(6, exit_reason="no config"))
    settle(nodes)
    assert not any(node.runner.calls_for("conf", "start") for node in nodes.values())
    assert fail_counts(nodes["n1"], "n1") == {}
    failed = nodes["n2"].call("status")["nodes"]["n1"]["failed_actions"]
    assert [(item["operation"], item["rc"]) for item in failed] == [("monitor", 6)]


def test_a_removed_clone_is_stopped_on_every_node_at_once(nodes):
    nodes["n1"].call("configure_load", text=BASE + """
primitive copies ocf:heartbeat:Dummy params state=/run/copies.state
clone copies-clone copies
primitive kept ocf:heartbeat:Dummy
""")
    settle(nodes)
    nodes["n1"].call("configure_load", mode="replace",
                     text=BASE + "primitive kept ocf:heartbeat:Dummy\n")
    views = {name: node.executor.current_view(node.machine.state)
             for name, node in nodes.items()}
    calls = [view.call_for(action) for name, view in views.items() for action in view.own()
             if action.verb == "stop"]
    assert sorted(call.action_key for call in calls) == [
        "stop:copies:n1", "stop:copies:n2", "stop:copies:n3"]
    assert all(call.shared for call in calls)        # claimed in parallel, not one by one
    settle(nodes)
    assert all(node.runner.state("copies") == "stopped" for node in nodes.values())
    assert "copies" not in nodes["n2"].call("status")["resources"]
