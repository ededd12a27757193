"""Benchmark of the raw Raft layer (RaftLog over hardened pysyncobj); prints numbers only.

Three real node processes on 127.0.0.1 (tests/raft/raft_node.py), authkey set, fsync on.
Measures: time to first leader, commit latency p50/p99 through RaftLog.propose (from the
leader and from a follower), sequential and concurrent throughput (32 proposals in flight
shows the group commit of journal syncs), the same with syncs disabled as a baseline,
failover after kill -9 of the leader (median of --failovers runs; elections needed), idle
CPU and RSS per node over --idle-s seconds, and the cost of the journal fsync (in-process
micro-benchmark and the nodes' own counters).

usage: python3 tests/bench/bench_raft.py [--runs 5] [--failovers 7] [--idle-s 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import sys
import tempfile
import threading
import time

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPOSITORY))
sys.path.insert(0, str(REPOSITORY / "tests" / "raft"))

from raftnode_harness import RaftCluster  # noqa: E402

from raftha.raft.durability import DurableFileJournal, SyncStats  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def start_parallel(cluster: RaftCluster) -> None:
    errors: list[BaseException] = []

    def start(address: str) -> None:
        try:
            cluster.node(address).start()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=start, args=(a,)) for a in cluster.addresses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def first_leader(root: pathlib.Path, runs: int) -> dict:
    spawn_to_leader, started_to_leader = [], []
    for run in range(runs):
        cluster = RaftCluster(root / f"leader{run}", 3)
        try:
            spawned = time.monotonic()
            start_parallel(cluster)
            started = time.monotonic()
            cluster.wait_for(lambda c=cluster: c.current_leader(), 30.0, "leader", 0.01)
            now = time.monotonic()
            spawn_to_leader.append(now - spawned)
            started_to_leader.append(now - started)
        finally:
            cluster.close()
    return {"spawn_to_agreed_leader_s": summary(spawn_to_leader),
            "processes_ready_to_agreed_leader_s": summary(started_to_leader)}


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"median": round(statistics.median(ordered), 4), "min": round(ordered[0], 4),
            "max": round(ordered[-1], 4), "n": len(ordered)}


def latency_and_throughput(cluster: RaftCluster) -> dict:
    leader = cluster.wait_leader()
    follower = next(a for a in cluster.addresses if a != leader)
    results = {
        "sequential_from_leader": cluster.node(leader).request("bench", 120.0, n=2000, size=200),
        "sequential_from_follower": cluster.node(follower).request("bench", 120.0, n=1000,
                                                                   size=200),
    }
    results["leader_32_threads_in_flight"] = cluster.node(leader).request(
        "bench", 120.0, n=3000, size=200, threads=32)
    answers: dict[str, dict] = {}

    def run(address: str) -> None:
        answers[address] = cluster.node(address).request("bench", 120.0, n=1000, size=200)

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(a,)) for a in cluster.addresses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    committed = sum(answer["outcomes"].get("COMMITTED", 0) for answer in answers.values())
    results["concurrent_3_proposers"] = {"committed": committed,
                                         "ops_per_s": round(committed / elapsed, 1),
                                         "per_node": answers}
    return results


def cpu_seconds(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    pages = int(pathlib.Path(f"/proc/{pid}/statm").read_text().split()[1])
    return pages * PAGE_BYTES / 1e6


def idle_cpu(cluster: RaftCluster, seconds: float) -> dict:
    leader = cluster.wait_leader()
    time.sleep(2.0)
    pids = {a: cluster.node(a).process.pid for a in cluster.addresses}
    before = {a: cpu_seconds(pid) for a, pid in pids.items()}
    time.sleep(seconds)
    result = {}
    for address, pid in pids.items():
        role = "leader" if address == leader else "follower"
        result[address] = {"role": role,
                           "cpu_percent_of_core": round(100 * (cpu_seconds(pid) -
                                                               before[address]) / seconds, 2),
                           "rss_mb": round(rss_mb(pid), 1)}
    return result


def failover(cluster: RaftCluster, runs: int) -> dict:
    elect, write_gap, elections = [], [], []
    for _ in range(runs):
        leader = cluster.wait_leader(timeout_s=30.0)
        cluster.propose_committed("steady")
        time.sleep(2.5)  # links between followers have been idle longer than the timeout
        survivors = [a for a in cluster.addresses if a != leader]
        term_before = cluster.node(survivors[0]).status()["term"]
        cluster.kill(leader)
        killed = time.monotonic()
        new_leader = cluster.wait_for(lambda s=survivors: cluster.current_leader(s), 30.0,
                                      "new leader", 0.01)
        elect.append(time.monotonic() - killed)
        elections.append(cluster.node(new_leader).status()["term"] - term_before)
        while time.monotonic() - killed < 30.0:
            answer = cluster.propose(survivors[0], "after-failover", timeout_ms=300)
            if answer["outcome"] == "COMMITTED":
                break
        write_gap.append(time.monotonic() - killed)
        cluster.restart(leader)
    return {"kill_to_agreed_leader_s": summary(elect),
            "kill_to_first_commit_from_a_survivor_s": summary(write_gap),
            "elections_needed": elections}


def fsync_micro(directory: pathlib.Path, count: int = 2000) -> dict:
    results = {}
    payload = b"\x00" + os.urandom(199)
    for mode in ("append_only", "append_and_sync"):
        stats = SyncStats()
        journal = DurableFileJournal(str(directory / f"journal-{mode}"), stats,
                                     str(directory / "absent.snapshot"))
        latencies = []
        for index in range(count):
            started = time.perf_counter()
            journal.add(payload, index + 2, 1)
            if mode == "append_and_sync":
                journal.sync()
            latencies.append(time.perf_counter() - started)
        journal._destroy()
        latencies.sort()
        results[mode] = {"median_us": round(statistics.median(latencies) * 1e6, 1),
                         "p99_us": round(latencies[int(0.99 * (count - 1))] * 1e6, 1)}
    return results


def node_sync_counters(cluster: RaftCluster) -> dict:
    result = {}
    for address in cluster.alive_addresses():
        metrics = cluster.node(address).request("metrics")["metrics"]
        syncs = metrics["journal_syncs"] or 1
        result[address] = {"journal_syncs": metrics["journal_syncs"],
                           "mean_journal_sync_us": round(
                               1e6 * metrics["journal_sync_seconds"] / syncs, 1),
                           "meta_syncs": metrics["meta_syncs"]}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--failovers", type=int, default=7)
    parser.add_argument("--idle-s", type=float, default=20.0)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    arguments = parser.parse_args()
    root = pathlib.Path(tempfile.mkdtemp(prefix="bench_raft_"))
    report: dict = {}
    try:
        report["first_leader"] = first_leader(root, arguments.runs)
        cluster = RaftCluster(root / "main", 3)
        try:
            start_parallel(cluster)
            report["idle"] = idle_cpu(cluster, arguments.idle_s)
            report["commits"] = latency_and_throughput(cluster)
            report["node_sync_counters"] = node_sync_counters(cluster)
            report["failover"] = failover(cluster, arguments.failovers)
        finally:
            cluster.close()
        baseline = RaftCluster(root / "no_fsync", 3, extra_args={-1: ["--no-fsync"]})
        try:
            start_parallel(baseline)
            report["commits_without_fsync"] = latency_and_throughput(baseline)
        finally:
            baseline.close()
        report["fsync_micro"] = fsync_micro(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if arguments.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)


def print_report(report: dict) -> None:
    first = report["first_leader"]
    print(f"first leader (3 processes spawned together): {first['spawn_to_agreed_leader_s']}")
    print(f"  from all processes ready:                  "
          f"{first['processes_ready_to_agreed_leader_s']}")
    for section in ("commits", "commits_without_fsync"):
        for name in ("sequential_from_leader", "sequential_from_follower",
                     "leader_32_threads_in_flight"):
            row = report[section][name]
            print(f"{section} {name}: p50 {row['p50_ms']:.2f} ms, p99 {row['p99_ms']:.2f} ms, "
                  f"{row['ops_per_s']:.0f} ops/s, outcomes {row['outcomes']}")
        concurrent = report[section]["concurrent_3_proposers"]
        print(f"{section} 3 nodes proposing sequentially at once: "
              f"{concurrent['ops_per_s']} ops/s")
    fail = report["failover"]
    print(f"failover kill -9 leader -> agreed new leader: {fail['kill_to_agreed_leader_s']}")
    print(f"failover kill -9 leader -> first commit:      "
          f"{fail['kill_to_first_commit_from_a_survivor_s']}")
    print(f"elections needed per failover: {fail['elections_needed']}")
    for address, row in report["idle"].items():
        print(f"idle {address} ({row['role']}): {row['cpu_percent_of_core']} % of a core, "
              f"RSS {row['rss_mb']} MB")
    print(f"journal append micro-benchmark: {report['fsync_micro']}")
    print(f"node journal syncs: {report['node_sync_counters']}")


if __name__ == "__main__":
    main()
