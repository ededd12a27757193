"""Long randomized fault run of the real Raft layer (marked slow).

Three clients propose unique entries to random members (log compaction every 300 entries)
while a nemesis kills (-9) and restarts members, kills the leader, or freezes a member
(SIGSTOP), one fault at a time, so a majority always survives. Afterwards every member must
hold the same log, in which every entry answered COMMITTED appears exactly once at the index
it was given, every entry answered NOT_APPLIED is absent, and every UNKNOWN entry appears at
most once.
"""

from __future__ import annotations

import os
import random
import threading
import time

import pytest
from raftnode_harness import NodeDied

RUN_SECONDS = float(os.environ.get("RAFTHA_RAFT_FAULT_RUN_S", "45"))


def client(cluster, number: int, stop: threading.Event, answers: list, seed: int) -> None:
    chooser = random.Random(seed + number)
    sequence = 0
    while not stop.is_set():
        sequence += 1
        entry = f"client{number}-{sequence}"
        address = chooser.choice(cluster.addresses)
        try:
            answer = cluster.propose(address, entry, timeout_ms=1000)
        except (NodeDied, TimeoutError) as error:
            answer = {"outcome": "UNKNOWN", "index": None, "reason": repr(error)}
            time.sleep(0.1)
        answers.append((entry, answer))


def nemesis(cluster, stop: threading.Event, chooser: random.Random, log: list) -> None:
    while not stop.wait(chooser.uniform(1.5, 3.0)):
        action = chooser.choice(["kill", "kill-leader", "pause"])
        target = chooser.choice(cluster.addresses)
        if action == "kill-leader":
            target = cluster.current_leader() or target
        log.append((time.strftime("%H:%M:%S"), action, target))
        if action == "pause":
            cluster.node(target).pause()
            time.sleep(chooser.uniform(0.5, 2.0))
            cluster.node(target).resume()
        else:
            cluster.kill(target)
            time.sleep(chooser.uniform(0.5, 2.0))
            cluster.restart(target)


@pytest.mark.slow
def test_outcomes_match_the_final_log_under_crashes_and_pauses(raft_cluster):
    seed = int(os.environ.get("RAFTHA_RAFT_FAULT_SEED", str(random.randrange(1 << 30))))
    print(f"seed {seed}")
    # Frequent compaction, so snapshots are taken and shipped while members crash.
    cluster = raft_cluster(3, extra_args={-1: ["--compaction-entries", "300",
                                               "--trace-truncation"]}).start()
    cluster.wait_leader()
    stop = threading.Event()
    answers: list = []
    faults: list = []
    threads = [threading.Thread(target=client, args=(cluster, n, stop, answers, seed))
               for n in range(3)]
    threads.append(threading.Thread(target=nemesis,
                                    args=(cluster, stop, random.Random(seed), faults)))
    for thread in threads:
        thread.start()
    try:
        time.sleep(RUN_SECONDS)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60.0)
        for node in cluster.nodes.values():
            node.resume()
    for address in cluster.addresses:
        if not cluster.node(address).alive():
            cluster.restart(address)
    cluster.propose_committed("final", timeout_s=60.0)
    leader = cluster.wait_leader(timeout_s=60.0)

    def converged():
        logs = [cluster.applied(address)["entries"] for address in cluster.addresses]
        final = [entries for entries in logs if entries and entries[-1][1] == "final"]
        return logs[0] if len(final) == 3 and all(e == logs[0] for e in logs) else None

    final_log = cluster.wait_for(converged, 60.0, "every member to hold the same log")
    positions: dict[str, list[int]] = {}
    for index, entry in final_log:
        positions.setdefault(entry, []).append(index)
    counts = {"COMMITTED": 0, "NOT_APPLIED": 0, "UNKNOWN": 0}
    for entry, answer in answers:
        outcome = answer["outcome"]
        counts[outcome] += 1
        found = positions.get(entry, [])
        if outcome == "COMMITTED":
            assert found == [answer["index"]], (entry, answer, found)
        elif outcome == "NOT_APPLIED":
            assert found == [], (entry, answer, found)
        else:
            assert len(found) <= 1, (entry, answer, found)
    print(f"outcomes {counts}; faults {len(faults)}; leader {leader}")
    assert counts["COMMITTED"] > 0 and faults
    print("faults", faults)
    for node in cluster.nodes.values():
        for line in node.stderr_text().splitlines():
            if "truncat" in line or "DIVERGED" in line:
                print(node.address, line)
        # Applied entries are committed: never replaced by another term's entries.
        assert "DIVERGED" not in node.stderr_text()
        assert "truncating already-applied" not in node.stderr_text()
        assert "refused to unpickle" not in node.stderr_text()
