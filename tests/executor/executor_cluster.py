"""Helpers for real-process executor tests: a 3-node sandbox whose executors run real agents.

`ExecutorCluster` wraps `raftha.sandbox.Sandbox`: each node gets an [executor] table (its own
run directories, the LSB fixture directory, LSB_DEMO_DIR), and `power_off` emulates a power
loss: kill -9 of the daemon, of every process its agents started (found by the node's
RAFTHA_SOCKET in their environment) and loss of its /run (the node's run directory).
`close` stops everything and kills any process an agent of this sandbox left behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from raftha.daemon.client import ApiError
from raftha.sandbox import Sandbox

FIXTURES = Path(__file__).resolve().parents[1] / "agents" / "fixtures"
WAIT_S = 60.0


def wait_for(predicate, timeout_s: float = WAIT_S, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except ApiError:
            last = None
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def processes_with_environment(name: str, value: str) -> list[int]:
    """Pids whose environment holds NAME=VALUE."""
    wanted = f"{name}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted in environment:
            found.append(int(entry.name))
    return found


class ExecutorCluster:
    def __init__(self, directory: Path, nodes: int = 3,
                 timing: dict[str, int] | None = None) -> None:
        self.directory = Path(directory)
        self.sandbox = Sandbox(self.directory)
        self.sandbox.create(nodes, timing=timing)
        for name, node in self.sandbox.nodes.items():
            lsb_dir = self.directory / name / "lsb-demo"
            with open(node.config_path, "a") as handle:
                handle.write("\n[executor]\n"
                             f'lsb_directory = "{FIXTURES}"\n'
                             f'environment = {{ LSB_DEMO_DIR = "{lsb_dir}" }}\n')
        self.sandbox.up(nodes, timeout_s=120)
        self.names = list(self.sandbox.nodes)

    # -- driving -------------------------------------------------------------------------

    def call(self, op: str, via: str | None = None, **args: Any) -> Any:
        target = via or next(name for name in self.names if self.sandbox.is_running(name))
        return self.sandbox.call(target, op, **args)

    def load(self, text: str, mode: str = "update") -> int:
        return self.call("configure_load", text=text, mode=mode)["index"]

    def status(self, node: str | None = None) -> dict:
        return self.call("status", via=node)

    def resources(self, node: str | None = None) -> dict:
        return self.status(node)["resources"]

    def history(self, node: str | None = None) -> list[dict]:
        return self.call("history", via=node, limit=100_000)["events"]

    def operations(self, node: str | None = None) -> list[dict]:
        return [event for event in self.history(node) if event["kind"] == "OperationCompleted"]

    def where(self, resource: str, node: str | None = None) -> list[str]:
        view = self.resources(node).get(resource)
        return list(view["nodes"]) if view else []

    def wait_running(self, resource: str, role: str = "Started", count: int = 1,
                     timeout_s: float = WAIT_S, node: str | None = None) -> list[str]:
        def check():
            view = self.resources(node).get(resource)
            if view and view["role"] == role and len(view["nodes"]) == count and (
                    view["target_role"] == role or view["target_node"] in view["nodes"]):
                return list(view["nodes"])
            return None
        nodes = wait_for(check, timeout_s, f"{resource} {role} on {count} node(s)")
        # The status shows a pending (claimed) action's outcome at once; wait for the agent.
        wait_for(lambda: self.settled(resource, nodes), timeout_s,
                 f"{resource}'s actions finished")
        return nodes

    def settled(self, resource: str, nodes: list[str]) -> bool:
        history_id = resource.split(":")[0]
        for name in nodes:
            busy = self.call("executor_status", via=name)["busy"]
            if resource in busy or history_id in busy:
                return False
        return True

    def run_dir(self, name: str) -> Path:
        return self.directory / name / "data" / "run"

    def power_off(self, name: str) -> None:
        """Power loss: the daemon, everything its agents started, and its /run are gone."""
        socket_path = self.sandbox.node(name).socket_path
        self.sandbox.kill(name)
        for pid in processes_with_environment("RAFTHA_SOCKET", socket_path):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.run_dir(name), ignore_errors=True)

    # -- teardown --------------------------------------------------------------------------

    def close(self) -> None:
        try:
            self.sandbox.down()
        finally:
            for node in self.sandbox.nodes.values():
                for pid in processes_with_environment("RAFTHA_SOCKET", node.socket_path):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
