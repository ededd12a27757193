"""Real-process Raft clusters on loopback for tests and benchmarks.

Each member is `raft_node.py` in its own process group (so a kill takes everything it
started). Every wait is bounded; `RaftCluster.close` SIGKILLs every process group it started,
and the `raft_cluster` fixture calls it even when a test fails.
"""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

NODE_SCRIPT = pathlib.Path(__file__).with_name("raft_node.py")
REPOSITORY = pathlib.Path(__file__).resolve().parents[2]


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.bind(("127.0.0.1", 0))
            sockets.append(listener)
        return [listener.getsockname()[1] for listener in sockets]
    finally:
        for listener in sockets:
            listener.close()


class NodeDied(RuntimeError):
    pass


class NodeProcess:
    """One raft_node.py process and its JSON-lines channel."""

    def __init__(self, address: str, peers: list[str], data_dir: pathlib.Path,
                 authkey: bytes, extra_args: list[str]) -> None:
        self.address = address
        self.peers = peers
        self.data_dir = data_dir
        self.authkey = authkey
        self.extra_args = extra_args
        self.process: subprocess.Popen | None = None
        self.stderr_path = data_dir.parent / (data_dir.name + ".stderr")
        self._replies: dict[int, dict] = {}
        self._condition = threading.Condition()
        self._next_id = 1
        self._stdin_lock = threading.Lock()

    def start(self, timeout_s: float = 30.0) -> None:
        command = [sys.executable, "-u", str(NODE_SCRIPT), "--self", self.address,
                   "--peers", *self.peers, "--data-dir", str(self.data_dir),
                   "--authkey-hex", self.authkey.hex(), *self.extra_args]
        environment = dict(os.environ, PYTHONPATH=str(REPOSITORY))
        with open(self.stderr_path, "ab") as stderr_file:
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr_file,
                cwd=REPOSITORY, env=environment, text=True, bufsize=1, start_new_session=True)
        self._replies = {}
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        self._wait_reply(0, timeout_s)

    def _read(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            with self._condition:
                self._replies[message.get("id")] = message
                self._condition.notify_all()
        with self._condition:
            self._condition.notify_all()

    def _wait_reply(self, request_id: int, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        with self._condition:
            while request_id not in self._replies:
                if not self.alive():
                    raise NodeDied(f"{self.address} exited with {self.process.returncode}: "
                                   f"{self.stderr_tail()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{self.address}: no answer within {timeout_s} s")
                self._condition.wait(min(remaining, 0.2))
            return self._replies.pop(request_id)

    def request(self, command: str, timeout_s: float = 15.0, **arguments: Any) -> dict:
        if self.process is None or self.process.stdin is None:
            raise NodeDied(f"{self.address} is not running")
        with self._stdin_lock:
            request_id = self._next_id
            self._next_id += 1
            try:
                self.process.stdin.write(json.dumps({"id": request_id, "cmd": command,
                                                     **arguments}) + "\n")
                self.process.stdin.flush()
            except (BrokenPipeError, OSError) as error:
                raise NodeDied(f"{self.address}: {error}") from None
        return self._wait_reply(request_id, timeout_s)

    def status(self) -> dict | None:
        try:
            return self.request("status", timeout_s=5.0)["status"]
        except (NodeDied, TimeoutError):
            return None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def pause(self) -> None:
        """SIGSTOP the whole process group (a frozen node: no crash, no TCP reset)."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGCONT)

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stderr_tail(self, lines: int = 15) -> str:
        return "\n".join(self.stderr_text().splitlines()[-lines:])


class RaftCluster:
    """N members on 127.0.0.1 with fresh data directories under `root`."""

    def __init__(self, root: pathlib.Path, size: int = 3,
                 extra_args: dict[int, list[str]] | None = None,
                 authkeys: dict[int, bytes] | None = None,
                 initial_members: int | None = None) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.authkey = secrets.token_bytes(32)
        ports = free_ports(size)
        self.addresses = [f"127.0.0.1:{port}" for port in ports]
        self.nodes: dict[str, NodeProcess] = {}
        self.founders: list[str] = []
        # Members beyond `initial_members` are meant to join later through add_member; the
        # initial members know only each other, a joiner knows everybody.
        founders = self.founders = self.addresses[:initial_members or size]
        for position, address in enumerate(self.addresses):
            known = founders if address in founders else self.addresses
            peers = [other for other in known if other != address]
            key = (authkeys or {}).get(position, self.authkey)
            arguments = (extra_args or {}).get(position, (extra_args or {}).get(-1, []))
            self.nodes[address] = NodeProcess(address, peers,
                                              root / f"node{position}", key, list(arguments))

    def start(self, addresses: list[str] | None = None) -> RaftCluster:
        for address in addresses or self.founders:
            self.nodes[address].start()
        return self

    def kill(self, address: str) -> None:
        self.nodes[address].kill()

    def restart(self, address: str) -> None:
        self.nodes[address].start()

    def node(self, address: str) -> NodeProcess:
        return self.nodes[address]

    def alive_addresses(self) -> list[str]:
        return [address for address, node in self.nodes.items() if node.alive()]

    def statuses(self, addresses: list[str] | None = None) -> dict[str, dict | None]:
        return {address: self.nodes[address].status()
                for address in addresses or self.alive_addresses()}

    def wait_for(self, predicate: Callable[[], Any], timeout_s: float,
                 what: str, interval_s: float = 0.05) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval_s)
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")

    def current_leader(self, among: list[str] | None = None) -> str | None:
        """A leader that every listed live node agrees on, or None."""
        statuses = self.statuses(among)
        leaders = {status["leader"] for status in statuses.values() if status}
        if len(leaders) != 1 or None in leaders or any(s is None for s in statuses.values()):
            return None
        leader = leaders.pop()
        leader_status = statuses.get(leader)
        if leader_status is None or not leader_status["is_leader"]:
            return None
        return leader

    def wait_leader(self, timeout_s: float = 30.0, among: list[str] | None = None) -> str:
        return self.wait_for(lambda: self.current_leader(among), timeout_s, "an agreed leader")

    def propose(self, address: str, entry: str, timeout_ms: int = 3000) -> dict:
        return self.nodes[address].request("propose", timeout_s=timeout_ms / 1000 + 10,
                                           entry=entry, timeout_ms=timeout_ms)

    def propose_committed(self, entry: str, timeout_s: float = 30.0,
                          among: list[str] | None = None) -> dict:
        """Propose from the current leader until COMMITTED (NOT_APPLIED answers are retried;
        an UNKNOWN answer fails the test since this helper cannot deduplicate)."""
        deadline = time.monotonic() + timeout_s
        last: dict = {}
        while time.monotonic() < deadline:
            leader = self.current_leader(among)
            if leader is None:
                time.sleep(0.1)
                continue
            last = self.propose(leader, entry)
            if last["outcome"] == "COMMITTED":
                return last
            assert last["outcome"] == "NOT_APPLIED", last
            time.sleep(0.1)
        raise AssertionError(f"{entry!r} not committed within {timeout_s} s: {last}")

    def applied(self, address: str) -> dict:
        return self.nodes[address].request("applied")

    def close(self) -> None:
        for node in self.nodes.values():
            node.kill()


@pytest.fixture
def raft_cluster(tmp_path: pathlib.Path) -> Iterator[Callable[..., RaftCluster]]:
    """Factory of started-on-demand clusters; every process is killed at teardown."""
    clusters: list[RaftCluster] = []

    def make(size: int = 3, **options: Any) -> RaftCluster:
        cluster = RaftCluster(tmp_path / f"cluster{len(clusters)}", size, **options)
        clusters.append(cluster)
        return cluster

    try:
        yield make
    finally:
        for cluster in clusters:
            cluster.close()
