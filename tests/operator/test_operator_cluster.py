"""Operator workflows on a real 3-node sandbox, through the `raftha` command line:

- the Clusters from Scratch configuration (IPaddr2 floating IP, apache, colocation, order,
  a move, a fence device) in crm syntax loads and round-trips through `configure show`
  (maintenance-mode keeps the real agents from touching this machine's network);
- an exported CIB is read by the real `crm_mon -1` and `crm configure show` (CIB_file=)
  with the same resources and constraints; a Pacemaker CIB imports atomically;
- bad syntax, unknown ids and constraint cycles give clear errors and commit nothing;
- edit, verify and a staged batch commit one change or nothing;
- time travel shows the state before a change; a move with a lifetime expires by itself;
- explain and why-moved answer from the live cluster.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from sandbox_support import wait_until

from raftha.crmsh import parse_configuration
from raftha.model.config import Configuration
from raftha.sandbox import Sandbox

CLUSTERS_FROM_SCRATCH = """\
property maintenance-mode=true stonith-enabled=true no-quorum-policy=stop
rsc_defaults resource-stickiness=100
op_defaults timeout=240s
primitive ClusterIP IPaddr2 params ip=192.168.122.120 cidr_netmask=24 op monitor interval=30s
primitive WebSite apache params configfile=/etc/apache2/apache2.conf \\
    statusurl="http://localhost/server-status" op monitor interval=1min
primitive ipmi-fencing stonith:fence_ipmilan params pcmk_host_list="node1 node2 node3" \\
    ip=10.0.0.1 username=testuser password=acd123 op monitor interval=60s
colocation website-with-ip inf: WebSite ClusterIP
order apache-after-ip Mandatory: ClusterIP WebSite
location prefer-node2 WebSite 50: node2
"""
CFS_IDS = ("ClusterIP", "WebSite", "ipmi-fencing", "website-with-ip", "apache-after-ip",
           "prefer-node2", "cli-prefer-WebSite")
# Real Dummy agents only write a state file: safe to start and stop on a shared machine.
DUMMIES = """\
property stonith-enabled=false
primitive D1 ocf:heartbeat:Dummy op monitor interval=10s
primitive D2 ocf:heartbeat:Dummy op monitor interval=10s
location prefer-D1 D1 100: node1
"""


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    instance = Sandbox(tmp_path_factory.mktemp("operator") / "sandbox")
    try:
        instance.up(3, timeout_s=120)
        yield instance
    finally:
        # `raftha cluster start --sandbox` (a test below) records its new process in the
        # sandbox's state file: read it again so every node is stopped.
        instance.load()
        instance.down()


@pytest.fixture
def cli(sandbox, tmp_path):
    socket_path = str(sandbox.node("node2").socket_path)

    def run(*args: str, input_text: str = "", editor: str | None = None,
            check: bool | None = True) -> subprocess.CompletedProcess:
        environment = dict(os.environ, RAFTHA_SOCKET=socket_path,
                           RAFTHA_STAGE_DIR=str(tmp_path / "stage"))
        if editor is not None:
            environment["EDITOR"] = editor
            environment.pop("VISUAL", None)
        result = subprocess.run([sys.executable, "-m", "raftha.cli", *args],
                                capture_output=True, text=True, timeout=120, env=environment,
                                input=input_text)
        if check is True:
            assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result
    # State checks ask the Control API directly: one CLI process per check would make
    # the polling loops slow on a loaded machine. What is tested goes through the CLI.
    run.api = lambda op, **args: sandbox.call("node2", op, **args)
    return run


def configuration_index(cli) -> int:
    return cli.api("status")["cluster"]["commit_index"]


def configuration_loads(cli) -> list[dict]:
    events = cli.api("history", limit=100_000)["events"]
    return [event for event in events if event["kind"] == "ConfigurationLoaded"]


def shown(cli) -> Configuration:
    return Configuration.from_dict(cli.api("configure_show")["configuration"])


def test_clusters_from_scratch_loads_and_round_trips(cli, tmp_path):
    path = tmp_path / "cfs.crm"
    path.write_text(CLUSTERS_FROM_SCRATCH)
    cli("configure", "load", "replace", str(path))
    cli("resource", "move", "WebSite", "node3")
    text = cli("configure", "show").stdout
    for identifier in CFS_IDS:
        assert identifier in text
    assert "location cli-prefer-WebSite WebSite role=Started inf: node3" in text
    assert parse_configuration(text) == shown(cli)
    # Loading what show printed changes nothing but the index.
    again = tmp_path / "again.crm"
    again.write_text(text)
    cli("configure", "load", "replace", str(again))
    assert cli("configure", "show").stdout == text


def test_export_is_read_by_the_real_crm_mon_and_crmsh(cli, tmp_path):
    if shutil.which("crm_mon") is None:
        pytest.skip("crm_mon (pacemaker-cli-utils) is not installed")
    path = tmp_path / "cfs.crm"
    path.write_text(CLUSTERS_FROM_SCRATCH)
    cli("configure", "load", "replace", str(path))
    cli("resource", "move", "WebSite", "node3")
    cib = tmp_path / "cib.xml"
    cli("cib", "export", "-o", str(cib))
    environment = dict(os.environ, CIB_file=str(cib))
    monitor = subprocess.run(["crm_mon", "-1", "-r"], capture_output=True, text=True,
                             timeout=60, env=environment)
    assert monitor.returncode == 0, monitor.stderr
    assert "Online: [ node1 node2 node3 ]" in monitor.stdout
    for resource, agent in (("ClusterIP", "ocf:heartbeat:IPaddr2"),
                            ("WebSite", "ocf:heartbeat:apache"),
                            ("ipmi-fencing", "stonith:fence_ipmilan")):
        assert f"{resource}\t({agent}):" in monitor.stdout
    assert "Current DC: node" in monitor.stdout and "partition with quorum" in monitor.stdout
    if shutil.which("crm") is None:
        return
    crm = subprocess.run(["crm", "configure", "show"], capture_output=True, text=True,
                         timeout=120, env=environment)
    assert crm.returncode == 0, crm.stderr
    for identifier in CFS_IDS:
        assert identifier in crm.stdout
    assert "colocation website-with-ip inf: WebSite ClusterIP" in crm.stdout
    assert "order apache-after-ip Mandatory: ClusterIP WebSite" in crm.stdout


def test_bad_syntax_unknown_ids_and_cycles_commit_nothing(cli, tmp_path):
    cli("configure", "load", "replace", "-", input_text=DUMMIES)
    before = len(configuration_loads(cli))
    text_before = cli("configure", "show").stdout
    bad = tmp_path / "bad.crm"
    bad.write_text("primitive X ocf:heartbeat:Dummy\ncolocation c inf X D1\n")
    cases = [
        (("configure", "load", "update", str(bad)), "", "line 2, column 14"),
        (("configure", "load", "-"), "colocation c1 inf: D1 Nope\n", "unknown resource Nope"),
        (("configure", "load", "-"),
         "order o1 Mandatory: D1 D2\norder o2 Mandatory: D2 D1\n", "order cycle"),
        (("resource", "move", "Nope", "node1"), "", "no resource 'Nope'"),
        (("resource", "move", "D1", "node9"), "", "node 'node9' is not a member"),
        (("resource", "move", "D1", "node1", "--lifetime", "soon"), "", "not a duration"),
    ]
    for args, input_text, expected in cases:
        result = cli(*args, input_text=input_text, check=False)
        assert result.returncode == 1, args
        assert expected in result.stderr, (args, result.stderr)
        assert result.stderr.count("\n") == 1, result.stderr  # one line
    assert len(configuration_loads(cli)) == before
    assert cli("configure", "show").stdout == text_before
    verify = cli("configure", "verify", str(bad), check=False)
    assert verify.returncode == 1 and "line 2, column 14" in verify.stdout


def test_edit_commits_one_change_and_nothing_when_unchanged_or_broken(cli):
    cli("configure", "load", "replace", "-", input_text=DUMMIES)
    before = len(configuration_loads(cli))
    unchanged = cli("configure", "edit", editor="true")
    assert "no change" in unchanged.stdout
    broken = cli("configure", "edit", editor="sed -i s/^primitive\\ D2/primitiv\\ D2/",
                 check=False)
    assert broken.returncode == 1 and "unknown statement 'primitiv'" in broken.stderr
    assert "nothing committed" in broken.stderr
    assert len(configuration_loads(cli)) == before
    cli("configure", "edit", editor="sed -i s/interval=10s/interval=20s/")
    assert len(configuration_loads(cli)) == before + 1
    assert "interval=20s" in cli("configure", "show").stdout


def test_a_staged_batch_commits_atomically_and_refuses_a_stale_base(cli):
    cli("configure", "load", "replace", "-", input_text=DUMMIES)
    before = len(configuration_loads(cli))
    cli("configure", "begin")
    cli("configure", "load", "-", input_text="primitive D3 ocf:heartbeat:Dummy\n")
    cli("configure", "load", "-", input_text="group G D2 D3\n")
    staged = cli("configure", "show").stdout
    assert "group G D2 D3" in staged
    assert "D3" not in cli("configure", "show", "--committed").stdout
    assert len(configuration_loads(cli)) == before  # nothing committed while staged
    cli("configure", "verify")
    cli("configure", "commit")
    assert len(configuration_loads(cli)) == before + 1
    assert "group G D2 D3" in cli("configure", "show").stdout
    # A batch based on an older configuration is refused; nothing is lost or applied.
    cli("configure", "begin")
    cli("configure", "load", "-", input_text="primitive D4 ocf:heartbeat:Dummy\n")
    cli("resource", "meta", "D1", "set", "resource-stickiness", "7")
    stale = cli("configure", "commit", check=False)
    assert stale.returncode == 1 and "configuration changed since index" in stale.stderr
    assert "D4" not in cli("configure", "show", "--committed").stdout
    cli("configure", "abort")


def test_import_of_a_pacemaker_cib_is_atomic(cli, tmp_path):
    cib = tmp_path / "pacemaker.xml"
    cib.write_text("""<cib validate-with="pacemaker-3.7" epoch="3" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config><cluster_property_set id="cib-bootstrap-options">
      <nvpair id="o1" name="dc-version" value="2.1.5-a3f44794f94"/>
      <nvpair id="o2" name="stonith-enabled" value="false"/>
    </cluster_property_set></crm_config>
    <nodes><node id="1" uname="pcmk-1"/></nodes>
    <resources>
      <primitive id="P1" class="ocf" provider="heartbeat" type="Dummy"/>
      <primitive id="P2" class="ocf" provider="heartbeat" type="Dummy"/>
    </resources>
    <constraints>
      <rsc_order id="p1-then-p2" first="P1" then="P2" kind="Mandatory"/>
    </constraints>
  </configuration>
  <status/>
</cib>
""")
    before = len(configuration_loads(cli))
    cli("cib", "import", str(cib))
    assert len(configuration_loads(cli)) == before + 1
    configuration = shown(cli)
    assert {primitive.id for primitive in configuration.all_primitives()} == {"P1", "P2"}
    assert [constraint.id for constraint in configuration.constraints] == ["p1-then-p2"]
    assert "dc-version" not in dict(configuration.properties)
    broken = tmp_path / "broken.xml"
    broken.write_text(cib.read_text().replace('then="P2"', 'then="Nope"'))
    result = cli("cib", "import", str(broken), check=False)
    assert result.returncode == 1 and "Nope" in result.stderr
    assert len(configuration_loads(cli)) == before + 1


def placement(cli, resource: str, at: int | None = None) -> str | None:
    document = cli.api("status") if at is None else cli.api("status", at=at)
    entry = document["resources"].get(resource)
    return None if entry is None else (entry.get("node") or "")


def test_time_travel_shows_the_state_before_a_change(cli):
    cli("configure", "load", "replace", "-", input_text=DUMMIES)
    index_before = configuration_index(cli)
    cli("configure", "load", "-", input_text="primitive LATE ocf:heartbeat:Dummy\n")
    assert placement(cli, "LATE") is not None
    assert placement(cli, "LATE", at=index_before) is None
    past = cli("status", "--at", str(index_before)).stdout
    assert f"Rebuilt at log index {index_before}" in past and "LATE" not in past
    assert "LATE" in cli("status").stdout
    # The same by time: the moment of the last entry at or before that index.
    events = json.loads(cli("history", "--all", "--limit", "100000", "--output",
                            "json").stdout)
    moment = next(event["time"] for event in events if event["index"] == index_before)
    by_time = json.loads(cli("status", "--output", "json", "--at", moment).stdout)
    assert "LATE" not in by_time["resources"] and "D1" in by_time["resources"]


def test_node_utilization_and_cluster_status(cli):
    cli("node", "utilization", "node1", "set", "cpu", "8")
    assert cli("node", "utilization", "node1", "show").stdout == "cpu=8\n"
    assert "utilization cpu=8" in cli("configure", "show").stdout
    cli("node", "utilization", "node1", "delete", "cpu")
    assert cli("node", "utilization", "node1", "show").stdout == ""
    status = cli("cluster", "status").stdout
    assert "quorum: yes" in status and status.count("connected") == 2
    assert "node2" in status.split("this node")[0].splitlines()[-1]


def test_move_with_a_lifetime_expires_by_itself_and_why_moved_finds_it(cli):
    cli("configure", "load", "replace", "-", input_text=DUMMIES)
    wait_until(lambda: placement(cli, "D1") == "node1", 90, "D1 started on node1")
    moved = cli("resource", "move", "D1", "node3", "--lifetime", "6s")
    move_index = int(moved.stdout.rsplit("index ", 1)[1].rstrip(")\n"))
    status = cli("status").stdout
    assert "cli-prefer-D1: D1 prefers node3 (expires " in status
    wait_until(lambda: placement(cli, "D1") == "node3", 90, "D1 moved to node3")
    wait_until(lambda: "cli-prefer-D1" not in cli.api("configure_show")["text"], 90,
               "the move constraint to expire")
    assert "cli-prefer-D1" not in cli("status").stdout
    history = cli("history", "--resource", "D1", "--output", "json").stdout
    assert any("lifetime ended: cli-prefer-D1 removed" in event["summary"]
               for event in json.loads(history))
    wait_until(lambda: placement(cli, "D1") == "node1", 90, "D1 back on its preferred node")
    why = json.loads(cli("why-moved", "D1", "--output", "json").stdout)
    indexes = [move["index"] for move in why["moves"]]
    assert move_index in indexes
    the_move = next(move for move in why["moves"] if move["index"] == move_index)
    assert the_move["after"] == {"D1": "node3"} and the_move["before"] == {"D1": "node1"}
    explained = json.loads(cli("explain", "D1", "--output", "json").stdout)
    (explanation,) = explained["explanations"]
    assert explanation["chosen"] == "node1"
    assert ["prefer-D1", "node1", 100] in explanation["contributions"]
    text = cli("explain", "D1").stdout
    assert "decided by: prefer-D1 (100 on node1)" in text


GROUPS_AND_CLONES = """\
property stonith-enabled=false
rsc_defaults resource-stickiness=100
primitive vip ocf:heartbeat:Dummy op monitor interval=10s
primitive site ocf:heartbeat:Dummy op monitor interval=10s
group web vip site
primitive pulse ocf:pacemaker:Dummy op monitor interval=15s
clone pulse-clone pulse
primitive db ocf:pacemaker:Stateful op monitor interval=10s role=Promoted \\
    op monitor interval=11s role=Unpromoted
clone db-clone db meta promotable=true promoted-max=1
colocation web-with-db-promoted inf: web db-clone:Promoted
order db-then-web Mandatory: db-clone:promote web:start
primitive spare ocf:heartbeat:Dummy meta target-role=Stopped
"""


def section(text: str, heading: str) -> list[str]:
    """The bullet lines of one crm_mon section, without column padding."""
    lines = text.splitlines()
    start = lines.index(heading) + 1
    body = []
    for line in lines[start:]:
        if not line.strip():
            break
        body.append(" ".join(line.replace("\t", " ").split()))
    return body


def test_status_agrees_with_the_real_crm_mon_on_groups_and_clones(cli, tmp_path):
    if shutil.which("crm_mon") is None:
        pytest.skip("crm_mon (pacemaker-cli-utils) is not installed")
    cli("configure", "load", "replace", "-", input_text=GROUPS_AND_CLONES)

    def settled():
        resources = cli.api("status")["resources"]
        # Resources earlier tests left running are orphans now: not part of this check.
        resources = {name: item for name, item in resources.items()
                     if not item["primitive"].startswith("#orphan:")}
        roles = sorted(item["role"] for item in resources.values())
        return roles == ["Promoted", "Started", "Started", "Started", "Started", "Started",
                         "Stopped", "Unpromoted", "Unpromoted"] and all(
            item["node"] == item["target_node"] for item in resources.values())
    wait_until(settled, 120, "every instance placed and promoted")
    ours = cli("status", "--no-color").stdout
    cib = tmp_path / "cib.xml"
    cli("cib", "export", "-o", str(cib))
    theirs = subprocess.run(["crm_mon", "-1", "-r", "-A"], capture_output=True, text=True,
                            timeout=60, env=dict(os.environ, CIB_file=str(cib)))
    assert theirs.returncode == 0, theirs.stderr
    assert [line for line in section(ours, "Full List of Resources:")
            if "ORPHANED" not in line] == [
        line for line in section(theirs.stdout, "Full List of Resources:")
        if "ORPHANED" not in line]
    assert section(ours, "Node List:") == section(theirs.stdout, "Node List:")
    assert "resource instances configured (1 DISABLED)" in ours  # (earlier orphans count)
    assert "* spare (ocf:heartbeat:Dummy): Stopped (disabled)" in section(
        theirs.stdout, "Full List of Resources:")
    assert section(ours, "Node Attributes:") == section(theirs.stdout, "Node Attributes:")


def test_cluster_stop_and_start_a_sandbox_node(cli, sandbox):
    directory = str(sandbox.directory)
    # Standby until reboot: the transient attribute goes when the node rejoins.
    standby = cli("node", "standby", "node3", "reboot")
    assert standby.stdout.startswith("node node3: standby=on until it rejoins the cluster")
    assert transient_attributes(cli, "node3").get("standby") == "on"
    stopped = cli("cluster", "stop", "--sandbox", directory, "node3")
    assert stopped.stdout == "node3: stopped\n"
    wait_until(lambda: cli.api("status")["nodes"]["node3"]["state"] == "offline", 90,
               "node3 offline after a clean stop")
    assert "OFFLINE: [ node3 ]" in cli("status").stdout
    cli("cluster", "start", "--sandbox", directory, "node3")
    wait_until(lambda: cli.api("status")["nodes"]["node3"]["state"] == "online", 120,
               "node3 online again")
    assert "standby" not in transient_attributes(cli, "node3")


def transient_attributes(cli, node: str) -> dict[str, str]:
    return cli.api("status")["nodes"][node]["transient_attributes"]


def permanent_attributes(cli, node: str) -> dict[str, str]:
    return cli.api("status")["nodes"][node]["attributes"]


def test_move_without_a_node_bans_the_resource_from_where_it_runs(cli):
    cli("configure", "load", "replace", "-", input_text=DUMMIES)
    wait_until(lambda: placement(cli, "D1") == "node1", 90, "D1 started on node1")
    moved = cli("resource", "move", "D1")
    lines = moved.stdout.splitlines()
    assert lines[0] == ("WARNING: Creating rsc_location constraint 'cli-ban-D1-on-node1' "
                        "with a score of -INFINITY for resource D1 on node1.")
    assert lines[2] == "\tThis will be the case even if node1 is the last node in the cluster"
    assert lines[3].startswith("D1 banned from node1 (committed at index ")
    assert "location cli-ban-D1-on-node1 D1 role=Started -inf: node1" in cli(
        "configure", "show").stdout
    wait_until(lambda: placement(cli, "D1") not in ("node1", "", None), 90,
               "D1 moved away from node1")
    cli("resource", "clear", "D1")
    cli("resource", "stop", "D2")
    wait_until(lambda: placement(cli, "D2") == "", 90, "D2 stopped")
    refused = cli("resource", "move", "D2", check=False)
    assert refused.returncode == 1
    assert refused.stderr == ("raftha: Resource 'D2' not moved: active in 0 locations. To "
                              "prevent 'D2' from running on a specific location, specify a "
                              "node.\n")
    assert "cli-ban-D2" not in cli("configure", "show").stdout


def test_standby_for_a_lifetime_and_online_clears_either(cli):
    cli("configure", "load", "replace", "-", input_text=DUMMIES)
    wait_until(lambda: placement(cli, "D1") == "node1", 90, "D1 started on node1")
    cli("node", "standby", "node1", "--lifetime", "reboot")
    assert transient_attributes(cli, "node1")["standby"] == "on"
    assert permanent_attributes(cli, "node1").get("standby") != "on"
    wait_until(lambda: placement(cli, "D1") not in ("node1", "", None), 90,
               "D1 left node1 in standby until reboot")
    online = cli("node", "online", "node1")
    assert "node node1: standby until reboot removed (committed at index " in online.stdout
    assert "standby" not in transient_attributes(cli, "node1")
    wait_until(lambda: placement(cli, "D1") == "node1", 90, "D1 back on node1")
    cli("node", "standby", "node1", "forever")
    assert permanent_attributes(cli, "node1")["standby"] == "on"
    assert "standby" not in transient_attributes(cli, "node1")
    again = cli("node", "online", "node1")
    assert "until reboot" not in again.stdout
    assert permanent_attributes(cli, "node1")["standby"] == "off"


def test_edit_of_one_object_commits_only_that_object(cli, tmp_path):
    cli("configure", "load", "replace", "-", input_text=DUMMIES)
    before = len(configuration_loads(cli))
    seen = tmp_path / "seen.crm"
    editor = tmp_path / "editor"
    editor.write_text(f'#!/bin/sh\ncp "$1" {seen}\nsed -i s/interval=10s/interval=20s/ "$1"\n')
    editor.chmod(0o755)
    cli("configure", "edit", "D2", editor=str(editor))
    assert seen.read_text().startswith("primitive D2 ") and "D1" not in seen.read_text()
    configuration = shown(cli)
    intervals = {primitive.id: primitive.operations[0].interval
                 for primitive in configuration.all_primitives()}
    assert intervals == {"D1": "10s", "D2": "20s"}
    loads = configuration_loads(cli)
    assert len(loads) == before + 1 and "(update)" in loads[-1]["summary"]
    # A constraint taken out of the text is deleted; an unknown id or bad text commits
    # nothing.
    cli("configure", "edit", "prefer-D1", editor="truncate -s 0")
    assert [item.id for item in shown(cli).constraints] == []
    unknown = cli("configure", "edit", "nope", editor="true", check=False)
    assert unknown.returncode == 1 and unknown.stderr == (
        "raftha: no object 'nope' in the configuration\n")
    broken = cli("configure", "edit", "D1", editor="sed -i s/^primitive/primitiv/",
                 check=False)
    assert broken.returncode == 1 and "unknown statement 'primitiv'" in broken.stderr
    assert "nothing committed (your text is in " in broken.stderr
    assert len(configuration_loads(cli)) == before + 2


def test_history_of_a_resource_lists_the_bulk_loads_that_changed_it(cli, tmp_path):
    cli("configure", "load", "replace", "-", input_text=DUMMIES)

    def load(text: str) -> int:
        loaded = cli("configure", "load", "update", "-", input_text=text)
        return int(loaded.stdout.split(" at index ")[1].split(":")[0])
    changed = load("primitive D1 ocf:heartbeat:Dummy op monitor interval=15s\n")
    unrelated = load("primitive D9 ocf:heartbeat:Dummy meta target-role=Stopped\n")
    constrained = load("location avoid-D1 D1 -50: node3\n")
    events = json.loads(cli("history", "--resource", "D1", "--output", "json").stdout)
    indexes = [event["index"] for event in events]
    assert changed in indexes and constrained in indexes and unrelated not in indexes
    d9 = [event["index"] for event in json.loads(
        cli("history", "--resource", "D9", "--output", "json").stdout)]
    assert unrelated in d9 and changed not in d9
