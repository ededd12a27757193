"""A local N-node cluster of real daemon processes on loopback, for demos and tests.

    raftha sandbox up --nodes 3 --dir DIR     start, wait for quorum and every node online
    raftha sandbox status|down --dir DIR      show / stop everything
    raftha sandbox kill|start NODE --dir DIR  kill -9 one node's process group / restart it

Layout: DIR/authkey, DIR/NAME/node.toml, DIR/NAME/data/, DIR/NAME/control.sock,
DIR/NAME/node.log, and DIR/sandbox.json (names, addresses, sockets, process ids), so a later
command (another process) can find and stop what `up` started.

Invariants: no root needed (free loopback ports, files under DIR); every node runs in its
own session and process group, so `kill` is `kill -9` of exactly that group; a recorded pid
is signalled only if /proc shows it is still our daemon for that node's config (a recycled
pid is never killed); every wait has a timeout and fails with a one-line reason.

At most one daemon per node: a start holds the node's lock file (DIR/NAME/start.lock) across
processes (a fence agent's power-on and a test may start the same node at once), and adopts
a daemon of that node already running (found in /proc by its config path) instead of
starting a second one on the same data directory. A stop waits for the daemon's own bounded
clean stop (STOP_TIMEOUT_S); a daemon still there then gets SIGABRT first (it runs with
PYTHONFAULTHANDLER, so every thread's stack lands in node.log), then SIGKILL.
"""

from __future__ import annotations

import fcntl
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import raftha
from raftha.daemon.bootstrap import init_cluster
from raftha.daemon.client import ApiError, ControlClient
from raftha.daemon.fencer import sweep_stale_input_directories
from raftha.model.fencing_events import sandbox_fencing_text

STATE_FILE_NAME = "sandbox.json"
DEFAULT_CLUSTER_NAME = "sandbox"
READY_TIMEOUT_S = 60.0
START_TIMEOUT_S = 30.0
# A clean stop of a node daemon is bounded by its own budgets (the executor's stops and
# their recording, the duties' joins, the NodeStopped proposal): well within this.
STOP_TIMEOUT_S = 20.0
KILL_TIMEOUT_S = 10.0
STACK_DUMP_WAIT_S = 1.0
START_LOCK_NAME = "start.lock"
POLL_PERIOD_S = 0.05


class SandboxError(Exception):
    """A sandbox operation that failed; the message is a one-line reason."""


@dataclass(frozen=True)
class SandboxNode:
    name: str
    address: str
    config_path: str
    socket_path: str
    log_path: str


def free_loopback_ports(count: int) -> list[int]:
    """Ports the kernel just handed out (held together so they are distinct)."""
    holders = []
    try:
        for _ in range(count):
            holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            holder.bind(("127.0.0.1", 0))
            holders.append(holder)
        return [holder.getsockname()[1] for holder in holders]
    finally:
        for holder in holders:
            holder.close()


def process_matches(pid: int, config_path: str) -> bool:
    """True if `pid` is alive (not a zombie) and runs the daemon for `config_path`."""
    try:
        stat_text = pathlib.Path(f"/proc/{pid}/stat").read_text()
        command_line = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    if stat_text.rsplit(")", 1)[-1].split()[0] == "Z":
        return False
    return config_path.encode() in command_line.split(b"\0")


def daemon_pids(config_path: str) -> list[int]:
    """Every live daemon process of the node whose config file is `config_path`."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit() and process_matches(int(entry.name), config_path):
            found.append(int(entry.name))
    return sorted(found)


def last_log_line(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 4096))
            lines = handle.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def reap(pid: int) -> None:
    """Collects the exit status if the daemon is our child (avoids a zombie)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


class Sandbox:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = pathlib.Path(directory).resolve()
        self.state_path = self.directory / STATE_FILE_NAME
        self.nodes: dict[str, SandboxNode] = {}
        self.pids: dict[str, int] = {}
        self.children: dict[str, subprocess.Popen] = {}
        if self.state_path.exists():
            self.load()

    # -- persistent record -----------------------------------------------------------------

    def load(self) -> None:
        try:
            data = json.loads(self.state_path.read_text())
            self.nodes = {item["name"]: SandboxNode(**item) for item in data["nodes"]}
            self.pids = {name: int(pid) for name, pid in data.get("pids", {}).items()}
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise SandboxError(f"cannot read {self.state_path}: {error}") from None

    def save(self) -> None:
        data = {"nodes": [asdict(node) for node in self.nodes.values()], "pids": self.pids}
        temporary = self.state_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=2))
        os.replace(temporary, self.state_path)

    @property
    def exists(self) -> bool:
        return bool(self.nodes)

    def create(self, node_count: int, cluster_name: str = DEFAULT_CLUSTER_NAME,
               timing: dict[str, int] | None = None) -> None:
        if self.exists:
            raise SandboxError(f"a sandbox already exists in {self.directory}")
        if not 1 <= node_count <= 15:
            raise SandboxError("--nodes must be between 1 and 15")
        ports = free_loopback_ports(node_count)
        members = [(f"node{number}", f"127.0.0.1:{port}")
                   for number, port in enumerate(ports, start=1)]
        written = init_cluster(self.directory, cluster_name, members, timing)
        self.nodes = {
            files.name: SandboxNode(files.name, files.address, str(files.config_path),
                                    str(files.socket_path),
                                    str(files.config_path.parent / "node.log"))
            for files in written
        }
        self.save()

    # -- processes ---------------------------------------------------------------------------

    def node(self, name: str) -> SandboxNode:
        if name not in self.nodes:
            known = " ".join(self.nodes) or "none"
            raise SandboxError(f"no node {name!r} in the sandbox at {self.directory} "
                               f"(nodes: {known})")
        return self.nodes[name]

    def is_running(self, name: str) -> bool:
        pid = self.pids.get(name)
        if pid is None:
            return False
        reap(pid)
        return process_matches(pid, self.node(name).config_path)

    def running(self) -> list[str]:
        return [name for name in self.nodes if self.is_running(name)]

    def start(self, name: str, wait: bool = True) -> None:
        node = self.node(name)
        if self.is_running(name):
            return
        with self.start_lock(name):
            if not self.adopt(name):
                self.spawn(node)
        if wait:
            self.wait_answering([name], START_TIMEOUT_S)

    def start_lock(self, name: str) -> Any:
        """The node's start lock, held across processes (bounded wait: START_TIMEOUT_S)."""
        sandbox = self

        class StartLock:
            def __enter__(self) -> None:
                path = pathlib.Path(sandbox.node(name).config_path).parent / START_LOCK_NAME
                self.handle = open(path, "a")
                deadline = time.monotonic() + START_TIMEOUT_S
                while True:
                    try:
                        fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        return
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            self.handle.close()
                            raise SandboxError(f"{name} is being started by another process "
                                               f"for more than {START_TIMEOUT_S:.0f} s"
                                               ) from None
                        time.sleep(POLL_PERIOD_S)

            def __exit__(self, *exception: object) -> None:
                self.handle.close()   # closing releases the lock
        return StartLock()

    def adopt(self, name: str) -> bool:
        """Takes over a daemon of the node that another process started (recorded in
        sandbox.json or only found in /proc); True when there is one."""
        node = self.node(name)
        found = daemon_pids(node.config_path)
        if not found:
            return False
        self.pids[name] = found[0]
        self.children.pop(name, None)
        self.save()
        return True

    def spawn(self, node: SandboxNode) -> None:
        package_root = str(pathlib.Path(raftha.__file__).resolve().parent.parent)
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            [package_root, *filter(None, [environment.get("PYTHONPATH")])])
        environment["PYTHONFAULTHANDLER"] = "1"   # a SIGABRT writes every thread's stack
        with open(node.log_path, "ab") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", "raftha.cli", "node", "run", "--config",
                 node.config_path],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, env=environment, cwd=self.directory,
            )
        self.children[node.name] = child
        self.pids[node.name] = child.pid
        self.save()

    def wait_answering(self, names: Iterable[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for name in names:
            node = self.node(name)
            while True:
                try:
                    with ControlClient(node.socket_path, 1000) as client:
                        client.call("ping")
                    break
                except ApiError as error:
                    if not self.is_running(name) and not self.adopt(name):
                        raise SandboxError(self.exit_reason(name)) from None
                    if time.monotonic() > deadline:
                        raise SandboxError(f"{name} did not answer within {timeout_s:.0f} s: "
                                           f"{error}") from None
                time.sleep(POLL_PERIOD_S)

    def exit_reason(self, name: str) -> str:
        node = self.node(name)
        child = self.children.get(name)
        status = "" if child is None or child.poll() is None else f" (exit {child.returncode})"
        last = last_log_line(node.log_path)
        return (f"{name} exited during start{status}: {last or 'no output'}; "
                f"see {node.log_path}")

    def kill(self, name: str) -> None:
        """kill -9 of the node's process group; returns once it is gone."""
        self.node(name)  # a clear error for an unknown name
        pid = self.pids.get(name)
        if pid is None or not self.is_running(name):
            raise SandboxError(f"{name} is not running")
        os.killpg(pid, signal.SIGKILL)
        self.wait_gone(name, pid, KILL_TIMEOUT_S)
        del self.pids[name]
        self.save()

    def stop(self, name: str, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM, then (the node still there after `timeout_s`) SIGABRT to the daemon for
        its threads' stacks in node.log, then SIGKILL of its process group."""
        pid = self.pids.get(name)
        if pid is not None and self.is_running(name):
            try:
                os.killpg(pid, signal.SIGTERM)
                self.wait_gone(name, pid, timeout_s)
            except SandboxError:
                self.abort_then_kill(name, pid)
        self.pids.pop(name, None)
        self.save()

    def abort_then_kill(self, name: str, pid: int) -> None:
        try:
            os.kill(pid, signal.SIGABRT)
        except ProcessLookupError:
            pass
        else:
            try:
                self.wait_gone(name, pid, STACK_DUMP_WAIT_S)
            except SandboxError:
                pass
        try:   # the rest of its process group (agents) goes too
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        self.wait_gone(name, pid, KILL_TIMEOUT_S)

    def wait_gone(self, name: str, pid: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        child = self.children.pop(name, None)
        while time.monotonic() < deadline:
            if child is not None:
                try:
                    child.wait(POLL_PERIOD_S)
                    return
                except subprocess.TimeoutExpired:
                    continue
            if not process_matches(pid, self.node(name).config_path):
                return
            time.sleep(POLL_PERIOD_S)
        if child is not None:
            self.children[name] = child
        raise SandboxError(f"{name} (pid {pid}) did not exit within {timeout_s:.0f} s")

    def down(self) -> None:
        """SIGTERM to every node at once (each records its clean stop while the others
        still form a quorum), then wait; SIGKILL whatever outlives the timeout."""
        signalled = []
        for name in list(self.nodes):
            pid = self.pids.get(name)
            if pid is not None and self.is_running(name):
                os.killpg(pid, signal.SIGTERM)
                signalled.append(name)
        for name in signalled:
            self.stop(name)
        self.pids = {}
        self.save()
        # What nodes killed during the run (sandbox kill, a fault) left in the temp dir.
        sweep_stale_input_directories()

    def up(self, node_count: int, timeout_s: float = READY_TIMEOUT_S,
           timing: dict[str, int] | None = None, fencing: bool = False) -> None:
        if not self.exists:
            self.create(node_count, timing=timing)
        try:
            for name in self.nodes:
                self.start(name, wait=False)
            self.wait_answering(self.nodes, START_TIMEOUT_S)
            self.wait_ready(timeout_s)
            if fencing:
                self.configure_fencing()
        except BaseException:
            self.down()
            raise

    def configure_fencing(self) -> None:
        """A fence_raftha_sandbox device for every node, and fencing enabled."""
        try:
            self.call(self.leader() or next(iter(self.nodes)), "configure_load",
                      text=sandbox_fencing_text(str(self.directory), list(self.nodes)))
        except ApiError as error:
            raise SandboxError(f"cannot configure fencing: {error}") from None

    # -- cluster views -----------------------------------------------------------------------

    def client(self, node_name: str, timeout_ms: int = 15_000) -> ControlClient:
        return ControlClient(self.node(node_name).socket_path, timeout_ms)

    def call(self, node_name: str, op: str, /, timeout_ms: int = 15_000, **args: Any) -> Any:
        """One Control API call on `node_name` (args may include "name", e.g. a property)."""
        with self.client(node_name, timeout_ms) as client:
            return client.call(op, **args)

    def statuses(self, names: Iterable[str] | None = None) -> dict[str, dict | None]:
        views: dict[str, dict | None] = {}
        for name in names if names is not None else self.running():
            try:
                views[name] = self.call(name, "status", timeout_ms=2000)
            except ApiError:
                views[name] = None
        return views

    def leader(self) -> str | None:
        """The leader every answering running node agrees on, else None."""
        leaders = {view["cluster"]["leader"] for view in self.statuses().values()
                   if view is not None}
        return leaders.pop() if len(leaders) == 1 else None

    def readiness_problem(self, expected_online: Iterable[str] | None = None) -> str | None:
        """None when every running node sees the same leader, a quorum, and every expected
        node online; else what is still missing."""
        expected = set(expected_online if expected_online is not None else self.nodes)
        views = self.statuses()
        if not views:
            return "no node is running"
        leaders = set()
        for name, view in views.items():
            if view is None:
                return f"{name} does not answer"
            cluster = view["cluster"]
            if not cluster["quorum"]:
                return f"{name} has no quorum"
            if cluster["name"] is None:
                return f"{name} has not seen the cluster created"
            online = {node for node, item in view["nodes"].items()
                      if item["state"] == "online"}
            if not expected <= online:
                return f"{name} sees {' '.join(sorted(expected - online))} not online"
            leaders.add(cluster["leader"])
        if None in leaders or len(leaders) != 1:
            return "the nodes do not agree on a leader"
        return None

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S,
                   expected_online: Iterable[str] | None = None) -> None:
        expected = list(expected_online) if expected_online is not None else None
        deadline = time.monotonic() + timeout_s
        while True:
            problem = self.readiness_problem(expected)
            if problem is None:
                return
            if time.monotonic() > deadline:
                raise SandboxError(f"sandbox not ready after {timeout_s:.0f} s: {problem}")
            time.sleep(0.1)

    def describe(self) -> list[str]:
        """One line per node: NAME SOCKET RAFT_HOST:PORT (DESIGN section 8)."""
        return [f"{node.name} {node.socket_path} {node.address}" for node in self.nodes.values()]
