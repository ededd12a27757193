"""Fencing in the log: request, result, executor choice, node state, timing rule (pure)."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from raftha.model.events import EventError, encode_event, make_event, summarize
from raftha.model.fencing_events import (
    fencing_state,
    history_rows,
    needs_fencing,
    timing_problem,
)
from raftha.model.reducer import APPLIED, REJECTED, apply_with_outcome
from raftha.model.scheduler_inputs import scheduler_inputs
from raftha.model.state import (
    EMPTY_STATE,
    EXPECTED_DOWN,
    EXPECTED_MEMBER,
    NODE_OFFLINE,
    decode_snapshot,
    encode_snapshot,
)

COUNTER = itertools.count()


def entry(kind: str, body: dict, origin: str = "n1", ts_ms: int = 1000) -> bytes:
    event_id = hashlib.sha256(f"{kind}{body}{next(COUNTER)}".encode()).digest()[:16]
    return encode_event(make_event(event_id, kind, origin, "", ts_ms, body))


class Log:
    """Applies entries in order and remembers each outcome."""

    def __init__(self) -> None:
        self.state = EMPTY_STATE
        self.index = 0

    def add(self, kind: str, body: dict, origin: str = "n1", ts_ms: int = 1000):
        self.index += 1
        self.state, outcome = apply_with_outcome(self.state, self.index,
                                                 entry(kind, body, origin, ts_ms))
        return outcome


def cluster_with_lost_node() -> Log:
    log = Log()
    log.add("ClusterCreated", {"name": "demo", "nodes": [
        {"name": f"n{number}", "address": f"127.0.0.1:700{number}"} for number in (1, 2, 3)]})
    for name in ("n1", "n2", "n3"):
        assert log.add("NodeReturned", {"name": name}).status == APPLIED
    assert log.add("NodeLost", {"name": "n3"}).status == APPLIED
    return log


def request(log: Log, target: str = "n3", origin: str = "n1"):
    return log.add("FenceRequested", {"target": target, "action": "reboot",
                                      "reason": "lost"}, origin=origin)


def test_request_then_success_makes_the_node_offline_clean():
    log = cluster_with_lost_node()
    assert needs_fencing(log.state, "n3")
    outcome = request(log)
    assert outcome.status == APPLIED
    pending = fencing_state(log.state).pending_for("n3")
    assert pending is not None and pending.executor == "n1"
    assert not needs_fencing(log.state, "n3")
    _, status = scheduler_inputs(log.state, True)
    lost = next(node for node in status.nodes if node.name == "n3")
    assert lost.expected == EXPECTED_MEMBER  # still unclean until the result is committed
    done = log.add("NodeFenced", {"target": "n3", "action": "reboot",
                                  "request_index": outcome.index, "device": "fence-1",
                                  "level": 1}, origin="n1", ts_ms=2000)
    assert done.status == APPLIED
    record = log.state.node("n3")
    assert (record.state, record.expected) == (NODE_OFFLINE, EXPECTED_DOWN)
    _, status = scheduler_inputs(log.state, True)
    assert next(node for node in status.nodes if node.name == "n3").expected == EXPECTED_DOWN
    rows = history_rows(log.state)
    assert [(row["target"], row["result"], row["index"]) for row in rows] == [
        ("n3", "success", done.index)]
    assert rows[0]["ts_ms"] == 2000


def test_failure_leaves_the_node_unclean_and_counts():
    log = cluster_with_lost_node()
    outcome = request(log)
    failed = log.add("FenceFailed", {"target": "n3", "action": "reboot",
                                     "request_index": outcome.index,
                                     "reason": "all levels failed"})
    assert failed.status == APPLIED
    assert log.state.node("n3").expected == EXPECTED_MEMBER
    assert fencing_state(log.state).failure_count("n3") == 1
    assert needs_fencing(log.state, "n3")
    assert history_rows(log.state)[-1]["result"] == "failed"
    assert history_rows(log.state)[-1]["reason"] == "all levels failed"


def test_a_node_never_fences_itself_and_the_proposer_executes_when_it_can():
    log = cluster_with_lost_node()
    # n2 asks to fence n2 (an operator on n2): someone else must execute it.
    outcome = log.add("FenceRequested", {"target": "n2", "action": "off",
                                         "reason": "operator"}, origin="n2")
    assert outcome.status == APPLIED
    assert fencing_state(log.state).pending_for("n2").executor == "n1"
    outcome = request(log, "n3", origin="n2")
    assert fencing_state(log.state).pending_for("n3").executor == "n2"


def test_results_from_the_wrong_node_or_request_are_rejected():
    log = cluster_with_lost_node()
    outcome = request(log)
    wrong_origin = log.add("NodeFenced", {"target": "n3", "action": "reboot",
                                          "request_index": outcome.index, "device": "d",
                                          "level": 1}, origin="n2")
    assert wrong_origin.status == REJECTED and "belongs to n1" in wrong_origin.reason
    wrong_index = log.add("NodeFenced", {"target": "n3", "action": "reboot",
                                         "request_index": outcome.index + 7, "device": "d",
                                         "level": 1})
    assert wrong_index.status == REJECTED and "no pending fence request" in wrong_index.reason
    assert log.state.node("n3").expected == EXPECTED_MEMBER


def test_second_request_joins_the_first_while_its_executor_is_online():
    log = cluster_with_lost_node()
    request(log)
    again = request(log, origin="n2")
    assert again.status == REJECTED and "already being fenced" in again.reason
    # The executor goes away: a new request replaces the stale one.
    log.add("NodeLost", {"name": "n1"})
    replaced = request(log, origin="n2")
    assert replaced.status == APPLIED
    assert fencing_state(log.state).pending_for("n3").executor == "n2"


def test_nobody_left_to_fence():
    log = cluster_with_lost_node()
    log.add("NodeLost", {"name": "n2"})
    log.add("NodeLost", {"name": "n1"})
    outcome = request(log)
    assert outcome.status == REJECTED and "no online node other than n3" in outcome.reason


def test_fencing_state_survives_a_snapshot():
    log = cluster_with_lost_node()
    outcome = request(log)
    log.add("FenceFailed", {"target": "n3", "action": "reboot",
                            "request_index": outcome.index, "reason": "timeout"})
    request(log)
    restored = decode_snapshot(encode_snapshot(log.state))
    assert fencing_state(restored) == fencing_state(log.state)
    assert history_rows(restored) == history_rows(log.state)


@pytest.mark.parametrize("body, reason", [
    ({"target": "n3", "action": "explode", "reason": ""}, "fence action"),
    ({"target": "bad name", "action": "off", "reason": ""}, "not a valid node name"),
    ({"target": "n3", "action": "off"}, "lacks field 'reason'"),
])
def test_malformed_requests_are_refused_at_decoding(body, reason):
    with pytest.raises(EventError, match=reason):
        make_event(b"0" * 16, "FenceRequested", "n1", "", 1, body)


def test_history_summaries():
    event = make_event(b"1" * 16, "NodeFenced", "n1", "", 1, {
        "target": "n3", "action": "off", "request_index": 4, "device": "fd", "level": 2})
    assert summarize(event) == "node n3 fenced (off) by fd at level 2"


def test_timing_rule_refuses_a_short_watchdog_wait_with_the_numbers():
    log = cluster_with_lost_node()
    refused = log.add("ClusterPropertySet", {"name": "stonith-watchdog-timeout",
                                             "value": "3s"})
    assert refused.status == REJECTED
    assert "W=3000 ms" in refused.reason and "L=2000 ms" in refused.reason
    assert "WD=2000 ms" in refused.reason
    accepted = log.add("ClusterPropertySet", {"name": "stonith-watchdog-timeout",
                                              "value": "5s"})
    assert accepted.status == APPLIED
    # Lengthening the lease afterwards would break the rule: refused too.
    longer = log.add("ClusterPropertySet", {"name": "lease-time", "value": "10s"})
    assert longer.status == REJECTED and "L=10000 ms" in longer.reason


def test_timing_problem_is_silent_without_a_watchdog_wait():
    assert timing_problem(()) is None
    assert timing_problem((("lease-time", "1s"), ("stonith-watchdog-timeout", "4s"))) is None
    assert "clock-rate-error" in timing_problem((("clock-rate-error", "150%"),))


def test_a_node_rebooted_by_fencing_and_back_before_the_result_stays_online():
    log = cluster_with_lost_node()
    outcome = request(log)
    log.add("NodeReturned", {"name": "n3"})  # the reboot brought it back first
    log.add("NodeFenced", {"target": "n3", "action": "reboot",
                           "request_index": outcome.index, "device": "d", "level": 1})
    record = log.state.node("n3")
    assert (record.state, record.expected) == ("online", EXPECTED_MEMBER)
    assert history_rows(log.state)[-1]["result"] == "success"


def test_an_online_node_fenced_on_request_goes_offline_clean():
    log = cluster_with_lost_node()
    outcome = request(log, target="n2", origin="n1")
    log.add("NodeFenced", {"target": "n2", "action": "off",
                           "request_index": outcome.index, "device": "d", "level": 1})
    record = log.state.node("n2")
    assert (record.state, record.expected) == (NODE_OFFLINE, EXPECTED_DOWN)


def test_fencing_forgets_what_the_node_ran():
    log = cluster_with_lost_node()
    outcome = log.add("OperationCompleted", {
        "node": "n3", "resource": "r1", "agent": "ocf:heartbeat:Dummy", "operation": "start",
        "interval_ms": 0, "rc": 0, "op_status": 0, "target_rc": None, "exit_reason": "",
        "duration_ms": 5})
    assert outcome.status == APPLIED and log.state.histories_of("n3")
    fence = request(log)
    log.add("NodeFenced", {"target": "n3", "action": "off", "request_index": fence.index,
                           "device": "d", "level": 1})
    assert log.state.histories_of("n3") == ()


def test_a_witness_votes_but_the_scheduler_never_sees_it_and_it_is_never_fenced():
    log = cluster_with_lost_node()
    assert log.add("NodeAttributeSet", {"node": "n3", "name": "witness",
                                        "value": "true"}).status == APPLIED
    configuration, status = scheduler_inputs(log.state, True)
    assert [node.name for node in configuration.nodes] == ["n1", "n2"]
    assert [node.name for node in status.nodes] == ["n1", "n2"]
    assert not needs_fencing(log.state, "n3")      # lost, but it ran nothing


def test_watchdog_recovery_counts_as_a_way_to_fence_for_the_scheduler():
    log = cluster_with_lost_node()
    configuration, _ = scheduler_inputs(log.state, True)
    assert configuration.property("have-watchdog") is None
    log.add("ClusterPropertySet", {"name": "stonith-watchdog-timeout", "value": "5s"})
    configuration, _ = scheduler_inputs(log.state, True)
    assert configuration.property("have-watchdog") == "true"


def test_an_online_node_rebooted_on_request_stays_a_member_reset():
    log = cluster_with_lost_node()
    log.add("OperationCompleted", {
        "node": "n2", "resource": "r1", "agent": "ocf:heartbeat:Dummy", "operation": "start",
        "interval_ms": 0, "rc": 0, "op_status": 0, "target_rc": None, "exit_reason": "",
        "duration_ms": 5})
    outcome = request(log, target="n2", origin="n1")
    log.add("NodeFenced", {"target": "n2", "action": "reboot",
                           "request_index": outcome.index, "device": "d", "level": 1})
    record = log.state.node("n2")
    assert (record.state, record.expected) == ("online", EXPECTED_MEMBER)
    assert log.state.histories_of("n2") == ()


def test_a_lost_witness_shows_offline_not_unclean():
    from raftha.daemon.views import status_view
    log = cluster_with_lost_node()
    log.add("ClusterPropertySet", {"name": "stonith-enabled", "value": "true"})
    assert status_view(log.state, None, "n1", {})["nodes"]["n3"]["state"] == "unclean"
    assert log.add("NodeAttributeSet", {"node": "n3", "name": "witness",
                                        "value": "true"}).status == APPLIED
    assert status_view(log.state, None, "n1", {})["nodes"]["n3"]["state"] == "offline"


def test_a_lease_renewal_is_noted_on_the_pending_request_and_survives_a_snapshot():
    log = cluster_with_lost_node()
    fence = request(log)
    before = log.state.fencing_bytes
    assert log.add("LeaseRenewed", {"name": "n3"}, origin="n3").status == APPLIED
    pending = fencing_state(log.state).pending_for("n3")
    assert pending.request_index == fence.index and pending.lease_renewed_index == log.index
    assert decode_snapshot(encode_snapshot(log.state)) == log.state
    assert log.state.fencing_bytes != before


def test_node_fenced_duration_is_optional_bounded_and_summarized():
    log = cluster_with_lost_node()
    fence = request(log)
    with pytest.raises(EventError, match="duration_ms"):
        entry("NodeFenced", {"target": "n3", "action": "reboot", "request_index": fence.index,
                             "device": "d", "level": 1, "duration_ms": -5})
    body = {"target": "n3", "action": "reboot", "request_index": fence.index, "device": "d",
            "level": 1, "duration_ms": 320}
    assert summarize(make_event(b"2" * 16, "NodeFenced", "n1", "", 1, body)).endswith(
        "at level 1 in 320 ms")
    assert log.add("NodeFenced", body).status == APPLIED
