"""The call-back shims (agents/shims) against a real sandbox daemon, as agents call them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from executor_cluster import wait_for

SHIMS = Path(__file__).resolve().parents[2] / "agents" / "shims"


@pytest.fixture
def shim(cluster):
    environment = {"PATH": "/usr/bin:/bin", "RAFTHA_PYTHON": sys.executable,
                   "RAFTHA_SOCKET": cluster.sandbox.node("node1").socket_path,
                   "OCF_RESOURCE_INSTANCE": "db:1"}

    def run(tool: str, *arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(SHIMS / tool), *arguments], env=environment,
                              capture_output=True, text=True, timeout=60)
    return run


def test_node_tools_answer_from_the_committed_state(cluster, shim):
    assert shim("crm_node", "-n").stdout.strip() == "node1"
    assert shim("crm_node", "-q").stdout.strip() == "1"
    assert shim("crm_node", "-p").stdout.split() == ["node1", "node2", "node3"]
    listing = [line.split() for line in shim("crm_node", "-l").stdout.splitlines()]
    assert [row[1:] for row in listing] == [["node1", "member"], ["node2", "member"],
                                            ["node3", "member"]]
    version = shim("pacemakerd", "-$").stdout.splitlines()[0]
    assert version == "Pacemaker 2.1.5"
    refused = shim("crm_node", "--bogus")
    assert refused.returncode == 64 and "unsupported option" in refused.stderr


def test_promotion_scores_and_node_attributes_round_trip(cluster, shim):
    missing = shim("crm_attribute", "--promotion", "-G", "-q")
    assert missing.returncode == 105
    assert shim("crm_attribute", "--promotion", "-v", "10").returncode == 0
    assert shim("crm_attribute", "-p", "-G", "-q").stdout.strip() == "10"
    assert shim("crm_master", "-Q", "-G").stdout.strip() == "10"
    state = cluster.call("attribute_query", node="node1", name="master-db")
    assert state["value"] == "10"                     # master-RSC, without the clone number
    assert shim("crm_master", "-l", "reboot", "-D").returncode == 0
    assert shim("crm_attribute", "--promotion", "-G", "-q").returncode == 105
    # Permanent (-l forever) lands in the configuration's node section, beside standby.
    assert shim("crm_attribute", "-N", "node2", "-l", "forever", "-n", "rack",
                "-v", "r7").returncode == 0
    assert "r7" in cluster.call("configure_show")["text"]
    assert shim("crm_attribute", "-N", "node2", "-l", "forever", "-n", "rack",
                "-G").stdout.strip() == "scope=nodes  name=rack value=r7"
    # Cluster options.
    assert shim("crm_attribute", "--type", "crm_config", "--name", "cluster-recheck-interval",
                "-v", "5min").returncode == 0
    assert shim("crm_attribute", "-t", "crm_config", "-n", "cluster-recheck-interval", "-G",
                "-q").stdout.strip() == "5min"


def test_attrd_updater_sets_transient_attributes_rules_can_use(cluster, shim):
    assert shim("attrd_updater", "-n", "pingd", "-U", "1000", "-d", "5s").returncode == 0
    answer = shim("attrd_updater", "-n", "pingd", "-Q")
    assert answer.stdout.strip() == 'name="pingd" host="node1" value="1000"'
    cluster.load("""property stonith-enabled=false
primitive pinned ocf:heartbeat:Dummy
location pinned-where-ping pinned rule -inf: not_defined pingd or pingd lte 0
""")
    wait_for(lambda: cluster.where("pinned") == ["node1"], what="pinned placed by the rule")
    assert shim("attrd_updater", "-n", "pingd", "-D").returncode == 0
    assert shim("attrd_updater", "-n", "pingd", "-Q").returncode == 105
    wait_for(lambda: cluster.resources()["pinned"]["role"] == "Stopped",
             what="pinned stopped once the attribute is gone")
