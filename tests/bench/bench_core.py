"""Benchmark of the cluster core on a real 3-node sandbox (a script that prints numbers).

    python3 tests/bench/bench_core.py [--commits 1000] [--failovers 5] [--idle-seconds 10]

Measures, through the daemons' Control API over their Unix sockets:
- time to first leader: from starting the three processes to a node reporting leadership;
- commit latency p50/p99: sequential `property_set` calls on one connection, on the leader
  and on a follower (each call returns once the event is committed and applied locally);
- throughput: committed writes per second with several concurrent clients on the leader;
- failover: kill -9 of the leader until a survivor reports a new leader (median of N);
- idle CPU: per-node CPU time over an idle period, as a percentage of one core.
- the floor under a commit: what one durable journal write (append + sync) costs on the
  disk holding the data directory, beside plain fsync and fdatasync of a small append;
  a commit waits for one follower's journal sync on its critical path (the leader syncs
  its own copy while the entry travels), so this is the least a durable commit can take;
- the same commit latencies with the data directories on tmpfs (`--tmpfs-dir`), labelled
  as not durable: what the software costs without the disk.
Every number is printed with the 1-minute load average (the machine is shared).
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
from raftha.raft.durability import DurableFileJournal, SyncStats  # noqa: E402
from raftha.sandbox import Sandbox  # noqa: E402

CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
FLOOR_WRITE_BYTES = 300  # about one property_set event in the journal


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def durable_write_floor(directory: str, count: int) -> dict[str, dict[str, float]]:
    """p50/p99 in ms of one small durable append, three ways, in `directory`."""
    payload = os.urandom(FLOOR_WRITE_BYTES)
    results = {}
    for mode in ("fsync", "fdatasync"):
        path = os.path.join(directory, f"floor-{mode}")
        sync = os.fsync if mode == "fsync" else os.fdatasync
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            timings = []
            for _ in range(count):
                os.write(descriptor, payload)
                started = time.perf_counter()
                sync(descriptor)
                timings.append(time.perf_counter() - started)
        finally:
            os.close(descriptor)
            os.unlink(path)
        results[mode] = timings
    path = os.path.join(directory, "floor.journal")
    journal = DurableFileJournal(path, SyncStats(), path + ".snapshot")
    try:
        timings = []
        for index in range(count):
            started = time.perf_counter()
            journal.add(payload, index + 1, 1)
            journal.sync()
            timings.append(time.perf_counter() - started)
    finally:
        journal._destroy()
        for leftover in (path, path + ".meta"):
            if os.path.exists(leftover):
                os.unlink(leftover)
    results["raft journal append+sync"] = timings
    return {mode: {"p50": round(percentile(values, 0.5) * 1000, 3),
                   "p99": round(percentile(values, 0.99) * 1000, 3)}
            for mode, values in results.items()}


def filesystem_of(directory: str) -> str:
    """The mount (type and device) holding `directory`, from /proc/mounts."""
    best = ("", "?", "?")
    resolved = os.path.realpath(directory)
    for line in pathlib.Path("/proc/mounts").read_text().splitlines():
        device, mount_point, kind = line.split()[:3]
        if (resolved == mount_point or resolved.startswith(mount_point.rstrip("/") + "/")) \
                and len(mount_point) >= len(best[0]):
            best = (mount_point, kind, device)
    return f"{best[1]} on {best[2]}"


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


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds per thread name (the daemon names its threads at the OS level), in
    nanoseconds from schedstat where the kernel has it (clock ticks are 10 ms: too coarse
    for a thread using a fraction of a percent)."""
    totals: dict[str, float] = {}
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            try:
                used = int((task / "schedstat").read_text().split()[0]) / 1e9
            except (OSError, IndexError, ValueError):
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                used = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_SECOND
        except OSError:
            continue  # the thread ended meanwhile
        totals[name] = totals.get(name, 0.0) + used
    return totals


def idle_cpu_percent(sandbox: Sandbox, seconds: float
                     ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Per node: percent of one core over an idle period, in total and by thread."""
    sandbox.wait_ready(60)
    time.sleep(1.0)  # let the last writes settle
    before = {name: thread_cpu_seconds(pid) for name, pid in sandbox.pids.items()}
    time.sleep(seconds)
    after = {name: thread_cpu_seconds(pid) for name, pid in sandbox.pids.items()}
    by_thread = {name: {thread: 100 * (used - before[name].get(thread, 0.0)) / seconds
                        for thread, used in after[name].items()} for name in after}
    return {name: sum(threads.values()) for name, threads in by_thread.items()}, by_thread


def measure_commits(sandbox: Sandbox, count: int, label: str,
                    results: dict[str, object], key_suffix: str = "") -> str:
    """Commit latency via the leader and via a follower; returns the leader's name."""
    leader = raft_leader(sandbox, list(sandbox.nodes))
    follower = next(name for name in sandbox.nodes if name != leader)
    for role, name in (("leader", leader), ("follower", follower)):
        latencies = commit_latencies(sandbox, name, count)
        p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
        results[f"commit_{role}{key_suffix}_ms"] = {"p50": round(p50, 3), "p99": round(p99, 3),
                                                    "n": len(latencies)}
        print(f"commit latency via {role} ({name}){label}: p50 {p50:.2f} ms, p99 {p99:.2f} ms "
              f"(n={len(latencies)}, {load()})", flush=True)
    return leader


def time_goes(sandbox: Sandbox, leader: str, results: dict[str, object]) -> None:
    metrics = sandbox.call(leader, "metrics")
    raft_metrics = metrics["raft"]
    syncs = raft_metrics.get("journal_syncs") or 0
    sync_ms = 1000 * raft_metrics.get("journal_sync_seconds", 0.0) / syncs if syncs else 0.0
    results["leader_apply_mean_us"] = metrics["apply_mean_us"]
    results["leader_journal_sync_mean_ms"] = round(sync_ms, 3)
    print(f"where the time goes on the leader: apply (reducer + history) "
          f"{metrics['apply_mean_us']:.0f} us per entry, Raft journal sync "
          f"{sync_ms:.2f} ms per sync ({syncs} syncs; in parallel with the followers' syncs, "
          f"{load()})", flush=True)


def tmpfs_commits(tmpfs_directory: str, count: int, results: dict[str, object]) -> None:
    """Commit latency with every data directory on tmpfs: the software's share."""
    directory = tempfile.mkdtemp(prefix="raftha-bench-", dir=tmpfs_directory)
    sandbox = Sandbox(directory)
    try:
        sandbox.up(3, timeout_s=60)
        measure_commits(sandbox, count, f", data on tmpfs {tmpfs_directory} (NOT durable: "
                        "software overhead only)", results, "_tmpfs")
    finally:
        sandbox.down()
        shutil.rmtree(directory, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--failovers", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--throughput-seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--floor-writes", type=int, default=300,
                        help="durable appends timed for the disk floor")
    parser.add_argument("--tmpfs-dir", default="/dev/shm",
                        help="tmpfs for the not-durable comparison ('' skips it)")
    arguments = parser.parse_args()

    directory = tempfile.mkdtemp(prefix="raftha-bench-")
    sandbox = Sandbox(directory)
    results: dict[str, object] = {"load_average_start": os.getloadavg()[0]}
    try:
        floor = durable_write_floor(directory, arguments.floor_writes)
        results["durable_write_floor_ms"] = floor
        print(f"durable write floor in {directory} ({filesystem_of(directory)}), "
              f"{FLOOR_WRITE_BYTES}-byte appends: " + ", ".join(
                  f"{mode} p50 {value['p50']:.3f} ms p99 {value['p99']:.3f} ms"
                  for mode, value in floor.items()) + f" ({load()})", flush=True)

        results["first_leader_s"] = round(time_to_first_leader(sandbox), 3)
        print(f"time to first leader: {results['first_leader_s']:.3f} s ({load()})", flush=True)

        leader = measure_commits(sandbox, arguments.commits, "", results)
        time_goes(sandbox, leader, results)

        rate = throughput(sandbox, leader, arguments.clients, arguments.throughput_seconds)
        results["throughput_per_s"] = round(rate, 1)
        print(f"throughput: {rate:.0f} commits/s ({arguments.clients} clients on the leader, "
              f"{load()})", flush=True)

        idle, by_thread = idle_cpu_percent(sandbox, arguments.idle_seconds)
        results["idle_cpu_percent"] = {name: round(value, 2) for name, value in idle.items()}
        print("idle CPU per node: " + ", ".join(f"{name} {value:.2f} %"
                                                for name, value in idle.items())
              + f" of one core over {arguments.idle_seconds:g} s ({load()})", flush=True)
        leader = raft_leader(sandbox, list(sandbox.nodes)) or leader
        for name, threads in by_thread.items():
            role = "leader" if name == leader else "follower"
            busy = sorted(threads.items(), key=lambda item: -item[1])
            print(f"  by thread on {name} ({role}): " + ", ".join(
                f"{thread} {value:.2f} %" for thread, value in busy if value >= 0.005),
                flush=True)
        results["idle_cpu_by_thread_percent"] = {
            name: {thread: round(value, 2) for thread, value in threads.items()
                   if value >= 0.005}
            for name, threads in by_thread.items()}

        failovers = []
        for attempt in range(arguments.failovers):
            failovers.append(failover_once(sandbox))
            print(f"failover {attempt + 1}: {failovers[-1]:.3f} s ({load()})", flush=True)
        if failovers:
            results["failover_s"] = {"median": round(statistics.median(failovers), 3),
                                     "max": round(max(failovers), 3), "n": len(failovers)}
            print(f"failover after kill -9: median {statistics.median(failovers):.3f} s, "
                  f"max {max(failovers):.3f} s (n={len(failovers)}, {load()})", flush=True)
    finally:
        sandbox.down()
        shutil.rmtree(directory, ignore_errors=True)
    if arguments.tmpfs_dir:
        tmpfs_commits(arguments.tmpfs_dir, arguments.commits, results)
    results["load_average_end"] = os.getloadavg()[0]
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
