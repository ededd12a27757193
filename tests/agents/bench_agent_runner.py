"""Benchmark: wall time of one agent action through AgentRunner (a script, not a test).

Usage: python3 tests/agents/bench_agent_runner.py [ROUNDS]
Prints the median and 95th percentile of monitor, start and stop of ocf:heartbeat:Dummy
and ocf:raftha:Dummy, and of a cached meta-data lookup.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time

from raftha.agents import AgentRunner, AgentSpec


def measure(function, rounds: int) -> tuple[float, float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    runner = AgentRunner()
    with tempfile.TemporaryDirectory() as directory:
        for agent in ("ocf:heartbeat:Dummy", "ocf:raftha:Dummy"):
            spec = AgentSpec.parse(agent, "bench")
            params = {"state": f"{directory}/bench.state"}
            for action in ("start", "monitor", "stop"):
                median, p95 = measure(
                    lambda action=action, spec=spec, params=params: runner.run(
                        spec, action, params=params, timeout_ms=20_000, node_name="bench"),
                    rounds)
                print(f"{agent:22} {action:8} median {median:6.1f} ms  p95 {p95:6.1f} ms")
        spec = AgentSpec.parse("ocf:heartbeat:IPaddr2")
        runner.metadata(spec)
        median, p95 = measure(lambda: runner.metadata(spec), rounds)
        print(f"{'ocf:heartbeat:IPaddr2':22} metadata median {median:6.3f} ms  "
              f"p95 {p95:6.3f} ms (cached)")


if __name__ == "__main__":
    main()
