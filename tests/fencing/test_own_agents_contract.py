"""Our fence agents keep the fence-agent API: meta-data that validates against fence-agents'
metadata.rng and lists the standard actions, stdin and command-line options, exit codes."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from raftha.daemon.fencer import parse_fence_metadata

AGENTS = Path(__file__).resolve().parents[2] / "fencing"
OWN_AGENTS = ["fence_raftha_sandbox", "fence_raftha_netns"]
METADATA_RNG = Path("/usr/share/cluster/relaxng/metadata.rng")
STANDARD = {"on", "off", "reboot", "status", "list", "monitor", "metadata", "validate-all"}


def run(agent: str, *arguments: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(AGENTS / agent), *arguments], input=stdin,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("agent", OWN_AGENTS)
def test_metadata_parses_and_lists_the_standard_actions(agent, tmp_path):
    result = run(agent, stdin="action=metadata\n")
    assert result.returncode == 0, result.stderr
    root = ElementTree.fromstring(result.stdout)
    assert root.tag == "resource-agent" and root.get("name") == agent
    metadata = parse_fence_metadata(result.stdout)
    assert STANDARD <= metadata.action_names
    assert {"port", "plug", "action"} <= metadata.parameter_names
    assert run(agent, "-o", "metadata").stdout == result.stdout
    assert run(agent, stdin="action=meta-data\n").stdout == result.stdout
    if METADATA_RNG.exists() and shutil.which("xmllint"):
        path = tmp_path / "metadata.xml"
        path.write_text(result.stdout)
        check = subprocess.run(["xmllint", "--noout", "--relaxng", str(METADATA_RNG),
                                str(path)], capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("agent", OWN_AGENTS)
def test_unknown_action_and_missing_target_exit_1(agent):
    result = run(agent, stdin="action=bogus\n")
    assert result.returncode == 1 and "Unrecognised action 'bogus'" in result.stderr


def test_sandbox_agent_options_from_stdin_and_command_line(tmp_path):
    stdin = run("fence_raftha_sandbox",
                stdin=f"# comment\noption=status\nsandbox-dir=\"{tmp_path}\"\nport=node1\n"
                      "mystery=1\n")
    assert stdin.returncode == 1
    assert f"no sandbox in {tmp_path}" in stdin.stderr
    assert "Ignoring unknown option 'mystery'" in stdin.stderr
    command_line = run("fence_raftha_sandbox", "--action=status", "-n", "node1",
                       "--sandbox-dir", str(tmp_path))
    assert command_line.returncode == 1 and f"no sandbox in {tmp_path}" in command_line.stderr
    missing = run("fence_raftha_sandbox", stdin="action=validate-all\n")
    assert missing.returncode == 1 and "sandbox_dir is required" in missing.stderr
