"""In-process tests of the Raft layer's parts: outcome classification, the restricted
unpickler, snapshot files, settings validation, the durable journal and the version pin."""

from __future__ import annotations

import os
import pathlib
import pickle
import socket
import threading
import time
import types
import zlib

import pytest

from raftha.raft import library
from raftha.raft.contract import ProposeOutcome, RaftSettings
from raftha.raft.durability import CorruptMetaError, DurableFileJournal, SyncStats
from raftha.raft.engine import (
    MAX_TICK_WAIT_SECONDS,
    TICK_WAIT_SECONDS,
    HardenedTransport,
    ReplicatedLogNode,
    prune_abandoned_callbacks,
    skip_entries_already_held,
    tick_wait_seconds,
)
from raftha.raft.log import RaftLog
from raftha.raft.outcome import PendingProposal, classify, guarded
from raftha.raft.snapshot import SnapshotError, decode_snapshot, encode_snapshot
from raftha.raft.unpickler import restricted_loads

FAIL = library.FAIL_REASON
KEY = b"k" * 32


# ----------------------------------------------------------------- outcomes

@pytest.mark.parametrize(("code", "expected"), [
    (FAIL.SUCCESS, ProposeOutcome.COMMITTED),
    (FAIL.QUEUE_FULL, ProposeOutcome.NOT_APPLIED),
    (FAIL.MISSING_LEADER, ProposeOutcome.NOT_APPLIED),
    (FAIL.DISCARDED, ProposeOutcome.NOT_APPLIED),
    (FAIL.NOT_LEADER, ProposeOutcome.NOT_APPLIED),
    (FAIL.LEADER_CHANGED, ProposeOutcome.UNKNOWN),
    (FAIL.REQUEST_DENIED, ProposeOutcome.NOT_APPLIED),
    (FAIL.UNKNOWN_OUTCOME, ProposeOutcome.UNKNOWN),
    (99, ProposeOutcome.UNKNOWN),
])
def test_every_library_code_is_classified(code, expected):
    result = classify(code, 42)
    assert result.outcome is expected
    assert result.index == (42 if expected is ProposeOutcome.COMMITTED else None)
    assert result.reason


def test_a_proposal_without_an_answer_is_unknown():
    result = PendingProposal().wait(10)
    assert result.outcome is ProposeOutcome.UNKNOWN
    assert "10 ms" in result.reason


def test_only_the_first_answer_counts():
    pending = PendingProposal()
    pending.deliver(7, FAIL.SUCCESS)
    pending.deliver(None, FAIL.DISCARDED)
    assert pending.wait(10).index == 7


def test_a_guarded_callback_never_raises():
    calls = []

    def broken(result, code):
        calls.append((result, code))
        raise RuntimeError("boom")

    guarded(broken)(1, FAIL.SUCCESS)
    assert calls == [(1, FAIL.SUCCESS)]


# ----------------------------------------------------------------- unpickler

class _Exec:
    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


class _System:
    def __reduce__(self):
        return (os.system, ("true",))


@pytest.mark.parametrize("loads", [restricted_loads, lambda data: library.pysyncobj_pickle.loads(
    data), lambda data: library.pysyncobj_journal.loads(data)],
    ids=["restricted_loads", "pysyncobj.pickle.loads", "pysyncobj.journal.loads"])
def test_crafted_pickles_are_refused_by_every_library_reader(loads, tmp_path):
    marker = tmp_path / "marker"
    for payload in (_Exec(marker), _System()):
        with pytest.raises(pickle.UnpicklingError):
            loads(pickle.dumps(payload, 2))
    assert not marker.exists()


@pytest.mark.parametrize("value", [{1, 2}, frozenset({1}), bytearray(b"x"), range(3)],
                         ids=["set", "frozenset", "bytearray", "range"])
def test_globals_the_library_does_not_send_are_refused(value):
    with pytest.raises(pickle.UnpicklingError):
        restricted_loads(pickle.dumps(value, 2))


def test_bytes_of_an_attacker_chosen_size_is_refused():
    huge = b"\x80\x02c__builtin__\nbytes\nJ\x00\x00\x00\x40\x85R."
    with pytest.raises(pickle.UnpicklingError):
        restricted_loads(huge)


def test_what_the_library_sends_still_unpickles():
    node = library.TCPNode("127.0.0.1:7000")
    messages = [
        {"type": "append_entries", "term": 3, "commit_index": 9, "prevLogIdx": 8,
         "prevLogTerm": 2, "entries": [(b"\x00payload", 9, 3), (b"", 10, 3)]},
        {"type": "next_node_idx", "next_node_idx": 11, "reset": False, "success": True},
        ["add", node.id, node],
        (b"\x01" * 32, {"type": "request_vote", "term": 4}),
        b"",
        {"currentTerm": 4, "votedForNodeId": "127.0.0.1:7000", "raftCommitIndex": 12},
    ]
    for message in messages:
        assert restricted_loads(pickle.dumps(message, 2)) == message


# ----------------------------------------------------------------- snapshots

def test_snapshot_round_trip_and_corruption():
    data = encode_snapshot(b"state", (b"\x00a", 10, 2), (b"\x00b", 9, 2),
                           ["127.0.0.1:2", "127.0.0.1:1"])
    decoded = decode_snapshot(data)
    assert decoded == {"state": b"state", "last": (b"\x00a", 10, 2),
                       "previous": (b"\x00b", 9, 2),
                       "members": ["127.0.0.1:1", "127.0.0.1:2"]}
    flipped = bytearray(data)
    flipped[-3] ^= 0xFF
    with pytest.raises(SnapshotError):
        decode_snapshot(bytes(flipped))
    with pytest.raises(SnapshotError):
        decode_snapshot(pickle.dumps({"state": b""}))


# ----------------------------------------------------------------- settings

def settings(**overrides) -> RaftSettings:
    values = {"self_address": "127.0.0.1:7000", "peer_addresses": ("127.0.0.1:7001",),
              "data_dir": pathlib.Path("/tmp/unused"), "authkey": KEY}
    values.update(overrides)
    return RaftSettings(**values)


@pytest.mark.parametrize(("overrides", "fragment"), [
    ({"authkey": b"short"}, "authkey"),
    ({"authkey": "k" * 32}, "authkey"),
    ({"self_address": "nohost"}, "self_address"),
    ({"peer_addresses": ("127.0.0.1:99999",)}, "peer_addresses"),
    ({"peer_addresses": ("127.0.0.1:7000",)}, "self_address"),
    ({"election_timeout_min_ms": 100}, "election_timeout_min_ms"),
    ({"election_timeout_max_ms": 300}, "election_timeout_max_ms"),
    ({"connection_timeout_ms": 500}, "connection_timeout_ms"),
    ({"data_dir": "/tmp/x"}, "data_dir"),
])
def test_bad_settings_name_the_problem(overrides, fragment):
    with pytest.raises(ValueError, match=fragment):
        settings(**overrides)


def test_good_settings_list_every_member():
    assert settings().members == ("127.0.0.1:7000", "127.0.0.1:7001")


# ----------------------------------------------------------------- durable journal

def test_journal_and_meta_survive_reopening_and_count_their_syncs(tmp_path):
    stats = SyncStats()
    path = str(tmp_path / "raft.journal")
    journal = DurableFileJournal(path, stats, path + ".snapshot")
    journal.add(b"\x01first", 1, 1)
    journal.add(b"\x00second", 2, 1)
    journal.sync()
    journal.sync()  # clean: no second sync
    journal.setCurrentTerm(5, "127.0.0.1:7001")
    journal._destroy()
    assert stats.as_dict()["journal_syncs"] == 1
    assert stats.as_dict()["meta_syncs"] == 1
    reopened = DurableFileJournal(path, SyncStats(), path + ".snapshot")
    assert [reopened[0], reopened[1]] == [(b"\x01first", 1, 1), (b"\x00second", 2, 1)]
    assert reopened.getCurrentTerm() == 5
    assert reopened.getVotedForNodeId() == "127.0.0.1:7001"
    reopened._destroy()


def test_a_corrupt_meta_file_stops_the_node_instead_of_forgetting_the_term(tmp_path):
    path = str(tmp_path / "raft.journal")
    journal = DurableFileJournal(path, SyncStats(), path + ".snapshot")
    journal.setCurrentTerm(5, None)
    journal._destroy()
    pathlib.Path(path + ".meta").write_bytes(b"\x80\x02garbage")
    with pytest.raises(CorruptMetaError):
        DurableFileJournal(path, SyncStats(), path + ".snapshot")


# ----------------------------------------------------------------- RaftLog edges

class _NullMachine:
    def apply_entry(self, index: int, entry: bytes) -> None:
        pass

    def snapshot_bytes(self) -> bytes:
        return b""

    def restore_snapshot(self, data: bytes) -> None:
        pass


def test_a_stopped_log_refuses_without_raising(tmp_path):
    log = RaftLog(settings(data_dir=tmp_path), _NullMachine())
    assert log.propose(b"x", 100).outcome is ProposeOutcome.NOT_APPLIED
    with pytest.raises(TypeError):
        log.propose("text", 100)  # type: ignore[arg-type]
    assert log.status().leader is None


def test_starting_on_a_busy_port_fails_with_a_clear_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        address = f"127.0.0.1:{busy.getsockname()[1]}"
        log = RaftLog(settings(self_address=address, data_dir=tmp_path), _NullMachine())
        with pytest.raises(RuntimeError, match="cannot start raft node"):
            log.start()


def test_a_single_member_commits_alone_and_restarts_with_its_log(tmp_path):
    applied: list[tuple[int, bytes]] = []

    class Machine(_NullMachine):
        def apply_entry(self, index: int, entry: bytes) -> None:
            applied.append((index, entry))

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    single = settings(self_address=address, peer_addresses=(), data_dir=tmp_path)
    log = RaftLog(single, Machine())
    log.start()
    try:
        result = None
        for _ in range(100):
            result = log.propose(b"alone", 1000)
            if result.outcome is ProposeOutcome.COMMITTED:
                break
            time.sleep(0.05)
        assert result is not None and result.outcome is ProposeOutcome.COMMITTED
    finally:
        log.stop()
    assert applied == [(result.index, b"alone")]
    assert log.metrics()["journal_syncs"] >= 1


def test_the_leader_applies_only_entries_its_journal_synced(tmp_path, monkeypatch):
    """The leader syncs its new entries while its followers write theirs, yet counts itself
    (and so commits and applies) only for entries already on disk."""
    synced_up_to = [0]
    unsynced_applies: list[int] = []
    sync = DurableFileJournal.sync

    def recording_sync(journal: DurableFileJournal) -> None:
        sync(journal)
        if len(journal):
            synced_up_to[0] = journal[len(journal) - 1][1]

    monkeypatch.setattr(DurableFileJournal, "sync", recording_sync)

    class Machine(_NullMachine):
        def apply_entry(self, index: int, entry: bytes) -> None:
            if index > synced_up_to[0]:
                unsynced_applies.append(index)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    log = RaftLog(settings(self_address=address, peer_addresses=(), data_dir=tmp_path),
                  Machine())
    log.start()
    try:
        committed = 0
        deadline = time.monotonic() + 30
        while committed < 20 and time.monotonic() < deadline:
            if log.propose(b"entry", 1000).outcome is ProposeOutcome.COMMITTED:
                committed += 1
            else:
                time.sleep(0.05)
    finally:
        log.stop()
    assert committed == 20
    assert synced_up_to[0] >= 20
    assert unsynced_applies == []


def _free_addresses(count: int) -> list[str]:
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [f"127.0.0.1:{probe.getsockname()[1]}" for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def _started_members(tmp_path: pathlib.Path, machines: list) -> list[RaftLog]:
    """One started RaftLog per state machine, all members of one cluster in this process."""
    addresses = _free_addresses(len(machines))
    logs = [RaftLog(settings(self_address=address,
                             peer_addresses=tuple(a for a in addresses if a != address),
                             data_dir=tmp_path / str(number)), machine)
            for number, (address, machine) in enumerate(zip(addresses, machines, strict=True))]
    for log in logs:
        log.start()
    return logs


def _connected_leader(logs: list[RaftLog], deadline: float) -> RaftLog:
    while time.monotonic() < deadline:
        leader = next((log for log in logs if log.status().is_leader
                       and len(log.status().connected_peers) == len(logs) - 1), None)
        if leader is not None:
            return leader
        time.sleep(0.05)
    raise AssertionError("no leader connected to every member")


def test_proposals_queued_together_travel_in_one_append_entries(tmp_path, monkeypatch):
    """Three members in this process; 24 proposals at once: every one commits, the leader
    sends entries queued in the same tick together instead of one message each, and syncs
    its own copy right after sending them (while the followers write theirs)."""
    entries_per_message: list[int] = []
    steps: list[tuple[threading.Thread, str]] = []  # what each tick thread did, in order
    send = HardenedTransport.send
    sync = DurableFileJournal.sync

    def counting_send(transport, node, message):
        if isinstance(message, dict) and message.get("type") == "append_entries" \
                and message.get("entries"):
            entries_per_message.append(len(message["entries"]))
            steps.append((threading.current_thread(), "send entries", message["entries"][-1][1]))
        return send(transport, node, message)

    def recording_sync(journal):
        last_index = journal[-1][1] if len(journal) else 0
        steps.append((threading.current_thread(), "sync" if journal._dirty else "clean",
                      last_index))
        sync(journal)

    received = HardenedTransport._onMessageReceived

    def recording_receive(transport, node, message):
        if isinstance(message, dict) and message.get("type") == "next_node_idx":
            steps.append((threading.current_thread(), "acknowledgement", 0))
        return received(transport, node, message)

    poll = ReplicatedLogNode._poll_until_due

    def recording_poll(node, timeout):
        steps.append((threading.current_thread(), "poll", 0))
        return poll(node, timeout)

    monkeypatch.setattr(HardenedTransport, "send", counting_send)
    monkeypatch.setattr(HardenedTransport, "_onMessageReceived", recording_receive)
    monkeypatch.setattr(DurableFileJournal, "sync", recording_sync)
    monkeypatch.setattr(ReplicatedLogNode, "_poll_until_due", recording_poll)
    logs = _started_members(tmp_path, [_NullMachine() for _ in range(3)])
    try:
        deadline = time.monotonic() + 30
        leader = _connected_leader(logs, deadline)
        assert leader.propose(b"first", 5000).outcome is ProposeOutcome.COMMITTED
        leader_thread = leader._tick_thread
        entries_per_message.clear()
        steps.clear()
        start = threading.Barrier(24)
        outcomes: list[ProposeOutcome] = []

        def propose(number: int) -> None:
            start.wait()
            outcomes.append(leader.propose(b"entry %d" % number, 10_000).outcome)

        threads = [threading.Thread(target=propose, args=(number,)) for number in range(24)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        last = leader.status().commit_index
        while time.monotonic() < deadline and any(log.status().last_applied < last
                                                  for log in logs):
            time.sleep(0.05)
    finally:
        for log in logs:
            log.stop()
    assert outcomes == [ProposeOutcome.COMMITTED] * 24
    assert sum(entries_per_message) >= 2 * 24  # every entry reached both followers
    assert max(entries_per_message) > 1
    assert len(entries_per_message) < 2 * 24
    leader_steps = [(step, index) for thread, step, index in steps
                    if thread.name == "raft-tick" and thread is leader_thread]
    # Whenever the leader sent entries it had not synced yet, its next step (after sending
    # to the other follower) was the sync, before it waited for anything. A heartbeat may
    # resend entries already synced (an acknowledgement still on its way): nothing needs
    # syncing after those.
    synced, after_new_sends = 0, []
    for number, (step, index) in enumerate(leader_steps):
        if step == "sync":
            synced = max(synced, index)
        elif step == "send entries" and index > synced:
            following = [later for later, _ in leader_steps[number + 1:]
                         if later != "send entries"]
            after_new_sends.append(following[0] if following else "nothing")
    assert after_new_sends and set(after_new_sends) == {"sync"}


def _leader_for_notice(heartbeat_due_in_s: float, commit_index: int = 10,
                       forwarded_index: int = 0) -> types.SimpleNamespace:
    now = library.pysyncobj_syncobj.monotonicTime()
    return types.SimpleNamespace(
        _SyncObj__newAppendEntriesTime=now + heartbeat_due_in_s,
        _SyncObj__raftCommitIndex=commit_index, _SyncObj__raftState=2,
        _raftha_just_applied=True, _raftha_commit_notice_due=None,
        _raftha_forwarded_index=forwarded_index)


def test_a_new_commit_index_alone_waits_a_moment_unless_a_heartbeat_or_a_follower_is_due(
        monkeypatch):
    may_delay = ReplicatedLogNode._may_delay_commit_notice
    waiting = _leader_for_notice(0.05)
    assert may_delay(waiting) is True
    due = waiting._raftha_commit_notice_due
    assert due is not None and not waiting._raftha_just_applied
    assert may_delay(waiting) is True and waiting._raftha_commit_notice_due == due
    assert may_delay(_leader_for_notice(-0.01)) is False   # a heartbeat is due: send now
    forwarded = _leader_for_notice(0.05, commit_index=10, forwarded_index=9)
    assert may_delay(forwarded) is False   # a follower waits for its entry
    assert forwarded._raftha_forwarded_index == 0
    assert may_delay(_leader_for_notice(0.05, commit_index=10, forwarded_index=11)) is True
    sent: list[object] = []
    monkeypatch.setattr(library.SyncObj, "_SyncObj__sendAppendEntries",
                        lambda node: sent.append(node))
    waiting._raftha_commit_notice_due = due + 60
    ReplicatedLogNode._send_commit_notice_when_due(waiting)
    assert sent == []
    waiting._raftha_commit_notice_due = due - 1
    ReplicatedLogNode._send_commit_notice_when_due(waiting)
    assert sent == [waiting] and waiting._raftha_commit_notice_due is None


def test_sequential_commits_reach_the_followers_without_one_message_each(tmp_path,
                                                                         monkeypatch):
    """One proposal after another: the commit index travels with the next entries instead
    of a message of its own per commit, and still every follower applies every entry."""
    notices: list[int] = []
    send = HardenedTransport.send

    def counting_send(transport, node, message):
        if isinstance(message, dict) and message.get("type") == "append_entries" \
                and not message.get("entries"):
            notices.append(message.get("commit_index"))
        return send(transport, node, message)

    monkeypatch.setattr(HardenedTransport, "send", counting_send)
    applied: dict[int, list[int]] = {0: [], 1: [], 2: []}

    class Recording(_NullMachine):
        def __init__(self, number: int) -> None:
            self.number = number

        def apply_entry(self, index: int, entry: bytes) -> None:
            applied[self.number].append(index)

    logs = _started_members(tmp_path, [Recording(number) for number in range(3)])
    try:
        deadline = time.monotonic() + 30
        leader = _connected_leader(logs, deadline)
        notices.clear()
        indexes = []
        for number in range(40):
            result = leader.propose(b"entry %d" % number, 10_000)
            assert result.outcome is ProposeOutcome.COMMITTED
            indexes.append(result.index)
        while time.monotonic() < deadline and any(
                not set(indexes) <= set(applied[number]) for number in applied):
            time.sleep(0.02)
    finally:
        for log in logs:
            log.stop()
    assert all(set(indexes) <= set(applied[number]) for number in applied)
    # Without folding: one notice per commit and follower (80), plus heartbeats.
    assert len(notices) < 40


def _node_in_state(state: int, due: float) -> types.SimpleNamespace:
    return types.SimpleNamespace(_SyncObj__raftState=state, _SyncObj__newAppendEntriesTime=due,
                                 _SyncObj__raftElectionDeadline=due)


@pytest.mark.parametrize("state", [0, 1, 2], ids=["follower", "candidate", "leader"])
def test_the_tick_sleeps_until_the_next_heartbeat_or_election_is_due(state):
    now = library.pysyncobj_syncobj.monotonicTime()
    soon = tick_wait_seconds(_node_in_state(state, now + 0.03))
    assert 0.02 < soon <= 0.035
    assert tick_wait_seconds(_node_in_state(state, now + 60)) == MAX_TICK_WAIT_SECONDS
    # Already due and still not done (a follower that reaches nobody): no busy loop.
    assert tick_wait_seconds(_node_in_state(state, now - 1)) == TICK_WAIT_SECONDS


def test_the_tick_wait_is_taken_when_the_tick_sleeps_not_before_it():
    """The wait is measured at the end of the tick (after it sent a heartbeat that was due),
    never longer than the tick allows."""
    now = library.pysyncobj_syncobj.monotonicTime()
    waits: list[float] = []
    node = _node_in_state(2, now + 0.03)
    node._raftha_poll = waits.append
    node._raftha_just_applied, node._raftha_commit_notice_due = False, None
    ReplicatedLogNode._poll_until_due(node, MAX_TICK_WAIT_SECONDS)
    ReplicatedLogNode._poll_until_due(node, 0.0)
    node._raftha_commit_notice_due = now + 0.005   # a commit index to tell soon
    ReplicatedLogNode._poll_until_due(node, MAX_TICK_WAIT_SECONDS)
    assert 0.02 < waits[0] <= 0.035 and waits[1] == 0.0 and waits[2] <= 0.005


def test_status_watchers_hear_a_change_of_role_but_not_commits(tmp_path):
    calls: list[tuple[bool, int]] = []
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    log = RaftLog(settings(self_address=address, peer_addresses=(), data_dir=tmp_path),
                  _NullMachine())
    log.watch_status(lambda: calls.append((log._status.is_leader, log._status.commit_index)))
    log.watch_status(lambda: 1 / 0)   # a failing watcher is logged, the others still run
    log.start()
    try:
        deadline = time.monotonic() + 30
        while not log.status().is_leader and time.monotonic() < deadline:
            time.sleep(0.02)
        assert log.status().is_leader
        committed = [log.propose(b"entry %d" % number, 2000).outcome for number in range(5)]
        assert committed == [ProposeOutcome.COMMITTED] * 5
        time.sleep(0.3)
    finally:
        log.stop()
    assert calls and calls[-1][0] is True   # told when it became leader
    assert len(calls) == len({leader for leader, _ in calls})   # not per commit


@pytest.mark.parametrize("size", [0, 300, 70_000])
def test_frames_stay_zlib_streams_and_only_large_ones_are_deflated(size):
    payload = (b"raftha entry " * (size // 13 + 1))[:size]
    packed = library.pack_frame(payload)
    assert zlib.decompress(packed) == payload
    if size >= library.COMPRESS_FROM_BYTES:
        assert len(packed) < size // 10
    else:
        assert len(packed) >= size  # stored: no time spent deflating


def test_an_unchanged_commit_index_does_not_rewrite_the_meta_file(tmp_path):
    stats = SyncStats()
    path = str(tmp_path / "raft.journal")
    journal = DurableFileJournal(path, stats, path + ".snapshot")
    journal.setRaftCommitIndex(7)
    journal.onOneSecondTimer()
    assert stats.as_dict()["meta_syncs"] == 1
    for _ in range(3):
        journal.setRaftCommitIndex(7)
        journal.onOneSecondTimer()
    assert stats.as_dict()["meta_syncs"] == 1
    journal.setRaftCommitIndex(8)
    journal.onOneSecondTimer()
    assert stats.as_dict()["meta_syncs"] == 2
    journal._destroy()
    reopened = DurableFileJournal(path, SyncStats(), path + ".snapshot")
    assert reopened.getRaftCommitIndex() == 8
    reopened._destroy()


def _fernet_and_sealer(key: bytes = KEY):
    from raftha.raft.sealer import FrameSealer

    fernet = library.derive_fernet(key)
    return fernet, FrameSealer(fernet)


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 31, 32, 33, 300, 5000])
def test_frames_sealed_either_way_open_either_way(size):
    """The frame sealer speaks Fernet's token format: a peer sealing with a plain Fernet
    (an older raftha) and one using the sealer read each other."""
    fernet, sealer = _fernet_and_sealer()
    assert isinstance(library.pysyncobj_syncobj.getEncryptor(KEY), type(sealer))
    data = os.urandom(size)
    assert fernet.extract_timestamp(sealer.encrypt_at_time(data, 77)) == 77
    assert fernet.decrypt(sealer.encrypt_at_time(data, 77)) == data
    token = fernet.encrypt_at_time(data, 88)
    assert sealer.extract_timestamp(token) == 88
    assert sealer.decrypt(token) == data
    other = fernet.encrypt_at_time(b"another frame", 89)
    assert sealer.decrypt(other) == b"another frame"  # not the remembered token


def test_frame_ivs_never_repeat_and_follow_no_visible_pattern():
    """Each sealed frame carries a fresh IV: distinct across frames and across sealers of
    the same key (each counter starts at random), and not the counter in the clear."""
    import base64

    from raftha.raft.sealer import FrameSealer

    fernet, first = _fernet_and_sealer()
    second = FrameSealer(fernet)

    def iv_of(token: bytes) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(token)[9:25], "big")

    ivs = [iv_of(sealer.encrypt_at_time(b"same frame", 1))
           for sealer in (first, second) for _ in range(500)]
    assert len(set(ivs)) == len(ivs)
    steps = {later - earlier for earlier, later in zip(ivs[:499], ivs[1:500], strict=True)}
    assert len(steps) > 400   # a counter in the clear would step by one


def test_a_repeated_frame_is_sent_as_the_same_token_only_within_its_second(monkeypatch):
    fernet, sealer = _fernet_and_sealer()
    _, other_sealer = _fernet_and_sealer()
    pickled: list[object] = []
    real_dumps = library.pysyncobj_pickle.dumps
    monkeypatch.setattr(library.pysyncobj_pickle, "dumps",
                        lambda message: pickled.append(message) or real_dumps(message))
    connection = types.SimpleNamespace()
    heartbeat = {"type": "append_entries", "entries": [], "commit_index": 7}
    first = library.sealed_frame(connection, sealer, heartbeat, 40)
    assert library.sealed_frame(connection, sealer, dict(heartbeat), 40) is first
    assert pickled == [heartbeat]   # an equal message is not even pickled again
    assert pickle.loads(zlib.decompress(fernet.decrypt(first))) == heartbeat   # a valid token
    changed_message = dict(heartbeat, commit_index=8)
    changed = library.sealed_frame(connection, sealer, changed_message, 40)
    later = library.sealed_frame(connection, sealer, changed_message, 41)
    rotated = library.sealed_frame(connection, other_sealer, changed_message, 41)
    tokens = [first, changed, later, rotated]
    assert len(set(tokens)) == 4
    assert pickle.loads(zlib.decompress(fernet.decrypt(changed))) == changed_message
    assert fernet.extract_timestamp(later) == 41
    elsewhere = library.sealed_frame(types.SimpleNamespace(), sealer, heartbeat, 40)
    assert elsewhere != first   # per connection


def test_a_damaged_or_foreign_frame_is_refused():
    import base64

    from cryptography.fernet import InvalidToken, MultiFernet
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    fernet, sealer = _fernet_and_sealer()
    token = sealer.encrypt_at_time(b"entry", 5)
    raw = bytearray(base64.urlsafe_b64decode(token))
    damaged = []
    for position in (0, 3, 12, 30, len(raw) - 1):  # version, time, IV, ciphertext, MAC
        flipped = bytearray(raw)
        flipped[position] ^= 0x01
        damaged.append(base64.urlsafe_b64encode(bytes(flipped)))
    damaged += [b"not base64 !", base64.urlsafe_b64encode(bytes(raw[:40])), b""]
    _, stranger = _fernet_and_sealer(b"s" * 32)
    damaged.append(stranger.encrypt_at_time(b"entry", 5))
    for bad in damaged:
        with pytest.raises(InvalidToken):
            sealer.extract_timestamp(bad)
        with pytest.raises(InvalidToken):
            sealer.decrypt(bad)
    # A correctly signed frame whose padding is wrong is refused too.
    iv = os.urandom(16)
    encryptor = Cipher(algorithms.AES(fernet._encryption_key), modes.CBC(iv)).encryptor()
    body = b"\x80" + (5).to_bytes(8, "big") + iv + encryptor.update(b"\x00" * 16) \
        + encryptor.finalize()
    import hmac
    signed = base64.urlsafe_b64encode(body + hmac.digest(fernet._signing_key, body,
                                                         "sha256"))
    with pytest.raises(InvalidToken):
        sealer.decrypt(signed)
    # During a key rotation the next key is tried.
    assert MultiFernet([stranger, sealer]).decrypt(token) == b"entry"


def test_the_version_pin_refuses_another_pysyncobj(monkeypatch):
    monkeypatch.setattr(library.pysyncobj_version, "VERSION", "0.3.16")
    with pytest.raises(ImportError, match="0.3.17"):
        library._check_version()


def test_compaction_replaces_the_journal_atomically(tmp_path, monkeypatch):
    path = str(tmp_path / "raft.journal")
    (tmp_path / "raft.snapshot").write_bytes(b"snapshot")
    journal = DurableFileJournal(path, SyncStats(), str(tmp_path / "raft.snapshot"))
    entries = [(b"\x00entry-%d" % number, number + 1, 1) for number in range(10)]
    for entry in entries:
        journal.add(*entry)
    journal.sync()
    journal.deleteEntriesTo(6)
    journal.add(b"\x00after", 11, 2)
    journal.sync()
    assert [journal[i] for i in range(len(journal))] == entries[6:] + [(b"\x00after", 11, 2)]
    journal._destroy()
    reopened = DurableFileJournal(path, SyncStats(), str(tmp_path / "raft.snapshot"))
    assert [reopened[i] for i in range(len(reopened))] == entries[6:] + [(b"\x00after", 11, 2)]

    def crash(*_arguments):
        raise OSError("crashed before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        reopened.deleteEntriesTo(2)
    survivor = DurableFileJournal(path, SyncStats(), str(tmp_path / "raft.snapshot"))
    assert len(survivor) == 5  # a crash mid-compaction leaves the whole old journal
    survivor._destroy()


def _bare_transport(journal: object, fallback_s: float = 1.0) -> HardenedTransport:
    """A HardenedTransport without sockets, owned by a stand-in for the node."""

    class Owner:
        _SyncObj__raftLog = journal
        conf = types.SimpleNamespace(leaderFallbackTimeout=fallback_s)

    transport = object.__new__(HardenedTransport)
    transport._syncObj = Owner()
    transport._held, transport._held_peers = [], set()
    transport._last_acknowledgement = {}
    return transport


def test_an_unchanged_acknowledgement_is_repeated_only_a_few_times_per_fallback(monkeypatch):
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(library.pysyncobj_transport.TCPTransport, "send",
                        lambda self, node, message: sent.append((node, message)) or True)
    clock = [100.0]
    monkeypatch.setattr(library.pysyncobj_syncobj, "monotonicTime", lambda: clock[0])
    transport = _bare_transport(None, fallback_s=1.0)

    def acknowledge(node: str, next_index: int, success: bool = True) -> None:
        transport.send(node, {"type": "next_node_idx", "next_node_idx": next_index,
                              "success": success, "reset": False})
        transport.flush_acknowledgements()

    for _ in range(7):  # heartbeats 90 ms apart, nothing new to say
        acknowledge("leader", 7)
        clock[0] += 0.09
    assert [message["next_node_idx"] for _, message in sent] == [7, 7]  # at 0 and 0.54 s
    acknowledge("leader", 8)  # a new index always goes out
    acknowledge("other", 8)  # per peer
    acknowledge("leader", 8, success=False)  # and so does a failure
    assert [(node, message["next_node_idx"], message["success"]) for node, message in
            sent[2:]] == [("leader", 8, True), ("other", 8, True), ("leader", 8, False)]
    clock[0] += 0.1
    acknowledge("leader", 8)
    assert len(sent) == 5
    clock[0] += 0.35
    acknowledge("leader", 8)
    assert len(sent) == 5   # 0.45 s: still under half the fallback timeout
    clock[0] += 0.06   # over half the fallback timeout after the last one
    acknowledge("leader", 8)
    assert len(sent) == 6
    monkeypatch.setattr(library.pysyncobj_transport.TCPTransport, "_onNodeConnected",
                        lambda self, node: None)
    transport._onNodeConnected("leader")  # the last one may have died with the old link
    acknowledge("leader", 8)
    assert len(sent) == 7


def test_acknowledgements_wait_for_the_journal_sync_and_links_stay_fifo(tmp_path, monkeypatch):
    events: list[tuple[str, str, object]] = []
    journal = DurableFileJournal(str(tmp_path / "raft.journal"), SyncStats(),
                                 str(tmp_path / "raft.snapshot"))
    monkeypatch.setattr(journal, "sync", lambda: events.append(("sync", "", None)))
    monkeypatch.setattr(library.pysyncobj_transport.TCPTransport, "send",
                        lambda self, node, message: events.append(("send", node, message))
                        or True)

    transport = _bare_transport(journal)
    ack = {"type": "next_node_idx", "next_node_idx": 5, "success": True, "reset": False}
    vote = {"type": "response_vote", "term": 3}
    entries = {"type": "append_entries", "term": 2}
    transport.send("leader", ack)
    transport.send("leader", vote)   # queued behind the held acknowledgement
    transport.send("other", entries)  # replication never waits for our disk
    assert events == [("send", "other", entries)]
    transport.flush_acknowledgements()
    assert events[1:] == [("sync", "", None), ("send", "leader", ack), ("send", "leader", vote)]
    transport.send("leader", vote)
    assert events[-1] == ("send", "leader", vote)
    journal._destroy()


class _Connection:
    def __init__(self) -> None:
        self.sendRandKey = b"key"
        self.disconnected = False

    def disconnect(self) -> None:
        self.disconnected = True


@pytest.mark.parametrize("first_message", [["status"], ["transfer", None], "readonly", 42],
                         ids=["admin-status", "admin-transfer", "read-only-replica", "junk"])
def test_only_members_may_open_a_raft_connection(first_message):
    class Owner:
        encryptor = object()

    transport = object.__new__(HardenedTransport)
    transport._syncObj = Owner()
    transport._unknownConnections = set()
    connection = _Connection()
    transport._unknownConnections.add(connection)
    transport._onIncomingMessageReceived(connection, first_message)
    assert connection.disconnected
    assert connection not in transport._unknownConnections


def test_the_log_keeps_running_after_the_thread_that_started_it_exits(tmp_path):
    """pysyncobj's own tick thread quits when the constructing thread exits; ours does not."""
    applied: list[bytes] = []

    class Machine(_NullMachine):
        def apply_entry(self, index: int, entry: bytes) -> None:
            applied.append(entry)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    log = RaftLog(settings(self_address=address, peer_addresses=(), data_dir=tmp_path),
                  Machine())
    starter = threading.Thread(target=log.start)
    starter.start()
    starter.join()
    try:
        time.sleep(0.3)
        result = None
        for _ in range(100):
            result = log.propose(b"later", 1000)
            if result.outcome is ProposeOutcome.COMMITTED:
                break
            time.sleep(0.05)
        assert result is not None and result.outcome is ProposeOutcome.COMMITTED
        assert applied == [b"later"]
    finally:
        log.stop()


def test_callbacks_the_library_will_never_call_are_pruned():
    def callback(deadline):
        return guarded(lambda result, code: None, deadline)

    live, stale, unmarked = callback(200.0), callback(50.0), callback(None)
    node = types.SimpleNamespace(raftLastApplied=10)
    node._SyncObj__commandsWaitingCommit = {
        8: [(1, live)],                      # index skipped by a snapshot: never called
        12: [(2, live), (2, stale)],         # caller of `stale` gave up long ago
        13: [(2, unmarked)],
    }
    node._SyncObj__commandsWaitingReply = {1: live, 2: stale, 3: unmarked}
    assert prune_abandoned_callbacks(node, now=100.0) == 3
    assert node._SyncObj__commandsWaitingCommit == {12: [(2, live)], 13: [(2, unmarked)]}
    assert node._SyncObj__commandsWaitingReply == {1: live, 3: unmarked}


def test_a_compaction_cut_short_by_a_crash_is_finished_without_losing_later_entries(tmp_path):
    """The snapshot was renamed into place but the journal not yet truncated: pysyncobj
    would clear the whole journal; the entries after the snapshot must survive."""
    path = str(tmp_path / "raft.journal")
    snapshot_path = tmp_path / "raft.snapshot"
    journal = DurableFileJournal(path, SyncStats(), str(snapshot_path))
    entries = [(b"\x00entry-%d" % number, number + 1, 1) for number in range(10)]
    for entry in entries:
        journal.add(*entry)
    journal.sync()
    journal._destroy()
    snapshot_path.write_bytes(encode_snapshot(b"state", entries[6], entries[5], []))
    reopened = DurableFileJournal(path, SyncStats(), str(snapshot_path))
    assert [reopened[i] for i in range(len(reopened))] == entries[5:]
    reopened._destroy()


def test_a_journal_unrelated_to_the_snapshot_is_left_alone(tmp_path):
    path = str(tmp_path / "raft.journal")
    snapshot_path = tmp_path / "raft.snapshot"
    journal = DurableFileJournal(path, SyncStats(), str(snapshot_path))
    entries = [(b"\x00entry-%d" % number, number + 1, 1) for number in range(5)]
    for entry in entries:
        journal.add(*entry)
    journal.sync()
    journal._destroy()
    snapshot_path.write_bytes(encode_snapshot(b"state", (b"\x00other", 41, 3),
                                              (b"\x00other", 40, 3), []))
    reopened = DurableFileJournal(path, SyncStats(), str(snapshot_path))
    assert len(reopened) == 5
    reopened._destroy()


def _log(*terms: int, first: int = 1) -> list[tuple[bytes, int, int]]:
    return [(b"\x00e%d" % (first + n), first + n, term) for n, term in enumerate(terms)]


def _append(previous: int, previous_term: int, term: int, entries) -> dict:
    return {"type": "append_entries", "term": term, "commit_index": 0,
            "prevLogIdx": previous, "prevLogTerm": previous_term, "entries": entries}


def test_a_resend_from_an_older_position_only_appends_what_is_new():
    held = _log(1, 2, 2, 2, 2)                      # indexes 1..5
    leader = _log(1, 2, 2, 2, 2, 2, 2)              # indexes 1..7
    trimmed = skip_entries_already_held(_append(2, 2, 2, leader[2:]), held)
    assert (trimmed["prevLogIdx"], trimmed["prevLogTerm"]) == (5, 2)
    assert trimmed["entries"] == leader[5:]


def test_a_heartbeat_from_the_leader_of_our_last_entry_does_not_cut_the_log():
    held = _log(1, 2, 3, 3)
    trimmed = skip_entries_already_held(_append(2, 2, 3, []), held)
    assert (trimmed["prevLogIdx"], trimmed["entries"]) == (4, [])


@pytest.mark.parametrize(("held", "message"), [
    (_log(1, 2, 2), _append(3, 2, 2, _log(2, first=4))),            # plain append at the end
    (_log(1, 2, 2, 2), _append(2, 2, 3, _log(3, 3, first=3))),       # conflict: term 3 vs 2
    (_log(1, 2, 2, 2), _append(2, 2, 3, [])),                         # old-term tail, heartbeat
    (_log(1, 2, 2, 2), _append(2, 5, 5, [])),                         # previous entry differs
    (_log(2, 2, 2, first=10), _append(5, 1, 2, [])),                  # before our first entry
    (_log(1, 2, 2, 2), {**_append(2, 2, 2, []), "transmission": "start"}),
], ids=["append-at-end", "conflict", "old-term-tail", "previous-mismatch", "compacted",
        "chunked"])
def test_messages_that_may_need_a_cut_are_left_to_the_library(held, message):
    assert skip_entries_already_held(message, held) is message
