"""Benchmark of the cluster core on a real 3-node sandbox (a script that prints numbers).

    python3 tests/bench/bench_core.py [--commits 1000] [--failovers 5] [--idle-seconds 10]

Measures, through the daemons' Control API over their Unix sockets:
- time to first leader: from starting the three processes to a node reporting leadership;
- commit latency p50/p99: sequential `property_set` calls on one connection, on the leader
  and on a follower (each call returns once the event is committed and applied locally);
- throughput: committed writes per second with several concurrent clients on the leader;
- failover: kill -9 of the leader until a survivor reports a new leader (median of N);
- idle CPU: per-node CPU time over an idle period, as a percentage of one core.
Targets (design): commit p50 <= 2 ms, failover median <= 0.5 s, idle CPU <= 1 % per node.
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

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from raftha.daemon.client import ApiError  # noqa: E402
from raftha.sandbox import Sandbox  # noqa: E402

CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def raft_leader(sandbox: Sandbox, names: list[str]) -> str | None:
    """The node that reports itself leader (fast path: raft_status on each node)."""
    for name in names:
        try:
            if sandbox.call(name, "raft_status", timeout_ms=500)["is_leader"]:
                return name
        except ApiError:
            continue
    return None


def time_to_first_leader(sandbox: Sandbox) -> float:
    sandbox.create(3)
    started = time.monotonic()
    for name in sandbox.nodes:
        sandbox.start(name, wait=False)
    names = list(sandbox.nodes)
    while raft_leader(sandbox, names) is None:
        if time.monotonic() - started > 60:
            raise RuntimeError("no leader within 60 s")
        time.sleep(0.005)
    elapsed = time.monotonic() - started
    sandbox.wait_ready(60)
    return elapsed


def commit_latencies(sandbox: Sandbox, name: str, count: int) -> list[float]:
    latencies = []
    with sandbox.client(name) as client:
        client.call("ping")
        for number in range(count):
            started = time.perf_counter()
            client.call("property_set", name="batch-limit", value=str(number))
            latencies.append(time.perf_counter() - started)
    return latencies


def throughput(sandbox: Sandbox, name: str, clients: int, seconds: float) -> float:
    counts = [0] * clients
    stop_at = time.monotonic() + seconds

    def worker(slot: int) -> None:
        with sandbox.client(name) as client:
            while time.monotonic() < stop_at:
                client.call("property_set", name="node-action-limit", value=str(slot))
                counts[slot] += 1

    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / seconds


def failover_once(sandbox: Sandbox) -> float:
    sandbox.wait_ready(60)
    names = list(sandbox.nodes)
    leader = raft_leader(sandbox, names)
    survivors = [name for name in names if name != leader]
    started = time.monotonic()
    sandbox.kill(leader)
    while True:
        new_leader = raft_leader(sandbox, survivors)
        if new_leader is not None:
            break
        if time.monotonic() - started > 30:
            raise RuntimeError("no new leader within 30 s")
        time.sleep(0.002)
    elapsed = time.monotonic() - started
    sandbox.start(leader)
    sandbox.wait_ready(60)
    return elapsed


def cpu_seconds(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_SECOND


def idle_cpu_percent(sandbox: Sandbox, seconds: float) -> dict[str, float]:
    sandbox.wait_ready(60)
    time.sleep(1.0)  # let the last writes settle
    before = {name: cpu_seconds(pid) for name, pid in sandbox.pids.items()}
    time.sleep(seconds)
    after = {name: cpu_seconds(pid) for name, pid in sandbox.pids.items()}
    return {name: 100 * (after[name] - before[name]) / seconds for name in before}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--failovers", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--throughput-seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    arguments = parser.parse_args()

    directory = tempfile.mkdtemp(prefix="raftha-bench-")
    sandbox = Sandbox(directory)
    results: dict[str, object] = {}
    try:
        results["first_leader_s"] = round(time_to_first_leader(sandbox), 3)
        print(f"time to first leader: {results['first_leader_s']:.3f} s", flush=True)

        leader = raft_leader(sandbox, list(sandbox.nodes))
        follower = next(name for name in sandbox.nodes if name != leader)
        for role, name in (("leader", leader), ("follower", follower)):
            latencies = commit_latencies(sandbox, name, arguments.commits)
            p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
            results[f"commit_{role}_ms"] = {"p50": round(p50, 3), "p99": round(p99, 3),
                                            "n": len(latencies)}
            print(f"commit latency via {role} ({name}): p50 {p50:.2f} ms, p99 {p99:.2f} ms "
                  f"(n={len(latencies)})", flush=True)

        metrics = sandbox.call(leader, "metrics")
        raft_metrics = metrics["raft"]
        syncs = raft_metrics.get("journal_syncs") or 0
        sync_ms = 1000 * raft_metrics.get("journal_sync_seconds", 0.0) / syncs if syncs else 0.0
        results["leader_apply_mean_us"] = metrics["apply_mean_us"]
        results["leader_journal_sync_mean_ms"] = round(sync_ms, 3)
        print(f"where the time goes on the leader: apply (reducer + history) "
              f"{metrics['apply_mean_us']:.0f} us per entry, Raft journal fsync "
              f"{sync_ms:.2f} ms per sync ({syncs} syncs)", flush=True)

        rate = throughput(sandbox, leader, arguments.clients, arguments.throughput_seconds)
        results["throughput_per_s"] = round(rate, 1)
        print(f"throughput: {rate:.0f} commits/s ({arguments.clients} clients on the leader)",
              flush=True)

        idle = idle_cpu_percent(sandbox, arguments.idle_seconds)
        results["idle_cpu_percent"] = {name: round(value, 2) for name, value in idle.items()}
        print("idle CPU per node: " + ", ".join(f"{name} {value:.2f} %"
                                                for name, value in idle.items()), flush=True)

        failovers = []
        for attempt in range(arguments.failovers):
            failovers.append(failover_once(sandbox))
            print(f"failover {attempt + 1}: {failovers[-1]:.3f} s", flush=True)
        results["failover_s"] = {"median": round(statistics.median(failovers), 3),
                                 "max": round(max(failovers), 3), "n": len(failovers)}
        print(f"failover after kill -9: median {statistics.median(failovers):.3f} s, "
              f"max {max(failovers):.3f} s (n={len(failovers)})", flush=True)
    finally:
        sandbox.down()
        shutil.rmtree(directory, ignore_errors=True)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
