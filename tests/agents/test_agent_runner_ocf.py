"""Running real Debian OCF agents, unmodified, through AgentRunner."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from agent_test_support import (
    NODE_NAME,
    ProcessJanitor,
    needs_pacemaker_agents,
    needs_resource_agents,
    wait_until,
)

from raftha.agents import (
    AgentRunner,
    AgentRunnerSettings,
    AgentSpec,
    AgentSpecError,
    ExecStatus,
    process_group_exists,
)


def cycle(runner: AgentRunner, spec: AgentSpec, params: dict[str, str],
          actions: list[str]) -> list[int]:
    return [runner.run(spec, action, params=params, timeout_ms=20_000,
                       node_name=NODE_NAME).rc for action in actions]


@needs_resource_agents
def test_heartbeat_dummy_start_monitor_stop_cycle(runner: AgentRunner, work_dir: Path) -> None:
    spec = AgentSpec.parse("ocf:heartbeat:Dummy", "dummy1")
    params = {"state": str(work_dir / "dummy1.state")}
    rcs = cycle(runner, spec, params, ["monitor", "start", "monitor", "start", "stop",
                                       "monitor", "stop"])
    assert rcs == [7, 0, 0, 0, 0, 7, 0]
    assert not (work_dir / "dummy1.state").exists()


@needs_resource_agents
def test_probe_and_recurring_monitor_helpers(runner: AgentRunner, work_dir: Path) -> None:
    spec = AgentSpec.parse("ocf:heartbeat:Dummy", "dummy2")
    params = {"state": str(work_dir / "dummy2.state")}
    probe = runner.probe(spec, params=params, timeout_ms=10_000, node_name=NODE_NAME)
    assert (probe.rc, probe.action, probe.interval_ms) == (7, "monitor", 0)
    assert runner.run(spec, "start", params=params, timeout_ms=10_000,
                      node_name=NODE_NAME).ok
    monitor = runner.monitor(spec, params=params, timeout_ms=10_000, interval_ms=10_000,
                             node_name=NODE_NAME)
    assert (monitor.rc, monitor.interval_ms) == (0, 10_000)
    refused = runner.monitor(spec, params=params, timeout_ms=10_000, interval_ms=0,
                             node_name=NODE_NAME)
    assert refused.status is ExecStatus.ERROR
    runner.run(spec, "stop", params=params, timeout_ms=10_000, node_name=NODE_NAME)


@needs_resource_agents
def test_legacy_reload_and_validate(runner: AgentRunner, work_dir: Path) -> None:
    spec = AgentSpec.parse("ocf:heartbeat:Dummy", "dummy3")
    params = {"state": str(work_dir / "dummy3.state"), "fake": "changed"}
    reload = runner.reload(spec, params=params, timeout_ms=10_000, node_name=NODE_NAME)
    assert (reload.rc, reload.action) == (0, "reload")
    assert runner.validate(spec, params=params, timeout_ms=10_000, node_name=NODE_NAME).ok


def test_reload_refused_when_agent_has_none(runner: AgentRunner, work_dir: Path) -> None:
    result = runner.reload(AgentSpec.parse("ocf:raftha:Ledger", "l0"),
                           params={"ledger_file": str(work_dir / "x")}, timeout_ms=10_000,
                           node_name=NODE_NAME)
    assert result.status is ExecStatus.NOT_SUPPORTED
    assert "no reload" in result.exit_reason


@needs_pacemaker_agents
def test_pacemaker_dummy_reload_agent(runner: AgentRunner, work_dir: Path) -> None:
    spec = AgentSpec.parse("ocf:pacemaker:Dummy", "pd0")
    result = runner.reload(spec, params={"state": str(work_dir / "pd0.state")},
                           timeout_ms=10_000, node_name=NODE_NAME)
    assert (result.rc, result.action) == (0, "reload-agent")


@needs_pacemaker_agents
def test_pacemaker_dummy_fail_start_on_this_host(runner: AgentRunner, work_dir: Path) -> None:
    # ocf:pacemaker:Dummy compares fail_start_on with `uname -n` (not crm_node -n).
    spec = AgentSpec.parse("ocf:pacemaker:Dummy", "pd1")
    params = {"state": str(work_dir / "pd1.state"), "fail_start_on": os.uname().nodename}
    start = runner.run(spec, "start", params=params, timeout_ms=10_000, node_name=NODE_NAME)
    assert start.rc == 1 and start.status is ExecStatus.DONE
    # The agent really started although it reported failure (that is the point of the knob).
    monitor = runner.run(spec, "monitor", params=params, timeout_ms=10_000,
                         node_name=NODE_NAME, interval_ms=10_000)
    assert monitor.rc == 0
    other = dict(params, fail_start_on="some-other-host")
    assert runner.run(spec, "stop", params=other, timeout_ms=10_000, node_name=NODE_NAME).ok
    assert runner.run(spec, "start", params=other, timeout_ms=10_000, node_name=NODE_NAME).ok
    runner.run(spec, "stop", params=other, timeout_ms=10_000, node_name=NODE_NAME)


@needs_pacemaker_agents
def test_timeout_kills_the_whole_process_group(runner: AgentRunner, work_dir: Path,
                                               janitor: ProcessJanitor) -> None:
    # op_sleep makes the agent sleep in a child process and trap SIGTERM.
    spec = AgentSpec.parse("ocf:pacemaker:Dummy", "slow")
    params = {"state": str(work_dir / "slow.state"), "op_sleep": "60"}
    started = time.monotonic()
    result = runner.run(spec, "monitor", params=params, timeout_ms=1000,
                        node_name=NODE_NAME, interval_ms=10_000)
    elapsed_s = time.monotonic() - started
    assert result.pid > 0
    janitor.groups.append(result.pid)  # killed at the end if the runner left it
    assert result.timed_out
    assert result.status is ExecStatus.TIMED_OUT
    # Generous bound: 1 s timeout + 1 s grace + drain, with slack for a loaded machine.
    assert elapsed_s < 15
    assert wait_until(lambda: not process_group_exists(result.pid), 5)


@needs_pacemaker_agents
def test_sigkill_after_grace_when_agent_ignores_sigterm(work_dir: Path, tmp_path: Path,
                                                        janitor: ProcessJanitor) -> None:
    agent_dir = tmp_path / "ocf" / "test"
    agent_dir.mkdir(parents=True)
    agent = agent_dir / "Stubborn"
    agent.write_text("#!/bin/sh\ntrap '' TERM\nsleep 60 &\nwhile :; do sleep 0.2; done\n")
    agent.chmod(0o755)
    runner = AgentRunner(AgentRunnerSettings(ocf_search_path=(tmp_path / "ocf",),
                                             kill_grace_ms=500, shims_dir=None))
    result = runner.run(AgentSpec.parse("ocf:test:Stubborn", "s"), "start", timeout_ms=500,
                        node_name=NODE_NAME)
    assert result.pid > 0
    janitor.groups.append(result.pid)  # killed at the end if the runner left it
    assert result.timed_out
    assert 900 <= result.duration_ms < 15_000
    assert wait_until(lambda: not process_group_exists(result.pid), 5)


@needs_pacemaker_agents
def test_exit_reason_from_real_agent(runner: AgentRunner, work_dir: Path) -> None:
    spec = AgentSpec.parse("ocf:pacemaker:Dummy", "pd2")
    params = {"state": str(work_dir / "pd2.state")}
    assert runner.run(spec, "start", params=params, timeout_ms=10_000, node_name=NODE_NAME).ok
    result = runner.run(spec, "monitor", params=params, timeout_ms=10_000,
                        node_name=NODE_NAME, interval_ms=10_000,
                        environment_extra={"OCF_CHECK_LEVEL": "30"})
    assert result.rc == 1
    assert result.exit_reason == "hyperdrive quota reached"
    runner.run(spec, "stop", params=params, timeout_ms=10_000, node_name=NODE_NAME)


def test_last_exit_reason_wins_and_prefix_is_stripped(runner: AgentRunner) -> None:
    result = runner.run(AgentSpec.parse("ocf:test:Noisy", "n1"), "start",
                        params={"reasons": "first_problem second_problem", "rc": "6"},
                        timeout_ms=10_000, node_name=NODE_NAME)
    assert result.rc == 6
    assert result.exit_reason == "second problem"
    assert "some log line" in result.output_tail


def test_output_is_captured_with_a_byte_limit(tmp_path: Path) -> None:
    from agent_test_support import FIXTURES
    runner = AgentRunner(AgentRunnerSettings(
        ocf_search_path=(FIXTURES / "ocf",), shims_dir=None, stdout_limit_bytes=1000,
        output_tail_bytes=300))
    result = runner.run(AgentSpec.parse("ocf:test:Noisy", "n2"), "start",
                        params={"lines": "5000", "reasons": "after_the_flood"},
                        timeout_ms=20_000, node_name=NODE_NAME)
    assert result.ok
    assert len(result.stdout.encode()) == 1000
    assert result.stdout.startswith("line 0:")
    assert len(result.output_tail) <= 300
    assert result.exit_reason == "after the flood"


def test_background_helper_holding_pipes_does_not_block(runner: AgentRunner,
                                                        tmp_path: Path, janitor) -> None:
    pid_file = tmp_path / "linger.pid"
    janitor.watch_pid_file(pid_file)
    started = time.monotonic()
    result = runner.run(AgentSpec.parse("ocf:test:Noisy", "n3"), "start",
                        params={"linger_pidfile": str(pid_file)}, timeout_ms=20_000,
                        node_name=NODE_NAME)
    assert result.ok and not result.timed_out
    assert time.monotonic() - started < 10      # not the helper's 30 s
    # A normal exit must not kill what the agent left running (services do that).
    assert os.path.exists(f"/proc/{int(pid_file.read_text())}")


def test_missing_agent_is_not_installed(runner: AgentRunner) -> None:
    result = runner.run(AgentSpec.parse("ocf:heartbeat:NoSuchAgent", "x"), "monitor",
                        timeout_ms=5000, node_name=NODE_NAME)
    assert result.status is ExecStatus.NOT_INSTALLED
    assert result.rc == 5
    assert "not installed" in result.exit_reason


def test_non_executable_agent_is_reported(tmp_path: Path) -> None:
    provider = tmp_path / "ocf" / "test"
    provider.mkdir(parents=True)
    (provider / "Plain").write_text("#!/bin/sh\nexit 0\n")
    runner = AgentRunner(AgentRunnerSettings(ocf_search_path=(tmp_path / "ocf",),
                                             shims_dir=None))
    result = runner.run(AgentSpec.parse("ocf:test:Plain", "x"), "start", timeout_ms=5000,
                        node_name=NODE_NAME)
    assert result.status is ExecStatus.NOT_INSTALLED
    assert "not executable" in result.exit_reason


@pytest.mark.parametrize("action", ["", "Start", "start; rm -rf /", "../x"])
def test_invalid_action_names_are_refused(runner: AgentRunner, action: str) -> None:
    result = runner.run(AgentSpec.parse("ocf:test:Noisy", "x"), action, timeout_ms=5000,
                        node_name=NODE_NAME)
    assert result.status is ExecStatus.ERROR and "invalid action" in result.exit_reason


def test_nonpositive_timeout_is_refused(runner: AgentRunner) -> None:
    result = runner.run(AgentSpec.parse("ocf:test:Noisy", "x"), "start", timeout_ms=0,
                        node_name=NODE_NAME)
    assert result.status is ExecStatus.ERROR and "timeout_ms" in result.exit_reason


@pytest.mark.parametrize(
    ("text", "message"),
    [("ocf:heartbeat", "ocf:PROVIDER:TYPE"), ("ocf:../x:Dummy", "provider"),
     ("ocf:heartbeat:../../bin/sh", "type"), ("upstart:foo", "unknown agent class"),
     ("lsb:", "lsb:NAME"), ("lsb:/etc/../bin/sh", "path")],
)
def test_bad_agent_specs(text: str, message: str) -> None:
    with pytest.raises(AgentSpecError, match=message):
        AgentSpec.parse(text)


def test_spec_round_trip() -> None:
    assert str(AgentSpec.parse("ocf:heartbeat:IPaddr2", "vip")) == "ocf:heartbeat:IPaddr2"
    assert str(AgentSpec.parse("lsb:/etc/init.d/foo")) == "lsb:/etc/init.d/foo"
    assert AgentSpec.parse("systemd:nginx.service").agent_type == "nginx.service"


def test_listings(runner: AgentRunner) -> None:
    assert "raftha" in runner.list_providers()
    assert {"Dummy", "Ledger", "WebDemo"} <= set(runner.list_ocf_agents("raftha"))
    assert "lsb-demo" in runner.list_lsb_scripts()


def test_result_round_trips_through_plain_data(runner: AgentRunner) -> None:
    result = runner.run(AgentSpec.parse("ocf:test:Noisy", "n4"), "start",
                        params={"rc": "7", "reasons": "gone"}, timeout_ms=5000,
                        node_name=NODE_NAME)
    from raftha.agents import AgentResult
    again = AgentResult.from_dict(result.to_dict())
    assert again.rc == 7 and again.exit_reason == "gone" and again.status is result.status


@needs_resource_agents
def test_runner_is_safe_from_several_threads(runner: AgentRunner, work_dir: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def lifecycle(index: int) -> list[int]:
        spec = AgentSpec.parse("ocf:heartbeat:Dummy", f"parallel{index}")
        params = {"state": str(work_dir / f"parallel{index}.state")}
        runner.metadata(spec)
        return cycle(runner, spec, params, ["monitor", "start", "monitor", "stop", "monitor"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lifecycle, range(8)))
    assert outcomes == [[7, 0, 0, 0, 7]] * 8
