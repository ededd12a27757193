"""Real processes: a 3-node sandbox whose executors run Debian's agents, unmodified.

Each test loads a configuration through one node and checks what the executors did through
the committed status and history (and, where it matters, the agents' own files).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from executor_cluster import processes_with_environment, wait_for

BASE = "property stonith-enabled=false\n"


def node_with(events: list[dict], needle: str) -> list[dict]:
    return [event for event in events if needle in event["summary"]]


def test_heartbeat_and_pacemaker_dummy_start_once_and_move(cluster):
    cluster.load(BASE + """
primitive d1 ocf:heartbeat:Dummy op monitor interval=2s
primitive d2 ocf:pacemaker:Dummy params op_sleep=1 op monitor interval=3s timeout=10s
""")
    [node1] = cluster.wait_running("d1")
    [node2] = cluster.wait_running("d2")
    # The real agents keep their state in the node's own run directory.
    assert (cluster.run_dir(node1) / "resource-agents" / "Dummy-d1.state").exists()
    assert (cluster.run_dir(node2) / "Dummy-d2.state").exists()
    operations = cluster.operations()
    assert len(node_with(operations, "d1 start")) == 1
    assert len(node_with(operations, "d1 monitor on")) == 3          # one probe per node
    target = next(name for name in cluster.names if name != node1)
    cluster.call("resource_move", resource="d1", node=target)
    wait_for(lambda: cluster.where("d1") == [target], what="d1 moved")
    events = cluster.operations()
    stop = node_with(events, f"d1 stop on {node1}")[-1]
    start = node_with(events, f"d1 start on {target}")[-1]
    assert stop["index"] < start["index"]                            # stop before start
    assert not (cluster.run_dir(node1) / "resource-agents" / "Dummy-d1.state").exists()


def test_failed_start_moves_on_on_fail_ignore_keeps_it_and_cleanup_retries(cluster):
    # ocf:pacemaker:Dummy's fail_start_on compares the host name: every sandbox node fails.
    host = os.uname().nodename
    cluster.load(BASE + f"""
primitive flaky ocf:pacemaker:Dummy params fail_start_on={host} op monitor interval=3s
primitive tolerant ocf:pacemaker:Dummy params fail_start_on={host} \\
    op start on-fail=ignore op monitor interval=3s
""")

    def failed_everywhere():
        counts = cluster.call("resource_failcount", resource="flaky")["failcounts"]
        return counts if len(counts) == 3 else None
    counts = wait_for(failed_everywhere, what="a failed start on every node")
    assert {(row["operation"], row["count"]) for row in counts} == {("start_0", "INFINITY")}
    wait_for(lambda: cluster.resources()["flaky"]["role"] == "Stopped", what="flaky stopped")
    failed = [item for node in cluster.status()["nodes"].values()
              for item in node["failed_actions"] if item["resource"] == "flaky"]
    assert {(item["operation"], item["rc"]) for item in failed} == {("start", 1)}
    # on-fail=ignore: the failed starts are recorded, and the resource is left running.
    cluster.wait_running("tolerant")
    assert node_with(cluster.operations(), "tolerant start")[0]["summary"].count("rc=1")
    starts = len(node_with(cluster.operations(), "flaky start"))
    cluster.call("resource_cleanup", resource="flaky")
    wait_for(lambda: len(node_with(cluster.operations(), "flaky start")) > starts,
             what="a new start attempt after cleanup")


def test_stateful_promotable_clone_promotes_exactly_one_by_its_own_score(cluster):
    cluster.load(BASE + """
primitive st ocf:pacemaker:Stateful \\
    op monitor interval=3s role=Promoted op monitor interval=4s role=Unpromoted
clone st-clone st meta promotable=true
""")

    def roles():
        view = cluster.resources()
        found = sorted(item["role"] for key, item in view.items() if key.startswith("st:"))
        return found if found == ["Promoted", "Unpromoted", "Unpromoted"] else None
    wait_for(roles, what="one Promoted and two Unpromoted instances")
    attributes = cluster.call("attribute_query", node="node1", name="master-st")
    assert attributes["value"] in ("5", "10")
    promoted = [item for item in cluster.resources().values() if item["role"] == "Promoted"]
    node = promoted[0]["nodes"][0]
    state_file = cluster.run_dir(node) / "Stateful-st.state"
    # Status shows a pending promote as Promoted at once; the agent finishes it.
    wait_for(lambda: cluster.call("attribute_query", node=node,
                                  name="master-st")["value"] == "10", what="score 10")
    wait_for(lambda: [event for event in cluster.operations()
                      if f"st promote on {node}: rc=0" in event["summary"]],
             what="promote done")
    assert state_file.read_text().strip() == "Promoted"
    promotes = [event for event in cluster.operations() if "st promote" in event["summary"]]
    assert len(promotes) == 1                   # no second instance was ever promoted
    # The promoted node goes to standby: demote and stop there, promote another instance.
    cluster.call("node_attribute_set", node=node, name="standby", value="on")

    def promoted_elsewhere():
        view = cluster.resources()
        promoted = [item["nodes"] for item in view.values() if item["role"] == "Promoted"]
        stopped = [item for key, item in view.items()
                   if key.startswith("st:") and item["role"] == "Stopped"]
        return promoted if len(promoted) == 1 and promoted[0] != [node] and stopped else None
    wait_for(promoted_elsewhere, what="another instance promoted")

    def promote_after_demote():
        events = cluster.operations()
        demotes = node_with(events, f"st demote on {node}")
        return demotes and [event for event in node_with(events, "st promote")
                            if event["index"] > demotes[-1]["index"]]
    promote = wait_for(promote_after_demote, what="a promote after the demote")
    events = cluster.operations()
    assert promote, " | ".join(f"{event['index']} {event['summary']}" for event in events[-14:])
    wait_for(lambda: not state_file.exists(), what="the old instance stopped")


def test_group_ordered_and_colocated_with_a_clone(cluster):
    cluster.load(BASE + """
primitive base ocf:heartbeat:Dummy op monitor interval=5s
clone base-clone base
primitive web-a ocf:heartbeat:Dummy
primitive web-b ocf:pacemaker:Dummy
group web web-a web-b
order web-after-base Mandatory: base-clone web
colocation web-with-base inf: web base-clone
""")
    [node_a] = cluster.wait_running("web-a")
    [node_b] = cluster.wait_running("web-b")
    assert node_a == node_b
    events = cluster.operations()
    start_a = node_with(events, "web-a start")[0]["index"]
    start_b = node_with(events, "web-b start")[0]["index"]
    base_here = node_with(events, f"base start on {node_a}")[0]["index"]
    assert base_here < start_a < start_b


def test_lsb_script_runs_on_one_node(cluster):
    cluster.load(BASE + "primitive lsbdemo lsb:lsb-demo op monitor interval=2s\n")
    [node] = cluster.wait_running("lsbdemo")
    pid_file = Path(cluster.directory) / node / "lsb-demo" / "lsb-demo.pid"
    pid = int(pid_file.read_text())
    assert Path(f"/proc/{pid}").exists()
    others = [name for name in cluster.names if name != node]
    assert all(not (Path(cluster.directory) / name / "lsb-demo" / "lsb-demo.pid").exists()
               for name in others)


def test_monitor_failure_restarts_then_moves_after_migration_threshold(cluster):
    cluster.load(BASE + """
primitive watched ocf:heartbeat:Dummy meta migration-threshold=2 op monitor interval=1s
""")
    [first] = cluster.wait_running("watched")
    state_file = cluster.run_dir(first) / "resource-agents" / "Dummy-watched.state"
    state_file.unlink()                     # the service dies behind the cluster's back
    wait_for(lambda: len(node_with(cluster.operations(), f"watched start on {first}")) == 2,
             what="restart in place")
    counts = cluster.call("resource_failcount", resource="watched")["failcounts"]
    assert [(row["node"], row["operation"], row["count"]) for row in counts] == [
        (first, "monitor_1000", "1")]
    wait_for(state_file.exists, what="state file back")
    state_file.unlink()                     # the second failure reaches the threshold
    moved = wait_for(lambda: [n for n in cluster.where("watched") if n != first],
                     what="moved after two failures")
    assert len(moved) == 1
    failed = cluster.status()["nodes"][first]["failed_actions"]
    assert failed and failed[0]["operation"] == "monitor" and failed[0]["rc"] == 7


def test_start_timeout_kills_the_agent_process_group(cluster):
    cluster.load(BASE + """
primitive slow ocf:pacemaker:Dummy params op_sleep=30 \\
    op start timeout=2s op stop timeout=2s op monitor interval=5s timeout=40s
location slow-on-node1 slow 100: node1
location slow-not-node2 slow -inf: node2
location slow-not-node3 slow -inf: node3
""")
    socket_path = cluster.sandbox.node("node1").socket_path
    timed_out = wait_for(lambda: [event for event in cluster.operations()
                                  if "slow start on node1" in event["summary"]
                                  and "status=2" in event["summary"]],
                         timeout_s=90, what="a timed-out start")
    assert timed_out
    # The agent and its sleep were killed with their process group.
    wait_for(lambda: not [pid for pid in processes_with_environment("RAFTHA_SOCKET",
                                                                   socket_path)
                          if "OCF_RESOURCE_INSTANCE=slow" in
                          Path(f"/proc/{pid}/environ").read_text(errors="replace")
                          .split("\0")], timeout_s=30, what="agent processes gone")
    failed = cluster.status()["nodes"]["node1"]["failed_actions"]
    assert any(item["status_text"] == "Timed Out" for item in failed)


def test_standby_evacuates_in_order(cluster):
    cluster.load(BASE + """
primitive ev1 ocf:heartbeat:Dummy op monitor interval=3s
primitive ev2 ocf:pacemaker:Dummy op monitor interval=3s
group evac ev1 ev2
location evac-prefers-node1 evac 50: node1
""")
    cluster.wait_running("ev2")
    assert cluster.where("ev1") == ["node1"] and cluster.where("ev2") == ["node1"]
    cluster.call("node_attribute_set", node="node1", name="standby", value="on")
    moved = wait_for(lambda: [n for n in cluster.where("ev2") if n != "node1"],
                     what="evacuated")
    assert cluster.where("ev1") == moved
    events = cluster.operations()
    stop_b = node_with(events, "ev2 stop on node1")[-1]["index"]
    stop_a = node_with(events, "ev1 stop on node1")[-1]["index"]
    start_a = node_with(events, f"ev1 start on {moved[0]}")[-1]["index"]
    start_b = node_with(events, f"ev2 start on {moved[0]}")[-1]["index"]
    assert stop_b < stop_a < start_a < start_b      # reverse order out, forward order in
    assert cluster.status()["nodes"]["node1"]["state"] == "standby"


def test_failure_timeout_expires_through_a_committed_clock_tick(cluster):
    cluster.load(BASE + """
primitive brittle ocf:heartbeat:Dummy meta migration-threshold=1 failure-timeout=4s \\
    op monitor interval=1s
location brittle-likes-node1 brittle 100: node1
""")
    cluster.wait_running("brittle")
    assert cluster.where("brittle") == ["node1"]
    (cluster.run_dir("node1") / "resource-agents" / "Dummy-brittle.state").unlink()
    wait_for(lambda: [n for n in cluster.where("brittle") if n != "node1"],
             what="moved away after one failure")
    # Once the failure is older than failure-timeout, the leader commits a clock tick, the
    # fail count stops counting, and the resource returns to the node it prefers.
    wait_for(lambda: cluster.where("brittle") == ["node1"], timeout_s=60,
             what="back on node1 after failure-timeout")
    assert [event for event in cluster.history() if event["kind"] == "ClockTicked"]


def test_cli_restart_failcount_and_status_sections(cluster):
    socket_path = cluster.sandbox.node("node2").socket_path

    def raftha(*arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "raftha.cli", *arguments,
                               "--socket", socket_path], capture_output=True, text=True,
                              timeout=120)
    cluster.load(BASE + "primitive cli1 ocf:heartbeat:Dummy op monitor interval=1s\n")
    [where] = cluster.wait_running("cli1")
    restarted = raftha("resource", "restart", "cli1")
    assert restarted.returncode == 0, restarted.stderr
    events = cluster.operations()
    stop = node_with(events, f"cli1 stop on {where}")[-1]["index"]
    assert [event for event in events if "cli1 start" in event["summary"]
            and event["index"] > stop]
    assert "No failures recorded for cli1" in raftha("resource", "failcount", "cli1").stdout
    [where] = cluster.wait_running("cli1")
    (cluster.run_dir(where) / "resource-agents" / "Dummy-cli1.state").unlink()
    wait_for(lambda: cluster.call("resource_failcount", resource="cli1")["failcounts"],
             what="a fail count")
    counted = raftha("resource", "failcount", "cli1").stdout
    assert f"cli1 on {where}: monitor_1000 fail-count=1" in counted
    text = raftha("status").stdout
    assert "Migration Summary:" in text and f"cli1_monitor_1000 on {where}" in text
