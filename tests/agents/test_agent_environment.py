"""The OCF environment: built values and what a real agent actually receives."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_test_support import FIXTURES, NODE_NAME, needs_pacemaker_agents

from raftha.agents import (
    AgentEnvironmentError,
    AgentRunner,
    AgentSpec,
    ExecStatus,
    normalise_meta,
    ocf_environment,
)


def build(**overrides):
    arguments = dict(
        ocf_root="/usr/lib/ocf", resource_id="web", agent_type="Dummy", provider="heartbeat",
        action="monitor", params={"ip": "192.0.2.2"}, meta={}, timeout_ms=20_000,
        interval_ms=10_000, node_name="n1", path="/shims:/usr/bin", logging={},
        feature_set="3.16.2",
    )
    arguments.update(overrides)
    return ocf_environment(**arguments)


def test_core_variables() -> None:
    environment = build()
    assert environment["OCF_ROOT"] == "/usr/lib/ocf"
    assert environment["OCF_RA_VERSION_MAJOR"] == "1"
    assert environment["OCF_RA_VERSION_MINOR"] == "1"
    assert environment["OCF_RESOURCE_INSTANCE"] == "web"
    assert environment["OCF_RESOURCE_TYPE"] == "Dummy"
    assert environment["OCF_RESOURCE_PROVIDER"] == "heartbeat"
    assert environment["OCF_RESKEY_ip"] == "192.0.2.2"
    assert environment["OCF_RESKEY_CRM_meta_timeout"] == "20000"
    assert environment["OCF_RESKEY_CRM_meta_interval"] == "10000"
    assert environment["OCF_RESKEY_CRM_meta_name"] == "monitor"
    assert environment["OCF_RESKEY_CRM_meta_on_node"] == "n1"
    assert environment["OCF_EXIT_REASON_PREFIX"] == "ocf-exit-reason:"
    assert environment["PATH"].startswith("/shims:")


def test_clone_meta_names_use_underscores() -> None:
    environment = build(meta={"clone-max": "3", "clone-node-max": "1", "clone": "2",
                              "globally-unique": "false", "notify": "true"})
    assert environment["OCF_RESKEY_CRM_meta_clone_max"] == "3"
    assert environment["OCF_RESKEY_CRM_meta_clone_node_max"] == "1"
    assert environment["OCF_RESKEY_CRM_meta_clone"] == "2"
    assert environment["OCF_RESKEY_CRM_meta_globally_unique"] == "false"


def test_promoted_and_master_spellings_are_both_sent() -> None:
    meta = normalise_meta({"promoted-max": "1", "notify_promoted_uname": "n1",
                           "notify_slave_uname": "n2 n3"})
    assert meta["master_max"] == "1" and meta["promoted_max"] == "1"
    assert meta["promotable"] == "true"
    assert meta["notify_master_uname"] == "n1"
    assert meta["notify_unpromoted_uname"] == "n2 n3"


def test_empty_notify_lists_are_a_single_space() -> None:
    meta = normalise_meta({"notify_start_uname": "", "notify_type": "pre"})
    assert meta["notify_start_uname"] == " "
    assert meta["notify_type"] == "pre"


def test_check_level_parameter_is_also_exported_plainly() -> None:
    environment = build(params={"OCF_CHECK_LEVEL": "10"})
    assert environment["OCF_CHECK_LEVEL"] == "10"


@pytest.mark.parametrize("name", ["bad name", "a=b", "x-y", ""])
def test_invalid_parameter_names_are_refused(name: str) -> None:
    with pytest.raises(AgentEnvironmentError, match="invalid parameter name"):
        build(params={name: "1"})


def test_runner_reports_invalid_parameter_without_running(runner: AgentRunner) -> None:
    result = runner.run(AgentSpec.parse("ocf:test:Noisy", "r"), "start",
                        params={"bad name": "x"}, timeout_ms=5000, node_name=NODE_NAME)
    assert result.status is ExecStatus.ERROR
    assert "invalid parameter name" in result.exit_reason
    assert result.pid == 0


def _read_env_dump(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        name, _, value = line.partition("=")
        values[name] = value
    return values


def test_agent_receives_the_contract_environment(runner: AgentRunner, tmp_path: Path) -> None:
    dump = tmp_path / "env.txt"
    result = runner.run(
        AgentSpec.parse("ocf:test:Noisy", "vip"), "monitor",
        params={"envdump": str(dump)},
        meta={"clone-max": "2", "master-max": "1", "notify_master_uname": "node-b"},
        timeout_ms=7000, interval_ms=15_000, node_name=NODE_NAME,
        environment_extra={"RAFTHA_EXTRA": "yes"},
    )
    assert result.ok, result
    seen = _read_env_dump(dump)
    assert seen["OCF_RESOURCE_INSTANCE"] == "vip"
    assert seen["OCF_RESOURCE_PROVIDER"] == "test"
    assert seen["OCF_RESKEY_CRM_meta_timeout"] == "7000"
    assert seen["OCF_RESKEY_CRM_meta_interval"] == "15000"
    assert seen["OCF_RESKEY_CRM_meta_clone_max"] == "2"
    assert seen["OCF_RESKEY_CRM_meta_promoted_max"] == "1"
    assert seen["OCF_RESKEY_CRM_meta_notify_promoted_uname"] == "node-b"
    assert seen["OCF_RESKEY_CRM_meta_on_node"] == NODE_NAME
    assert seen["PATH"].split(":")[0] == str(FIXTURES / "shims")
    assert seen["HA_SBIN_DIR"] == str(FIXTURES / "shims")
    assert seen["HA_LOGFACILITY"] == "none"
    assert seen["RAFTHA_EXTRA"] == "yes"
    assert "OCF_RESKEY_bad" not in seen


@needs_pacemaker_agents
def test_real_agent_envfile_shows_probe_interval_zero(runner: AgentRunner,
                                                      tmp_path: Path) -> None:
    envfile = tmp_path / "envfile"
    result = runner.probe(AgentSpec.parse("ocf:pacemaker:Dummy", "d1"),
                          params={"state": str(tmp_path / "d1.state"),
                                  "envfile": str(envfile)},
                          timeout_ms=10_000, node_name=NODE_NAME)
    assert result.rc == 7
    text = envfile.read_text()
    assert "OCF_RESKEY_CRM_meta_interval=0" in text
    assert "OCF_RESOURCE_INSTANCE=d1" in text


def test_common_environment_reaches_every_agent_and_calls_override_it(
        tmp_path: Path) -> None:
    from raftha.agents import AgentRunnerSettings
    runner = AgentRunner(AgentRunnerSettings(
        ocf_search_path=(FIXTURES / "ocf",), shims_dir=None,
        common_environment={"RAFTHA_SOCKET": "/run/raftha.sock", "RAFTHA_MODE": "common"}))
    dump = tmp_path / "env.txt"
    result = runner.run(AgentSpec.parse("ocf:test:Noisy", "x"), "start",
                        params={"envdump": str(dump)}, timeout_ms=5000, node_name=NODE_NAME,
                        environment_extra={"RAFTHA_MODE": "call"})
    assert result.ok
    seen = _read_env_dump(dump)
    assert seen["RAFTHA_SOCKET"] == "/run/raftha.sock"
    assert seen["RAFTHA_MODE"] == "call"
    assert "HA_SBIN_DIR" not in seen          # no shims directory configured
