"""Meta-data parsing: durations, real Debian agents, caching, reload rules, bad XML."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from agent_test_support import (
    INSTALLED_AGENTS,
    needs_pacemaker_agents,
    needs_resource_agents,
)

from raftha.agents import (
    AgentRunner,
    AgentRunnerSettings,
    AgentSpec,
    MetadataError,
    parse_duration_ms,
    parse_metadata,
)


@pytest.mark.parametrize(
    ("text", "milliseconds"),
    [("20s", 20_000), ("20", 20_000), ("2min", 120_000), ("2m", 120_000), ("500ms", 500),
     ("1h", 3_600_000), (" 90 s ", 90_000), ("1.5s", 1500), ("0", 0)],
)
def test_durations(text: str, milliseconds: int) -> None:
    assert parse_duration_ms(text) == milliseconds


@pytest.mark.parametrize("text", ["", "abc", "10 parsecs", "-5s"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(MetadataError):
        parse_duration_ms(text)


@needs_resource_agents
def test_ipaddr2_metadata(runner: AgentRunner) -> None:
    metadata = runner.metadata(AgentSpec.parse("ocf:heartbeat:IPaddr2"))
    assert metadata.name == "IPaddr2"
    ip = metadata.parameter("ip")
    assert ip is not None and ip.required and ip.unique
    nic = metadata.parameter("nic")
    assert nic is not None and not nic.required
    assert metadata.action("start").timeout_ms == 20_000
    assert metadata.action("monitor").interval_ms == 10_000
    assert metadata.supports("status") and metadata.supports("validate-all")
    assert metadata.required_parameters == ("ip",)


@needs_resource_agents
def test_heartbeat_dummy_metadata_and_legacy_reload(runner: AgentRunner) -> None:
    metadata = runner.metadata(AgentSpec.parse("ocf:heartbeat:Dummy"))
    assert metadata.ocf_version_tuple() == (1, 0)
    assert [item.name for item in metadata.parameters][:2] == ["state", "fake"]
    assert metadata.parameter("state").unique
    assert metadata.parameter("fake").default == "dummy"
    assert metadata.reload_action() == "reload"
    assert metadata.reload_covers(["fake"])
    assert not metadata.reload_covers(["state"])     # unique="1": restart


@needs_pacemaker_agents
def test_stateful_metadata_roles_and_reload_agent(runner: AgentRunner) -> None:
    metadata = runner.metadata(AgentSpec.parse("ocf:pacemaker:Stateful"))
    assert metadata.ocf_version_tuple() == (1, 1)
    promoted = metadata.action("monitor", role="Promoted")
    unpromoted = metadata.action("monitor", role="Unpromoted")
    assert promoted is not None and unpromoted is not None
    assert promoted.interval_ms != unpromoted.interval_ms
    assert metadata.supports("promote") and metadata.supports("demote")
    assert metadata.reload_action() == "reload-agent"


@needs_pacemaker_agents
def test_pacemaker_dummy_reloadable_parameters(runner: AgentRunner) -> None:
    metadata = runner.metadata(AgentSpec.parse("ocf:pacemaker:Dummy"))
    assert metadata.parameter("op_sleep").reloadable
    assert metadata.reload_covers(["op_sleep"])
    assert not metadata.reload_covers(["state"])


@needs_resource_agents
def test_metadata_is_cached_per_path_and_mtime(tmp_path: Path) -> None:
    provider = tmp_path / "ocf" / "copy"
    provider.mkdir(parents=True)
    agent = provider / "Dummy"
    shutil.copy(INSTALLED_AGENTS / "heartbeat" / "Dummy", agent)
    runner = AgentRunner(AgentRunnerSettings(ocf_search_path=(tmp_path / "ocf",),
                                             shims_dir=None))
    spec = AgentSpec.parse("ocf:copy:Dummy")
    first = runner.metadata(spec)
    assert runner.metadata(spec) is first            # served from the cache
    text = agent.read_text().replace('name="fake"', 'name="counterfeit"')
    agent.write_text(text)
    stat = agent.stat()
    os.utime(agent, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = runner.metadata(spec)
    assert second is not first
    assert second.parameter("counterfeit") is not None


def test_metadata_of_missing_agent_names_it(runner: AgentRunner) -> None:
    with pytest.raises(MetadataError, match="ocf:nosuch:Thing is not installed"):
        runner.metadata(AgentSpec.parse("ocf:nosuch:Thing"))


@pytest.mark.parametrize(
    ("xml", "message"),
    [("", "empty"), ("<resource-agent", "not well-formed"), ("<agent/>", "expected"),
     ('<resource-agent name="x"><actions><action timeout="5s"/></actions></resource-agent>',
      "no name"),
     ('<resource-agent name="x"><actions><action name="start" timeout="soon"/>'
      '</actions></resource-agent>', "start timeout")],
)
def test_malformed_metadata_is_refused_with_reason(xml: str, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        parse_metadata(xml)


def test_metadata_without_doctype_and_with_private_and_select() -> None:
    xml = """<?xml version="1.0"?>
<resource-agent name="Thing" version="2.0">
  <version>1.1</version>
  <longdesc lang="en">long</longdesc><shortdesc lang="en">short</shortdesc>
  <parameters>
    <parameter name="password" private="1" unique-group="g">
      <longdesc lang="en">pw</longdesc><shortdesc lang="en">pw</shortdesc>
      <content type="string"/>
    </parameter>
    <parameter name="mode">
      <longdesc lang="en">m</longdesc><shortdesc lang="en">m</shortdesc>
      <content type="select" default="a"><option value="a"/><option value="b"/></content>
      <deprecated/>
    </parameter>
  </parameters>
  <actions><action name="monitor" timeout="20s" interval="10s" depth="10"/></actions>
</resource-agent>"""
    metadata = parse_metadata(xml)
    password = metadata.parameter("password")
    assert password.private and password.unique_group == "g"
    mode = metadata.parameter("mode")
    assert mode.options == ("a", "b") and mode.deprecated and mode.default == "a"
    assert metadata.action("monitor").depth == 10
    assert metadata.reload_action() is None
    assert metadata.to_dict()["parameters"][0]["private"] is True


def test_own_agents_metadata_parses(runner: AgentRunner) -> None:
    for agent_type, parameter in (("Dummy", "state"), ("Ledger", "ledger_file"),
                                  ("WebDemo", "port")):
        metadata = runner.metadata(AgentSpec.parse(f"ocf:raftha:{agent_type}"))
        assert metadata.name == agent_type
        assert metadata.parameter(parameter) is not None
    assert runner.metadata(AgentSpec.parse("ocf:raftha:Ledger")).required_parameters == (
        "ledger_file",)
