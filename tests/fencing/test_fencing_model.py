"""Pure fencing rules: device reading, host maps, host checks, topology order, delays, and the
split-brain timing rule."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raftha.model.config import Configuration, FencingLevel, Primitive
from raftha.model.fencing import (
    FenceDevice,
    FencingConfigError,
    HostCheckDecision,
    action_retries,
    action_timeout_ms,
    agent_action_for,
    check_lease_settings,
    check_timing,
    decide_from_list,
    decide_from_status,
    decide_static,
    delay_ms,
    device_from_primitive,
    devices_from_config,
    host_argument_for,
    host_check_method,
    level_phases,
    levels_for_target,
    minimum_recovery_wait_ms,
    parse_duration_ms,
    parse_host_map,
    parse_target_list,
    plan_fencing,
    port_for,
    priority_fencing_delay_ms,
    topology_problems,
)


def stonith(device_id, agent="fence_dummy", params=(), meta=()):
    return Primitive(id=device_id, agent_class="stonith", agent_type=agent,
                     params=tuple(params), meta=tuple(meta))


def yes(device_id, target="node1"):
    return HostCheckDecision(device_id, target, "static-list", True, f"{device_id} can")


def no(device_id, target="node1"):
    return HostCheckDecision(device_id, target, "static-list", False, f"{device_id} cannot")


# ---------------------------------------------------------------- parsing


def test_target_list_is_split_like_pacemaker():
    assert parse_target_list("pcmk-1 pcmk-2") == ("pcmk-1", "pcmk-2")
    assert parse_target_list("a,b;c\n d") == ("a", "b", "c", "d")
    assert parse_target_list("node1,alias1\nnode2,alias2") == ("node1", "alias1", "node2",
                                                               "alias2")
    # entries are cut at the first odd character; on/off words and chatter lines dropped
    assert parse_target_list("node1:on\nnode2 off\nInvalid option x\n") == ("node1", "node2")
    assert parse_target_list("") == ()


def test_host_map_entries_and_escapes():
    assert parse_host_map("node1:1;node2:2,3") == (("node1", "1"), ("node2", "2,3"))
    assert parse_host_map("node1=a node2=b") == (("node1", "a"), ("node2", "b"))
    assert parse_host_map(r"node1:port\;x;node2:y") == (("node1", "port;x"), ("node2", "y"))
    assert parse_host_map("") == ()
    with pytest.raises(FencingConfigError, match="no ':'"):
        parse_host_map("node1")
    with pytest.raises(FencingConfigError, match="needs node:value"):
        parse_host_map("node1:")


def test_durations():
    assert parse_duration_ms("5s", "x") == 5000
    assert parse_duration_ms("500ms", "x") == 500
    assert parse_duration_ms("2min", "x") == 120_000
    assert parse_duration_ms("3", "x") == 3000
    with pytest.raises(FencingConfigError, match="pcmk_delay_max must be a time"):
        parse_duration_ms("soon", "pcmk_delay_max")


# ---------------------------------------------------------------- devices


def test_device_reads_pcmk_attributes_and_keeps_the_rest_for_the_agent():
    device = device_from_primitive(stonith("f1", params=[
        ("pcmk_host_list", "node1 node2"), ("pcmk_host_map", "node3:3"),
        ("pcmk_host_check", "static-list"), ("pcmk_delay_base", "1s"),
        ("pcmk_delay_max", "5s"), ("pcmk_reboot_action", "off"),
        ("pcmk_off_timeout", "20s"), ("pcmk_off_retries", "4"),
        ("status_file", "/tmp/x"), ("action", "reboot"), ("CRM_meta_timeout", "1"),
        ("crm_feature_set", "3"), ("ip", "192.0.2.1"),
    ], meta=[("priority", "7")]))
    assert device.params == (("status_file", "/tmp/x"), ("ip", "192.0.2.1"))
    assert device.host_list == ("node1", "node2")
    assert device.host_map == (("node3", "3"),)
    assert (device.delay_base_ms, device.delay_max_ms, device.priority) == (1000, 5000, 7)
    assert agent_action_for(device, "reboot") == "off"
    assert agent_action_for(device, "on") == "on"
    assert action_timeout_ms(device, "off", 60_000) == 20_000
    assert action_timeout_ms(device, "on", 60_000) == 60_000
    assert action_retries(device, "off") == 4
    assert action_retries(device, "on") == 2
    assert device.enabled


def test_device_per_target_delay_and_disabled():
    device = device_from_primitive(stonith("f1", params=[
        ("pcmk_delay_base", "node1:0s;node2:5s")], meta=[("target-role", "Stopped")]))
    assert device.delay_base_by_target == (("node1", 0), ("node2", 5000))
    assert not device.enabled


@pytest.mark.parametrize("params, message", [
    ([("pcmk_host_check", "sometimes")], "pcmk_host_check of f1 must be one of"),
    ([("pcmk_delay_max", "forever")], "pcmk_delay_max of f1 must be a time"),
    ([("pcmk_off_retries", "-1")], "pcmk_off_retries of f1 must be within"),
    ([("pcmk_off_retries", "x")], "pcmk_off_retries of f1 must be an integer"),
    ([("pcmk_host_map", "node1")], "pcmk_host_map entry"),
])
def test_bad_device_attributes_are_refused_with_the_name(params, message):
    with pytest.raises(FencingConfigError, match=message):
        device_from_primitive(stonith("f1", params=params))


def test_devices_from_config_picks_stonith_primitives_only():
    config = Configuration(resources=(
        Primitive(id="ip", agent_class="ocf", provider="heartbeat", agent_type="IPaddr2"),
        stonith("f1"), stonith("f2", agent="fence_raftha_sandbox")))
    assert [device.id for device in devices_from_config(config)] == ["f1", "f2"]
    assert devices_from_config(config)[1].agent == "fence_raftha_sandbox"


def test_port_and_host_argument():
    device = FenceDevice("f1", "fence_x", host_map=(("node1", "vm-1"),))
    assert port_for(device, "node1") == "vm-1"
    assert port_for(device, "node2") == "node2"
    assert host_argument_for(device, ["port", "plug"]) == "port"
    assert host_argument_for(device, ["plug"]) == "plug"
    assert host_argument_for(device, ["action"]) is None
    explicit = FenceDevice("f1", "fence_x", host_argument="uuid")
    assert host_argument_for(explicit, ["port"]) == "uuid"
    assert host_argument_for(FenceDevice("f", "x", host_argument="none"), ["port"]) is None


# ---------------------------------------------------------------- host checks


def test_host_check_default_method():
    assert host_check_method(FenceDevice("f", "x", host_list=("a",)), ["list"]) == "static-list"
    assert host_check_method(FenceDevice("f", "x", host_map=(("a", "1"),)), []) == "static-list"
    assert host_check_method(FenceDevice("f", "x"), ["list", "status"]) == "dynamic-list"
    assert host_check_method(FenceDevice("f", "x"), ["status"]) == "status"
    assert host_check_method(FenceDevice("f", "x"), ["off"]) == "none"
    assert host_check_method(FenceDevice("f", "x", host_check="status",
                                         host_list=("a",)), []) == "status"


def test_static_list_decision():
    device = FenceDevice("f1", "x", host_list=("node1",), host_map=(("node3", "p3"),))
    assert decide_static(device, "node1").can_fence
    assert decide_static(device, "node3").can_fence
    refused = decide_static(device, "node2")
    assert not refused.can_fence and "node2 is not in the host list/map of f1" in refused.reason


def test_dynamic_list_decision_uses_the_mapped_port():
    device = FenceDevice("f1", "x", host_map=(("node1", "vm-1"),))
    assert decide_from_list(device, "node1", 0, "vm-1\nvm-2\n").can_fence
    assert not decide_from_list(device, "node1", 0, "node1\n").can_fence
    assert not decide_from_list(device, "node1", 1, "vm-1\n").can_fence
    assert "list failed" in decide_from_list(device, "node1", 1, "").reason


def test_status_decision_codes():
    device = FenceDevice("f1", "x")
    assert decide_from_status(device, "n", 0).can_fence
    assert decide_from_status(device, "n", 2).can_fence
    assert not decide_from_status(device, "n", 1).can_fence
    assert not decide_from_status(device, "n", 3).can_fence


# ---------------------------------------------------------------- delays


def test_delay_base_plus_random_part_within_max():
    device = FenceDevice("f1", "x", delay_base_ms=1000, delay_max_ms=5000)
    assert delay_ms(device, "node1", 0.0)[0] == 1000
    assert delay_ms(device, "node1", 0.5)[0] == 3000
    assert delay_ms(device, "node1", 0.999999)[0] == 4999
    assert "base 1000 ms" in delay_ms(device, "node1", 0.5)[1]
    assert delay_ms(FenceDevice("f", "x"), "n", 0.7) == (0, "f: no delay")
    per_target = FenceDevice("f", "x", delay_base_by_target=(("node2", 5000),))
    assert delay_ms(per_target, "node2", 0.3)[0] == 5000
    assert delay_ms(per_target, "node1", 0.3)[0] == 0
    with pytest.raises(ValueError):
        delay_ms(device, "node1", 1.0)


def test_priority_fencing_delay_only_for_the_top_priority_node():
    priorities = {"node1": 10, "node2": 0}
    assert priority_fencing_delay_ms("node1", priorities, 5000) == 5000
    assert priority_fencing_delay_ms("node2", priorities, 5000) == 0
    assert priority_fencing_delay_ms("node1", {"node1": 3, "node2": 3}, 5000) == 0
    assert priority_fencing_delay_ms("node1", priorities, 5000, target_lost=False) == 0
    assert priority_fencing_delay_ms("node1", priorities, 0) == 0


# ---------------------------------------------------------------- topology


LEVELS = (
    FencingLevel(2, ("pdu1", "pdu2"), target="node1"),
    FencingLevel(1, ("ipmi1",), target="node1"),
    FencingLevel(1, ("ipmi-any",), target_pattern=r"^node[23]$"),
    FencingLevel(1, ("rack-a",), target_attribute="rack", target_value="a"),
)


def test_levels_for_target_match_and_sort():
    assert [level.devices for level in levels_for_target(LEVELS, "node1")] == [
        ("ipmi1",), ("pdu1", "pdu2")]
    assert [level.devices for level in levels_for_target(LEVELS, "node3")] == [("ipmi-any",)]
    assert levels_for_target(LEVELS, "node4") == ()
    assert [level.devices for level in levels_for_target(LEVELS, "node4", {"rack": "a"})] == [
        ("rack-a",)]


def test_topology_problems_named():
    problems = topology_problems(
        (FencingLevel(0, ("x",), target="n"), FencingLevel(1, (), target="n"),
         FencingLevel(2, ("f1",), target_pattern="("), FencingLevel(3, ("f1",))), ["f1"])
    text = "\n".join(problems)
    assert "index must be within 1..9, not 0" in text
    assert "unknown fence device 'x'" in text
    assert "no devices" in text
    assert "bad target-pattern" in text
    assert "no target" in text
    assert topology_problems(LEVELS[:2], ["pdu1", "pdu2", "ipmi1"]) == []


def test_plan_with_topology_keeps_level_order_and_skips_unusable_levels():
    devices = [FenceDevice(name, "x") for name in ("ipmi1", "pdu1", "pdu2")]
    plan = plan_fencing("node1", "reboot", devices, LEVELS,
                        {"ipmi1": yes("ipmi1"), "pdu1": yes("pdu1"), "pdu2": yes("pdu2")})
    assert [(level.index, level.devices) for level in plan.levels] == [
        (1, ("ipmi1",)), (2, ("pdu1", "pdu2"))]
    assert all(level.from_topology for level in plan.levels)
    skipped = plan_fencing("node1", "reboot", devices, LEVELS,
                           {"ipmi1": no("ipmi1"), "pdu1": yes("pdu1"), "pdu2": yes("pdu2")})
    assert [level.index for level in skipped.levels] == [2]
    assert any("level 1 skipped" in line and "ipmi1 cannot" in line
               for line in skipped.explanation)
    nothing = plan_fencing("node1", "off", devices[:1], LEVELS, {"ipmi1": no("ipmi1")})
    assert nothing.empty
    assert "no usable fencing level for node1" in nothing.explanation


def test_plan_without_topology_orders_by_priority_then_document_order():
    devices = [FenceDevice("low", "x", priority=1), FenceDevice("first", "x", priority=5),
               FenceDevice("second", "x", priority=5), FenceDevice("off", "x", enabled=False),
               FenceDevice("blind", "x", priority=9)]
    decisions = {name: yes(name, "node9") for name in ("low", "first", "second", "off")}
    decisions["blind"] = no("blind", "node9")
    plan = plan_fencing("node9", "off", devices, LEVELS, decisions)
    assert [level.devices for level in plan.levels] == [("first",), ("second",), ("low",)]
    assert [level.index for level in plan.levels] == [1, 2, 3]
    assert not plan.levels[0].from_topology
    assert any("off not used: disabled" in line for line in plan.explanation)
    assert any("blind not used" in line for line in plan.explanation)
    assert plan.to_dict()["levels"][0] == {"index": 1, "devices": ["first"],
                                           "from_topology": False}


def test_reboot_phases():
    assert [(p.action, p.decides) for p in level_phases("reboot", 1, True)] == [
        ("reboot", True)]
    assert [(p.action, p.decides) for p in level_phases("reboot", 2, True)] == [
        ("off", True), ("on", False)]
    assert [(p.action, p.decides) for p in level_phases("reboot", 1, False)] == [
        ("off", True), ("on", False)]
    assert [(p.action, p.decides) for p in level_phases("off", 3, True)] == [("off", True)]


# ---------------------------------------------------------------- timing rule


def test_timing_rule_accepts_the_recommended_numbers():
    # L=3 s, WD=2 s, K=0.5 s, p=1%: W must be at least about 5.6 s; 8 s is the recommendation.
    assert minimum_recovery_wait_ms(3000, 2000, 0.01, 500) == 5607
    assert check_timing(3000, 2000, 0.01, 500, 8000) is None
    assert check_timing(3000, 2000, 0.01, 500, 5607) is None
    assert check_timing(3000, 2000, 0.0, 0, 5000) is None


def test_timing_rule_refuses_bad_numbers_with_the_numbers_in_the_message():
    message = check_timing(3000, 2000, 0.01, 500, 5000)
    assert message is not None and "\n" not in message
    for text in ("W=5000 ms", "5607 ms", "L=3000 ms", "WD=2000 ms", "p=0.01", "K=500 ms"):
        assert text in message
    assert check_timing(3000, 2000, 0.0, 0, 4999) is not None
    assert "clock_rate_error" in check_timing(3000, 2000, 1.0, 500, 8000)
    assert "lease_ms" in check_timing(-1, 2000, 0.01, 500, 8000)
    assert "must be positive" in check_timing(0, 2000, 0.01, 500, 8000)
    assert "recovery_wait_ms" in check_timing(3000, 2000, 0.01, 500, float("nan"))


def test_lease_companion_rules():
    assert check_lease_settings(3000, 1000, 2000, 1500, 500) is None
    assert "heartbeat period 1500 ms" in check_lease_settings(3000, 1500, 2000, 1500, 500)
    assert "stop timeout 1800 ms" in check_lease_settings(3000, 500, 2000, 1800, 500)


def test_fencing_settings_from_properties():
    from raftha.model.fencing import fencing_settings

    defaults = fencing_settings(Configuration())
    assert (defaults.enabled, defaults.action, defaults.timeout_ms, defaults.priority_delay_ms,
            defaults.watchdog_timeout_ms) == (True, "reboot", 60_000, 0, 0)
    configured = fencing_settings(Configuration(properties=(
        ("stonith-enabled", "false"), ("stonith-action", "poweroff"),
        ("stonith-timeout", "30s"), ("fencing-timeout", "45s"),
        ("priority-fencing-delay", "5s"), ("stonith-watchdog-timeout", "10s"))))
    assert (configured.enabled, configured.action, configured.timeout_ms,
            configured.priority_delay_ms, configured.watchdog_timeout_ms) == (
        False, "off", 45_000, 5000, 10_000)
    with pytest.raises(FencingConfigError, match="stonith-timeout must be a time"):
        fencing_settings(Configuration(properties=(("stonith-timeout", "soon"),)))
    with pytest.raises(FencingConfigError, match="stonith-action must be reboot or off"):
        fencing_settings(Configuration(properties=(("stonith-action", "explode"),)))


def test_recovery_decision_gates_on_fencing_or_the_wait():
    from raftha.model.fencing import recovery_decision

    assert recovery_decision("n1", has_fence_device=True, fence_confirmed=True,
                             elapsed_since_last_heartbeat_ms=0, recovery_wait_ms=None).allowed
    waiting = recovery_decision("n1", has_fence_device=True, fence_confirmed=False,
                                elapsed_since_last_heartbeat_ms=10**9, recovery_wait_ms=8000)
    assert not waiting.allowed and "must be fenced" in waiting.reason
    early = recovery_decision("n1", has_fence_device=False, fence_confirmed=False,
                              elapsed_since_last_heartbeat_ms=7999, recovery_wait_ms=8000)
    assert not early.allowed and "waiting for 8000 ms" in early.reason
    assert recovery_decision("n1", has_fence_device=False, fence_confirmed=False,
                             elapsed_since_last_heartbeat_ms=8000,
                             recovery_wait_ms=8000).allowed
    assert not recovery_decision("n1", has_fence_device=False, fence_confirmed=False,
                                 elapsed_since_last_heartbeat_ms=8000,
                                 recovery_wait_ms=None).allowed


# ---------------------------------------------------------------- properties

NODE_NAMES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,15}", fullmatch=True)


@given(base=st.integers(0, 100_000), maximum=st.integers(0, 100_000),
       fraction=st.floats(0.0, 0.999999))
def test_delay_stays_between_base_and_max(base, maximum, fraction):
    total, _ = delay_ms(FenceDevice("f", "x", delay_base_ms=base, delay_max_ms=maximum),
                        "n", fraction)
    assert base <= total <= max(base, maximum)


@given(st.lists(NODE_NAMES, max_size=8), st.sampled_from([" ", ",", ";", "\n", ", "]))
def test_target_list_round_trip(names, separator):
    expected = tuple(dict.fromkeys(n for n in names if n.lower() not in ("on", "off")))
    assert parse_target_list(separator.join(names)) == expected


@given(st.lists(st.tuples(NODE_NAMES, st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\\\0"),
    min_size=1, max_size=10)), max_size=6))
def test_host_map_round_trip_with_escapes(pairs):
    def escape(text):
        return "".join("\\" + c if c in ";:= \t\n\\" else c for c in text)

    text = ";".join(f"{escape(node)}:{escape(port)}" for node, port in pairs)
    assert parse_host_map(text) == tuple(pairs)
