"""Fence agents started ahead of need: a request is served by the process that waited for it,
which serves nothing else and is replaced; a changed agent file or a closed runner leaves no
waiting process behind; the deadline still holds; an agent whose stdin closes empty acts
on nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from raftha.daemon.fencer import FenceRunner, FenceRunnerSettings
from raftha.model.fencing import FenceDevice

OWN_AGENTS = Path(__file__).resolve().parents[2] / "fencing"

# Logs its pid and options (one JSON line per run) and sleeps for action=hang.
AGENT = '''#!/usr/bin/env python3
import json, os, sys, time
options = dict(line.strip().split("=", 1) for line in sys.stdin if "=" in line)
if options.get("action") == "metadata":
    print("""<?xml version="1.0" ?><resource-agent name="fence_pidlog" shortdesc="test">
<parameters><parameter name="port"><content type="string"/></parameter></parameters>
<actions><action name="off"/><action name="on"/><action name="reboot"/>
<action name="monitor"/><action name="metadata"/></actions></resource-agent>""")
    sys.exit(0)
with open(options["log_file"], "a") as log:
    log.write(json.dumps({"pid": os.getpid(), "options": options}) + "\\n")
if options.get("hang") == options.get("action"):
    time.sleep(600)
sys.exit(0)
'''


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(predicate, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


@pytest.fixture
def agent_runner(tmp_path):
    directory = tmp_path / "agents"
    directory.mkdir()
    agent = directory / "fence_pidlog"
    agent.write_text(AGENT)
    agent.chmod(0o755)
    runner = FenceRunner(FenceRunnerSettings(agent_directories=(directory,), kill_grace_ms=300))
    try:
        yield runner, agent
    finally:
        runner.close()


def device(tmp_path, **extra) -> FenceDevice:
    params = {"log_file": str(tmp_path / "log.jsonl"), **extra}
    return FenceDevice("d1", "fence_pidlog", params=tuple(params.items()),
                       host_list=("node1",))


def runs(tmp_path) -> list[dict]:
    path = tmp_path / "log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_request_is_served_by_the_waiting_process_which_is_then_replaced(agent_runner,
                                                                            tmp_path):
    runner, _agent = agent_runner
    runner.prepare(["fence_pidlog"])
    first = wait_for(runner.waiting.pids)[0]
    result = runner.fence_device(device(tmp_path), "node1", "off", timeout_ms=10_000)
    assert result.ok
    assert [run["pid"] for run in runs(tmp_path)] == [first]
    assert runs(tmp_path)[0]["options"]["port"] == "node1"
    second = wait_for(lambda: [pid for pid in runner.waiting.pids() if pid != first])[0]
    assert not alive(first)                       # one request per process
    runner.fence_device(device(tmp_path), "node1", "on", timeout_ms=10_000)
    assert [run["pid"] for run in runs(tmp_path)] == [first, second]


def test_close_stops_every_waiting_process(agent_runner):
    runner, _agent = agent_runner
    runner.prepare(["fence_pidlog"])
    pid = wait_for(runner.waiting.pids)[0]
    runner.close()
    assert runner.waiting.count() == 0
    wait_for(lambda: not alive(pid), 10)


def test_a_changed_agent_file_is_run_afresh(agent_runner, tmp_path):
    runner, agent = agent_runner
    runner.prepare(["fence_pidlog"])
    stale = wait_for(runner.waiting.pids)[0]
    agent.write_text(AGENT + "# changed\n")
    runner.fence_device(device(tmp_path), "node1", "off", timeout_ms=10_000)
    assert [run["pid"] for run in runs(tmp_path)] != [stale]
    wait_for(lambda: not alive(stale), 10)


def test_a_configuration_change_replaces_the_waiting_processes(agent_runner):
    runner, _agent = agent_runner
    runner.prepare(["fence_pidlog"])
    old = wait_for(runner.waiting.pids)[0]
    runner.prepare(["fence_pidlog"])
    assert runner.waiting.pids() and old not in runner.waiting.pids()
    runner.prepare([])                          # no device left: nothing waits
    assert runner.waiting.count() == 0


def test_the_deadline_holds_for_a_waiting_process(agent_runner, tmp_path):
    runner, _agent = agent_runner
    runner.prepare(["fence_pidlog"])
    wait_for(runner.waiting.pids)
    started = time.monotonic()
    result = runner.fence_device(device(tmp_path, hang="off"), "node1", "off",
                                 timeout_ms=1000)
    assert result.result == "timeout"
    assert time.monotonic() - started < 10
    assert not alive(runs(tmp_path)[0]["pid"])


@pytest.mark.parametrize("agent", ["fence_raftha_sandbox", "fence_raftha_netns"])
def test_our_agents_do_nothing_when_stdin_closes_empty(agent):
    """The fencer died while the agent waited: no options is no request."""
    process = subprocess.Popen([sys.executable, str(OWN_AGENTS / agent)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=dict(os.environ))
    try:
        _out, error = process.communicate(b"", timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 1
    assert b"no options given" in error
