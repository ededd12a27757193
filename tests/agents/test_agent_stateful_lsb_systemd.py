"""Promotable agents with callback shims, LSB init scripts, and the systemd class."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_test_support import FIXTURES, NODE_NAME, needs_pacemaker_agents

from raftha.agents import (
    SYSTEMD_NOT_RUNNING,
    AgentRunner,
    AgentRunnerSettings,
    AgentSpec,
    ExecStatus,
    classify,
    systemd_booted,
)


def shim_calls(environment: dict[str, str]) -> list[str]:
    path = Path(environment["RAFTHA_TEST_SHIM_LOG"])
    return path.read_text().splitlines() if path.exists() else []


def promotion_score(environment: dict[str, str], resource: str) -> str | None:
    path = Path(environment["RAFTHA_TEST_ATTRIBUTE_DIR"]) / f"master-{resource}"
    return path.read_text().strip() if path.exists() else None


@needs_pacemaker_agents
def test_stateful_promote_demote_cycle_with_shims(runner: AgentRunner, work_dir: Path,
                                                  shim_environment: dict[str, str]) -> None:
    spec = AgentSpec.parse("ocf:pacemaker:Stateful", "db")
    params = {"state": str(work_dir / "db.state")}
    meta = {"clone-max": "2", "clone-node-max": "1", "promotable": "true",
            "promoted-max": "1", "promoted-node-max": "1", "globally-unique": "false"}

    def run(action: str, interval_ms: int = 0, role: str = ""):
        full_meta = dict(meta, role=role) if role else meta
        return runner.run(spec, action, params=params, meta=full_meta, timeout_ms=20_000,
                          interval_ms=interval_ms, node_name=NODE_NAME,
                          environment_extra=shim_environment)

    try:
        assert run("monitor").rc == 7                       # probe: not running
        assert run("start").rc == 0
        assert promotion_score(shim_environment, "db") == "5"
        assert run("monitor", 11_000, "Unpromoted").rc == 0
        assert run("promote").rc == 0
        assert promotion_score(shim_environment, "db") == "10"
        promoted = run("monitor", 10_000, "Promoted")
        assert promoted.rc == 8
        assert classify("monitor", promoted.rc, promoted.status, interval_ms=10_000,
                        role="Promoted").ok
        assert run("demote").rc == 0
        assert promotion_score(shim_environment, "db") == "5"
        assert run("monitor", 11_000, "Unpromoted").rc == 0
        assert run("stop").rc == 0
        assert promotion_score(shim_environment, "db") is None
        assert run("monitor").rc == 7
    finally:
        run("stop")
    calls = shim_calls(shim_environment)
    assert "crm_attribute --promotion -v 5" in calls
    assert "crm_attribute --promotion -v 10" in calls
    assert "crm_attribute --promotion -D" in calls


@needs_pacemaker_agents
def test_stateful_probe_restores_promotion_score(runner: AgentRunner, work_dir: Path,
                                                 shim_environment: dict[str, str]) -> None:
    spec = AgentSpec.parse("ocf:pacemaker:Stateful", "db2")
    params = {"state": str(work_dir / "db2.state")}
    common = dict(params=params, timeout_ms=20_000, node_name=NODE_NAME,
                  environment_extra=shim_environment)
    try:
        assert runner.run(spec, "start", **common).ok
        assert runner.run(spec, "promote", **common).ok
        (Path(shim_environment["RAFTHA_TEST_ATTRIBUTE_DIR"]) / "master-db2").unlink()
        probe = runner.probe(spec, **common)
        assert probe.rc == 8
        assert promotion_score(shim_environment, "db2") == "10"
    finally:
        runner.run(spec, "demote", **common)
        runner.run(spec, "stop", **common)


def lsb_run(runner: AgentRunner, spec: AgentSpec, action: str, directory: Path):
    return runner.run(spec, action, timeout_ms=20_000, node_name=NODE_NAME,
                      environment_extra={"LSB_DEMO_DIR": str(directory)})


@pytest.mark.parametrize("name", ["lsb-demo", str(FIXTURES / "lsb-demo")])
def test_lsb_script_cycle_and_status_mapping(runner: AgentRunner, work_dir: Path,
                                             janitor, name: str) -> None:
    spec = AgentSpec.parse(f"lsb:{name}", "legacy")
    janitor.watch_pid_file(work_dir / "lsb-demo.pid")
    try:
        assert lsb_run(runner, spec, "monitor", work_dir).rc == 7     # LSB 3
        assert lsb_run(runner, spec, "start", work_dir).rc == 0
        assert lsb_run(runner, spec, "status", work_dir).rc == 0
        assert lsb_run(runner, spec, "start", work_dir).rc == 0       # idempotent
        assert lsb_run(runner, spec, "monitor", work_dir).rc == 0
        assert lsb_run(runner, spec, "stop", work_dir).rc == 0
        assert lsb_run(runner, spec, "monitor", work_dir).rc == 7
        assert lsb_run(runner, spec, "stop", work_dir).rc == 0
    finally:
        lsb_run(runner, spec, "stop", work_dir)


def test_lsb_dead_with_pid_file_maps_to_not_running(runner: AgentRunner,
                                                    work_dir: Path) -> None:
    (work_dir / "lsb-demo.pid").write_text("999999999\n")   # no such process
    spec = AgentSpec.parse("lsb:lsb-demo", "legacy")
    result = lsb_run(runner, spec, "monitor", work_dir)
    assert result.rc == 7                                    # LSB 1 -> OCF 7


def test_lsb_unknown_action_and_bad_exit_code(runner: AgentRunner, work_dir: Path) -> None:
    spec = AgentSpec.parse("lsb:lsb-demo", "legacy")
    assert lsb_run(runner, spec, "promote", work_dir).status is ExecStatus.NOT_SUPPORTED
    # The fixture exits 2 for an unknown argument; meta-data is synthesised, not run.
    metadata = runner.metadata(spec)
    assert metadata.shortdesc == "LSB compliance fixture"
    assert metadata.supports("status") and metadata.supports("monitor")


def test_missing_lsb_script(runner: AgentRunner, work_dir: Path) -> None:
    result = lsb_run(runner, AgentSpec.parse("lsb:no-such-script", "x"), "start", work_dir)
    assert result.status is ExecStatus.NOT_INSTALLED
    assert "no-such-script" in result.exit_reason


def test_service_class_prefers_the_lsb_script(runner: AgentRunner, work_dir: Path,
                                              janitor) -> None:
    spec = AgentSpec.parse("service:lsb-demo", "svc")
    janitor.watch_pid_file(work_dir / "lsb-demo.pid")
    try:
        assert lsb_run(runner, spec, "start", work_dir).rc == 0
        assert lsb_run(runner, spec, "monitor", work_dir).rc == 0
    finally:
        lsb_run(runner, spec, "stop", work_dir)


def test_systemd_absent_gives_a_clear_error() -> None:
    runner = AgentRunner(AgentRunnerSettings(systemd_running=False, shims_dir=None))
    spec = AgentSpec.parse("systemd:nginx", "web")
    result = runner.run(spec, "start", timeout_ms=5000, node_name=NODE_NAME)
    assert result.status is ExecStatus.NOT_INSTALLED
    assert result.exit_reason == SYSTEMD_NOT_RUNNING == "systemd is not running on this node"
    assert runner.available(spec) == SYSTEMD_NOT_RUNNING
    # A probe of such a resource is masked: stopped here, and banned from this node.
    probe = runner.probe(spec, timeout_ms=5000, node_name=NODE_NAME)
    verdict = classify("monitor", probe.rc, probe.status, interval_ms=0)
    assert verdict.ok and verdict.ban_this_node


def test_service_class_without_script_or_systemd(tmp_path: Path) -> None:
    runner = AgentRunner(AgentRunnerSettings(systemd_running=False, lsb_directory=tmp_path,
                                             shims_dir=None))
    result = runner.run(AgentSpec.parse("service:nothing", "x"), "start", timeout_ms=5000,
                        node_name=NODE_NAME)
    assert result.exit_reason == SYSTEMD_NOT_RUNNING


@pytest.mark.skipif(systemd_booted(), reason="systemd is PID 1 on this machine")
def test_systemd_detection_on_this_machine() -> None:
    runner = AgentRunner(AgentRunnerSettings(shims_dir=None))
    result = runner.run(AgentSpec.parse("systemd:cron.service", "c"), "monitor",
                        timeout_ms=5000, node_name=NODE_NAME)
    assert result.exit_reason == SYSTEMD_NOT_RUNNING


def systemd_runner(tmp_path: Path) -> tuple[AgentRunner, dict[str, str]]:
    """A runner that believes systemd runs, driving the systemctl test double."""
    state = tmp_path / "systemd"
    state.mkdir()
    (state / "web.service.unit").write_text("")
    (state / "slow.service.unit").write_text("")
    (state / "broken.service.unit").write_text("")
    (state / "broken.service.fail").write_text("")
    runner = AgentRunner(AgentRunnerSettings(
        systemd_running=True, systemctl_command=str(FIXTURES / "systemctl-fake"),
        systemd_dropin_dir=tmp_path / "run-systemd", shims_dir=None, systemd_poll_ms=50))
    return runner, {"FAKE_SYSTEMD_DIR": str(state), "FAKE_SYSTEMD_SLOW": "slow.service"}


def test_systemd_unit_lifecycle_maps_active_state(tmp_path: Path) -> None:
    runner, environment = systemd_runner(tmp_path)
    spec = AgentSpec.parse("systemd:web", "web")

    def run(action: str, interval_ms: int = 0):
        return runner.run(spec, action, timeout_ms=10_000, interval_ms=interval_ms,
                          node_name=NODE_NAME, environment_extra=environment)

    assert run("monitor").rc == 7
    assert run("start").rc == 0
    dropin = tmp_path / "run-systemd" / "web.service.d" / "50-raftha.conf"
    assert "Restart=no" in dropin.read_text() and "Before=raftha.service" in dropin.read_text()
    assert run("monitor", 10_000).rc == 0
    assert run("stop").rc == 0
    assert run("monitor", 10_000).rc == 7
    calls = (tmp_path / "systemd" / "calls.log").read_text().splitlines()
    assert "daemon-reload" in calls and "start web.service" in calls


def test_systemd_activating_unit_is_polled_until_active(tmp_path: Path) -> None:
    runner, environment = systemd_runner(tmp_path)
    result = runner.run(AgentSpec.parse("systemd:slow.service", "s"), "start",
                        timeout_ms=10_000, node_name=NODE_NAME, environment_extra=environment)
    assert result.rc == 0
    calls = (tmp_path / "systemd" / "calls.log").read_text().splitlines()
    assert calls.count("show -p ActiveState --value slow.service") == 2


def test_systemd_failed_start_and_missing_unit(tmp_path: Path) -> None:
    runner, environment = systemd_runner(tmp_path)
    common = dict(timeout_ms=10_000, node_name=NODE_NAME, environment_extra=environment)
    broken = runner.run(AgentSpec.parse("systemd:broken", "b"), "start", **common)
    assert broken.rc == 1 and "failed" in broken.exit_reason
    missing = runner.run(AgentSpec.parse("systemd:absent", "a"), "start", **common)
    assert missing.status is ExecStatus.NOT_INSTALLED and "absent.service" in missing.exit_reason
    # Stopping a unit that does not exist is a successful stop.
    assert runner.run(AgentSpec.parse("systemd:absent", "a"), "stop", **common).rc == 0
    assert runner.run(AgentSpec.parse("systemd:web", "w"), "promote",
                      **common).status is ExecStatus.NOT_SUPPORTED
