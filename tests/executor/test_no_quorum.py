"""Real processes: a node cut off from the others (nftables on loopback) carries out
no-quorum-policy alone; the majority recovers its resource (fencing off); the node rejoins
and re-probes. The Ledger agent's ticks show when each copy ran.

- stop: the cut-off node's Ledger stops ticking within the bound (link timeout + the
  executor's quorum_loss_grace_ms + the stop), with nothing claimed or recorded; the
  majority runs it meanwhile; after the heal it runs on exactly one node.
- freeze: the cut-off node's Ledger keeps ticking.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from executor_cluster import ExecutorCluster, wait_for
from partition import cut, heal, nft_available, smallest_address_node

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or not nft_available(), reason="needs root and nft"),
]

# Quorum loss seen (link timeout, a few seconds) + grace (3 s) + the stop; generous for a
# shared machine.
STOP_BOUND_S = 30.0


def ticks_of(ledger: Path, node: str, after_ms: int = 0) -> list[int]:
    if not ledger.exists():
        return []
    found = []
    for line in ledger.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == node and int(parts[0]) > after_ms:
            found.append(int(parts[0]))
    return found


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
def cut_off(tmp_path):
    """An executor cluster, and the node whose Raft port a cut isolates; always healed."""
    cluster = None
    port = None
    try:
        cluster = ExecutorCluster(tmp_path / "sandbox")
        addresses = {name: node.address for name, node in cluster.sandbox.nodes.items()}
        name = smallest_address_node(addresses)
        port = int(addresses[name].rsplit(":", 1)[1])
        yield cluster, name, port
    finally:
        if port is not None:
            heal(port)
        if cluster is not None:
            cluster.close()


def load_ledger(cluster: ExecutorCluster, ledger: Path, node: str, policy: str,
                fencing: str = "stonith-enabled=false") -> None:
    cluster.load(f"""
property {fencing} no-quorum-policy={policy}
primitive led ocf:raftha:Ledger params ledger_file={ledger} tick_ms=50 \\
    op monitor interval=2s timeout=20s
location led-prefers led 100: {node}
""")
    assert cluster.wait_running("led") == [node]
    wait_for(lambda: len(ticks_of(ledger, node)) > 5, what="ledger ticks")


def test_stop_policy_the_cut_off_node_stops_alone_and_the_majority_recovers(cut_off, tmp_path):
    cluster, name, port = cut_off
    ledger = tmp_path / "ledger.txt"
    load_ledger(cluster, ledger, name, "stop")
    others = [other for other in cluster.names if other != name]
    cut_ms = now_ms()
    cut(port)
    try:
        def stopped_at():
            ticks = ticks_of(ledger, name, cut_ms)
            last = max(ticks, default=cut_ms)
            return last if now_ms() - last > 2000 else None
        last_ms = wait_for(stopped_at, STOP_BOUND_S + 2, "the cut-off node's Ledger stopped")
        print(f"no-quorum-policy=stop: last tick on the cut-off node {last_ms - cut_ms} ms "
              f"after the cut (load {os.getloadavg()[0]:.1f})")
        assert last_ms - cut_ms < STOP_BOUND_S * 1000
        moved = wait_for(lambda: [node for node in cluster.where("led", others[0])
                                  if node in others], what="the majority runs led")
        wait_for(lambda: ticks_of(ledger, moved[0], cut_ms), what="ticks on the majority")
        assert not cluster.status(name)["cluster"]["quorum"]   # it still answers
        executor = cluster.call("executor_status", via=name)
        assert executor["no_quorum_policy"] == "stop"
        assert executor["done_without_quorum"] == [f"stop:led:{name}"]
    finally:
        heal(port)
    cluster.sandbox.wait_ready(120)
    healed_ms = now_ms()
    wait_for(lambda: len(cluster.where("led", others[0])) == 1
             and cluster.where("led", name) == cluster.where("led", others[0]),
             what="led on one node, seen alike by all")
    time.sleep(3)
    ticking = {node for node in cluster.names if ticks_of(ledger, node, now_ms() - 1500)}
    assert len(ticking) == 1
    rejoined = [event for event in cluster.history(others[0])
                if event["kind"] == "OperationCompleted"
                and f"led monitor on {name}: rc=7" in event["summary"]]
    assert rejoined, "the rejoined node recorded a probe of led"
    print(f"healed: led on {sorted(ticking)} {now_ms() - healed_ms} ms after the heal")


@pytest.mark.slow   # freeze is also covered by test_no_quorum_unit; this one takes ~20 s
def test_freeze_policy_the_cut_off_node_keeps_its_resource(cut_off, tmp_path):
    cluster, name, port = cut_off
    ledger = tmp_path / "ledger.txt"
    load_ledger(cluster, ledger, name, "freeze")
    cut_ms = now_ms()
    cut(port)
    try:
        wait_for(lambda: not cluster.status(name)["cluster"]["quorum"], STOP_BOUND_S,
                 "the cut-off node without quorum")
        lost_ms = now_ms()
        time.sleep(8)                              # well past the grace (3 s)
        assert ticks_of(ledger, name, lost_ms + 6000), "the frozen node kept ticking"
        executor = cluster.call("executor_status", via=name)
        assert (executor["no_quorum_policy"], executor["done_without_quorum"]) == ("freeze", [])
        print(f"no-quorum-policy=freeze: still ticking {now_ms() - cut_ms} ms after the cut")
    finally:
        heal(port)
    cluster.sandbox.wait_ready(120)
    wait_for(lambda: len(cluster.where("led")) == 1, what="led on one node after the heal")


def test_watchdog_mode_the_cut_off_node_stops_before_the_majority_recovers(cut_off,
                                                                            tmp_path):
    from bench_failover import overlaps, read_ticks
    cluster, name, port = cut_off
    ledger = tmp_path / "ledger.txt"
    watchdog_mode = "stonith-enabled=true stonith-watchdog-timeout=5s"
    cluster.load(f"property {watchdog_mode}\n")
    pid_files = [Path(node.config_path).parent / "data" / "watchdog" / "watchdog.pid"
                 for node in cluster.sandbox.nodes.values()]
    wait_for(lambda: all(path.exists() for path in pid_files), what="every node's watchdog")
    time.sleep(1.5)                                # every lease renewed once
    load_ledger(cluster, ledger, name, "stop", watchdog_mode)
    others = [other for other in cluster.names if other != name]
    cut_ms = now_ms()
    cut(port)
    try:
        first = wait_for(lambda: min(ticks_of(ledger, others[0], cut_ms)
                                     + ticks_of(ledger, others[1], cut_ms), default=None),
                         what="the majority runs led")
        time.sleep(1)
    finally:
        heal(port)
    last_cut_off = max(ticks_of(ledger, name, cut_ms - 1000))
    print(f"watchdog mode: cut-off node's last tick {last_cut_off - cut_ms} ms after the "
          f"cut, the majority's first {first - cut_ms} ms (load {os.getloadavg()[0]:.1f})")
    assert last_cut_off < first
    assert first - cut_ms >= 5000                  # not before the recovery wait W
    assert overlaps(read_ticks(ledger)) == []
