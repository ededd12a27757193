"""The cluster-under-test adapter: everything the harness needs from the system it tests.

The harness owns the hosts (namespaces, cgroups, packet filters) and the faults; an adapter
owns what runs inside: how a node's processes are started, which pids are "the daemon",
who leads, what the workload calls are, and what to collect at the end. `SelfTestCluster`
is the harness's own self-test target (trivial processes, see jepsen.selftest); the product
adapter (raftha daemons, ledger agent, fence history) implements the same protocol.

Contract (all methods may block; each must honour its own timeouts):
- start(hosts, run_dir): start every node inside `hosts.spawn(node, ...)`, return once the
  cluster is ready (or raise with a one-line reason). Give every node process the clock hook
  environment variable pointing at `clock_file(node)`.
- start_node(node): start a node whose processes were killed; must not fail if some are
  still alive (then it just returns).
- daemon_pids(node): the pids of the manager daemon only (its resources are not included),
  for kill-daemon and pause-daemon faults. Whole-node faults use the node cgroup instead.
- leader(): the node the cluster currently calls leader, or None.
- data_files(node): files a disk fault may truncate or damage (Raft journal) while stopped.
- clock_file(node): the RAFTHA_CLOCK_OFFSET_FILE path of that node.
- add_member(node) / remove_member(node): membership changes; raise NotImplementedError
  when unsupported (the nemesis records the op as skipped).
- next_call(rng, process): the next workload ClientCall (or None to idle).
- final_calls(): calls run once after recovery (final reads, status samples).
- collect(): a `Collected` with ledger paths, final logs, state hashes, fence history.
- stop(): stop everything (the harness tears the hosts down afterwards anyway).
- checkers: names of the checkers this target supports; params: checker knobs.
- fence_socket: set by the harness before start(): the socket of the emulated fence device
  (jepsen.fence). A fence device running jepsen/fence_jepsen with `socket=<fence_socket>`
  and `plug=<node>` powers nodes off and on; the harness logs every power action.
"""

from __future__ import annotations

import json
import pathlib
import random
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from jepsen import clockhook, selftest
from jepsen.client import ClientCall
from jepsen.hosts import HostSet

READY_TIMEOUT_S = 30.0


@dataclass
class Collected:
    ledger_files: list[pathlib.Path] = field(default_factory=list)
    final_logs: dict[str, list] = field(default_factory=dict)
    state_hashes: dict[str, str | None] = field(default_factory=dict)
    fence_history: list[dict] = field(default_factory=list)
    final_status: dict[str, Any] = field(default_factory=dict)  # node -> status (diagnosis)


class ClusterAdapter(Protocol):
    name: str
    checkers: tuple[str, ...]
    params: dict[str, Any]
    fence_socket: pathlib.Path | None

    def start(self, hosts: HostSet, run_dir: pathlib.Path) -> None: ...
    def start_node(self, node: str) -> None: ...
    def daemon_pids(self, node: str) -> list[int]: ...
    def leader(self) -> str | None: ...
    def data_files(self, node: str) -> list[pathlib.Path]: ...
    def clock_file(self, node: str) -> pathlib.Path: ...
    def add_member(self, node: str) -> None: ...
    def remove_member(self, node: str) -> None: ...
    def next_call(self, rng: random.Random, process: str) -> ClientCall | None: ...
    def final_calls(self) -> Sequence[ClientCall]: ...
    def collect(self) -> Collected: ...
    def stop(self) -> None: ...


class SelfTestCluster:
    """Harness self-test target: one `jepsen.selftest serve` process per node."""

    name = "selftest"
    checkers = ("no_overlap", "promoted_max", "recovery", "fenced_recovery", "stats",
                "network_faults_effective")

    def __init__(self, tick_ms: int = 100, probe_timeout_s: float = 1.0,
                 shared_resource: str | None = None) -> None:
        """`shared_resource`: every node ticks this one id (a deliberate split brain that
        the no_overlap checker must catch: the harness's negative run)."""
        self.tick_ms = tick_ms
        self.shared_resource = shared_resource
        self.probe_timeout_s = probe_timeout_s
        self.params: dict[str, Any] = {"tick_ms": tick_ms, "gap_threshold_ms": 3 * tick_ms + 50,
                                       "recovery_bound_ms": 10_000}
        self.hosts: HostSet | None = None
        self.run_dir: pathlib.Path | None = None
        self.fence_socket: pathlib.Path | None = None
        self._daemons: dict[str, Any] = {}

    # ------------------------------------------------------------ lifecycle

    def start(self, hosts: HostSet, run_dir: pathlib.Path) -> None:
        self.hosts, self.run_dir = hosts, run_dir
        for sub in ("ledger", "logs", "clock", "data"):
            (run_dir / sub).mkdir(parents=True, exist_ok=True)
        for node in hosts.nodes:
            clockhook.write_clock_file(self.clock_file(node))
            (run_dir / "data" / f"{node}.journal").write_bytes(b"selftest journal\n" * 64)
            self.start_node(node)
        deadline = time.monotonic() + READY_TIMEOUT_S
        for node in hosts.nodes:
            while not self._answers(node):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"self-test node {node} did not answer within "
                                       f"{READY_TIMEOUT_S}s")
                time.sleep(0.1)

    def _answers(self, node: str) -> bool:
        assert self.hosts is not None
        argv = self._probe_argv(node, node, "ping")
        output = self.hosts.exec_in(node, argv[4:], check=False, timeout_s=10)
        return output.startswith("pong")

    def start_node(self, node: str) -> None:
        assert self.hosts is not None and self.run_dir is not None
        process = self._daemons.get(node)
        if process is not None and process.poll() is None:
            return
        argv = [sys.executable, "-m", "jepsen.selftest", "serve", "--node", node,
                "--port", str(selftest.PORT),
                "--ledger", str(self.run_dir / "ledger" / f"{node}.log"),
                "--tick-ms", str(self.tick_ms)]
        if self.shared_resource:
            argv += ["--resource", self.shared_resource]
        env = {clockhook.ENVIRONMENT_VARIABLE: str(self.clock_file(node)),
               "PYTHONPATH": str(pathlib.Path(__file__).resolve().parent.parent)}
        self._daemons[node] = self.hosts.spawn(node, argv, env=env,
                                               log_path=self.run_dir / "logs" / f"{node}.log")

    def daemon_pids(self, node: str) -> list[int]:
        """The serve process (the wrapper shell exec'd into `ip netns exec`, then python)."""
        assert self.hosts is not None
        process = self._daemons.get(node)
        if process is None or process.poll() is not None:
            return []
        return [pid for pid in self.hosts.hosts[node].cgroup.pids()]

    def leader(self) -> str | None:
        """The self-test has no leader; the lowest-named running node stands in."""
        alive = [node for node, process in sorted(self._daemons.items())
                 if process.poll() is None]
        return alive[0] if alive else None

    def data_files(self, node: str) -> list[pathlib.Path]:
        assert self.run_dir is not None
        return [self.run_dir / "data" / f"{node}.journal"]

    def clock_file(self, node: str) -> pathlib.Path:
        assert self.run_dir is not None
        return self.run_dir / "clock" / f"{node}.json"

    def add_member(self, node: str) -> None:
        raise NotImplementedError("the self-test target has no membership")

    def remove_member(self, node: str) -> None:
        raise NotImplementedError("the self-test target has no membership")

    def stop(self) -> None:
        for process in self._daemons.values():
            if process.poll() is None:
                process.kill()
        for process in self._daemons.values():
            try:
                process.wait(timeout=5)
            except Exception:  # noqa: BLE001 - teardown kills the group anyway
                pass

    # ------------------------------------------------------------ workload

    def _probe_argv(self, source: str, target: str, request: str) -> list[str]:
        assert self.hosts is not None
        address = f"{self.hosts.address(target)}:{selftest.PORT}"
        return self.hosts.exec_argv(source, [
            sys.executable, "-m", "jepsen.selftest", "probe", "--to", address,
            "--request", request, "--timeout-s", str(self.probe_timeout_s)])

    def next_call(self, rng: random.Random, process: str) -> ClientCall | None:
        assert self.hosts is not None
        nodes = self.hosts.nodes
        source = rng.choice(nodes)
        if rng.random() < 0.25:
            return self._status_call(source)
        target = rng.choice([node for node in nodes if node != source] or nodes)
        return ClientCall(f="ping", value={"from": source, "to": target},
                          argv=self._probe_argv(source, target, "ping"),
                          timeout_s=self.probe_timeout_s * 4,
                          fail_codes=frozenset({selftest.EXIT_REFUSED}))

    def _status_call(self, node: str) -> ClientCall:
        return ClientCall(f="status", value={"from": node, "to": node},
                          argv=self._probe_argv(node, node, "status"),
                          timeout_s=self.probe_timeout_s * 4,
                          fail_codes=frozenset({selftest.EXIT_REFUSED}),
                          parse_ok=lambda stdout, _value: json.loads(stdout))

    def final_calls(self) -> Sequence[ClientCall]:
        assert self.hosts is not None
        return [self._status_call(node) for node in self.hosts.nodes]

    def collect(self) -> Collected:
        assert self.run_dir is not None
        return Collected(ledger_files=sorted((self.run_dir / "ledger").glob("*.log")))


def tcp_reachable(address: str, port: int, timeout_s: float) -> bool:
    """Whether a TCP connect succeeds (used by probes run inside a namespace)."""
    try:
        with socket.create_connection((address, port), timeout=timeout_s):
            return True
    except OSError:
        return False
