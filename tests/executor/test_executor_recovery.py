"""Real processes: Pacemaker's recovery rules as an operator meets them, with Debian's agents.

- on-fail=stop: a monitor failure stops the resource and it stays stopped (no restart, no
  move) until `resource cleanup`.
- A resource deleted from the configuration while it runs is stopped on its node with the
  parameters it ran with, and disappears from the status.
- A resource whose agent is not installed: its probes make every node ineligible, with no
  failed action and no fail count to clean up; the rest of the cluster is unaffected.
"""

from __future__ import annotations

import time

from executor_cluster import wait_for

BASE = "property stonith-enabled=false\n"


def summaries(cluster, needle: str) -> list[str]:
    return [event["summary"] for event in cluster.operations() if needle in event["summary"]]


def test_on_fail_stop_keeps_a_failed_resource_stopped_until_cleanup(cluster):
    cluster.load(BASE + "primitive halt ocf:heartbeat:Dummy op monitor interval=1s on-fail=stop\n")
    [home] = cluster.wait_running("halt")
    state_file = cluster.run_dir(home) / "resource-agents" / "Dummy-halt.state"
    state_file.unlink()                     # the service dies behind the cluster's back
    wait_for(lambda: summaries(cluster, f"halt stop on {home}: rc=0"), what="the stop")
    time.sleep(3)                           # let any (wrong) restart happen
    assert len(summaries(cluster, "halt start on")) == 1
    view = cluster.resources()["halt"]
    assert (view["nodes"], view["target_role"]) == ([], "Stopped")
    assert not state_file.exists()
    cluster.call("resource_cleanup", resource="halt", node=None)
    cluster.wait_running("halt")
    assert len(summaries(cluster, "halt start on")) == 2


def test_a_resource_deleted_while_running_is_stopped_and_forgotten(cluster, tmp_path):
    state_file = tmp_path / "gone.state"
    cluster.load(BASE + f"""
primitive gone ocf:heartbeat:Dummy params state={state_file} op monitor interval=2s
primitive kept ocf:heartbeat:Dummy
""")
    [home] = cluster.wait_running("gone")
    cluster.wait_running("kept")
    assert state_file.exists()
    cluster.load(BASE + "primitive kept ocf:heartbeat:Dummy\n", mode="replace")
    wait_for(lambda: not state_file.exists(), what="the deleted resource stopped")
    wait_for(lambda: "gone" not in cluster.resources(), what="the orphan forgotten")
    assert summaries(cluster, f"gone stop on {home}: rc=0")
    assert all(not node["failed_actions"] for node in cluster.status()["nodes"].values())


def test_an_agent_missing_everywhere_leaves_no_failure_to_clean_up(cluster):
    cluster.load(BASE + """
primitive ghost ocf:heartbeat:NoSuchAgent
primitive real ocf:heartbeat:Dummy
""")
    cluster.wait_running("real")
    wait_for(lambda: len(summaries(cluster, "ghost monitor on")) == 3, what="three probes")
    time.sleep(2)                           # let any (wrong) start happen
    assert not summaries(cluster, "ghost start")
    status = cluster.status()
    assert status["resources"]["ghost"]["nodes"] == []
    assert all(not node["failed_actions"] for node in status["nodes"].values())
    assert cluster.call("resource_failcount", resource="ghost")["failcounts"] == []
