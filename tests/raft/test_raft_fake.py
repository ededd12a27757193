"""The in-process FakeRaftCluster behaves like the real log where the daemon can tell."""

from __future__ import annotations

import pytest

from raftha.raft.contract import ProposeOutcome
from raftha.raft.fake import FakeRaftCluster

ADDRESSES = ["127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"]


class Recorder:
    def __init__(self) -> None:
        self.entries: list[tuple[int, bytes]] = []

    def apply_entry(self, index: int, entry: bytes) -> None:
        self.entries.append((index, entry))

    def snapshot_bytes(self) -> bytes:
        return b""

    def restore_snapshot(self, data: bytes) -> None:
        self.entries = []


def started_cluster():
    cluster = FakeRaftCluster(ADDRESSES)
    machines = {address: Recorder() for address in ADDRESSES}
    logs = {address: cluster.make_log(address, machines[address]) for address in ADDRESSES}
    for log in logs.values():
        log.start()
    return cluster, logs, machines


def test_a_commit_is_applied_everywhere_in_order():
    _, logs, machines = started_cluster()
    first = logs[ADDRESSES[1]].propose(b"a", 100)
    second = logs[ADDRESSES[2]].propose(b"b", 100)
    assert first.outcome is second.outcome is ProposeOutcome.COMMITTED
    assert second.index > first.index
    for machine in machines.values():
        assert machine.entries == [(first.index, b"a"), (second.index, b"b")]
    status = logs[ADDRESSES[0]].status()
    assert status.is_leader and status.has_quorum and status.commit_index == second.index


def test_without_quorum_proposals_are_not_applied_and_members_catch_up_later():
    cluster, logs, machines = started_cluster()
    cluster.disconnect(ADDRESSES[1])
    cluster.disconnect(ADDRESSES[2])
    for address in ADDRESSES:
        result = logs[address].propose(b"lost", 100)
        assert result.outcome is ProposeOutcome.NOT_APPLIED
        assert result.reason == "no quorum"
        assert logs[address].status().leader is None
    cluster.reconnect(ADDRESSES[1])
    assert logs[ADDRESSES[1]].propose(b"back", 100).outcome is ProposeOutcome.COMMITTED
    assert machines[ADDRESSES[2]].entries == []
    cluster.reconnect(ADDRESSES[2])
    assert [entry for _, entry in machines[ADDRESSES[2]].entries] == [b"back"]


def test_a_stopped_leader_is_replaced_with_a_new_term():
    cluster, logs, _ = started_cluster()
    term = logs[ADDRESSES[1]].status().term
    logs[ADDRESSES[0]].stop()
    status = logs[ADDRESSES[1]].status()
    assert status.leader == ADDRESSES[1] and status.term == term + 1
    assert logs[ADDRESSES[0]].propose(b"x", 100).outcome is ProposeOutcome.NOT_APPLIED


@pytest.mark.parametrize("commit", [True, False])
def test_injected_unknown_outcomes_may_or_may_not_commit(commit):
    cluster, logs, machines = started_cluster()
    cluster.inject_outcome(ProposeOutcome.UNKNOWN, commit=commit)
    result = logs[ADDRESSES[0]].propose(b"maybe", 100)
    assert result.outcome is ProposeOutcome.UNKNOWN
    assert len(machines[ADDRESSES[2]].entries) == (1 if commit else 0)
    assert logs[ADDRESSES[0]].propose(b"next", 100).outcome is ProposeOutcome.COMMITTED


def test_membership_changes():
    cluster, logs, _ = started_cluster()
    leader = logs[ADDRESSES[0]]
    assert leader.add_member("127.0.0.1:7004", 100).outcome is ProposeOutcome.COMMITTED
    assert leader.add_member("127.0.0.1:7004", 100).outcome is ProposeOutcome.NOT_APPLIED
    assert len(leader.status().members) == 4
    assert leader.remove_member(ADDRESSES[0], 100).outcome is ProposeOutcome.NOT_APPLIED
    assert leader.remove_member("127.0.0.1:7004", 100).outcome is ProposeOutcome.COMMITTED
    with pytest.raises(ValueError, match="address"):
        leader.add_member("bad", 100)
