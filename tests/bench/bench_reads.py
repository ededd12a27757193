"""Benchmark of reads on a real 3-node sandbox (a script that prints numbers).

    python3 tests/bench/bench_reads.py [--reads 300]

Measures `property_show` latency through the Control API, on the leader and on a follower:
- local: the node's own view (consistent=false), no log entry;
- consistent (the default): a committed read barrier first, then the local view.
- write: a property_set for comparison (one commit, applied locally).
The difference is the price of never serving a stale value: about one commit.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from raftha.sandbox import Sandbox  # noqa: E402


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def measure(sandbox: Sandbox, node: str, reads: int, kind: str) -> list[float]:
    latencies_ms = []
    with sandbox.client(node) as client:
        for number in range(reads):
            started = time.perf_counter()
            if kind == "write":
                client.call("property_set", name="batch-limit", value=str(number))
            else:
                client.call("property_show", consistent=kind == "consistent")
            latencies_ms.append((time.perf_counter() - started) * 1000)
    return latencies_ms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=300)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="raftha-bench-reads-") as directory:
        sandbox = Sandbox(pathlib.Path(directory) / "cluster")
        try:
            sandbox.up(3, timeout_s=90)
            leader = sandbox.leader()
            follower = next(name for name in sandbox.nodes if name != leader)
            sandbox.call(leader, "property_set", name="cluster-name", value="bench")
            for role, node in (("leader", leader), ("follower", follower)):
                for kind in ("local", "consistent", "write"):
                    latencies = measure(sandbox, node, options.reads, kind)
                    print(f"{role:8} {kind:10} reads={len(latencies)} "
                          f"p50={statistics.median(latencies):.2f} ms "
                          f"p99={percentile(latencies, 0.99):.2f} ms")
        finally:
            sandbox.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
