"""Our agents (ocf:raftha:Dummy, Ledger, WebDemo): ocf-tester and real behaviour."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from agent_test_support import (
    FIXTURES,
    NODE_NAME,
    OWN_AGENTS,
    free_port,
    ocf_tester_path,
    wait_until,
)

from raftha.agents import AgentRunner, AgentSpec, ExecStatus


def ledger_lines(path: Path) -> list[tuple[int, str, str]]:
    if not path.exists():
        return []
    lines = []
    for line in path.read_text().splitlines():
        wall_ms, node, resource = line.split(" ")
        lines.append((int(wall_ms), node, resource))
    return lines


@pytest.mark.parametrize(
    ("agent", "options"),
    [("Dummy", ["state={tmp}/dummy.state"]),
     ("Ledger", ["ledger_file={tmp}/ledger.txt", "state={tmp}/ledger.pid"]),
     ("WebDemo", ["port={port}", "pidfile={tmp}/web.pid"])],
)
def test_ocf_tester_passes(agent: str, options: list[str], tmp_path: Path, janitor) -> None:
    tester = ocf_tester_path()
    if tester is None:
        pytest.skip("ocf-tester (Debian resource-agents) is not installed")
    # ocf-tester runs meta-data as user nobody: the state lives in a world-usable dir.
    tmp_path.chmod(0o755)
    values = {"tmp": str(tmp_path), "port": str(free_port())}
    arguments = [tester, "-n", f"test-{agent.lower()}"]
    for option in options:
        arguments += ["-o", option.format(**values)]
    janitor.watch_pid_file(tmp_path / "ledger.pid")
    janitor.watch_pid_file(tmp_path / "web.pid")
    completed = subprocess.run(arguments + [str(OWN_AGENTS / "raftha" / agent)],
                               capture_output=True, text=True, timeout=300,
                               start_new_session=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "passed all tests" in completed.stdout


def test_ledger_ticks_with_node_and_id_and_stops(runner: AgentRunner, tmp_path: Path,
                                                janitor) -> None:
    ledger = tmp_path / "ledger.txt"
    pid_file = tmp_path / "ledger-l1.pid"
    janitor.watch_pid_file(pid_file)
    spec = AgentSpec.parse("ocf:raftha:Ledger", "l1")
    params = {"ledger_file": str(ledger), "state": str(pid_file)}
    common = dict(params=params, timeout_ms=20_000, node_name=NODE_NAME)
    try:
        assert runner.probe(spec, **common).rc == 7
        start = runner.run(spec, "start", **common)
        assert start.ok, start
        assert runner.run(spec, "monitor", interval_ms=10_000, **common).rc == 0
        # The ticker outlives the agent process and is not in its process group.
        ticker = int(pid_file.read_text())
        assert os.getpgid(ticker) != start.pid
        window_start = time.monotonic()
        assert wait_until(lambda: len(ledger_lines(ledger)) >= 20, 30)
        window_s = time.monotonic() - window_start
        lines = ledger_lines(ledger)
        assert {(node, resource) for _, node, resource in lines} == {(NODE_NAME, "l1")}
        times = [wall_ms for wall_ms, _, _ in lines]
        assert times == sorted(times)
        # About 10 per second: lines are ~100 ms apart (generous upper slack: shared machine).
        gaps = len(times) - 1
        assert gaps * 100 * 0.8 <= times[-1] - times[0] <= gaps * 100 * 4
        assert window_s < 30
        assert abs(times[-1] - time.time() * 1000) < 10_000
        assert runner.run(spec, "stop", **common).ok
        assert not os.path.exists(f"/proc/{ticker}") or _is_zombie(ticker)
        count_after_stop = len(ledger_lines(ledger))
        time.sleep(0.5)
        assert len(ledger_lines(ledger)) == count_after_stop
        assert runner.run(spec, "monitor", interval_ms=10_000, **common).rc == 7
        assert runner.run(spec, "stop", **common).ok             # idempotent
    finally:
        runner.run(spec, "stop", **common)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"
    except OSError:
        return False


def test_ledger_monitor_reports_a_killed_ticker(runner: AgentRunner, tmp_path: Path,
                                               janitor) -> None:
    pid_file = tmp_path / "l2.pid"
    janitor.watch_pid_file(pid_file)
    spec = AgentSpec.parse("ocf:raftha:Ledger", "l2")
    common = dict(params={"ledger_file": str(tmp_path / "l.txt"), "state": str(pid_file)},
                  timeout_ms=20_000, node_name=NODE_NAME)
    try:
        assert runner.run(spec, "start", **common).ok
        os.kill(int(pid_file.read_text()), 9)
        assert wait_until(lambda: runner.run(spec, "monitor", interval_ms=10_000,
                                             **common).rc == 1, 10)
        failed = runner.run(spec, "monitor", interval_ms=10_000, **common)
        assert "not running" in failed.exit_reason
        assert runner.run(spec, "stop", **common).ok
        assert runner.run(spec, "monitor", interval_ms=10_000, **common).rc == 7
    finally:
        runner.run(spec, "stop", **common)


def test_ledger_validation_errors(runner: AgentRunner, tmp_path: Path) -> None:
    spec = AgentSpec.parse("ocf:raftha:Ledger", "l3")
    missing = runner.run(spec, "validate-all", params={}, timeout_ms=10_000,
                         node_name=NODE_NAME)
    assert missing.rc == 6 and "ledger_file" in missing.exit_reason
    bad_tick = runner.run(spec, "start", params={"ledger_file": str(tmp_path / "x"),
                                                 "tick_ms": "fast"},
                          timeout_ms=10_000, node_name=NODE_NAME)
    assert bad_tick.rc == 6 and "tick_ms" in bad_tick.exit_reason
    no_dir = runner.run(spec, "validate-all",
                        params={"ledger_file": str(tmp_path / "nope" / "x")},
                        timeout_ms=10_000, node_name=NODE_NAME)
    assert no_dir.rc == 5


def test_ledger_node_name_from_crm_node_when_cluster_gives_none(tmp_path: Path,
                                                                janitor) -> None:
    # Run the agent by hand (no runner): no on_node meta, crm_node shim first in PATH.
    pid_file = tmp_path / "l4.pid"
    ledger = tmp_path / "l4.txt"
    janitor.watch_pid_file(pid_file)
    environment = {
        "PATH": f"{FIXTURES / 'shims'}:/usr/sbin:/usr/bin:/sbin:/bin",
        "OCF_ROOT": "/usr/lib/ocf", "OCF_RA_VERSION_MAJOR": "1",
        "OCF_RA_VERSION_MINOR": "1", "OCF_RESOURCE_INSTANCE": "l4",
        "OCF_RESKEY_ledger_file": str(ledger), "OCF_RESKEY_state": str(pid_file),
        "RAFTHA_TEST_NODE_NAME": "from-crm-node", "HA_LOGFACILITY": "none", "HA_LOGD": "no",
    }
    agent = str(OWN_AGENTS / "raftha" / "Ledger")
    try:
        started = subprocess.run([agent, "start"], env=environment, timeout=60,
                                 capture_output=True, start_new_session=True)
        assert started.returncode == 0, started.stderr
        assert wait_until(lambda: len(ledger_lines(ledger)) >= 1, 10)
        assert ledger_lines(ledger)[0][1] == "from-crm-node"
    finally:
        subprocess.run([agent, "stop"], env=environment, timeout=60, capture_output=True)


def test_webdemo_serves_a_page_naming_the_node(runner: AgentRunner, tmp_path: Path,
                                               janitor) -> None:
    port = free_port()
    pid_file = tmp_path / "web.pid"
    janitor.watch_pid_file(pid_file)
    spec = AgentSpec.parse("ocf:raftha:WebDemo", "web1")
    common = dict(params={"port": str(port), "pidfile": str(pid_file)}, timeout_ms=20_000,
                  node_name=NODE_NAME)
    try:
        assert runner.probe(spec, **common).rc == 7
        start = runner.run(spec, "start", **common)
        assert start.ok, start
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            page = response.read().decode()
            assert response.headers["X-Raftha-Node"] == NODE_NAME
        assert f'<b id="node">{NODE_NAME}</b>' in page
        assert '<b id="resource">web1</b>' in page
        assert runner.run(spec, "monitor", interval_ms=10_000, **common).rc == 0
        assert runner.run(spec, "stop", **common).ok
        assert runner.run(spec, "monitor", interval_ms=10_000, **common).rc == 7
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
    finally:
        runner.run(spec, "stop", **common)


def test_webdemo_port_in_use_fails_start_with_reason(runner: AgentRunner, tmp_path: Path,
                                                     janitor) -> None:
    import socket
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        pid_file = tmp_path / "busy.pid"
        janitor.watch_pid_file(pid_file)
        spec = AgentSpec.parse("ocf:raftha:WebDemo", "web2")
        common = dict(params={"port": str(port), "pidfile": str(pid_file)},
                      timeout_ms=20_000, node_name=NODE_NAME)
        try:
            result = runner.run(spec, "start", **common)
            assert result.status is ExecStatus.DONE and result.rc == 1
            assert "in use" in result.exit_reason
        finally:
            runner.run(spec, "stop", **common)


def test_webdemo_bad_port_is_a_configuration_error(runner: AgentRunner) -> None:
    result = runner.run(AgentSpec.parse("ocf:raftha:WebDemo", "web3"), "start",
                        params={"port": "99999"}, timeout_ms=10_000, node_name=NODE_NAME)
    assert result.rc == 6 and "out of range" in result.exit_reason


def test_own_dummy_cycle_and_reload(runner: AgentRunner, tmp_path: Path) -> None:
    spec = AgentSpec.parse("ocf:raftha:Dummy", "d")
    state = tmp_path / "d.state"
    common = dict(timeout_ms=10_000, node_name=NODE_NAME)
    assert runner.run(spec, "start", params={"state": str(state)}, **common).ok
    assert state.read_text().strip() == "dummy"
    reload = runner.reload(spec, params={"state": str(state), "fake": "new"}, **common)
    assert reload.ok and reload.action == "reload"
    assert state.read_text().strip() == "new"
    assert runner.run(spec, "stop", params={"state": str(state)}, **common).ok
    assert runner.run(spec, "monitor", params={"state": str(state)}, **common).rc == 7
    bogus = runner.run(spec, "bogus", params={"state": str(state)}, **common)
    assert bogus.rc == 3
