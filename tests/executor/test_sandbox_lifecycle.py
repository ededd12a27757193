"""The sandbox keeps one daemon per node, and stops a node that outlives its stop timeout
with its threads' stacks written to node.log (real processes).

- A node already running, unknown to this Sandbox object (another process started it, e.g.
  a fence agent's power-on), is adopted, not started a second time on the same data.
- Two processes starting the same node at once start it once.
- A daemon that ignores SIGTERM is sent SIGABRT (faulthandler dumps its stacks), then killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from raftha.sandbox import Sandbox, daemon_pids


@pytest.fixture
def one_node(tmp_path):
    sandbox = Sandbox(tmp_path / "sbx")
    try:
        sandbox.up(1, timeout_s=90)
        yield sandbox
    finally:
        Sandbox(sandbox.directory).down()
        for node in sandbox.nodes.values():
            for pid in daemon_pids(node.config_path):
                os.kill(pid, signal.SIGKILL)


def test_a_node_started_by_another_process_is_adopted_not_started_twice(one_node):
    [name] = one_node.nodes
    config_path = one_node.node(name).config_path
    [running] = daemon_pids(config_path)
    other = Sandbox(one_node.directory)      # what another process sees ...
    other.pids[name] = 2**22 + 1              # ... with a record gone stale meanwhile
    other.start(name)
    assert daemon_pids(config_path) == [running]
    assert other.pids[name] == running
    assert other.call(name, "ping")["node"] == name


def test_two_processes_starting_a_node_at_once_start_it_once(one_node):
    [name] = one_node.nodes
    config_path = one_node.node(name).config_path
    one_node.stop(name)
    assert daemon_pids(config_path) == []
    environment = dict(os.environ, PYTHONPATH=os.getcwd())
    starters = [subprocess.Popen([sys.executable, "-m", "raftha.cli", "sandbox", "start", name,
                                  "--dir", str(one_node.directory)], env=environment,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
    outputs = [starter.communicate(timeout=120) for starter in starters]
    assert [starter.returncode for starter in starters] == [0, 0], outputs
    assert len(daemon_pids(config_path)) == 1
    assert Sandbox(one_node.directory).call(name, "ping")["node"] == name


def test_a_node_that_ignores_sigterm_dumps_its_stacks_and_is_killed(tmp_path):
    sandbox = Sandbox(tmp_path / "sbx")
    sandbox.create(1)
    [name] = sandbox.nodes
    node = sandbox.node(name)
    # Stands in for a hung daemon: the node's command line, SIGTERM ignored.
    hung = ("import signal, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "time.sleep(120)\n")
    with open(node.log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", hung, "--config", node.config_path],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env=dict(os.environ, PYTHONFAULTHANDLER="1"))
    try:
        time.sleep(1.0)                       # the handler is in place
        sandbox.pids[name] = process.pid
        sandbox.children[name] = process
        began = time.monotonic()
        sandbox.stop(name, timeout_s=1.0)
        assert process.poll() is not None
        assert time.monotonic() - began < 15
        text = open(node.log_path, errors="replace").read()
        assert "Fatal Python error: Aborted" in text and "most recent call first" in text
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
