"""Replay equivalence: a node that restarted, restored a snapshot or re-applied entries ends
in byte-equal state with one that applied the log straight through.

Covers every path by which a node's state is rebuilt: reducer replay from any snapshot
point (with Raft's index gaps), the daemon's state machine across a restart that re-applies
entries it already had, the history journal after a lost buffered tail, and the state
format id that tells a diverged node from one running other state code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pathlib

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raftha.daemon.history import HistoryJournal
from raftha.daemon.machine import ReducerStateMachine
from raftha.model import state as state_module
from raftha.model.events import Event, encode_event
from raftha.model.reducer import replay
from raftha.model.state import (
    EMPTY_STATE,
    STATE_FORMAT,
    decode_snapshot,
    encode_snapshot,
    encode_state,
    state_hash,
)

NODES = ("n1", "n2", "n3")


def event_id(seed: str) -> bytes:
    return hashlib.sha256(seed.encode()).digest()[:16]


def event_bytes(seed: str, kind: str, body: dict, ts_ms: int = 1000) -> bytes:
    return encode_event(Event(event_id(seed), kind, "n1", "root", ts_ms, body))


CREATED = event_bytes("created", "ClusterCreated", {"name": "c", "nodes": [
    {"name": name, "address": f"127.0.0.1:70{number}"} for number, name in enumerate(NODES)]})


@st.composite
def events(draw) -> bytes:
    kind = draw(st.sampled_from([
        "NodeLost", "NodeReturned", "NodeStopped", "ClusterPropertySet",
        "ClusterPropertyUnset", "ClockTicked", "OperationCompleted", "ResourceCleanedUp",
        "TransientAttributeSet", "TransientAttributeUnset", "NodeAttributeSet",
        "ReadBarrier", "ClusterCreated", "garbage"]))
    seed = str(draw(st.integers(0, 60)))  # a small range: retried (duplicate) ids happen
    ts_ms = draw(st.integers(0, 10**7))
    node = draw(st.sampled_from(NODES))
    if kind == "garbage":
        return draw(st.binary(max_size=30))
    if kind == "ClusterCreated":
        return CREATED  # a second creation is rejected, a retried one is a duplicate
    if kind in ("NodeLost", "NodeReturned", "NodeStopped"):
        body: dict = {"name": node}
    elif kind == "ClusterPropertySet":
        body = {"name": draw(st.sampled_from(["stonith-enabled", "batch-limit", "bogus"])),
                "value": draw(st.sampled_from(["true", "false", "7"]))}
    elif kind == "ClusterPropertyUnset":
        body = {"name": draw(st.sampled_from(["stonith-enabled", "batch-limit"]))}
    elif kind == "OperationCompleted":
        body = {"node": node, "resource": draw(st.sampled_from(["r1", "r2"])),
                "agent": "ocf:heartbeat:Dummy",
                "operation": draw(st.sampled_from(["start", "stop", "monitor"])),
                "interval_ms": draw(st.sampled_from([0, 10_000])),
                "rc": draw(st.sampled_from([0, 1, 7])),
                "op_status": draw(st.sampled_from([0, 2])),
                "target_rc": None, "exit_reason": "", "duration_ms": 3}
    elif kind == "ResourceCleanedUp":
        body = {"resource": "r1", "node": draw(st.sampled_from([None, node]))}
    elif kind == "TransientAttributeSet":
        body = {"node": node, "name": "master-r1", "value": draw(st.sampled_from(["5", "10"]))}
    elif kind == "TransientAttributeUnset":
        body = {"node": node, "name": "master-r1"}
    elif kind == "NodeAttributeSet":
        body = {"node": node, "name": "standby", "value": draw(st.sampled_from(["on", "x"]))}
    else:
        body = {}
    return encode_event(Event(event_id(seed), kind, "n1", "root", ts_ms, body))


@st.composite
def logs(draw) -> list[tuple[int, bytes]]:
    """A committed log as the state machine sees it: strictly increasing indexes with gaps
    (Raft's own no-op and membership entries take indexes but never reach the reducer)."""
    entries = [CREATED, *draw(st.lists(events(), max_size=60))]
    index, indexed = 2, []
    for entry in entries:
        index += draw(st.integers(1, 3))
        indexed.append((index, entry))
    return indexed


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs(), st.data())
def test_prefix_snapshot_and_rest_equal_straight_replay(log, data):
    straight = replay(log)
    split = data.draw(st.integers(0, len(log)))
    restored = decode_snapshot(encode_snapshot(replay(log[:split])))
    resumed = replay(log[split:], restored)
    assert encode_state(resumed) == encode_state(straight)
    # A second snapshot taken after the resume is byte-equal to one of the straight state.
    assert encode_snapshot(resumed) == encode_snapshot(straight)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs(), st.data())
def test_state_machine_restart_reapplying_entries_matches_straight_replay(log, data):
    """A restarted node restores its last snapshot and Raft re-applies every entry after
    it, including ones the old process had already applied: the result must not change."""
    straight = ReducerStateMachine(on_fatal=fail)
    for index, entry in log:
        straight.apply_entry(index, entry)
    snapshot_at = data.draw(st.integers(0, len(log)))
    crashed_at = data.draw(st.integers(snapshot_at, len(log)))
    first_life = ReducerStateMachine(on_fatal=fail)
    for index, entry in log[:crashed_at]:
        first_life.apply_entry(index, entry)
    snapshot = ReducerStateMachine(on_fatal=fail)
    for index, entry in log[:snapshot_at]:
        snapshot.apply_entry(index, entry)
    second_life = ReducerStateMachine(on_fatal=fail)
    second_life.restore_snapshot(snapshot.snapshot_bytes())
    for index, entry in log[snapshot_at:]:
        second_life.apply_entry(index, entry)
        second_life.apply_entry(index, entry)  # a re-delivered entry is a no-op
    assert state_hash(second_life.state) == state_hash(straight.state)
    assert encode_state(second_life.state) == encode_state(straight.state)


def fail() -> None:
    raise AssertionError("the state machine asked to stop the node")


def test_history_journal_after_a_lost_tail_rebuilds_equal_states(tmp_path: pathlib.Path):
    """kill -9 loses the journal's buffered tail; Raft re-applies those entries after the
    restart and the journal records them again, so every past state rebuilds equal."""
    log = [(3, CREATED)] + [
        (4 + number, event_bytes(f"p{number}", "ClusterPropertySet",
                                 {"name": "batch-limit", "value": str(number)}, 2000 + number))
        for number in range(40)]
    journal = HistoryJournal(tmp_path, checkpoint_every=7)
    machine = ReducerStateMachine(journal, on_fatal=fail)
    for index, entry in log[:25]:
        machine.apply_entry(index, entry)
    journal.handle.flush()
    durable = (tmp_path / "history.msgpack").stat().st_size
    for index, entry in log[25:30]:
        machine.apply_entry(index, entry)
    journal.handle.flush()
    with (tmp_path / "history.msgpack").open("r+b") as handle:
        handle.truncate(durable + 5)  # the tail of a crashed process, torn mid-frame
    restarted = HistoryJournal(tmp_path, checkpoint_every=7)
    second_life = ReducerStateMachine(restarted, on_fatal=fail)
    for index, entry in log:
        second_life.apply_entry(index, entry)
    for index, _ in log:
        expected = replay([item for item in log if item[0] <= index])
        assert state_hash(restarted.state_at(index)) == state_hash(expected)
    assert state_hash(second_life.state) == state_hash(replay(log))


def test_state_format_names_the_encoding_layout():
    """Two builds whose state records differ report different formats, so a hash mismatch
    between them reads as "different state code", not as a diverged log."""
    assert len(STATE_FORMAT) == 12 and STATE_FORMAT == state_module.compute_state_format()

    @dataclasses.dataclass(frozen=True)
    class WiderNode(state_module.NodeRecord):
        extra: int = 0

    original = state_module.NodeRecord
    try:
        WiderNode.__name__ = "NodeRecord"
        state_module.NodeRecord = WiderNode
        assert state_module.compute_state_format() != STATE_FORMAT
    finally:
        state_module.NodeRecord = original
    assert state_module.compute_state_format() == STATE_FORMAT


def test_a_snapshot_from_other_state_code_is_refused_with_a_reason():
    plain = state_module.state_to_plain(replay([(3, CREATED)]))
    plain["extra_field"] = 1
    data = msgpack.packb({"v": state_module.SNAPSHOT_VERSION, "state": plain},
                         use_bin_type=True)
    try:
        decode_snapshot(data)
    except state_module.StateError as error:
        assert "canonical" in str(error)
    else:
        raise AssertionError("a snapshot of another layout was accepted")
    assert replay([]) == EMPTY_STATE
