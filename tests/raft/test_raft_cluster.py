"""Real-process tests of RaftLog: three members on loopback, kill -9, restarts.

Each test reproduces a hazard measured in the pysyncobj research and fails without the
corresponding hardening (see the docstring of each test).
"""

from __future__ import annotations

import pathlib
import pickle
import socket
import struct
import threading
import time
import zlib

import pytest
from raftnode_harness import RaftCluster

ENTRIES_TIMEOUT_S = 30.0


def wait_entries(cluster: RaftCluster, address: str, count: int,
                 timeout_s: float = ENTRIES_TIMEOUT_S) -> dict:
    def enough() -> dict | None:
        applied = cluster.applied(address)
        return applied if len(applied["entries"]) >= count else None
    return cluster.wait_for(enough, timeout_s, f"{count} entries applied on {address}")


def entry_texts(applied: dict) -> list[str]:
    return [entry for _, entry in applied["entries"]]


def test_members_elect_and_apply_the_same_entries_in_the_same_order(raft_cluster):
    cluster = raft_cluster(3).start()
    leader = cluster.wait_leader()
    follower = next(address for address in cluster.addresses if address != leader)
    indexes = []
    for number in range(10):
        proposer = leader if number % 2 == 0 else follower
        result = cluster.propose(proposer, f"entry-{number}")
        assert result["outcome"] == "COMMITTED", result
        indexes.append(result["index"])
    assert indexes == sorted(indexes) and len(set(indexes)) == 10
    views = [wait_entries(cluster, address, 10) for address in cluster.addresses]
    assert all(view["entries"] == views[0]["entries"] for view in views)
    assert [index for index, _ in views[0]["entries"]] == indexes
    assert entry_texts(views[0]) == [f"entry-{number}" for number in range(10)]


def test_raising_apply_neither_wedges_nor_double_applies(raft_cluster):
    """Unwrapped, an apply that raises is retried every tick on every node: the cluster
    wedges. Wrapped, it is counted once and the log moves on."""
    cluster = raft_cluster(3, extra_args={-1: ["--poison", "poison"]}).start()
    cluster.wait_leader()
    for entry in ("before", "poison", "after-1", "after-2"):
        assert cluster.propose_committed(entry)["outcome"] == "COMMITTED"
    for address in cluster.addresses:
        applied = wait_entries(cluster, address, 4)
        assert entry_texts(applied) == ["before", "poison", "after-1", "after-2"]
        assert set(applied["apply_calls"].values()) == {1}
        metrics = cluster.node(address).request("metrics")["metrics"]
        assert metrics["apply_errors"] == 1
        assert cluster.node(address).alive()


def test_raising_answer_handoff_does_not_double_apply(raft_cluster):
    """A callback that raises makes pysyncobj apply the entry again on the proposing node.
    Here the hand-off to the waiting caller raises after storing the answer."""
    cluster = raft_cluster(3, extra_args={-1: ["--raise-in-delivery"]}).start()
    leader = cluster.wait_leader()
    follower = next(address for address in cluster.addresses if address != leader)
    assert cluster.propose(leader, "from-leader")["outcome"] == "COMMITTED"
    assert cluster.propose(follower, "from-follower")["outcome"] == "COMMITTED"
    for address in cluster.addresses:
        applied = wait_entries(cluster, address, 2)
        assert entry_texts(applied) == ["from-leader", "from-follower"]
        assert set(applied["apply_calls"].values()) == {1}
        assert cluster.node(address).alive(), cluster.node(address).stderr_tail()


def test_restarted_member_replays_its_own_journal(raft_cluster):
    """With an in-memory log a restarted node forgets everything; with the journal it
    replays its committed entries even when it is alone."""
    cluster = raft_cluster(3).start()
    cluster.wait_leader()
    for number in range(10):
        cluster.propose_committed(f"kept-{number}")
    survivor = cluster.addresses[2]
    before = wait_entries(cluster, survivor, 10)
    time.sleep(2.0)  # the commit index reaches the meta file within a second
    for address in cluster.addresses:
        cluster.kill(address)
    cluster.restart(survivor)
    after = wait_entries(cluster, survivor, 10)
    assert after["entries"] == before["entries"]
    assert cluster.node(survivor).status()["leader"] is None


def test_restarting_every_member_keeps_committed_entries(raft_cluster):
    cluster = raft_cluster(3).start()
    cluster.wait_leader()
    for number in range(10):
        cluster.propose_committed(f"durable-{number}")
    before = wait_entries(cluster, cluster.addresses[0], 10)["entries"]
    for address in cluster.addresses:
        cluster.kill(address)
    cluster.start()
    cluster.wait_leader()
    cluster.propose_committed("after-restart")
    for address in cluster.addresses:
        applied = wait_entries(cluster, address, 11)
        assert applied["entries"][:10] == before
        assert entry_texts(applied)[10] == "after-restart"


def test_member_with_a_wrong_authkey_never_joins(raft_cluster):
    cluster = raft_cluster(3, authkeys={2: b"w" * 32}).start()
    good = cluster.addresses[:2]
    intruder = cluster.addresses[2]
    cluster.wait_leader(among=good)
    cluster.propose_committed("with-the-right-key", among=good)
    terms_before = {address: cluster.node(address).status()["term"] for address in good}
    time.sleep(3.0)
    for address in good:
        status = cluster.node(address).status()
        assert status["term"] == terms_before[address]
        assert intruder not in status["connected_peers"]
    intruder_status = cluster.node(intruder).status()
    assert intruder_status["leader"] is None
    assert intruder_status["connected_peers"] == []
    assert intruder_status["term"] == 0
    assert cluster.applied(intruder)["entries"] == []


def test_killing_the_leader_elects_another_and_writes_continue(raft_cluster):
    """Followers ping each other, so their idle link is alive when the first vote after a
    leader crash travels over it."""
    cluster = raft_cluster(3).start()
    old_leader = cluster.wait_leader()
    cluster.propose_committed("before-failover")
    time.sleep(2.5)  # longer than the connection timeout: links between followers are idle
    followers = [address for address in cluster.addresses if address != old_leader]

    def pings_seen() -> dict[str, dict[str, int]]:
        return {address: cluster.node(address).request("metrics")["metrics"]["pings_received"]
                for address in cluster.addresses}

    before = pings_seen()
    for follower in followers:
        other = next(address for address in followers if address != follower)
        assert before[follower].get(other, 0) > 0, before
    time.sleep(1.5)  # three ping periods
    after = pings_seen()
    if cluster.node(old_leader).status()["is_leader"]:
        # Links to and from the leader carry heartbeats: nobody pings over them.
        assert after[old_leader] == before[old_leader], (before, after)
        for follower in followers:
            assert after[follower].get(old_leader) == before[follower].get(old_leader)
            other = next(address for address in followers if address != follower)
            assert after[follower][other] > before[follower][other]
    cluster.kill(old_leader)
    killed_at = time.monotonic()
    new_leader = cluster.wait_leader(timeout_s=10.0, among=followers)
    elapsed_s = time.monotonic() - killed_at
    print(f"new leader after {elapsed_s:.2f} s")
    assert new_leader != old_leader
    assert cluster.propose_committed("after-failover")["outcome"] == "COMMITTED"


def test_a_member_without_quorum_refuses_proposals(raft_cluster):
    cluster = raft_cluster(3).start()
    leader = cluster.wait_leader()
    cluster.propose_committed("with-quorum")
    for address in cluster.addresses:
        if address != leader:
            cluster.kill(address)

    def refused() -> dict | None:
        result = cluster.propose(leader, "without-quorum", timeout_ms=500)
        assert result["outcome"] != "COMMITTED", result
        return result if result["outcome"] == "NOT_APPLIED" else None

    result = cluster.wait_for(refused, 10.0, "a NOT_APPLIED answer")
    assert "quorum" in result["reason"]
    for _ in range(5):
        assert cluster.propose(leader, "still-without", timeout_ms=500)["outcome"] == \
            "NOT_APPLIED"
    cluster.wait_for(lambda: not cluster.node(leader).status()["is_leader"], 10.0,
                     "the isolated leader to step down")
    assert entry_texts(cluster.applied(leader)) == ["with-quorum"]


def test_lagging_member_catches_up_from_a_msgpack_snapshot(raft_cluster):
    cluster = raft_cluster(3, extra_args={-1: ["--compaction-entries", "20"]}).start()
    cluster.wait_leader()
    cluster.propose_committed("first")
    lagging = next(address for address in cluster.addresses
                   if address != cluster.current_leader())
    cluster.kill(lagging)
    for number in range(60):
        cluster.propose_committed(f"while-away-{number}")
    cluster.restart(lagging)
    leader = cluster.wait_leader()
    expected = wait_entries(cluster, leader, 61)["entries"]
    caught_up = wait_entries(cluster, lagging, 61)
    assert caught_up["entries"] == expected
    assert caught_up["restores"] >= 1
    for node in cluster.nodes.values():
        assert "refused to unpickle" not in node.stderr_text()


class _MarkerPayload:
    """Unpickling this creates a marker file (stands in for arbitrary code execution)."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


def send_raw_frames(address: str, frames: list[bytes]) -> None:
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=3) as connection:
        for frame in frames:
            try:
                connection.sendall(frame)
            except OSError:
                return
        time.sleep(0.3)


def test_crafted_pickle_frames_from_a_non_member_run_nothing(raft_cluster, tmp_path):
    """Without authentication one such frame runs code inside pysyncobj (reproduced in the
    research). With the authkey the frame is refused before it is unpickled."""
    cluster = raft_cluster(3).start()
    cluster.wait_leader()
    marker = tmp_path / "marker"
    body = zlib.compress(pickle.dumps(_MarkerPayload(marker), 2), 3)
    frame = struct.pack("i", len(body)) + body
    admin = zlib.compress(pickle.dumps(["status"], 2), 3)
    admin_frame = struct.pack("i", len(admin)) + admin
    for address in cluster.addresses:
        send_raw_frames(address, [frame])
        send_raw_frames(address, [admin_frame, frame])
        send_raw_frames(address, [struct.pack("i", 32) + b"k" * 32, frame])
    time.sleep(0.5)
    assert not marker.exists()
    assert all(cluster.node(address).alive() for address in cluster.addresses)
    assert cluster.propose_committed("after-attack")["outcome"] == "COMMITTED"


def test_a_member_is_added_catches_up_and_is_removed(raft_cluster):
    cluster = raft_cluster(4, initial_members=3).start()
    joiner = cluster.addresses[3]
    leader = cluster.wait_leader()
    for number in range(5):
        cluster.propose_committed(f"before-join-{number}")
    added = cluster.node(leader).request("add_member", address=joiner, timeout_ms=5000)
    assert added["outcome"] == "COMMITTED", added
    cluster.restart(joiner)
    applied = wait_entries(cluster, joiner, 5)
    assert entry_texts(applied) == [f"before-join-{number}" for number in range(5)]
    cluster.wait_for(lambda: all(len(status["members"]) == 4 for status in
                                 cluster.statuses().values() if status), 20.0, "4 members")
    cluster.propose_committed("with-four")
    leader = cluster.wait_leader()
    if leader == joiner:
        pytest.skip("the joiner became leader; a leader cannot remove itself")
    removed = cluster.node(leader).request("remove_member", address=joiner, timeout_ms=5000)
    assert removed["outcome"] == "COMMITTED", removed
    cluster.kill(joiner)
    founders = cluster.addresses[:3]
    cluster.wait_for(lambda: all(len(status["members"]) == 3 for status in
                                 cluster.statuses(founders).values() if status),
                     20.0, "3 members")
    assert cluster.propose_committed("after-removal", among=founders)["outcome"] == "COMMITTED"
    for node in cluster.nodes.values():
        assert "refused to unpickle" not in node.stderr_text()


def wait_exit(cluster: RaftCluster, address: str, timeout_s: float = 20.0) -> int:
    node = cluster.node(address)
    cluster.wait_for(lambda: not node.alive(), timeout_s, f"{address} to stop")
    return node.process.returncode


def test_a_failing_tick_stops_the_process_and_the_others_carry_on(raft_cluster):
    cluster = raft_cluster(3, extra_args={0: ["--fail-tick-after-s", "2"]}).start()
    cluster.wait_leader()
    broken = cluster.addresses[0]
    assert wait_exit(cluster, broken) == 70
    assert "fatal raft error" in cluster.node(broken).stderr_text()
    others = cluster.addresses[1:]
    assert cluster.propose_committed("still-working", among=others)["outcome"] == "COMMITTED"


def test_a_corrupt_snapshot_stops_the_node_instead_of_starting_empty(raft_cluster):
    cluster = raft_cluster(3, extra_args={-1: ["--compaction-entries", "20"]}).start()
    cluster.wait_leader()
    for number in range(45):
        cluster.propose_committed(f"entry-{number}")
    victim = next(a for a in cluster.addresses if a != cluster.current_leader())
    snapshot = cluster.node(victim).data_dir / "raft.snapshot"
    cluster.wait_for(snapshot.exists, 20.0, "a snapshot on the follower")
    cluster.kill(victim)
    damaged = bytearray(snapshot.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    snapshot.write_bytes(bytes(damaged))
    try:
        cluster.restart(victim)
    except Exception:
        pass  # it may die before it answers
    assert wait_exit(cluster, victim) == 70
    assert "cannot load raft snapshot" in cluster.node(victim).stderr_text()


def test_a_deposed_leader_never_reports_a_false_outcome(raft_cluster):
    """A frozen leader is replaced; a proposal made to it as it wakes up (believing it still
    leads) must end COMMITTED only if the entry is in everybody's log, NOT_APPLIED only if
    it is in nobody's."""
    cluster = raft_cluster(3).start()
    old_leader = cluster.wait_leader()
    cluster.propose_committed("base")
    others = [address for address in cluster.addresses if address != old_leader]
    answer: dict = {}
    cluster.node(old_leader).pause()
    try:
        cluster.wait_leader(timeout_s=15.0, among=others)
        for number in range(3):
            cluster.propose_committed(f"new-term-{number}", among=others)
        proposer = threading.Thread(target=lambda: answer.update(
            cluster.propose(old_leader, "from-deposed", timeout_ms=3000)))
        proposer.start()
        time.sleep(0.3)
    finally:
        cluster.node(old_leader).resume()
    proposer.join(30.0)
    assert answer.get("outcome") in ("COMMITTED", "NOT_APPLIED", "UNKNOWN"), answer
    cluster.propose_committed("after-resume")
    reference = entry_texts(wait_entries(cluster, cluster.wait_leader(), 5))
    for address in cluster.addresses:
        cluster.wait_for(lambda a=address: entry_texts(cluster.applied(a)) == reference,
                         20.0, f"{address} to converge")
    copies = reference.count("from-deposed")
    expected_copies = {"COMMITTED": {1}, "NOT_APPLIED": {0}, "UNKNOWN": {0, 1}}
    print(f"deposed leader answered {answer}")
    assert copies in expected_copies[answer["outcome"]], (answer, reference)


def test_an_oversized_frame_announcement_is_cut_off(raft_cluster):
    """Unbounded, the library keeps buffering up to 2 GiB from anyone before authenticating
    (and keeps the connection open); bounded, it hangs up as soon as it reads the length."""
    cluster = raft_cluster(3).start()
    cluster.wait_leader()
    host, port = cluster.addresses[0].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=3) as connection:
        try:
            connection.sendall(struct.pack("i", 2**31 - 1) + b"\0" * (1024 * 1024))
        except OSError:
            pass
        connection.settimeout(10.0)
        try:
            closed = connection.recv(1) == b""
        except ConnectionResetError:
            closed = True
        except TimeoutError:
            closed = False
    assert closed, "the node kept the oversized frame's connection open"
    assert cluster.node(cluster.addresses[0]).alive()
    assert cluster.propose_committed("after-flood")["outcome"] == "COMMITTED"


def test_pipelined_proposals_never_truncate_applied_entries(raft_cluster):
    """pysyncobj lowers a follower's next index on every late acknowledgement and then
    resends older entries, which makes the follower cut (and re-append) entries it already
    applied. The leader keeps its next index from going backwards on a success."""
    cluster = raft_cluster(3).start()
    leader = cluster.wait_leader()
    answer = cluster.node(leader).request("bench", 120.0, n=1500, size=200, threads=32)
    assert answer["outcomes"] == {"COMMITTED": 1500}, answer
    for address in cluster.addresses:
        wait_entries(cluster, address, 1500)
    for node in cluster.nodes.values():
        assert "truncating already-applied" not in node.stderr_text()


def test_entries_after_a_snapshot_survive_a_crash_in_the_middle_of_compaction(raft_cluster):
    """On disk: a new snapshot, and a journal not yet cut to it (a crash between the two
    steps). pysyncobj then clears the whole journal on restart and forgets every entry after
    the snapshot; finishing the cut first keeps them."""
    cluster = raft_cluster(3, extra_args={-1: ["--compaction-entries", "20"],
                                          2: ["--compaction-entries", "20",
                                              "--stall-compaction"]}).start()
    cluster.wait_leader()
    for number in range(60):
        cluster.propose_committed(f"entry-{number}")
    stalled = cluster.addresses[2]
    expected = wait_entries(cluster, stalled, 60)["entries"]
    assert (cluster.node(stalled).data_dir / "raft.snapshot").exists()
    time.sleep(2.0)  # the commit index reaches the meta file within a second
    for address in cluster.addresses:
        cluster.kill(address)
    cluster.restart(stalled)  # alone: it can only replay what its own disk holds
    replayed = wait_entries(cluster, stalled, 60, timeout_s=15.0)
    assert replayed["entries"] == expected
