"""Real processes: clone notifications (meta notify=true) on a 3-node sandbox.

A fixture agent (notify_agents/test/NotifyRecorder) writes every start, stop and notify it
runs, with the notify environment, to one log file, so the test reads back who was told
what and in which order; ocf:pacemaker:Stateful (Debian's, unmodified) shows promotion
notifications of a promotable clone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from executor_cluster import FIXTURES, ExecutorCluster, wait_for

from raftha.sandbox import Sandbox

AGENTS = Path(__file__).resolve().parent / "notify_agents"
BASE = "property stonith-enabled=false\n"
NOTIFY_NAMES = (
    "type", "operation", "all_uname", "all_hosts", "available_uname", "inactive_resource",
    *(f"{kind}_{part}" for kind in ("start", "stop", "promote", "demote", "active",
                                    "promoted", "unpromoted", "master", "slave")
      for part in ("resource", "uname")),
)


class NotifyCluster(ExecutorCluster):
    """The executor sandbox with the fixture agents' directory on the OCF search path."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.sandbox = Sandbox(self.directory)
        self.sandbox.create(3)
        for node in self.sandbox.nodes.values():
            with open(node.config_path, "a") as handle:
                handle.write("\n[executor]\n"
                             f'lsb_directory = "{FIXTURES}"\n'
                             f'extra_ocf_directories = ["{AGENTS}"]\n')
        self.names = list(self.sandbox.nodes)
        self.sandbox.up(3, timeout_s=120)


@pytest.fixture
def notify_cluster(tmp_path):
    instance = None
    try:
        instance = NotifyCluster(tmp_path / "sandbox")
        yield instance
    finally:
        if instance is not None:
            instance.close()
        else:
            Sandbox(tmp_path / "sandbox").down()


def entries(log: Path) -> list[dict]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def notifications(log: Path, notify_type: str, operation: str) -> list[dict]:
    return [entry for entry in entries(log) if entry["action"] == "notify"
            and entry["variables"].get("type") == notify_type
            and entry["variables"].get("operation") == operation]


def started_everywhere(cluster, prefix: str) -> bool:
    view = cluster.resources()
    nodes = sorted(node for key, item in view.items() if key.startswith(prefix)
                   for node in item["nodes"] if item["role"] in ("Started", "Unpromoted",
                                                                 "Promoted"))
    return nodes == sorted(cluster.names)


def test_clone_notifications_reach_every_active_instance_in_order(notify_cluster, tmp_path):
    cluster = notify_cluster
    log = tmp_path / "notify.log"
    cluster.load(BASE + f"""
primitive rec ocf:test:NotifyRecorder params log={log} fail_notify_on=node2 \\
    op monitor interval=5s
clone rec-clone rec meta notify=true
""")
    wait_for(lambda: started_everywhere(cluster, "rec:"), what="rec started on every node")

    def told_of_every_start():
        told = {entry["node"]: set() for entry in notifications(log, "post", "start")}
        for entry in notifications(log, "post", "start"):
            told[entry["node"]].update(entry["variables"]["start_uname"].split())
        return told if set(told) == set(cluster.names) and all(
            node in told[node] for node in cluster.names) else None
    wait_for(told_of_every_start, what="each node told of its own start (post start)")
    for entry in notifications(log, "post", "start"):
        variables = entry["variables"]
        assert set(NOTIFY_NAMES) <= set(variables), sorted(set(NOTIFY_NAMES) - set(variables))
        assert variables["all_uname"] == "node1 node2 node3"
        assert variables["master_uname"] == variables["promoted_uname"] == " "  # empty list
        assert entry["clone"] in ("0", "1", "2")
    # node2's notifications fail (rc 1): recorded, ignored, no fail count, nothing moved.
    wait_for(lambda: [event for event in cluster.operations()
                      if "rec notify on node2: rc=1" in event["summary"]],
             what="node2's failed notification recorded")
    assert cluster.call("resource_failcount", resource="rec")["failcounts"] == []
    assert started_everywhere(cluster, "rec:")

    # node3 goes to standby: everyone active is told before the stop, the others after it.
    before = len(entries(log))
    cluster.call("node_attribute_set", node="node3", name="standby", value="on")
    wait_for(lambda: len(notifications(log, "post", "stop")) >= 2, what="post stop")
    later = entries(log)[before:]
    stop_at = next(index for index, entry in enumerate(later)
                   if entry["action"] == "stop" and entry["node"] == "node3")
    pre_stop = [index for index, entry in enumerate(later) if entry["action"] == "notify"
                and entry["variables"]["type"] == "pre"
                and entry["variables"]["operation"] == "stop"]
    post_stop = [(index, entry) for index, entry in enumerate(later)
                 if entry["action"] == "notify" and entry["variables"]["type"] == "post"
                 and entry["variables"]["operation"] == "stop"]
    assert {later[index]["node"] for index in pre_stop} == {"node1", "node2", "node3"}
    assert max(pre_stop) < stop_at < min(index for index, _ in post_stop)
    assert {entry["node"] for _, entry in post_stop} == {"node1", "node2"}
    assert all(entry["variables"]["stop_uname"] == "node3" for _, entry in post_stop)


def test_stateful_promotable_clone_is_notified_of_its_promotion(notify_cluster):
    cluster = notify_cluster
    cluster.load(BASE + """
primitive st ocf:pacemaker:Stateful \\
    op monitor interval=3s role=Promoted op monitor interval=4s role=Unpromoted
clone st-clone st meta promotable=true notify=true
""")

    def one_promoted():
        view = cluster.resources()
        return [item["nodes"][0] for key, item in view.items()
                if key.startswith("st:") and item["role"] == "Promoted"]
    [promoted] = wait_for(one_promoted, what="one promoted instance")

    def notified_everywhere():
        exported = cluster.call("cib_export")["xml"]
        return all(exported.count(f'id="st_{kind}_notify_promote_0"') == 3
                   for kind in ("pre", "post")) and exported
    exported = wait_for(notified_everywhere, what="pre and post promote on all three nodes")
    assert exported.count('id="st_post_notify_start_0"') == 3
    promotes = [event for event in cluster.operations() if "st promote" in event["summary"]]
    assert len(promotes) == 1 and promoted in promotes[0]["summary"]
    assert cluster.call("resource_failcount", resource="st")["failcounts"] == []


def test_stateful_promoted_node_leaving_demotes_stops_and_promotes_another(notify_cluster):
    cluster = notify_cluster
    cluster.load(BASE + """
primitive st ocf:pacemaker:Stateful \\
    op monitor interval=3s role=Promoted op monitor interval=4s role=Unpromoted
clone st-clone st meta promotable=true notify=true
""")

    def promoted_nodes():
        view = cluster.resources()
        return [item["nodes"][0] for key, item in view.items()
                if key.startswith("st:") and item["role"] == "Promoted"]
    [first] = wait_for(promoted_nodes, what="one promoted instance")
    wait_for(lambda: cluster.call("executor_status", via=first)["monitors"],
             what="the promoted monitor")
    index = cluster.call("node_attribute_set", node=first, name="standby",
                         value="on")["index"]
    [second] = wait_for(lambda: [node for node in promoted_nodes() if node != first] or None,
                        what="another instance promoted")

    def event_after(needle: str, after: int) -> int | None:
        found = [event["index"] for event in cluster.operations()
                 if event["index"] > after and needle in event["summary"]]
        return found[0] if found else None
    promote = wait_for(lambda: event_after(f"st promote on {second}: rc=0", index),
                       what="the promote done")
    demote = event_after(f"st demote on {first}: rc=0", index)
    stop = event_after(f"st stop on {first}: rc=0", index)
    assert demote is not None and stop is not None and demote < stop < promote
    # Every remaining node is told of the promotion afterwards.
    for node in cluster.names:
        if node != first:
            wait_for(lambda node=node: event_after(f"st notify on {node}: rc=0", promote),
                     what=f"post promote on {node}")
    exported = cluster.call("cib_export")["xml"]
    for kind in ("pre", "post"):
        for operation in ("demote", "stop", "promote"):
            assert f'id="st_{kind}_notify_{operation}_0"' in exported, (kind, operation)
