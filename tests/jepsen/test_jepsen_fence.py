"""The emulated fence device: agent protocol (pure parts) and real power-off of a netns node
through the fence_jepsen agent (root)."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

from jepsen import fence, hosts

REPO = pathlib.Path(__file__).resolve().parents[2]
AGENT = REPO / "jepsen" / "fence_jepsen"


def test_agent_input_follows_the_fence_agents_convention():
    options = fence.parse_agent_input("# comment\naction=off\nport=n2\n\nnonsense\n")
    assert options == {"action": "off", "port": "n2", "plug": "n2"}
    assert fence.parse_agent_input("option=status\nplug=n1")["action"] == "status"


def test_agent_metadata_and_missing_socket(capsys, monkeypatch):
    monkeypatch.delenv(fence.SOCKET_ENVIRONMENT_VARIABLE, raising=False)
    assert fence.agent_main([], "action=metadata\n") == 0
    assert "<resource-agent name=\"fence_jepsen\"" in capsys.readouterr().out
    assert fence.agent_main([], "action=off\nplug=n1\n") == 1
    assert "no controller socket" in capsys.readouterr().err


def run_agent(stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(AGENT)], input=stdin, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, cgroups)")
@pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2")
def test_fence_agent_powers_a_node_off_and_on(tmp_path):
    started: list[str] = []
    with hosts.HostSet(2) as host_set:
        def power_on(node: str) -> None:
            started.append(node)
            host_set.spawn(node, ["sleep", "60"])

        controller = fence.FenceController(
            tmp_path / "fence.sock", tmp_path / "fence.jsonl", host_set.nodes,
            power_off=lambda node: host_set.hosts[node].cgroup.kill_all(),
            power_on=power_on,
            is_running=lambda node: bool(host_set.hosts[node].cgroup.pids()))
        controller.start()
        try:
            power_on("n1")
            time.sleep(0.2)
            socket_line = f"socket={controller.socket_path}\n"
            assert run_agent(socket_line + "action=status\nplug=n1\n").returncode == 0
            off = run_agent(socket_line + "action=off\nplug=n1\n")
            assert off.returncode == 0, off.stderr
            assert host_set.hosts["n1"].cgroup.pids() == []
            assert not controller.may_start("n1")
            status = run_agent(socket_line + "action=status\nplug=n1\n")
            assert status.returncode == 2 and "OFF" in status.stdout
            controller.mode = "fail"
            assert run_agent(socket_line + "action=on\nplug=n1\n").returncode == 1
            controller.mode = "ok"
            assert run_agent(socket_line + "action=on\nplug=n1\n").returncode == 0
            assert started == ["n1", "n1"]
            assert run_agent(socket_line + "action=off\nplug=n9\n").returncode == 1
            listing = run_agent(socket_line + "action=list\n")
            assert listing.stdout.split() == ["n1,", "n2,"]
        finally:
            controller.stop()
    records = fence.read_fence_log(tmp_path / "fence.jsonl")
    assert [(record["action"], record["result"]) for record in records] == [
        ("off", "ok"), ("on", "failed"), ("on", "ok")]
    assert all(record["target"] == "n1" and record["ts_ms"] > 0 for record in records)
    assert not (tmp_path / "fence.sock").exists()


def test_agent_reports_an_unreachable_controller(tmp_path):
    completed = subprocess.run([sys.executable, str(AGENT)],
                               input=f"socket={tmp_path}/none.sock\naction=off\nplug=n1\n",
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 1
    assert completed.stderr.startswith("fence_jepsen: off failed:")
