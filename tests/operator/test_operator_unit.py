"""Operator features without a running cluster: the Clusters from Scratch configuration in
crm syntax, lifetimes of moves and bans (and that the scheduler stops honouring them once
the committed time passes), crm_mon-style rendering of groups, clones, constraints and node
attributes, history filters, staged batches, and CIB import conversion."""

from __future__ import annotations

import pytest

from raftha.cli.cib_commands import crm_text_of_cib
from raftha.cli.monitor import resource_lines
from raftha.cli.staging import staged_text_after
from raftha.cli.status import filter_events, render_status
from raftha.crmsh import CrmSyntaxError, parse_configuration, render_configuration, verify
from raftha.model import lifetimes
from raftha.model.status import ClusterStatus, NodeStatus
from raftha.scheduler import plan

CLUSTERS_FROM_SCRATCH = """\
property stonith-enabled=true no-quorum-policy=stop
rsc_defaults resource-stickiness=100
op_defaults timeout=240s
primitive ClusterIP IPaddr2 params ip=192.168.122.120 cidr_netmask=24 op monitor interval=30s
primitive WebSite apache params configfile=/etc/httpd/conf/httpd.conf \\
    statusurl="http://localhost/server-status" op monitor interval=1min
primitive ipmi-fencing stonith:fence_ipmilan params pcmk_host_list="pcmk-1 pcmk-2" \\
    ip=10.0.0.1 username=testuser password=acd123 op monitor interval=60s
colocation website-with-ip inf: WebSite ClusterIP
order apache-after-ip Mandatory: ClusterIP WebSite
location prefer-pcmk-1 WebSite 50: pcmk-1
location cli-prefer-WebSite WebSite role=Started inf: pcmk-2
"""


def test_clusters_from_scratch_round_trips_through_the_crm_syntax():
    configuration = parse_configuration(CLUSTERS_FROM_SCRATCH)
    assert verify(configuration) == []
    text = render_configuration(configuration)
    assert parse_configuration(text) == configuration
    for identifier in ("ClusterIP", "WebSite", "ipmi-fencing", "website-with-ip",
                       "apache-after-ip", "prefer-pcmk-1", "cli-prefer-WebSite"):
        assert identifier in text
    assert "ocf:heartbeat:IPaddr2" in text and "stonith:fence_ipmilan" in text


@pytest.mark.parametrize("text, seconds", [("PT1H", 3600), ("P1DT30M", 88200), ("90s", 90),
                                           ("10m", 600), ("2h", 7200), ("45", 45)])
def test_lifetimes_read_iso_and_short_forms(text, seconds):
    assert lifetimes.parse_lifetime_s(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "0s", "P", "PT", "400d", "-5m"])
def test_bad_lifetimes_are_refused_with_one_line(text):
    with pytest.raises(lifetimes.LifetimeError) as error:
        lifetimes.parse_lifetime_s(text)
    assert "\n" not in str(error.value)


def online(*names: str) -> ClusterStatus:
    return ClusterStatus(now=0, nodes=tuple(
        NodeStatus(name=name, id=name, in_membership=True, controller_online=True,
                   join="member", expected="member") for name in names))


def test_a_move_with_a_lifetime_holds_until_the_committed_time_passes_its_end():
    base = parse_configuration("primitive A ocf:heartbeat:Dummy\n"
                               "property stonith-enabled=false\n"
                               "node n1\nnode n2\nnode n3\n"
                               "location prefer-n1 A 100: n1\n")
    moved = lifetimes.move_until(base, "A", "n3", end_s=1_000_000)
    assert parse_configuration(render_configuration(moved)) == moved
    assert lifetimes.lifetimes(moved) == {"cli-prefer-A": 1_000_000}
    status = online("n1", "n2", "n3")
    before = plan(moved, ClusterStatus(now=999_999, nodes=status.nodes))
    after = plan(moved, ClusterStatus(now=1_000_000, nodes=status.nodes))
    assert before.placement("A").target_node == "n3"
    assert after.placement("A").target_node == "n1"
    assert lifetimes.expired(moved, 999_999) == []
    assert lifetimes.expired(moved, 1_000_000) == ["cli-prefer-A"]
    assert lifetimes.without_expired(moved, 1_000_000) == base


def test_a_ban_with_a_lifetime_keeps_the_resource_off_the_node_until_its_end():
    base = parse_configuration("primitive A ocf:heartbeat:Dummy\nnode n1\nnode n2\n"
                               "property stonith-enabled=false\n"
                               "location prefer-n1 A 100: n1\n")
    banned = lifetimes.ban_until(base, "A", "n1", end_s=5_000)
    status = online("n1", "n2")
    assert plan(banned, ClusterStatus(now=4_999, nodes=status.nodes)
                ).placement("A").target_node == "n2"
    assert plan(banned, ClusterStatus(now=5_001, nodes=status.nodes)
                ).placement("A").target_node == "n1"
    assert lifetimes.next_expiry_s(banned) == 5_000
    assert lifetimes.next_expiry_s(base) is None


def test_resources_render_by_group_and_clone_like_crm_mon():
    resources = {
        "ip": {"node": "n1", "role": "Started", "agent": "ocf:heartbeat:IPaddr2",
               "nodes": ["n1"], "group": "web", "primitive": "ip"},
        "site": {"node": None, "role": "Stopped", "agent": "ocf:heartbeat:apache",
                 "nodes": [], "group": "web", "primitive": "site", "managed": False},
        "ping:0": {"node": "n1", "role": "Started", "agent": "ocf:pacemaker:ping",
                   "nodes": ["n1"], "clone": "ping-clone", "primitive": "ping"},
        "ping:1": {"node": "n2", "role": "Started", "agent": "ocf:pacemaker:ping",
                   "nodes": ["n2"], "clone": "ping-clone", "primitive": "ping"},
        "ping:2": {"node": None, "role": "Stopped", "nodes": [], "clone": "ping-clone",
                   "primitive": "ping"},
        "db:0": {"node": "n2", "role": "Promoted", "nodes": ["n2"], "clone": "db-clone",
                 "primitive": "db"},
        "db:1": {"node": "n1", "role": "Unpromoted", "nodes": ["n1"], "clone": "db-clone",
                 "primitive": "db"},
        "fence": {"node": "n3", "role": "Started", "agent": "stonith:fence_dummy",
                  "nodes": ["n3"], "failed": True},
    }
    lines = resource_lines(resources, ["n1", "n2", "n3"])
    assert lines == [
        "  * Resource Group: web:",
        "    * ip\t(ocf:heartbeat:IPaddr2):\t Started n1",
        "    * site\t(ocf:heartbeat:apache):\t Stopped (unmanaged)",
        "  * Clone Set: ping-clone [ping]:",
        "    * Started: [ n1 n2 ]",
        "    * Stopped: [ n3 ]",
        "  * Clone Set: db-clone [db] (promotable):",
        "    * Promoted: [ n2 ]",
        "    * Unpromoted: [ n1 ]",
        "  * fence\t(stonith:fence_dummy):\t FAILED n3",
    ]


def status_document() -> dict:
    return {
        "cluster": {"name": "c", "leader": "n1", "quorum": True, "commit_index": 9,
                    "applied_index": 9, "term": 2, "node": "n1", "last_change": None,
                    "properties": {},
                    "move_constraints": [
                        {"id": "cli-prefer-A", "resource": "A", "node": "n2",
                         "score": "INFINITY", "expires_s": 1_800_000_000, "expired": False},
                        {"id": "cli-ban-A-on-n1", "resource": "A", "node": "n1",
                         "score": "-INFINITY", "expires_s": None, "expired": False},
                        {"id": "cli-prefer-B", "resource": "B", "node": "n1",
                         "score": "INFINITY", "expires_s": 1_000, "expired": True}]},
        "nodes": {"n1": {"state": "online", "attributes": {"standby": "off"},
                         "transient_attributes": {"master-db": "10",
                                                  "fail-count-A#start_0": "1"}},
                  "n2": {"state": "standby", "attributes": {}, "transient_attributes": {}}},
        "resources": {"A": {"node": "n2", "role": "Started", "agent": "ocf:heartbeat:Dummy"}},
    }


def test_status_shows_live_move_constraints_and_node_attributes():
    text = render_status(status_document(), fence_history=[
        {"action": "reboot", "target": "n3", "result": "ok", "executor": "n1",
         "device": "fence-n3", "index": 7, "ts_ms": 1}])
    assert "Move and Ban Constraints:" in text
    assert "  * cli-prefer-A: A prefers n2 (expires " in text
    assert "  * cli-ban-A-on-n1: A avoids n1 (until 'raftha resource clear')" in text
    assert "cli-prefer-B" not in text  # expired: no longer shown
    assert "Node Attributes:\n  * Node: n1:\n    * master-db : 10\n    * standby   : off" in text
    assert "fail-count" not in text.split("Node Attributes:")[1].split("\n\n")[0]
    assert "Node n2: standby (with active resources)" in text  # A still runs there
    assert "Fencing History:\n  * reboot of n3 successful: delegate=n1" in text


def test_history_filters_combine():
    events = [
        {"index": 1, "ts_ms": 1000, "origin": "n1", "user": "root", "kind": "ConfigurationLoaded",
         "summary": "resource WebSite moved to n2"},
        {"index": 2, "ts_ms": 2000, "origin": "n2", "user": "", "kind": "OperationCompleted",
         "summary": "WebSite-clone monitor on n2: rc=0"},
        {"index": 3, "ts_ms": 3000, "origin": "n2", "user": "alice", "kind": "NodeAttributeSet",
         "summary": "node n1 standby=on"},
    ]
    assert [e["index"] for e in filter_events(events, resource="WebSite")] == [1]
    assert [e["index"] for e in filter_events(events, node="n1")] == [1, 3]
    assert [e["index"] for e in filter_events(events, user="alice")] == [3]
    assert [e["index"] for e in filter_events(events, since_ms=1500, until_ms=2500)] == [2]
    assert [e["index"] for e in filter_events(events, kind="ConfigurationLoaded",
                                              node="n2")] == [1]


def test_a_staged_batch_merges_loads_and_keeps_its_text_on_a_syntax_error():
    staged = staged_text_after("primitive A ocf:heartbeat:Dummy\n",
                               "primitive B ocf:heartbeat:Dummy\n", "update")
    assert "primitive A" in staged and "primitive B" in staged
    replaced = staged_text_after(staged, "primitive C ocf:heartbeat:Dummy\n", "replace")
    assert "primitive C" in replaced and "primitive A" not in replaced
    with pytest.raises(CrmSyntaxError) as error:
        staged_text_after(staged, "primitive D ocf:heartbeat:Dummy\ncolocation x inf A B\n",
                          "update")
    assert (error.value.line, error.value.column) == (2, 14)  # at the score


PACEMAKER_CIB = """<cib validate-with="pacemaker-3.7" epoch="4" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="o1" name="dc-version" value="2.1.5-a3f44794f94"/>
        <nvpair id="o2" name="stonith-enabled" value="false"/>
      </cluster_property_set>
    </crm_config>
    <nodes>
      <node id="1" uname="pcmk-1"/>
      <node id="2" uname="node2"><instance_attributes id="n2">
        <nvpair id="n2-standby" name="standby" value="on"/></instance_attributes></node>
    </nodes>
    <resources>
      <primitive id="ClusterIP" class="ocf" provider="heartbeat" type="IPaddr2">
        <instance_attributes id="ip"><nvpair id="ip-ip" name="ip" value="10.9.9.9"/>
        </instance_attributes>
        <operations><op id="ip-mon" name="monitor" interval="30s"/></operations>
      </primitive>
      <group id="web"><primitive id="WebSite" class="ocf" provider="heartbeat" type="apache"/>
      </group>
    </resources>
    <constraints>
      <rsc_colocation id="web-with-ip" rsc="web" with-rsc="ClusterIP" score="INFINITY"/>
    </constraints>
  </configuration>
  <status/>
</cib>
"""


def test_a_pacemaker_cib_converts_to_crm_text_keeping_member_nodes_only():
    text, count = crm_text_of_cib(PACEMAKER_CIB, members={"node1", "node2"})
    assert count == 2
    configuration = parse_configuration(text)
    assert [node.name for node in configuration.nodes] == ["node2"]
    assert {item.id for item in configuration.constraints} == {"web-with-ip"}
    assert "group web WebSite" in text
    assert "pcmk-1" not in text


def test_every_command_shows_examples_in_its_help():
    import click

    from raftha.cli import main
    from raftha.cli.examples import has_examples

    missing = []

    def walk(command: click.Command, path: list[str]) -> None:
        if path and not has_examples(command):
            missing.append(" ".join(path))
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
    walk(main, [])
    assert missing == []


def test_shell_completion_completes_commands_and_subcommands():
    import os
    import subprocess
    import sys

    script = subprocess.run([sys.executable, "-m", "raftha.cli", "completion", "bash"],
                            capture_output=True, text=True, timeout=60)
    assert script.returncode == 0 and "_RAFTHA_COMPLETE" in script.stdout

    def complete(words: str) -> list[str]:
        environment = dict(os.environ, _RAFTHA_COMPLETE="bash_complete", COMP_WORDS=words,
                           COMP_CWORD=str(len(words.split()) - 1))
        result = subprocess.run([sys.executable, "-c",
                                 "from raftha.cli import main; main(prog_name='raftha')"],
                                capture_output=True, text=True, timeout=60, env=environment)
        return [line.split(",", 1)[1] for line in result.stdout.splitlines() if "," in line]
    assert "resource" in complete("raftha reso")
    assert {"move", "migrate"} <= set(complete("raftha resource m"))


def test_show_and_delete_single_objects():
    from raftha.cli.config_objects import ObjectError, delete_objects, show_objects

    configuration = parse_configuration(
        "primitive A ocf:heartbeat:Dummy\nprimitive B ocf:heartbeat:Dummy\n"
        "primitive C ocf:heartbeat:Dummy\ngroup G B C\n"
        "colocation a-with-g inf: A G\nlocation prefer-a A 10: n1\n")
    text = show_objects(configuration, ("A", "prefer-a"))
    assert text.splitlines() == ["primitive A ocf:heartbeat:Dummy",
                                 "location prefer-a A 10: n1"]
    assert "group G" not in text and "a-with-g" not in text
    with pytest.raises(ObjectError, match="no object 'Nope'"):
        show_objects(configuration, ("Nope",))
    with pytest.raises(ObjectError, match="still referenced by a-with-g, prefer-a"):
        delete_objects(configuration, ("A",), force=False)
    forced = delete_objects(configuration, ("A",), force=True)
    assert [item.id for item in forced.constraints] == [] and verify(forced) == []
    member_gone = delete_objects(configuration, ("C",), force=False)
    assert render_configuration(member_gone).count("group G B") == 1
    assert verify(member_gone) == []
    group_gone = delete_objects(configuration, ("a-with-g", "G"), force=False)
    assert {item.id for item in group_gone.all_primitives()} == {"A"}


def test_watch_redraws_and_styles_like_crm_mon():
    import io

    from rich.console import Console

    from raftha.cli.monitor import styled, watch

    drawn = []

    def fetch() -> str:
        drawn.append(len(drawn))
        return f"Node List:\n  * Online: [ n1 ]\n  * web\t(x):\t FAILED n{len(drawn)}"
    output = io.StringIO()
    watch(fetch, 0.5, Console(file=output, force_terminal=True, width=80), iterations=2)
    assert drawn == [0, 1]
    import re
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.getvalue())
    assert "FAILED n1" in plain and "FAILED n2" in plain
    line = styled("  * web\t(x):\t FAILED n1")
    assert any(span.style == "bold red" for span in line.spans)
    assert [span.style for span in styled("Node List:").spans] == ["bold"]


def test_watch_into_a_pipe_logs_one_status_per_interval():
    import io

    from rich.console import Console

    from raftha.cli.monitor import watch

    texts = iter(["first", "second", "third"])
    output = io.StringIO()
    watch(lambda: next(texts), 0.5, Console(file=output), iterations=3)
    assert output.getvalue() == "first\n\nsecond\n\nthird\n\n"
