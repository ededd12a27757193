"""The raftha cluster under test: real `raftha node run` daemons, one per netns node.

Each node's daemon listens for Raft on 10.231.0.i:7000 inside its namespace and serves its
Control API on a Unix socket in the run directory (Unix sockets live in the filesystem, so
the harness and the CLI reach them from the root namespace; Raft traffic only crosses the
bridge, where the partitions are). Configuration comes from `init_cluster`, exactly as an
operator's `raftha cluster init` would write it.

Workload (through the real CLI, `python -m raftha.cli`):
- write: `property set cluster-name=<unique token>`; exit 0 -> ok, anything else -> info
  (the CLI cannot tell "definitely not proposed" apart, so no op is ever called fail);
- read: `property show --output json`, the value of cluster-name (a register: with the
  writes it is checked for linearizability);
- status: `status --output json` samples (for promoted-max and the timeline).
Final phase: `history` (every committed event) and `state_hash` from every node, through the
Control API, for the acknowledged-writes and convergence checkers.

Frozen source: at start the product (raftha/, agents/, fencing/) and the harness's fence
agent (jepsen/) are copied into run_dir/source; every daemon, CLI call and agent of the run
runs from that copy (`python -P` with PYTHONPATH), so edits to the working tree during a long
run cannot mix versions.

Damaged data: after a truncate fault the node is restarted through `restart_after_damage`;
a daemon that refuses its unreadable journal or term/vote file (its last log lines name
`raftha node resync`) is rebuilt the operator's way, `raftha node resync --config FILE`, and
started again, so it catches up from the cluster instead of staying down.

Resources: with `resources=N`, N ocf:raftha:Ledger primitives are loaded through
`raftha configure load` and tick into run_dir/ledger/ledger.log (needs the configure command
and the executor); the ledger checkers run only then, otherwise results.json lists them under
"not_checked". Fence history is collected with `raftha fence history --output json` when the
command exists.
"""

from __future__ import annotations

import json
import os
import pathlib
import random
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from jepsen import clockhook
from jepsen.adapter import Collected
from jepsen.client import ClientCall
from jepsen.hosts import HostSet

RAFT_PORT = 7000
READY_TIMEOUT_S = 90.0
API_TIMEOUT_MS = 3_000
FINAL_HISTORY_LIMIT = 100_000
CLI_TIMEOUT_S = 20.0
MEMBERSHIP_TIMEOUT_MS = 15_000
NOT_CREATED_YET = "the cluster has not been created yet"
RESYNC_HINT = "raftha node resync"
DAMAGED_START_WAIT_S = 45.0  # a start refusing damaged data exits within seconds; slack x5
RESYNC_TIMEOUT_S = 30.0
# pysyncobj 0.3.17's journal header: name (24 bytes), version (8), format (4), then the
# uint32 offset where the records end.
JOURNAL_END_OFFSET_AT = 24 + 8 + 4
CLEAN_STOP_TIMEOUT_S = 20.0
DYING_WAIT_S = 5.0  # a daemon stops its resources first (monitor timeout 10 s)
FROZEN_ITEMS = ("raftha", "agents", "fencing", "jepsen")
REPOSITORY_ROOT = pathlib.Path(__file__).resolve().parent.parent


def freeze_source(target: pathlib.Path) -> pathlib.Path:
    """Copy the product and the harness's fence agent into `target` (compiled files left
    out); returns `target`, the directory to put on the daemons' PYTHONPATH."""
    for name in FROZEN_ITEMS:
        shutil.copytree(REPOSITORY_ROOT / name, target / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


class RafthaCluster:
    """Adapter for real raftha daemons (see jepsen.adapter for the contract)."""

    name = "raftha"
    LOG_CHECKERS = ("acknowledged_writes", "convergence", "promoted_max", "stats",
                    "linearizable_register")
    LEDGER_CHECKERS = ("no_overlap", "recovery", "fenced_recovery")

    def __init__(self, timing: dict[str, int] | None = None, resources: int = 0,
                 fencing: bool = False) -> None:
        """`resources`: number of ocf:raftha:Ledger primitives to configure (through
        `raftha configure load`), each ticking into run_dir/ledger/ledger.log; with none, the
        ledger checkers are listed as not checked. `fencing`: one fence_jepsen device per
        node (the harness's fence controller powers the node off and on) and
        stonith-enabled=true; without it, stonith-enabled=false."""
        self.timing = timing
        self.resources = resources
        self.fencing = fencing
        self.checkers = self.LOG_CHECKERS + (self.LEDGER_CHECKERS if resources else ())
        self.params: dict[str, Any] = {"recovery_bound_ms": 30_000, "min_ok_ops": 1}
        if resources:
            # Recovery must find every configured resource running, not just the ones seen.
            self.params["resources"] = [f"led{number}" for number in range(1, resources + 1)]
        self.hosts: HostSet | None = None
        self.run_dir: pathlib.Path | None = None
        self.fence_socket: pathlib.Path | None = None  # the harness's fence device
        self.cluster_dir: pathlib.Path | None = None
        self._files: dict[str, Any] = {}
        self._daemons: dict[str, Any] = {}
        self._removed: set[str] = set()
        self._rejoins = 0
        self.source_dir: pathlib.Path = REPOSITORY_ROOT  # replaced by the frozen copy

    # ------------------------------------------------------------ lifecycle

    def start(self, hosts: HostSet, run_dir: pathlib.Path) -> None:
        from raftha.daemon.bootstrap import init_cluster

        self.hosts, self.run_dir = hosts, run_dir
        self.cluster_dir = run_dir / "cluster"
        self.source_dir = freeze_source(run_dir / "source")
        for sub in ("logs", "clock", "ledger"):
            (run_dir / sub).mkdir(parents=True, exist_ok=True)
        members = [(node, f"{hosts.address(node)}:{RAFT_PORT}") for node in hosts.nodes]
        written = init_cluster(self.cluster_dir, "jepsen", members, self.timing)
        self._files = {files.name: files for files in written}
        for node in hosts.nodes:
            clockhook.write_clock_file(self.clock_file(node))
            self.start_node(node)
        self._wait_ready()
        if self.resources:
            self._load_ledger_resources()

    def fencing_configuration(self) -> list[str]:
        """crm configure lines: with fencing, a fence_jepsen device per node (it fences that
        node only and never runs on it) and stonith-enabled=true; else stonith-enabled=false."""
        if not self.fencing:
            return ["property stonith-enabled=false"]
        assert self.hosts is not None and self.fence_socket is not None
        lines: list[str] = []
        for node in self.hosts.nodes:
            lines.append(f"primitive fence-{node} stonith:fence_jepsen params "
                         f"socket={self.fence_socket} pcmk_host_list={node} "
                         "pcmk_host_check=static-list")
            lines.append(f"location fence-{node}-not-on-{node} fence-{node} -inf: {node}")
        lines.append("property stonith-enabled=true")
        return lines

    def ledger_configuration(self) -> str:
        """crm configure text: the fencing lines and N Ledger resources."""
        assert self.run_dir is not None
        ledger_file = self.run_dir / "ledger" / "ledger.log"
        lines = self.fencing_configuration()
        for number in range(1, self.resources + 1):
            lines.append(f"primitive led{number} ocf:raftha:Ledger "
                         f"params ledger_file={ledger_file} "
                         "op monitor interval=2s timeout=10s")
        return "\n".join(lines) + "\n"

    def _load_ledger_resources(self) -> None:
        assert self.run_dir is not None
        config_path = self.run_dir / "resources.crm"
        config_path.write_text(self.ledger_configuration())
        node = next(iter(self._files))
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            completed = subprocess.run(self._cli(node, "configure", "load", str(config_path)),
                                       capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
            if completed.returncode == 0:
                return
            reason = (completed.stderr or completed.stdout).strip().splitlines()
            last_line = reason[-1] if reason else f"exit {completed.returncode}"
            # Quorum can come before the cluster's creation event is applied; nothing was
            # loaded then, so loading again is safe.
            if NOT_CREATED_YET not in last_line or time.monotonic() > deadline:
                raise RuntimeError("loading the Ledger resources failed: " + last_line)
            time.sleep(0.5)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            quorum = [node for node in self._files if self._has_quorum(node)]
            if len(quorum) == len(self._files):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"raftha cluster not ready within {READY_TIMEOUT_S:.0f}s "
                                   f"(quorate: {quorum}); see {self.run_dir}/logs")
            time.sleep(0.2)

    def _has_quorum(self, node: str) -> bool:
        status = self._api(node, "status")
        return bool(status and status.get("cluster", {}).get("quorum"))

    def start_node(self, node: str) -> None:
        """(Re)start a node's daemon; a node removed from the cluster stays down."""
        assert self.hosts is not None and self.run_dir is not None
        if node in self._removed:
            return
        process = self._daemons.get(node)
        if process is not None and process.poll() is None and not self._dying(node, process):
            return
        files = self._files[node]
        argv = [sys.executable, "-P", "-m", "raftha.cli", "node", "run", "--config",
                str(files.config_path)]
        # fence_jepsen lives in the frozen jepsen/; the fencer searches RAFTHA_FENCE_AGENT_DIRS.
        env = {clockhook.ENVIRONMENT_VARIABLE: str(self.clock_file(node)),
               "PYTHONPATH": str(self.source_dir),
               "RAFTHA_FENCE_AGENT_DIRS": str(self.source_dir / "jepsen")}
        self._daemons[node] = self.hosts.spawn(
            node, argv, env=env, log_path=self.log_file(node), cwd=self.cluster_dir)

    def _dying(self, node: str, process: subprocess.Popen) -> bool:
        """True when the daemon was killed but is not reaped yet: its node's cgroup is empty
        (a killed process leaves it before it can be waited for). Waits for it then, so a
        reboot's power-on right after the power-off starts the node again."""
        assert self.hosts is not None
        if self.hosts.hosts[node].cgroup.pids():
            return False
        try:
            process.wait(timeout=DYING_WAIT_S)
        except subprocess.TimeoutExpired:
            return False
        return True

    def log_file(self, node: str) -> pathlib.Path:
        assert self.run_dir is not None
        return self.run_dir / "logs" / f"{node}.log"

    def restart_after_damage(self, node: str) -> dict:
        """Start a node whose data files were damaged. When the daemon refuses to start
        because its Raft data is unreadable (its log names `raftha node resync`), rebuild the
        node as an operator would (`raftha node resync --config FILE`) and start it again, so
        it catches up from the cluster. Returns what was done, for the history."""
        if node in self._removed:
            return {"started": False, "reason": "removed from the cluster"}
        log_path = self.log_file(node)
        offset = log_path.stat().st_size if log_path.exists() else 0
        self.start_node(node)
        exit_code = self._wait_started_or_exited(node)
        if exit_code is None:
            return {"started": True}
        output = read_from(log_path, offset)
        if RESYNC_HINT not in output:
            return {"started": False, "exit": exit_code, "reason": last_line(output)}
        refusal = refusal_reason(output)
        completed = subprocess.run(
            self._cli_command("node", "resync", "--config", str(self._files[node].config_path)),
            capture_output=True, text=True, timeout=RESYNC_TIMEOUT_S)
        if completed.returncode != 0:
            return {"started": False, "refused": refusal,
                    "resync_failed": last_line(completed.stderr or completed.stdout)}
        self.start_node(node)
        return {"started": True, "refused": refusal, "resynced": True,
                "resync": last_line(completed.stdout)}

    def _wait_started_or_exited(self, node: str) -> int | None:
        """None once the node's daemon answers (or is still starting at the deadline), its
        exit status if it exits first."""
        process = self._daemons[node]
        deadline = time.monotonic() + DAMAGED_START_WAIT_S
        while time.monotonic() < deadline:
            exit_code = process.poll()
            if exit_code is not None:
                return exit_code
            if self._api(node, "ping", timeout_ms=500) is not None:
                return None
            time.sleep(0.3)
        return None

    def daemon_pids(self, node: str) -> list[int]:
        process = self._daemons.get(node)
        if process is None or process.poll() is not None:
            return []
        return [process.pid]

    def leader(self) -> str | None:
        """The leader named by the first node that answers raft_status."""
        for node in self._files:
            status = self._api(node, "raft_status", timeout_ms=500)
            if not status:
                continue
            leader_address = status.get("leader")
            for name, files in self._files.items():
                if files.address == leader_address:
                    return name
            return None
        return None

    def data_files(self, node: str) -> list[pathlib.Path]:
        files = self._files[node]
        data_dir = files.config_path.parent / "data"
        return sorted(path for path in data_dir.rglob("*") if path.is_file()
                      and "journal" in path.name)

    def data_end(self, path: pathlib.Path) -> int | None:
        """Where a Raft journal's records end (the offset its header stores): the journal is
        preallocated, and damage to its zero padding would test nothing. None for others."""
        if not path.name.endswith(".journal"):
            return None
        try:
            with open(path, "rb") as stream:
                stream.seek(JOURNAL_END_OFFSET_AT)
                field = stream.read(4)
        except OSError:
            return None
        return int.from_bytes(field, "little") if len(field) == 4 else None

    def clock_file(self, node: str) -> pathlib.Path:
        assert self.run_dir is not None
        return self.run_dir / "clock" / f"{node}.json"

    def remove_member(self, node: str) -> None:
        """An operator's removal: stop the node's daemon cleanly first (it stops its resources
        and records that, as `systemctl stop raftha` would), then `node_remove` through
        another member (leader first), then power the node off (whatever did not stop in
        time, e.g. a paused daemon)."""
        assert self.hosts is not None
        process = self._daemons.get(node)
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=CLEAN_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass
        self._call_other_member(node, "node_remove", name=node)
        self.hosts.hosts[node].cgroup.kill_all()
        self._removed.add(node)

    def add_member(self, node: str) -> None:
        """Re-join a removed node the operator's way: a fresh joining configuration with an
        empty data directory (`write_joining_node`), `node_add` through a member, start."""
        from raftha.daemon.bootstrap import AUTHKEY_FILE_NAME, write_joining_node

        assert self.hosts is not None and self.cluster_dir is not None
        info = self._call_other_member(node, "cluster_info")
        members = [(item["name"], item["address"]) for item in info["members"]
                   if item["name"] != node]
        self._rejoins += 1
        directory = self.cluster_dir / f"rejoin{self._rejoins}"
        directory.mkdir(parents=True, exist_ok=True)
        address = f"{self.hosts.address(node)}:{RAFT_PORT}"
        files = write_joining_node(directory, node, address, info["name"], info["id"],
                                   members, self.cluster_dir / AUTHKEY_FILE_NAME, self.timing)
        self._call_other_member(node, "node_add", name=node, address=address)
        self._files[node] = files
        self._removed.discard(node)
        self.start_node(node)

    def _call_other_member(self, node: str, op: str, **args: Any) -> Any:
        """Call `op` on the leader first (even when it is `node` itself), then on the other
        members; raises with every member's error when none accepts."""
        from raftha.daemon.client import ApiError, ControlClient

        leader = self.leader()
        candidates = [name for name in self._files if name not in self._removed
                      and (name != node or name == leader)]
        candidates.sort(key=lambda name: name != leader)
        errors: list[str] = []
        for name in candidates:
            try:
                with ControlClient(self._files[name].socket_path, MEMBERSHIP_TIMEOUT_MS) as client:
                    return client.call(op, **args)
            except (ApiError, OSError) as error:
                errors.append(f"{name}: {error}")
        raise RuntimeError(f"{op} {args} failed on every member: "
                           + ("; ".join(errors) or "no member to ask"))

    def stop(self) -> None:
        for process in self._daemons.values():
            if process.poll() is None:
                process.terminate()
        for process in self._daemons.values():
            try:
                process.wait(timeout=10)
            except Exception:  # noqa: BLE001 - the host teardown kills the group anyway
                process.kill()

    # ------------------------------------------------------------ workload

    def _cli_command(self, *args: str) -> list[str]:
        """The raftha CLI from the frozen source (`-P`: not from the working directory)."""
        return ["env", f"PYTHONPATH={self.source_dir}", sys.executable, "-P", "-m",
                "raftha.cli", *args]

    def _cli(self, node: str, *args: str) -> list[str]:
        return self._cli_command(*args, "--socket", str(self._files[node].socket_path))

    def next_call(self, rng: random.Random, process: str) -> ClientCall | None:
        node = rng.choice(list(self._files))
        draw = rng.random()
        if draw < 0.2:
            return self._status_call(node)
        if draw < 0.5:
            return ClientCall(f="read", value={"node": node},
                              argv=self._cli(node, "property", "show", "--output", "json"),
                              timeout_s=CLI_TIMEOUT_S,
                              parse_ok=lambda stdout, value: {
                                  **value, "value": json.loads(stdout).get("cluster-name")})
        token = f"jw-{process}-{secrets.token_hex(4)}"
        return ClientCall(f="write", value={"token": token, "node": node},
                          argv=self._cli(node, "property", "set", f"cluster-name={token}"),
                          timeout_s=CLI_TIMEOUT_S)

    def _status_call(self, node: str) -> ClientCall:
        return ClientCall(f="status", value={"node": node},
                          argv=self._cli(node, "status", "--output", "json"),
                          timeout_s=CLI_TIMEOUT_S,
                          parse_ok=lambda stdout, _value: json.loads(stdout))

    def final_calls(self) -> Sequence[ClientCall]:
        return [self._status_call(node) for node in self._files]

    def collect(self) -> Collected:
        assert self.run_dir is not None
        final_logs: dict[str, list] = {}
        hashes: dict[str, str | None] = {}
        final_status: dict[str, Any] = {}
        self._wait_converged()
        for node in self._files:
            final_status[node] = {"status": self._api(node, "status"),
                                  "raft": self._api(node, "raft_status")}
            history = self._api(node, "history", timeout_ms=10_000, limit=FINAL_HISTORY_LIMIT)
            if history is not None:
                final_logs[node] = history.get("events", [])
            state = self._api(node, "state_hash")
            hashes[node] = f"{state['index']}:{state['hash']}" if state else None
        return Collected(ledger_files=sorted((self.run_dir / "ledger").glob("*.log")),
                         final_logs=final_logs, state_hashes=hashes,
                         fence_history=self._fence_history(), final_status=final_status)

    def _fence_history(self) -> list[dict]:
        """`raftha fence history --output json` from the first node that answers; [] when the
        command is unavailable."""
        import subprocess

        for node in self._files:
            try:
                completed = subprocess.run(self._cli(node, "fence", "history", "--output",
                                                     "json"),
                                           capture_output=True, text=True,
                                           timeout=CLI_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                continue
            if completed.returncode == 0:
                try:
                    records = json.loads(completed.stdout)
                except json.JSONDecodeError:
                    return []
                return records if isinstance(records, list) else []
        return []

    def _wait_converged(self, timeout_s: float = 20.0) -> None:
        """Give followers time to apply the last entries before hashes are compared."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            answers = [self._api(node, "state_hash", timeout_ms=1000) for node in self._files]
            indices = {answer["index"] if answer else None for answer in answers}
            if len(indices) == 1 and None not in indices:
                return
            time.sleep(0.5)

    # ------------------------------------------------------------ Control API

    def _api(self, node: str, op: str, timeout_ms: int = API_TIMEOUT_MS, **args: Any) -> Any:
        from raftha.daemon.client import ApiError, ControlClient

        socket_path = self._files[node].socket_path
        if not os.path.exists(socket_path):
            return None
        try:
            with ControlClient(socket_path, timeout_ms) as client:
                return client.call(op, **args)
        except (ApiError, OSError):
            return None


def read_from(path: pathlib.Path, offset: int) -> str:
    """The text of `path` from byte `offset` on ('' when it is missing)."""
    try:
        with open(path, "rb") as stream:
            stream.seek(offset)
            return stream.read().decode(errors="replace")
    except OSError:
        return ""


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def refusal_reason(output: str) -> str:
    """The daemon's one-line reason for refusing to start (the line before the resync hint)."""
    reasons = [line for line in output.splitlines()
               if line.startswith("raftha: ") and RESYNC_HINT not in line]
    return reasons[-1] if reasons else last_line(output)
