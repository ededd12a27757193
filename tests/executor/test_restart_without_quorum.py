"""Real processes: a daemon restarted where it sees no quorum still finds what its agents left
running and carries out no-quorum-policy on it, alone and without recording anything. Here
the daemon is killed while its Ledger keeps ticking, the two other daemons are gone, and the
daemon comes back alone: its Ledger must stop (policy stop). Once the others are back, the
Ledger runs on exactly one node.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from executor_cluster import ExecutorCluster, wait_for

# Quorum loss seen at start + the executor's grace (3 s) + a failed read barrier + the probe
# and the stop; generous for a shared machine.
STOP_BOUND_S = 30.0


def ticks_of(ledger: Path, node: str, after_ms: int = 0) -> list[int]:
    if not ledger.exists():
        return []
    return [int(parts[0]) for parts in (line.split() for line in ledger.read_text().splitlines())
            if len(parts) == 3 and parts[1] == node and int(parts[0]) > after_ms]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def test_a_daemon_restarted_without_quorum_stops_what_it_left_running(tmp_path):
    ledger = tmp_path / "ledger.txt"
    cluster = ExecutorCluster(tmp_path / "sandbox")
    try:
        name, *others = cluster.names
        cluster.load(f"""
property stonith-enabled=false no-quorum-policy=stop
primitive led ocf:raftha:Ledger params ledger_file={ledger} tick_ms=50 \\
    op monitor interval=2s timeout=20s
location led-prefers led 100: {name}
""")
        assert cluster.wait_running("led") == [name]
        # A lone node replays its journal up to the commit index it last saved, and that
        # is saved once a second: let it cover the configuration and the start.
        time.sleep(2.5)
        for other in others:
            cluster.sandbox.kill(other)
        cluster.sandbox.kill(name)            # the daemon dies; its Ledger keeps running
        restart_ms = now_ms()
        wait_for(lambda: ticks_of(ledger, name, restart_ms), what="the orphaned Ledger ticks")
        cluster.sandbox.start(name)           # alone: no quorum, no read barrier possible

        def stopped_at():
            last = max(ticks_of(ledger, name, restart_ms), default=restart_ms)
            return last if now_ms() - last > 2000 else None
        last_ms = wait_for(stopped_at, STOP_BOUND_S + 2, "the Ledger stopped by the policy")
        print(f"restarted alone: Ledger stopped {last_ms - restart_ms} ms after the restart "
              f"(load {os.getloadavg()[0]:.1f})")
        executor = cluster.call("executor_status", via=name)
        assert executor["no_quorum_policy"] == "stop"
        assert executor["probed"] is False          # the recorded probe waits for quorum
        assert not cluster.status(name)["cluster"]["quorum"]
        for other in others:
            cluster.sandbox.start(other, wait=False)
        cluster.sandbox.wait_ready(120)
        wait_for(lambda: len(cluster.where("led", name)) == 1
                 and cluster.where("led", name) == cluster.where("led", others[0]),
                 what="led on one node, seen alike by all")
        time.sleep(3)
        ticking = {node for node in cluster.names if ticks_of(ledger, node, now_ms() - 1500)}
        assert len(ticking) == 1
    finally:
        cluster.close()
