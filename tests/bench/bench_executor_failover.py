"""Failover time without fencing (stonith-enabled=false): power loss of the node serving the
WebDemo page -> the page served by another node, measured from the outside over HTTP.

    python3 tests/bench/bench_executor_failover.py [--runs 10] [--node-lost-timeout-ms 1000]

A 3-node sandbox runs one WebDemo resource (ocf:raftha:WebDemo). Each run: find the node
serving the page, power it off (kill -9 of its daemon and of its agents' processes, its /run
gone), poll the page every 20 ms until another node answers; failover = that moment - the
kill. The victim is started again and the cluster settles before the next run. Prints every
run and p50/p90/max. Everything started is stopped before exit.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from raftha.cli.demo_failover import (  # noqa: E402
    kill_agent_processes,
    power_off,
    wait_for_page,
)
from raftha.sandbox import Sandbox, free_loopback_ports  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--node-lost-timeout-ms", type=int, default=1000)
    options = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="raftha-bench-executor-")
    sandbox = Sandbox(directory)
    times: list[float] = []
    try:
        sandbox.up(3, timeout_s=120,
                   timing={"node_lost_timeout_ms": options.node_lost_timeout_ms})
        port = free_loopback_ports(1)[0]
        url = f"http://127.0.0.1:{port}/"
        first = next(iter(sandbox.nodes))
        sandbox.call(first, "configure_load", mode="update", text=(
            "property stonith-enabled=false\n"
            f"primitive web ocf:raftha:WebDemo params port={port} op monitor interval=2s\n"))
        for run in range(1, options.runs + 1):
            victim, _ = wait_for_page(url, None, 60)
            time.sleep(1.0)                     # steady state before the kill
            power_off(sandbox, victim)
            survivor, seconds = wait_for_page(url, victim, 60)
            times.append(seconds)
            print(f"run {run}: {victim} -> {survivor} in {seconds:.3f} s", flush=True)
            sandbox.start(victim)
            sandbox.wait_ready(120)
        ordered = sorted(times)
        print(f"failover without fencing over {len(times)} runs: "
              f"p50 {statistics.median(ordered):.3f} s, "
              f"p90 {ordered[max(0, int(len(ordered) * 0.9) - 1)]:.3f} s, "
              f"max {ordered[-1]:.3f} s (node_lost_timeout_ms="
              f"{options.node_lost_timeout_ms})")
        return 0
    finally:
        sandbox.down()
        kill_agent_processes(sandbox)
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
