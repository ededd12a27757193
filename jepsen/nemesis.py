"""Nemesis: applies scheduled faults to the hosts and the cluster, and heals them.

Every fault is recorded as two history records of process "nemesis": an `invoke` before
acting ({"id", "family", "phase": "fault", "rule", ...}) and an `info` after, carrying the
resolved targets, the nodes it cut off ("affected"), and details (grudge, percent, offset).
Every heal is recorded the same way with "phase": "heal" and "heals": [fault ids].

Faults:
  partition    nftables drops per grudge (random halves, isolate random/leader, majorities
               ring, bridge); heal removes the rules
  loss         nft `numgen random mod 100 < P drop` on a node or all nodes
  kill         SIGKILL of the daemon pids (adapter.daemon_pids); heal restarts the node
  kill-node    cgroup kill of the whole node (daemon and resources); heal restarts it
  pause        SIGSTOP of the daemon pids; heal SIGCONT
  pause-node   cgroup freeze of the whole node; heal thaws
  clock        writes offset/rate to the node's clock hook file; heal resets it
  restart-all  kill every node, then start them all at once (an instant fault)
  truncate     kill a node, truncate or zero the tail of its data files; heal restarts it
               (through adapter.restart_after_damage when the adapter has one: a node that
               refuses its damaged data is rebuilt the operator's way)
  membership   adapter.remove_member, heal adapter.add_member (skipped when unsupported)
  fence        the emulated fence device fails or hangs (jepsen.fence); heal makes it work
`heal_all()` removes every rule, thaws and resumes everything, resets clocks and restarts
every node: the final generator of the run.
"""

from __future__ import annotations

import os
import pathlib
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from jepsen import clockhook, net
from jepsen.adapter import ClusterAdapter
from jepsen.fence import FenceController
from jepsen.history import NEMESIS_PROCESS, HistoryRecorder
from jepsen.hosts import HostSet

FINAL_HEAL_ATTEMPTS = 10
FINAL_HEAL_RETRY_PAUSE_S = 3.0  # restarted daemons need a leader before a re-join is accepted


class Nemesis:
    """Applies and heals faults; thread-safe, one fault at a time."""

    def __init__(self, hosts: HostSet, adapter: ClusterAdapter,
                 recorder: HistoryRecorder, fence: FenceController | None = None) -> None:
        self.hosts = hosts
        self.adapter = adapter
        self.recorder = recorder
        self.fence = fence
        self._lock = threading.Lock()
        self._next_id = 1
        self._applying_id = 0  # the id of the fault being applied (handlers key state by it)
        self._open: dict[int, tuple[str, Callable[[], dict]]] = {}
        # Network faults may overlap: the rules in force are the union of open partitions and
        # the highest open loss per node.
        self._grudges: dict[int, dict[str, frozenset[str]]] = {}
        self._losses: dict[int, tuple[list[str], int]] = {}
        # Heals that raised (e.g. a re-join while every daemon was down for restart-all):
        # tried again after every later heal and at the final heal.
        self._failed_heals: dict[int, tuple[str, Callable[[], dict]]] = {}

    # ------------------------------------------------------------ recording

    def _new_id(self) -> int:
        fault_id = self._next_id
        self._next_id += 1
        return fault_id

    def _record(self, op_type: str, f: str, value: dict) -> None:
        self.recorder.record(NEMESIS_PROCESS, op_type, f, value)

    # ------------------------------------------------------------ public API

    def apply(self, op: dict) -> dict:
        """Apply one schedule op; returns the recorded completion value (with "id")."""
        with self._lock:
            fault_id = self._new_id()
            family = op["family"]
            start = {"id": fault_id, "family": family, "phase": "fault",
                     "rule": op.get("rule"), "schedule_index": op.get("index")}
            self._record("invoke", f"start-{family}", start)
            self._applying_id = fault_id
            try:
                resolved, undo = self._apply(family, op)
            except Exception as error:  # noqa: BLE001 - a failed fault is recorded, not fatal
                resolved, undo = {"targets": [], "affected": [],
                                  "error": f"{type(error).__name__}: {error}"}, None
            completion = {**start, **resolved}
            self._record("info", f"start-{family}", completion)
            if undo is not None:
                self._open[fault_id] = (family, undo)
            return completion

    def heal(self, fault_id: int) -> dict | None:
        """Undo one open fault; None if it is not open (already healed or failed)."""
        with self._lock:
            entry = self._open.pop(fault_id, None)
            if entry is None:
                return None
            family, undo = entry
            heal_value = {"id": self._new_id(), "family": family, "phase": "heal",
                          "heals": [fault_id]}
            self._record("invoke", f"stop-{family}", heal_value)
            try:
                detail = undo()
            except Exception as error:  # noqa: BLE001
                detail = {"error": f"{type(error).__name__}: {error}"}
                self._failed_heals[fault_id] = (family, undo)
            completion = {**heal_value, **detail}
            self._record("info", f"stop-{family}", completion)
            if "error" not in detail:
                self._retry_failed_heals()
            return completion

    def _retry_failed_heals(self) -> None:
        """Heal again the faults whose heal raised (recorded like any heal, with "retry")."""
        for fault_id in sorted(self._failed_heals):
            family, undo = self._failed_heals[fault_id]
            heal_value = {"id": self._new_id(), "family": family, "phase": "heal",
                          "heals": [fault_id], "retry": True}
            self._record("invoke", f"stop-{family}", heal_value)
            try:
                detail = undo()
                del self._failed_heals[fault_id]
            except Exception as error:  # noqa: BLE001
                detail = {"error": f"{type(error).__name__}: {error}"}
            self._record("info", f"stop-{family}", {**heal_value, **detail})

    def heal_all(self) -> dict:
        """Final heal: undo open faults, then reset everything regardless of bookkeeping."""
        with self._lock:
            open_ids = sorted(self._open)
            heal_value = {"id": self._new_id(), "family": "heal-all", "phase": "heal",
                          "heals": open_ids}
            self._record("invoke", "heal-all", heal_value)
            errors: list[str] = []
            for fault_id in open_ids:
                _family, undo = self._open.pop(fault_id)
                try:
                    undo()
                except Exception as error:  # noqa: BLE001
                    errors.append(f"{fault_id}: {error}")
            self._grudges.clear()
            self._losses.clear()
            if self.fence is not None:
                self.fence.mode = "ok"
                self.fence.powered_off.clear()
            for step in (self.hosts.heal_network, self._thaw_all, self._resume_all,
                         self._reset_clocks, self._start_all):
                try:
                    step()
                except Exception as error:  # noqa: BLE001
                    errors.append(f"{step.__name__}: {error}")
            # Every node runs again: heals that failed earlier (a re-join) can succeed now.
            retried = sorted(self._failed_heals)
            for fault_id in retried:
                _family, undo = self._failed_heals.pop(fault_id)
                for attempt in range(FINAL_HEAL_ATTEMPTS):
                    try:
                        undo()
                        break
                    except Exception as error:  # noqa: BLE001
                        if attempt == FINAL_HEAL_ATTEMPTS - 1:
                            errors.append(f"{fault_id} (retried): {error}")
                        time.sleep(FINAL_HEAL_RETRY_PAUSE_S)
            completion = {**heal_value, "errors": errors, "retried": retried}
            self._record("info", "heal-all", completion)
            return completion

    def open_faults(self) -> list[int]:
        with self._lock:
            return sorted(self._open)

    # ------------------------------------------------------------ resolution

    def _resolve_targets(self, op: dict) -> tuple[list[str], dict]:
        """Nodes a rule names now (the replay's recorded targets win)."""
        resolved = op.get("resolved") or {}
        if resolved.get("targets"):
            return list(resolved["targets"]), {"replayed": True}
        nodes = self.hosts.nodes
        order = [node for node in op.get("order") or nodes if node in nodes] or nodes
        rule = op.get("rule", "random")
        if rule == "all":
            return list(nodes), {}
        if rule in ("leader", "isolate-leader"):
            leader = self.adapter.leader()
            if leader in nodes:
                return [leader], {"leader": leader}
            return [order[0]], {"leader": None, "fallback": "no leader known; random node"}
        if rule == "non-leader":
            leader = self.adapter.leader()
            others = [node for node in order if node != leader]
            return [others[0] if others else order[0]], {"leader": leader}
        if rule in nodes:
            return [rule], {}
        return [order[0]], {}

    # ------------------------------------------------------------ families

    def _apply(self, family: str, op: dict) -> tuple[dict, Callable[[], dict] | None]:
        handler = getattr(self, "_fault_" + family.replace("-", "_"), None)
        if handler is None:
            raise ValueError(f"unknown nemesis family {family!r}")
        return handler(op)

    def _fault_partition(self, op: dict):
        nodes = self.hosts.nodes
        recorded = (op.get("resolved") or {}).get("grudge")
        rule = op.get("rule", "random-halves")
        order = [node for node in op.get("order") or nodes if node in nodes] or nodes
        extra: dict[str, Any] = {}
        if recorded:
            grudge = {node: frozenset(peers) for node, peers in recorded.items()}
            extra["replayed"] = True
        elif rule == "random-halves":
            grudge = net.halves_grudge(order)
        elif rule == "majorities-ring":
            grudge = net.majorities_ring_grudge(order)
        elif rule == "bridge":
            grudge = net.bridge_grudge(order)
        else:
            targets, extra = self._resolve_targets(op)
            grudge = net.isolate_grudge(nodes, targets[0])
        grudge = net.symmetric(grudge)
        fault_id = self._applying_id
        self._grudges[fault_id] = grudge
        self._apply_network()
        affected = net.minority_nodes(nodes, grudge)
        resolved = {"targets": sorted(node for node, peers in grudge.items() if peers),
                    "affected": affected,
                    "grudge": {node: sorted(peers) for node, peers in sorted(grudge.items())},
                    **extra}

        def undo() -> dict:
            self._grudges.pop(fault_id, None)
            self._apply_network()
            return {}

        return resolved, undo

    def _fault_loss(self, op: dict):
        percent = int(op.get("params", {}).get("percent", 30))
        targets, extra = self._resolve_targets(op)
        fault_id = self._applying_id
        self._losses[fault_id] = (targets, percent)
        self._apply_network()

        def undo() -> dict:
            self._losses.pop(fault_id, None)
            self._apply_network()
            return {}

        return {"targets": targets, "affected": targets, "percent": percent, **extra}, undo

    def _signal_daemons(self, targets: list[str], signum: int) -> dict[str, list[int]]:
        signalled: dict[str, list[int]] = {}
        for node in targets:
            pids = self.adapter.daemon_pids(node)
            for pid in pids:
                try:
                    os.kill(pid, signum)
                except ProcessLookupError:
                    pass
            signalled[node] = pids
        return signalled

    def _restart(self, targets: list[str], after_damage: bool = False) -> Callable[[], dict]:
        def undo() -> dict:
            # A node the fence device powered off stays off until it is powered on.
            fenced = [node for node in targets
                      if self.fence is not None and not self.fence.may_start(node)]
            restarted = [node for node in targets if node not in fenced]
            recover = getattr(self.adapter, "restart_after_damage", None) if after_damage \
                else None
            recoveries: dict[str, dict] = {}
            for node in restarted:
                if recover is not None:
                    recoveries[node] = recover(node)
                else:
                    self.adapter.start_node(node)
            detail = {"restarted": restarted, "left_powered_off": fenced}
            if recoveries:
                detail["recoveries"] = recoveries
            return detail

        return undo

    def _fault_kill(self, op: dict):
        targets, extra = self._resolve_targets(op)
        pids = self._signal_daemons(targets, signal.SIGKILL)
        return ({"targets": targets, "affected": targets, "pids": pids, **extra},
                self._restart(targets))

    def _fault_kill_node(self, op: dict):
        targets, extra = self._resolve_targets(op)
        emptied = {node: self.hosts.hosts[node].cgroup.kill_all() for node in targets}
        return ({"targets": targets, "affected": targets, "emptied": emptied, **extra},
                self._restart(targets))

    def _fault_pause(self, op: dict):
        targets, extra = self._resolve_targets(op)
        pids = self._signal_daemons(targets, signal.SIGSTOP)

        def undo() -> dict:
            for node_pids in pids.values():
                for pid in node_pids:
                    try:
                        os.kill(pid, signal.SIGCONT)
                    except ProcessLookupError:
                        pass
            return {"resumed": targets}

        return {"targets": targets, "affected": targets, "pids": pids, **extra}, undo

    def _fault_pause_node(self, op: dict):
        targets, extra = self._resolve_targets(op)
        for node in targets:
            self.hosts.hosts[node].cgroup.freeze()

        def undo() -> dict:
            for node in targets:
                self.hosts.hosts[node].cgroup.thaw()
            return {"thawed": targets}

        return {"targets": targets, "affected": targets, **extra}, undo

    def _fault_clock(self, op: dict):
        targets, extra = self._resolve_targets(op)
        params = op.get("params", {})
        offset_ms = float(params.get("offset_ms", 0))
        rate = float(params.get("rate", 1.0))
        for node in targets:
            clockhook.write_clock_file(self.adapter.clock_file(node), offset_ms, rate)

        def undo() -> dict:
            for node in targets:
                clockhook.write_clock_file(self.adapter.clock_file(node))
            return {}

        return ({"targets": targets, "affected": targets, "offset_ms": offset_ms,
                 "rate": rate, **extra}, undo)

    def _fault_restart_all(self, op: dict):
        nodes = self.hosts.nodes
        for node in nodes:
            self.hosts.hosts[node].cgroup.kill_all()
        return {"targets": nodes, "affected": nodes}, self._restart(nodes)

    def _fault_truncate(self, op: dict):
        targets, extra = self._resolve_targets(op)
        params = op.get("params", {})
        count = int(params.get("bytes", 64))
        mode = str(params.get("mode", "truncate"))
        choice = int(params.get("file_choice", 0))
        damaged: dict[str, list[dict]] = {}
        for node in targets:
            self.hosts.hosts[node].cgroup.kill_all()
            files = self.adapter.data_files(node)
            # One file per op (chosen at plan time), so journal damage and meta-file damage
            # are exercised separately.
            if not files:
                damaged[node] = []
                continue
            chosen = files[choice % len(files)]
            data_end = getattr(self.adapter, "data_end", None)
            damaged[node] = [damage_file(chosen, count, mode,
                                         data_end(chosen) if data_end else None)]
        return ({"targets": targets, "affected": targets, "damaged": damaged, **extra},
                self._restart(targets, after_damage=True))

    def _fault_membership(self, op: dict):
        targets, extra = self._resolve_targets(op)
        try:
            for node in targets:
                self.adapter.remove_member(node)
        except NotImplementedError as reason:
            return {"targets": targets, "affected": [], "skipped": str(reason), **extra}, None
        except RuntimeError as error:
            # Refused (e.g. no quorum): recorded with its targets; nothing to undo.
            return {"targets": targets, "affected": [], "error": str(error), **extra}, None

        def undo() -> dict:
            for node in targets:
                self.adapter.add_member(node)
            return {"added": targets}

        return {"targets": targets, "affected": targets, **extra}, undo

    def _apply_network(self) -> None:
        """Install the union of open partitions and the highest open loss per node."""
        union: dict[str, set[str]] = {}
        for grudge in self._grudges.values():
            for node, peers in grudge.items():
                union.setdefault(node, set()).update(peers)
        loss: dict[str, int] = {}
        for targets, percent in self._losses.values():
            for node in targets:
                loss[node] = max(loss.get(node, 0), percent)
        for node in self.hosts.nodes:
            addresses = frozenset(self.hosts.address(peer) for peer in union.get(node, ()))
            rules = net.NodeRules(addresses, loss.get(node, 0))
            if rules != self.hosts.rules(node):
                self.hosts.apply_rules(node, rules)

    def _fault_fence(self, op: dict):
        """The fence device fails ("fail") or hangs ("hang") until healed."""
        mode = op.get("rule", "fail")
        if self.fence is None:
            return {"targets": [], "affected": [], "skipped": "no fence controller"}, None
        if mode not in ("fail", "hang"):
            raise ValueError(f"fence fault must be fail or hang, not {mode!r}")
        self.fence.mode = mode

        def undo() -> dict:
            self.fence.mode = "ok"
            return {}

        return {"targets": [], "affected": [], "mode": mode}, undo

    # ------------------------------------------------------------ final heal helpers

    def _thaw_all(self) -> None:
        for host in self.hosts.hosts.values():
            host.cgroup.thaw()

    def _resume_all(self) -> None:
        for host in self.hosts.hosts.values():
            for pid in host.cgroup.pids():
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass

    def _reset_clocks(self) -> None:
        for node in self.hosts.nodes:
            clockhook.write_clock_file(self.adapter.clock_file(node))

    def _start_all(self) -> None:
        for node in self.hosts.nodes:
            self.adapter.start_node(node)


def damage_file(path: pathlib.Path, count: int, mode: str, end: int | None = None) -> dict:
    """Drop (truncate) or zero the last `count` bytes of a file's data; reports what was done.
    `end`: where the data ends when the file is longer (a preallocated journal's padding
    would otherwise take the damage); default the file's size."""
    path = pathlib.Path(path)
    if not path.exists():
        return {"path": str(path), "skipped": "missing"}
    size = path.stat().st_size
    end = size if end is None else max(0, min(end, size))
    count = min(count, end)
    if mode == "truncate":
        os.truncate(path, end - count)
    elif mode == "zero":
        with open(path, "r+b") as handle:
            handle.seek(end - count)
            handle.write(b"\0" * count)
    else:
        raise ValueError(f"unknown damage mode {mode!r} (truncate or zero)")
    return {"path": str(path), "mode": mode, "bytes": count, "size_before": size,
            "data_end": end}


def schedule_events(schedule: dict) -> list[tuple[int, int, str, dict]]:
    """(time_ms, order, "apply"|"heal", op) for every op, in time order (heals first on
    ties, so a fault never outlives its planned end because of another's start)."""
    events: list[tuple[int, int, str, dict]] = []
    for op in schedule["ops"]:
        events.append((int(op["at_ms"]), 1, "apply", op))
        events.append((int(op["at_ms"]) + int(op["duration_ms"]), 0, "heal", op))
    events.sort(key=lambda event: (event[0], event[1], event[3]["index"]))
    return events


def run_schedule(nemesis: Nemesis, schedule: dict, start_monotonic: float,
                 stop: threading.Event, on_applied: Callable[[dict, dict], None]) -> None:
    """Apply each op at its planned time and heal it after its duration (faults may
    overlap); stop early when `stop` is set (the final heal cleans up)."""
    fault_ids: dict[int, int] = {}
    for time_ms, _order, kind, op in schedule_events(schedule):
        if _sleep_until(start_monotonic + time_ms / 1000.0, stop):
            return
        if kind == "apply":
            completion = nemesis.apply(op)
            fault_ids[op["index"]] = completion["id"]
            on_applied(op, completion)
        elif op["index"] in fault_ids:
            nemesis.heal(fault_ids.pop(op["index"]))


def _sleep_until(deadline: float, stop: threading.Event) -> bool:
    """Sleep until `deadline` (monotonic); True if `stop` was set meanwhile."""
    remaining = deadline - time.monotonic()
    if remaining > 0:
        return stop.wait(remaining)
    return stop.is_set()
