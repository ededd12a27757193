"""Real processes: node loss and daemon restarts (fencing disabled: stonith-enabled=false).

- kill -9 of a node (daemon, agent processes and its /run gone, as with a power loss): the
  resources it ran start on the survivors, and the Ledger shows the moment of the move.
- kill -9 of the daemon alone, restarted before the cluster declares the node lost: the
  executor re-probes, finds its resources still running, and no second copy starts.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from executor_cluster import ExecutorCluster, wait_for


def test_kill_9_of_a_node_starts_its_resources_elsewhere(cluster, tmp_path):
    ledger = tmp_path / "ledger.txt"
    cluster.load(f"""
property stonith-enabled=false
primitive led ocf:raftha:Ledger params ledger_file={ledger} tick_ms=50 \\
    op monitor interval=2s
primitive dum ocf:heartbeat:Dummy op monitor interval=2s
colocation dum-with-led inf: dum led
""")
    [victim] = cluster.wait_running("led")
    cluster.wait_running("dum")
    wait_for(lambda: ledger.exists() and ledger.read_text().count(victim) > 5,
             what="ledger ticks")
    killed_ms = time.time() * 1000
    cluster.power_off(victim)
    survivor = next(name for name in cluster.names if name != victim)
    moved = wait_for(lambda: [node for node in cluster.where("led", survivor)
                              if node != victim], what="led started elsewhere")
    wait_for(lambda: cluster.where("dum", survivor) == moved, what="dum follows led")

    def ticks_of(node: str) -> list[int]:
        lines = [line.split() for line in ledger.read_text().splitlines() if line.strip()]
        return [int(stamp) for stamp, owner, _ in lines if owner == node]
    new_ticks = wait_for(lambda: ticks_of(moved[0]), what="ticks from the new node")
    lines = [line.split() for line in ledger.read_text().splitlines() if line.strip()]
    old_ticks = [int(stamp) for stamp, node, _ in lines if node == victim]
    assert new_ticks and max(old_ticks) <= killed_ms + 100   # the old copy died with its node
    print(f"failover: first tick on {moved[0]} {min(new_ticks) - killed_ms:.0f} ms after the "
          "kill")


@pytest.fixture
def slow_loss_cluster(tmp_path):
    instance = None
    try:
        # A node is declared lost only after 20 s: a restart within that time is a restart.
        instance = ExecutorCluster(tmp_path / "sandbox", timing={"node_lost_timeout_ms": 20_000})
        yield instance
    finally:
        if instance is not None:
            instance.close()


def test_daemon_restart_reprobes_and_never_starts_a_second_copy(slow_loss_cluster, tmp_path):
    cluster = slow_loss_cluster
    ledger = tmp_path / "ledger.txt"
    cluster.load(f"""
property stonith-enabled=false
primitive led ocf:raftha:Ledger params ledger_file={ledger} tick_ms=50 \\
    op monitor interval=2s
""")
    [home] = cluster.wait_running("led")
    before = cluster.history()[-1]["index"]
    cluster.sandbox.kill(home)            # the daemon only: the Ledger ticker lives on
    cluster.sandbox.start(home)
    other = next(name for name in cluster.names if name != home)

    def reprobed():
        return [event for event in cluster.history(other) if event["index"] > before
                and event["kind"] == "OperationCompleted"
                and f"led monitor on {home}: rc=0" in event["summary"]]
    wait_for(reprobed, what="the restarted node's probe")
    time.sleep(3)                         # let any (wrong) start happen
    after = [event for event in cluster.history(other) if event["index"] > before]
    assert not [event for event in after if "led start" in event["summary"]]
    assert cluster.where("led", other) == [home]
    ticker_nodes = {line.split()[1] for line in Path(ledger).read_text().splitlines()
                    if line.strip()}
    assert ticker_nodes == {home}
