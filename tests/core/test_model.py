"""Unit and property tests of the pure model: events, reducer, state encoding, snapshots."""

from __future__ import annotations

import hashlib

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raftha.model.events import Event, EventError, decode_event, encode_event, make_event
from raftha.model.properties import validate_property
from raftha.model.reducer import APPLIED, DUPLICATE, REJECTED, apply, apply_with_outcome, replay
from raftha.model.state import (
    APPLIED_ID_WINDOW,
    EMPTY_STATE,
    REJECTION_WINDOW,
    StateError,
    decode_snapshot,
    encode_snapshot,
    encode_state,
    state_hash,
)


def event_id(seed: str) -> bytes:
    return hashlib.sha256(seed.encode()).digest()[:16]


def entry(kind: str, body: dict, seed: str | None = None, ts_ms: int = 1000,
          user: str = "alice", origin: str = "n1") -> bytes:
    return encode_event(make_event(event_id(seed or f"{kind}{body}"), kind, origin, user,
                                   ts_ms, body))


CREATED = entry("ClusterCreated", {"name": "demo", "nodes": [
    {"name": "n1", "address": "127.0.0.1:7001"},
    {"name": "n2", "address": "127.0.0.1:7002"},
    {"name": "n3", "address": "127.0.0.1:7003"},
]})


def created_state():
    return apply(EMPTY_STATE, 1, CREATED)


def test_event_round_trip_keeps_every_field():
    event = make_event(event_id("x"), "ClusterPropertySet", "n1", "bob", 42,
                       {"name": "stonith-enabled", "value": "false"})
    decoded = decode_event(encode_event(event))
    assert decoded == event
    assert dict(decoded.body) == {"name": "stonith-enabled", "value": "false"}


@pytest.mark.parametrize("envelope, reason", [
    ({"v": 2}, "unknown envelope version"),
    ({"v": 1, "id": b"short", "kind": "ClockTicked", "origin": "n", "user": "", "ts_ms": 1,
      "body": {}}, "event id must be 16 bytes"),
    ({"v": 1, "id": b"0" * 16, "kind": "Exploded", "origin": "n", "user": "", "ts_ms": 1,
      "body": {}}, "unknown event kind 'Exploded'"),
    ({"v": 1, "id": b"0" * 16, "kind": "NodeLost", "origin": "n", "user": "", "ts_ms": 1,
      "body": {}}, "body lacks field 'name'"),
    ({"v": 1, "id": b"0" * 16, "kind": "ClockTicked", "origin": "n", "user": "", "ts_ms": -1,
      "body": {}}, "ts_ms must be a non-negative integer"),
])
def test_decode_rejects_bad_envelopes_with_a_reason(envelope, reason):
    with pytest.raises(EventError, match=reason):
        decode_event(msgpack.packb(envelope, use_bin_type=True))


def test_cluster_created_makes_offline_members_until_they_are_seen():
    state = created_state()
    assert state.name == "demo" and state.created
    assert [(node.name, node.state) for node in state.nodes] == [
        ("n1", "offline"), ("n2", "offline"), ("n3", "offline")]
    state = apply(state, 2, entry("NodeReturned", {"name": "n2"}))
    assert state.node("n2").state == "online" and state.node("n2").changed_index == 2


def test_events_before_creation_are_rejected():
    state, outcome = apply_with_outcome(
        EMPTY_STATE, 1, entry("ClusterPropertySet", {"name": "maintenance-mode", "value": "1"}))
    assert outcome.status == REJECTED
    assert outcome.reason == "the cluster has not been created yet"
    assert state.rejections[-1].reason == outcome.reason and state.last_index == 1


def test_property_set_validates_name_and_value_and_records_the_user():
    state = created_state()
    state, outcome = apply_with_outcome(
        state, 2, entry("ClusterPropertySet", {"name": "no-quorum-policy", "value": "freeze"},
                        user="carol"))
    assert outcome.status == APPLIED
    assert state.property("no-quorum-policy") == "freeze"
    assert state.last_change.user == "carol" and state.last_change.index == 2
    state, outcome = apply_with_outcome(
        state, 3, entry("ClusterPropertySet", {"name": "no-such-thing", "value": "1"}))
    assert outcome.status == REJECTED
    assert outcome.reason == "unknown cluster property 'no-such-thing'"
    state, outcome = apply_with_outcome(
        state, 4, entry("ClusterPropertySet", {"name": "no-quorum-policy", "value": "panic"}))
    assert outcome.status == REJECTED and "must be one of" in outcome.reason
    assert state.property("no-quorum-policy") == "freeze"
    assert state.rejected_count == 2


@pytest.mark.parametrize("name, value, accepted", [
    ("stonith-enabled", "false", True), ("stonith-enabled", "maybe", False),
    ("cluster-recheck-interval", "5min", True), ("cluster-recheck-interval", "soon", False),
    ("cluster-recheck-interval", "PT5M", True), ("batch-limit", "30", True),
    ("batch-limit", "3.5", False), ("node-health-red", "-INFINITY", True),
    ("load-threshold", "80%", True), ("dc-version", "2.1", False), ("cluster-name", "x", True),
])
def test_property_validation_follows_pacemaker_types(name, value, accepted):
    assert (validate_property(name, value) is None) == accepted


def test_unset_removes_a_set_property_and_refuses_an_unset_one():
    state = apply(created_state(), 2, entry("ClusterPropertySet",
                                            {"name": "maintenance-mode", "value": "true"}))
    state, outcome = apply_with_outcome(state, 3, entry("ClusterPropertyUnset",
                                                        {"name": "maintenance-mode"}))
    assert outcome.status == APPLIED and state.property("maintenance-mode") is None
    _, outcome = apply_with_outcome(state, 4, entry("ClusterPropertyUnset",
                                                    {"name": "maintenance-mode"}, seed="again"))
    assert outcome.status == REJECTED and "is not set" in outcome.reason


def test_retried_event_applies_once():
    state = created_state()
    proposal = entry("ClusterPropertySet", {"name": "batch-limit", "value": "5"}, seed="same")
    state = apply(state, 2, proposal)
    again, outcome = apply_with_outcome(state, 3, proposal)
    assert outcome.status == DUPLICATE
    assert again.applied_count == state.applied_count and again.duplicate_count == 1
    assert again.last_index == 3


def test_dedup_window_and_rejection_list_are_bounded():
    state = created_state()
    for number in range(APPLIED_ID_WINDOW + 10):
        state = apply(state, number + 2, entry("ClockTicked", {}, seed=f"tick{number}"))
    assert APPLIED_ID_WINDOW - 64 <= state.applied_id_count() <= APPLIED_ID_WINDOW
    # An id 900 events old is still remembered; the very first ones are forgotten.
    old_tick = entry("ClockTicked", {}, seed=f"tick{APPLIED_ID_WINDOW + 10 - 900}")
    assert apply_with_outcome(state, 4000, old_tick)[1].status == DUPLICATE
    first_tick = entry("ClockTicked", {}, seed="tick0")
    assert apply_with_outcome(state, 4000, first_tick)[1].status == APPLIED
    assert decode_snapshot(encode_snapshot(state)) == state
    for number in range(REJECTION_WINDOW + 5):
        state = apply(state, 5000 + number, b"\xc1garbage")
    assert len(state.rejections) == REJECTION_WINDOW
    assert state.rejected_count == REJECTION_WINDOW + 5


def test_membership_events():
    state = created_state()
    state, outcome = apply_with_outcome(state, 2, entry("NodeJoined",
                                        {"name": "n4", "address": "127.0.0.1:7004"}))
    assert outcome.status == APPLIED and state.node("n4").joined_index == 2
    _, outcome = apply_with_outcome(state, 3, entry("NodeJoined",
                                    {"name": "n5", "address": "127.0.0.1:7004"}))
    assert outcome.status == REJECTED and "already used by node 'n4'" in outcome.reason
    state = apply(state, 4, entry("NodeLeft", {"name": "n1"}))
    assert [node.name for node in state.nodes] == ["n2", "n3", "n4"]
    _, outcome = apply_with_outcome(state, 5, entry("NodeLost", {"name": "n1"}))
    assert outcome.status == REJECTED and "not a member" in outcome.reason


def test_snapshot_round_trip_is_exact_and_garbage_is_refused():
    state = apply(created_state(), 2, entry("ClusterPropertySet",
                                            {"name": "stonith-enabled", "value": "no"}))
    assert decode_snapshot(encode_snapshot(state)) == state
    with pytest.raises(StateError):
        decode_snapshot(b"\x93\x01\x02")
    with pytest.raises(StateError):
        decode_snapshot(msgpack.packb({"v": 1, "state": {"v": 1}}))


# ---------------------------------------------------------------------------
# Property tests

node_names = st.sampled_from(["n1", "n2", "n3", "n4", "x"])
property_names = st.sampled_from(["stonith-enabled", "no-quorum-policy", "batch-limit",
                                  "bogus", "maintenance-mode"])
property_values = st.sampled_from(["true", "false", "stop", "freeze", "7", "x"])


@st.composite
def event_entries(draw):
    kind = draw(st.sampled_from(["ClusterCreated", "NodeJoined", "NodeLeft", "NodeLost",
                                 "NodeReturned", "NodeStopped", "ClusterPropertySet",
                                 "ClusterPropertyUnset", "ClockTicked", "OperationCompleted",
                                 "ResourceCleanedUp", "garbage"]))
    seed = str(draw(st.integers(0, 40)))  # small range: duplicates happen
    ts_ms = draw(st.integers(0, 10**6))
    if kind == "garbage":
        return draw(st.binary(max_size=40))
    if kind == "ClusterCreated":
        body = {"name": "c", "nodes": [{"name": "n1", "address": "h:1"}]}
    elif kind == "NodeJoined":
        body = {"name": draw(node_names), "address": f"h:{draw(st.integers(1, 5))}"}
    elif kind in ("NodeLeft", "NodeLost", "NodeReturned", "NodeStopped"):
        body = {"name": draw(node_names)}
    elif kind == "ClusterPropertySet":
        body = {"name": draw(property_names), "value": draw(property_values)}
    elif kind == "ClusterPropertyUnset":
        body = {"name": draw(property_names)}
    elif kind == "OperationCompleted":
        body = {"node": draw(node_names), "resource": draw(st.sampled_from(["r1", "r2"])),
                "agent": "ocf:heartbeat:Dummy",
                "operation": draw(st.sampled_from(["start", "stop", "monitor"])),
                "interval_ms": draw(st.sampled_from([0, 10_000])),
                "rc": draw(st.sampled_from([0, 1, 7])), "op_status": draw(st.sampled_from([0, 2])),
                "target_rc": None, "exit_reason": "", "duration_ms": 5}
    elif kind == "ResourceCleanedUp":
        body = {"resource": "r1", "node": draw(st.sampled_from([None, "n1"]))}
    else:
        body = {}
    return encode_event(Event(event_id(seed), kind, "n1", "u", ts_ms, body))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event_entries(), max_size=40))
def test_same_events_give_byte_equal_state(entries):
    indexed = list(enumerate(entries, start=1))
    first = replay(indexed)
    second = replay(indexed)
    assert encode_state(first) == encode_state(second)
    assert state_hash(first) == state_hash(second)
    # A node that restored a snapshot half-way ends in the same state.
    half = len(indexed) // 2
    restored = decode_snapshot(encode_snapshot(replay(indexed[:half])))
    assert encode_state(replay(indexed[half:], restored)) == encode_state(first)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash_apply(data):
    state, outcome = apply_with_outcome(created_state(), 2, data)
    assert outcome.status in (APPLIED, REJECTED, DUPLICATE)
    assert state.last_index == 2


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["v", "id", "kind", "origin", "user", "ts_ms", "body",
                                        "zz"]),
                       st.one_of(st.integers(-3, 3), st.binary(max_size=17), st.text(max_size=5),
                                 st.none(), st.dictionaries(st.text(max_size=4),
                                                            st.integers(-2**63, 2**63 - 1),
                                                            max_size=3),
                                 st.sampled_from(["NodeLost", "ClusterPropertySet"])),
                       max_size=8))
def test_random_envelopes_never_crash_apply(envelope):
    data = msgpack.packb(envelope, use_bin_type=True)
    state, outcome = apply_with_outcome(created_state(), 2, data)
    assert outcome.status in (APPLIED, REJECTED)
    assert state.last_index == 2


def test_configuration_loaded_is_validated_by_the_reducer():
    from raftha.model.config import Configuration
    from raftha.model.reducer import stored_configuration
    state = created_state()
    configuration = Configuration(properties=(("stonith-enabled", "false"),))
    state, outcome = apply_with_outcome(state, 2, entry("ConfigurationLoaded", {
        "configuration": configuration.to_dict(), "base_index": 0, "mode": "update"}))
    assert outcome.status == APPLIED and state.configuration_index == 2
    assert stored_configuration(state) == configuration
    _, outcome = apply_with_outcome(state, 3, entry("ConfigurationLoaded", {
        "configuration": {"type": "Nonsense"}, "base_index": 2, "mode": "update"}))
    assert outcome.status == REJECTED and outcome.reason.startswith("invalid configuration")
    bad_property = Configuration(properties=(("stonith-enabled", "perhaps"),))
    _, outcome = apply_with_outcome(state, 4, entry("ConfigurationLoaded", {
        "configuration": bad_property.to_dict(), "base_index": 2, "mode": "update"}))
    assert outcome.status == REJECTED and "stonith-enabled must be a boolean" in outcome.reason
    assert decode_snapshot(encode_snapshot(state)) == state


def test_a_lost_node_stays_expected_but_a_stopped_one_does_not():
    state = created_state()
    assert state.node("n1").expected == "down"  # never seen yet: pending, not lost
    state = apply(state, 2, entry("NodeReturned", {"name": "n1"}))
    state = apply(state, 3, entry("NodeReturned", {"name": "n2"}))
    assert (state.node("n1").state, state.node("n1").expected) == ("online", "member")
    state = apply(state, 4, entry("NodeLost", {"name": "n1"}))
    assert (state.node("n1").state, state.node("n1").expected) == ("offline", "member")
    state = apply(state, 5, entry("NodeStopped", {"name": "n2"}))
    assert (state.node("n2").state, state.node("n2").expected) == ("offline", "down")
    assert decode_snapshot(encode_snapshot(state)) == state


def test_scheduler_inputs_follow_membership_and_configuration():
    from raftha.crmsh import load_configuration
    from raftha.model.config import Configuration
    from raftha.model.scheduler_inputs import lost_members, scheduler_inputs
    from raftha.scheduler import plan

    def load(state, index, text):
        configuration = load_configuration(Configuration(), text, "update")
        return apply(state, index, entry("ConfigurationLoaded", {
            "configuration": configuration.to_dict(), "base_index": state.configuration_index,
            "mode": "update"}))

    state = created_state()
    for index, name in enumerate(("n1", "n2", "n3"), start=2):
        state = apply(state, index, entry("NodeReturned", {"name": name}))
    state = load(state, 5, "property stonith-enabled=false\n"
                           "primitive d1 ocf:heartbeat:Dummy\n"
                           "location d1-prefers-n2 d1 100: n2\n")
    configuration, status = scheduler_inputs(state, have_quorum=True)
    assert [node.name for node in configuration.nodes] == ["n1", "n2", "n3"]
    assert status.now == 1 and status.have_quorum
    placement = plan(configuration, status).placements[0]
    assert (placement.resource, placement.target_node) == ("d1", "n2")
    state = apply(state, 6, entry("NodeLost", {"name": "n2"}))
    assert lost_members(state) == ("n2",)
    configuration, status = scheduler_inputs(state, have_quorum=True)
    assert status.node("n2").expected == "member" and status.node("n2").in_membership is False
    assert plan(configuration, status).placements[0].target_node in ("n1", "n3")


def operation(index_seed: str, node: str, resource: str, op: str, rc: int,
              interval_ms: int = 0, op_status: int = 0, target_rc: int | None = None,
              ts_ms: int = 5000) -> bytes:
    return entry("OperationCompleted", {
        "node": node, "resource": resource, "agent": "ocf:heartbeat:Dummy", "operation": op,
        "interval_ms": interval_ms, "rc": rc, "op_status": op_status, "target_rc": target_rc,
        "exit_reason": "", "duration_ms": 12}, seed=index_seed, ts_ms=ts_ms)


def test_operation_results_drive_the_scheduler_like_pacemakers_history():
    from raftha.crmsh import load_configuration
    from raftha.model.config import Configuration
    from raftha.model.scheduler_inputs import scheduler_inputs
    from raftha.scheduler import plan

    state = created_state()
    for index, name in enumerate(("n1", "n2", "n3"), start=2):
        state = apply(state, index, entry("NodeReturned", {"name": name}))
    configuration = load_configuration(Configuration(), (
        "property stonith-enabled=false\n"
        "primitive d1 ocf:heartbeat:Dummy op monitor interval=10s\n"), "update")
    state = apply(state, 5, entry("ConfigurationLoaded", {
        "configuration": configuration.to_dict(), "base_index": 0, "mode": "update"}))

    def current_plan():
        return plan(*scheduler_inputs(state, have_quorum=True))

    verbs = sorted((action.verb, action.node) for action in current_plan().actions)
    assert [verb for verb, _ in verbs].count("probe") == 3
    index = 6
    for name in ("n1", "n2", "n3"):
        state = apply(state, index, operation(f"probe-{name}", name, "d1", "monitor", 7))
        index += 1
    start = next(action for action in current_plan().actions if action.verb == "start")
    state = apply(state, index, operation("start", start.node, "d1", "start", 0))
    state = apply(state, index + 1, operation("mon", start.node, "d1", "monitor", 0, 10_000))
    placement = current_plan().placements[0]
    assert (placement.current_nodes, placement.current_role) == ((start.node,), "Started")
    # Nothing to do but keep the recurring monitor running.
    assert {(action.verb, action.node) for action in current_plan().actions} <= {
        ("monitor", start.node)}
    # The recurring monitor finds it gone: a failure, counted, and recovery planned.
    state = apply(state, index + 2, operation("fail", start.node, "d1", "monitor", 7, 10_000,
                                              target_rc=0, ts_ms=9000))
    assert dict(state.transient_of(start.node)) == {
        "fail-count-d1#monitor_10000": "1", "last-failure-d1#monitor_10000": "9"}
    assert "stop" in {action.verb for action in current_plan().actions}
    # A failed start counts INFINITY (start-failure-is-fatal) and bans the node.
    state = apply(state, index + 3, operation("stop", start.node, "d1", "stop", 0))
    state = apply(state, index + 4, operation("bad-start", start.node, "d1", "start", 1))
    assert dict(state.transient_of(start.node))["fail-count-d1#start_0"] == "INFINITY"
    assert current_plan().placements[0].target_node != start.node
    assert decode_snapshot(encode_snapshot(state)) == state
    # Cleanup forgets history and failures on that node: it is probed again.
    state = apply(state, index + 5, entry("ResourceCleanedUp", {"resource": "d1",
                                                                "node": start.node}))
    assert state.histories_of(start.node) == () and state.transient_of(start.node) == ()
    assert ("probe", start.node) in {(a.verb, a.node) for a in current_plan().actions}
    # A node that rejoins starts with a clean slate.
    other = next(name for name in ("n1", "n2", "n3") if name != start.node)
    assert state.histories_of(other) != ()
    state = apply(state, index + 6, entry("NodeLost", {"name": other}))
    state = apply(state, index + 7, entry("NodeReturned", {"name": other}, seed="back"))
    assert state.histories_of(other) == ()
