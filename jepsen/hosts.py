"""Network-namespace hosts: N nodes on one kernel, each in its own netns and cgroup.

Topology of a run with prefix P (e.g. "rj1a2b3c"):
    netns P-hub   bridge br0, one veth end per node (P followed by "h1", "h2", ...)
    netns P-n1    eth0 = 10.231.0.1/24 (the other veth end), lo
    ...
    cgroup <cgroup2 mount>/P/n1 ... every process a node runs
The root namespace is never touched: veth pairs are created inside the hub netns with their
peer end placed directly in the node's netns, and the root netns has no route to 10.231.0.0/24,
so traffic only flows between our own namespaces.

Invariants:
- Every object is named with the run prefix; `cleanup_stale()` removes leftovers of runs
  whose owner process is gone (or all with `include_live=True`).
- `HostSet` is a context manager; it is also registered for teardown at interpreter exit and
  (with `install_signal_teardown`) on SIGINT/SIGTERM/SIGHUP, so an interrupted run leaves
  nothing behind. Teardown kills every process in the node cgroups and namespaces before
  deleting the namespaces.
"""

from __future__ import annotations

import atexit
import json
import os
import pathlib
import re
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from jepsen import cgroups, net

PREFIX_PATTERN = re.compile(r"^rj[0-9a-f]{6}$")
NAMESPACE_PATTERN = re.compile(r"^(rj[0-9a-f]{6})-(hub|n\d+)$")
SUBNET = "10.231.0"
NODE_INTERFACE = "eth0"
STATE_DIR = pathlib.Path("/run/raftha-jepsen")
COMMAND_TIMEOUT_S = 15
MAX_NODES = 9

_live_lock = threading.Lock()
_live_hosts: list[HostSet] = []


def new_prefix() -> str:
    """A fresh run prefix: "rj" and 6 random hex digits (short enough for interface names)."""
    return "rj" + secrets.token_hex(3)


def run_command(argv: Sequence[str], input_text: str | None = None,
                timeout_s: float = COMMAND_TIMEOUT_S, check: bool = True) -> str:
    """Run a setup command; a failure raises with the command and its stderr in one line."""
    try:
        completed = subprocess.run(list(argv), input=input_text, capture_output=True,
                                   text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as error:
        raise RuntimeError(f"timed out after {timeout_s}s: {' '.join(argv)}") from error
    if check and completed.returncode != 0:
        reason = completed.stderr.strip().replace("\n", " ") or f"exit {completed.returncode}"
        raise RuntimeError(f"{' '.join(argv)}: {reason}")
    return completed.stdout


@dataclass(frozen=True)
class Host:
    """One node: its name, namespace, address and cgroup."""

    name: str
    index: int
    namespace: str
    address: str
    cgroup: cgroups.NodeCgroup


class HostSet:
    """Creates, runs processes in, and removes the namespaces and cgroups of one run."""

    def __init__(self, node_count: int, prefix: str | None = None) -> None:
        if not 1 <= node_count <= MAX_NODES:
            raise ValueError(f"node count must be within 1..{MAX_NODES}, got {node_count}")
        self.prefix = prefix or new_prefix()
        if not PREFIX_PATTERN.match(self.prefix):
            raise ValueError(f"run prefix must look like rj + 6 hex digits, got {self.prefix!r}")
        self.node_count = node_count
        self.hub = f"{self.prefix}-hub"
        self.hosts: dict[str, Host] = {}
        self.processes: list[subprocess.Popen] = []
        self.run_cgroups: cgroups.RunCgroups | None = None
        self._rules: dict[str, net.NodeRules] = {}
        self._torn_down = False

    # ------------------------------------------------------------ lifecycle

    @property
    def nodes(self) -> list[str]:
        return list(self.hosts)

    def setup(self) -> HostSet:
        _register(self)
        self._write_owner_file()
        try:
            run_command(["ip", "netns", "add", self.hub])
            self._ip(self.hub, "link", "add", "br0", "type", "bridge")
            self._ip(self.hub, "link", "set", "br0", "up")
            self._ip(self.hub, "link", "set", "lo", "up")
            self.run_cgroups = cgroups.RunCgroups(self.prefix)
            for index in range(1, self.node_count + 1):
                self._add_host(index)
        except BaseException:
            self.teardown()
            raise
        return self

    def _add_host(self, index: int) -> None:
        name = f"n{index}"
        namespace = f"{self.prefix}-{name}"
        hub_end = f"{self.prefix}h{index}"
        address = f"{SUBNET}.{index}"
        run_command(["ip", "netns", "add", namespace])
        self._ip(self.hub, "link", "add", hub_end, "type", "veth", "peer", "name",
                 NODE_INTERFACE, "netns", namespace)
        self._ip(self.hub, "link", "set", hub_end, "master", "br0", "up")
        self._ip(namespace, "addr", "add", f"{address}/24", "dev", NODE_INTERFACE)
        self._ip(namespace, "link", "set", NODE_INTERFACE, "up")
        self._ip(namespace, "link", "set", "lo", "up")
        assert self.run_cgroups is not None
        group = self.run_cgroups.create_node(name)
        self.hosts[name] = Host(name, index, namespace, address, group)

    def teardown(self) -> None:
        """Kill every process, delete namespaces and cgroups. Safe to call repeatedly."""
        if self._torn_down:
            return
        self._torn_down = True
        for process in self.processes:
            _kill_process_group(process)
        if self.run_cgroups is not None:
            self.run_cgroups.remove()
        else:
            for kind, root in cgroups.stale_cgroup_roots(lambda name: name == self.prefix):
                cgroups.remove_cgroup_tree(kind, root)
        remove_namespaces(self.prefix)
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._owner_file().unlink(missing_ok=True)
        _unregister(self)

    def __enter__(self) -> HostSet:
        return self.setup()

    def __exit__(self, *exc_info: object) -> None:
        self.teardown()

    # ------------------------------------------------------------ processes

    def spawn(self, node: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
              log_path: pathlib.Path | None = None,
              cwd: pathlib.Path | None = None) -> subprocess.Popen:
        """Start `argv` inside the node's netns and cgroup, in its own session.

        The wrapper shell moves itself into the cgroup before exec, so every descendant is
        born inside it (nothing escapes a freeze or a power-off).
        """
        host = self.hosts[node]
        wrapper = ["sh", "-c", 'echo $$ > "$1" && shift && exec "$@"', "sh",
                   str(host.cgroup.procs_file), "ip", "netns", "exec", host.namespace,
                   *argv]
        full_env = dict(os.environ)
        full_env.update(env or {})
        output = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            process = subprocess.Popen(wrapper, env=full_env, stdin=subprocess.DEVNULL,
                                       stdout=output, stderr=subprocess.STDOUT,
                                       start_new_session=True, cwd=cwd)
        finally:
            if log_path:
                output.close()
        self.processes.append(process)
        return process

    def exec_in(self, node: str, argv: Sequence[str], timeout_s: float = COMMAND_TIMEOUT_S,
                check: bool = True, input_text: str | None = None) -> str:
        """Run a short command inside the node's netns (not in its cgroup)."""
        return run_command(["ip", "netns", "exec", self.hosts[node].namespace, *argv],
                           input_text=input_text, timeout_s=timeout_s, check=check)

    def exec_argv(self, node: str, argv: Sequence[str]) -> list[str]:
        """The argv that runs `argv` inside the node's netns (for client subprocesses)."""
        return ["ip", "netns", "exec", self.hosts[node].namespace, *argv]

    def namespace_pids(self, node: str) -> list[int]:
        output = run_command(["ip", "netns", "pids", self.hosts[node].namespace], check=False)
        return [int(token) for token in output.split() if token.isdigit()]

    # ------------------------------------------------------------ network faults

    def address(self, node: str) -> str:
        return self.hosts[node].address

    def apply_rules(self, node: str, rules: net.NodeRules) -> None:
        host = self.hosts[node]
        script = (net.render_nft_delete(self.prefix) if rules.empty
                  else net.render_nft(self.prefix, NODE_INTERFACE, rules))
        run_command(["ip", "netns", "exec", host.namespace, "nft", "-f", "-"],
                    input_text=script)
        self._rules[node] = rules

    def rules(self, node: str) -> net.NodeRules:
        return self._rules.get(node, net.NodeRules())

    def apply_grudge(self, grudge: Mapping[str, frozenset[str]]) -> None:
        """Drop traffic per the (symmetrised) grudge; loss settings are kept."""
        full = net.symmetric(grudge)
        for node in self.nodes:
            addresses = frozenset(self.address(peer) for peer in full.get(node, frozenset()))
            current = self.rules(node)
            self.apply_rules(node, net.NodeRules(addresses, current.loss_percent))

    def set_loss(self, node: str, percent: int) -> None:
        current = self.rules(node)
        self.apply_rules(node, net.NodeRules(current.drop_addresses, percent))

    def heal_network(self) -> None:
        for node in self.nodes:
            self.apply_rules(node, net.NodeRules())

    def nft_ruleset(self, node: str) -> str:
        return self.exec_in(node, ["nft", "list", "ruleset"])

    # ------------------------------------------------------------ internals

    def _ip(self, namespace: str, *args: str) -> None:
        run_command(["ip", "-n", namespace, *args])

    def _owner_file(self) -> pathlib.Path:
        return STATE_DIR / f"{self.prefix}.json"

    def _write_owner_file(self) -> None:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        self._owner_file().write_text(json.dumps({"pid": os.getpid(),
                                                  "nodes": self.node_count}))


def _kill_process_group(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# ---------------------------------------------------------------- teardown registry


def _register(hosts: HostSet) -> None:
    with _live_lock:
        _live_hosts.append(hosts)


def _unregister(hosts: HostSet) -> None:
    with _live_lock:
        if hosts in _live_hosts:
            _live_hosts.remove(hosts)


def teardown_all() -> None:
    """Tear down every HostSet of this process (atexit and signal handler)."""
    with _live_lock:
        live = list(_live_hosts)
    for hosts in live:
        try:
            hosts.teardown()
        except Exception as error:  # noqa: BLE001 - keep tearing the others down
            print(f"jepsen: teardown of {hosts.prefix} failed: {error}", file=sys.stderr)


atexit.register(teardown_all)


def install_signal_teardown() -> None:
    """On SIGINT/SIGTERM/SIGHUP: tear everything down, then exit 128+signal."""

    def handler(signum: int, _frame: object) -> None:
        teardown_all()
        sys.exit(128 + signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, handler)


# ---------------------------------------------------------------- cleanup of leftovers


def our_namespaces() -> dict[str, list[str]]:
    """prefix -> namespaces named like ours."""
    output = run_command(["ip", "netns", "list"], check=False)
    found: dict[str, list[str]] = {}
    for line in output.splitlines():
        name = line.split()[0] if line.split() else ""
        match = NAMESPACE_PATTERN.match(name)
        if match:
            found.setdefault(match.group(1), []).append(name)
    return found


def remove_namespaces(prefix: str) -> None:
    """Kill every process inside the run's namespaces, then delete them (node ones first)."""
    names = sorted(our_namespaces().get(prefix, []), key=lambda name: name.endswith("-hub"))
    for name in names:
        pids = run_command(["ip", "netns", "pids", name], check=False).split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        run_command(["ip", "netns", "del", name], check=False)


def owner_alive(prefix: str) -> bool:
    try:
        owner = json.loads((STATE_DIR / f"{prefix}.json").read_text())
        os.kill(int(owner["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return False
    return True


def cleanup_stale(include_live: bool = False) -> list[str]:
    """Remove namespaces, cgroups and owner files of runs whose owner is gone (or all)."""
    prefixes = set(our_namespaces())
    cgroup_roots = cgroups.stale_cgroup_roots(lambda name: bool(PREFIX_PATTERN.match(name)))
    prefixes.update(root.name for _, root in cgroup_roots)
    if STATE_DIR.exists():
        prefixes.update(path.stem for path in STATE_DIR.glob("rj*.json")
                        if PREFIX_PATTERN.match(path.stem))
    removed: list[str] = []
    for prefix in sorted(prefixes):
        if not include_live and owner_alive(prefix):
            continue
        for kind, root in cgroup_roots:
            if root.name == prefix:
                cgroups.remove_cgroup_tree(kind, root)
        remove_namespaces(prefix)
        (STATE_DIR / f"{prefix}.json").unlink(missing_ok=True)
        removed.append(prefix)
    return removed


def leftovers(prefix: str) -> dict[str, list[str]]:
    """What still exists for `prefix` (empty lists once teardown worked)."""
    cgroup_paths = [str(root) for _, root in
                    cgroups.stale_cgroup_roots(lambda name: name == prefix)]
    links = run_command(["ip", "-o", "link", "show"], check=False)
    root_links = [line.split(":")[1].strip() for line in links.splitlines()
                  if prefix in line]
    return {"namespaces": our_namespaces().get(prefix, []), "cgroups": cgroup_paths,
            "root_links": root_links}
