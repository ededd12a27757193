"""Checkers: pure functions from one recorded run to a verdict.

Every checker takes a `RunData` and returns a JSON-safe dict {"valid": True|False|"unknown",
...details}. Verdicts merge like Jepsen's: False beats "unknown" beats True. "unknown" means
the run cannot prove the property either way (no data, too few successful operations); a dead
cluster must never pass by default.

Inputs (all times are host wall-clock milliseconds, one clock for every netns node):
- history: records {"time_ms", "process", "type", "f", "value"}. Nemesis records have
  process "nemesis"; their completion value is {"id", "family", "phase": "fault"|"heal",
  "affected": [nodes], "heals": [fault ids], ...}.
- ledger: ticks (wall_ms, node, resource_id), one every `tick_ms` while an instance runs.
- final_logs: node -> list of committed log entries (any JSON) dumped after the run.
- state_hashes: node -> state hash (None when the node did not answer).
- fence_history: records {"target", "action", "result", "index", "ts_ms"}.
- params: timing knobs, see `DEFAULT_PARAMS`.

Nothing here performs I/O, reads a clock or draws random numbers.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

UNKNOWN = "unknown"
Verdict = bool | str

DEFAULT_PARAMS: dict[str, Any] = {
    "tick_ms": 100,                 # ledger tick period of a running instance
    "gap_threshold_ms": 350,        # a longer silence ends an activity interval
    "overlap_window_ms": 100,       # ticks of two nodes closer than this count as overlap
    "recovery_bound_ms": 20_000,    # LIVE-1: time allowed after the final heal
    "watchdog_wait_ms": None,       # W: the majority's wait before recovering without fence
    "promoted_max": {},             # clone id -> promoted-max (default 1)
    "write_fs": ["write", "configure"],
    "min_ok_ops": 1,
}
FENCE_OK_RESULTS = frozenset({"ok", "success", "done", "true", "0"})


@dataclass(frozen=True)
class LedgerTick:
    wall_ms: int
    node: str
    resource: str


@dataclass(frozen=True)
class Interval:
    """One continuous activity of `resource` on `node`, from its first to its last tick."""

    resource: str
    node: str
    start_ms: int
    end_ms: int
    ticks: int

    def to_dict(self) -> dict:
        return {"resource": self.resource, "node": self.node, "start_ms": self.start_ms,
                "end_ms": self.end_ms, "ticks": self.ticks}


@dataclass(frozen=True)
class FaultWindow:
    """A nemesis fault from its invocation until the heal that ended it (or run end)."""

    fault_id: Any
    family: str
    start_ms: int
    end_ms: int
    affected: frozenset[str]


@dataclass(frozen=True)
class RunData:
    history: tuple[dict, ...] = ()
    ledger: tuple[LedgerTick, ...] = ()
    final_logs: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    state_hashes: Mapping[str, str | None] = field(default_factory=dict)
    fence_history: tuple[dict, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    nodes: tuple[str, ...] = ()
    leader_samples: tuple[dict, ...] = ()   # {"time_ms", "leader"} at every change

    def param(self, name: str) -> Any:
        return self.params.get(name, DEFAULT_PARAMS[name])


# ---------------------------------------------------------------- verdicts


def merge_valid(verdicts: Iterable[Verdict]) -> Verdict:
    """Jepsen's merge: any False -> False; else any unknown -> "unknown"; else True."""
    result: Verdict = True
    for verdict in verdicts:
        if verdict is False:
            return False
        if verdict is not True:
            result = UNKNOWN
    return result


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


# ---------------------------------------------------------------- ledger helpers


def parse_ledger_lines(lines: Iterable[str]) -> list[LedgerTick]:
    """Parse "<wall_ms> <node> <resource_id>" lines; malformed (torn) lines are skipped."""
    ticks: list[LedgerTick] = []
    for line in lines:
        parts = line.split()
        if len(parts) != 3 or not parts[0].isdigit():
            continue
        ticks.append(LedgerTick(int(parts[0]), parts[1], parts[2]))
    return ticks


def activity_intervals(ticks: Iterable[LedgerTick], gap_threshold_ms: int) -> list[Interval]:
    """Split each (resource, node) tick series into intervals at gaps > gap_threshold_ms."""
    series: dict[tuple[str, str], list[int]] = defaultdict(list)
    for tick in ticks:
        series[(tick.resource, tick.node)].append(tick.wall_ms)
    intervals: list[Interval] = []
    for (resource, node), stamps in sorted(series.items()):
        stamps.sort()
        start = previous = stamps[0]
        count = 1
        for stamp in stamps[1:]:
            if stamp - previous > gap_threshold_ms:
                intervals.append(Interval(resource, node, start, previous, count))
                start, count = stamp, 0
            previous = stamp
            count += 1
        intervals.append(Interval(resource, node, start, previous, count))
    intervals.sort(key=lambda interval: (interval.resource, interval.start_ms, interval.node))
    return intervals


def intervals_by_resource(intervals: Iterable[Interval]) -> dict[str, list[Interval]]:
    grouped: dict[str, list[Interval]] = defaultdict(list)
    for interval in intervals:
        grouped[interval.resource].append(interval)
    return dict(grouped)


# ---------------------------------------------------------------- history helpers


def _nemesis_completions(history: Iterable[dict]) -> list[dict]:
    return [op for op in history
            if op.get("process") == "nemesis" and op.get("type") in ("info", "ok")
            and isinstance(op.get("value"), dict)]


def _nemesis_invoke_times(history: Iterable[dict]) -> dict[Any, int]:
    times: dict[Any, int] = {}
    for op in history:
        value = op.get("value")
        if op.get("process") == "nemesis" and op.get("type") == "invoke" \
                and isinstance(value, dict) and "id" in value:
            times.setdefault(value["id"], op["time_ms"])
    return times


def fault_windows(history: Sequence[dict], end_ms: int) -> list[FaultWindow]:
    """Fault windows from nemesis records: from the fault's invoke to the heal naming it."""
    invoke_times = _nemesis_invoke_times(history)
    completions = _nemesis_completions(history)
    healed_at: dict[Any, int] = {}
    for op in completions:
        value = op["value"]
        if value.get("phase") == "heal":
            for fault_id in value.get("heals", []):
                healed_at.setdefault(fault_id, op["time_ms"])
    windows: list[FaultWindow] = []
    for op in completions:
        value = op["value"]
        if value.get("phase") != "fault":
            continue
        fault_id = value.get("id")
        start = invoke_times.get(fault_id, op["time_ms"])
        windows.append(FaultWindow(fault_id, str(value.get("family", "")), start,
                                   healed_at.get(fault_id, end_ms),
                                   frozenset(value.get("affected", []))))
    return windows


def last_heal_ms(history: Sequence[dict]) -> int | None:
    """Time the last fault was healed; the first record's time when there was no fault."""
    heals = [op["time_ms"] for op in _nemesis_completions(history)
             if op["value"].get("phase") == "heal"]
    if heals:
        return max(heals)
    return min((op["time_ms"] for op in history), default=None)


def run_end_ms(run: RunData) -> int | None:
    explicit = run.params.get("end_ms")
    if explicit is not None:
        return int(explicit)
    stamps = [op["time_ms"] for op in run.history] + [tick.wall_ms for tick in run.ledger]
    return max(stamps, default=None)


# ---------------------------------------------------------------- (a) no overlap


def check_no_overlap(run: RunData) -> dict:
    """INV-1: no single-instance resource active on two nodes at once (ledger ground truth).

    Overlap = activity intervals of two different nodes for the same resource that intersect
    ("proven": each node ticked while the other's interval was open) or come within
    `overlap_window_ms` of each other ("window").
    """
    if not run.ledger:
        return {"valid": UNKNOWN, "reason": "no ledger ticks recorded"}
    window_ms = int(run.param("overlap_window_ms"))
    intervals = activity_intervals(run.ledger, int(run.param("gap_threshold_ms")))
    overlaps: list[dict] = []
    for resource, items in sorted(intervals_by_resource(intervals).items()):
        for index, first in enumerate(items):
            for second in items[index + 1:]:
                if second.start_ms > first.end_ms + window_ms:
                    break  # sorted by start: no later interval can touch `first`
                if second.node == first.node:
                    continue
                later_start = max(first.start_ms, second.start_ms)
                earlier_end = min(first.end_ms, second.end_ms)
                kind = "proven" if later_start <= earlier_end else "window"
                overlaps.append({"resource": resource, "kind": kind,
                                 "overlap_ms": max(0, earlier_end - later_start),
                                 "intervals": [first.to_dict(), second.to_dict()]})
    return {"valid": not overlaps, "overlaps": overlaps[:50], "overlap_count": len(overlaps),
            "resources": sorted({tick.resource for tick in run.ledger}),
            "interval_count": len(intervals)}


# ---------------------------------------------------------------- (b) promoted max


def _promoted_nodes(status: Mapping[str, Any]) -> dict[str, set[str]]:
    """Clone id -> nodes where an instance is Promoted, from one status sample."""
    promoted: dict[str, set[str]] = defaultdict(set)
    resources = status.get("resources", {}) if isinstance(status, Mapping) else {}
    for resource_id, entry in resources.items():
        base = str(resource_id).split(":", 1)[0]
        instances = entry.get("instances") if isinstance(entry, Mapping) else None
        for instance in instances if isinstance(instances, list) else [entry]:
            if isinstance(instance, Mapping) and instance.get("role") == "Promoted":
                promoted[base].add(str(instance.get("node")))
    return promoted


def check_promoted_max(run: RunData) -> dict:
    """Never more Promoted instances of a clone than its promoted-max, in any status sample."""
    limits: Mapping[str, int] = run.param("promoted_max")
    samples = [op for op in run.history
               if op.get("f") == "status" and op.get("type") == "ok"
               and isinstance(op.get("value"), Mapping)]
    if not samples:
        return {"valid": UNKNOWN, "reason": "no status samples recorded"}
    violations: list[dict] = []
    for op in samples:
        for clone_id, nodes in sorted(_promoted_nodes(op["value"]).items()):
            limit = int(limits.get(clone_id, 1))
            if len(nodes) > limit:
                violations.append({"time_ms": op["time_ms"], "process": op["process"],
                                   "resource": clone_id, "promoted_on": sorted(nodes),
                                   "promoted_max": limit})
    return {"valid": not violations, "violations": violations[:50],
            "violation_count": len(violations), "samples": len(samples)}


# ---------------------------------------------------------------- (c) acknowledged writes


def _write_token(value: Any) -> str | None:
    if isinstance(value, Mapping) and value.get("token") is not None:
        return str(value["token"])
    return None


def check_acknowledged_writes(run: RunData) -> dict:
    """INV-3: every acknowledged write is in every node's final log; no failed write is.

    A write op carries {"token": unique str} in its value; it is present in a log when the
    token occurs in the JSON text of any entry. `info` writes may or may not appear.
    """
    write_fs = set(run.param("write_fs"))
    outcome: dict[str, str] = {}
    for op in run.history:
        token = _write_token(op.get("value"))
        if op.get("f") in write_fs and token is not None and op.get("type") != "invoke":
            outcome[token] = op["type"]
    acknowledged = sorted(token for token, kind in outcome.items() if kind == "ok")
    failed = sorted(token for token, kind in outcome.items() if kind == "fail")
    if not run.final_logs:
        return {"valid": UNKNOWN, "reason": "no final logs collected",
                "acknowledged": len(acknowledged)}
    lost: dict[str, list[str]] = {}
    failed_but_applied: dict[str, list[str]] = {}
    for node, entries in sorted(run.final_logs.items()):
        text = "\n".join(json.dumps(entry, sort_keys=True, default=str) for entry in entries)
        missing = [token for token in acknowledged if token not in text]
        if missing:
            lost[node] = missing
        applied = [token for token in failed if token in text]
        if applied:
            failed_but_applied[node] = applied
    valid: Verdict = not lost and not failed_but_applied
    if valid and len(acknowledged) < int(run.param("min_ok_ops")):
        valid = UNKNOWN
    return {"valid": valid, "acknowledged": len(acknowledged), "failed": len(failed),
            "indeterminate": sum(1 for kind in outcome.values() if kind == "info"),
            "lost": lost, "failed_but_applied": failed_but_applied,
            "nodes": sorted(run.final_logs)}


# ---------------------------------------------------------------- (d) convergence


def check_convergence(run: RunData) -> dict:
    """INV-5: every node reports the same state hash after the final phase."""
    hashes = dict(run.state_hashes)
    for node in run.nodes:
        hashes.setdefault(node, None)
    if not hashes:
        return {"valid": UNKNOWN, "reason": "no state hashes collected"}
    missing = sorted(node for node, value in hashes.items() if not value)
    distinct = sorted({value for value in hashes.values() if value})
    if len(distinct) > 1:
        valid: Verdict = False
    elif missing or not distinct:
        valid = UNKNOWN
    else:
        valid = True
    return {"valid": valid, "hashes": hashes, "distinct": len(distinct), "missing": missing}


# ---------------------------------------------------------------- (e) recovery


def check_recovery(run: RunData) -> dict:
    """LIVE-1: after the last heal, every resource runs on exactly one node within the bound,
    and stays running until the end of the run."""
    if not run.ledger:
        return {"valid": UNKNOWN, "reason": "no ledger ticks recorded"}
    heal_ms = last_heal_ms(run.history)
    end_ms = run_end_ms(run)
    if heal_ms is None or end_ms is None:
        return {"valid": UNKNOWN, "reason": "no history to find the last heal"}
    gap_ms = int(run.param("gap_threshold_ms"))
    bound_ms = int(run.param("recovery_bound_ms"))
    grouped = intervals_by_resource(activity_intervals(run.ledger, gap_ms))
    expected = run.params.get("resources") or sorted(grouped)
    details: dict[str, dict] = {}
    valid: Verdict = True
    for resource in expected:
        running_at_end = [item for item in grouped.get(resource, [])
                          if item.end_ms >= end_ms - gap_ms]
        nodes = sorted({item.node for item in running_at_end})
        if not running_at_end:
            details[resource] = {"recovered": False, "reason": "not running at end of run"}
            valid = False
            continue
        recovered_ms = max(heal_ms, max(item.start_ms for item in running_at_end))
        took_ms = recovered_ms - heal_ms
        ok = took_ms <= bound_ms and len(nodes) == 1
        details[resource] = {"recovered": ok, "recovery_ms": took_ms, "nodes_at_end": nodes}
        if not ok:
            valid = False
    return {"valid": valid, "last_heal_ms": heal_ms, "end_ms": end_ms,
            "recovery_bound_ms": bound_ms, "resources": details}


# ---------------------------------------------------------------- (f) fencing before recovery


def _fences_ok(fence_history: Iterable[dict]) -> dict[str, list[int]]:
    confirmed: dict[str, list[int]] = defaultdict(list)
    for record in fence_history:
        result = str(record.get("result", "")).lower()
        if result in FENCE_OK_RESULTS and record.get("action", "off") in ("off", "reboot"):
            confirmed[str(record.get("target"))].append(int(record.get("ts_ms", 0)))
    return confirmed


def handovers(intervals: Sequence[Interval]) -> list[tuple[Interval, Interval]]:
    """(previous holder's interval, next holder's interval) for each change of node."""
    pairs: list[tuple[Interval, Interval]] = []
    for index, current in enumerate(intervals):
        earlier = [item for item in intervals[:index]
                   if item.end_ms < current.start_ms and item.node != current.node]
        if earlier:
            previous = max(earlier, key=lambda item: item.end_ms)
            later_same_node = [item for item in intervals[:index]
                               if item.node == current.node and item.end_ms > previous.end_ms]
            if not later_same_node:
                pairs.append((previous, current))
    return pairs


NODE_KILLING_FAMILIES = frozenset({"kill-node", "restart-all", "truncate"})
CLAIM_MATCH_MS = 10_000  # a start claim's stamp (the claiming node's clock) vs. its first tick
_PENDING_SUMMARY = re.compile(r"^(?P<actions>.+) on (?P<node>\S+): pending$")
_COMPLETED_SUMMARY = re.compile(
    r"^(?P<resource>\S+) (?P<operation>\S+)(?: \(\d+ ms\))? on (?P<node>\S+): "
    r"rc=(?P<rc>-?\d+) status=(?P<status>-?\d+)")


@dataclass(frozen=True)
class Transition:
    """One committed event about a resource on a node, in log order."""

    index: int
    kind: str        # "claim-start" | "stopped" | "other"
    node: str
    ts_ms: int


def resource_transitions(final_logs: Mapping[str, Sequence[Any]]) -> dict[str, list[Transition]]:
    """Per resource, from the longest final log (raftha `history` entries with "summary"):
    start claims (OperationsPending), successful stops (OperationCompleted rc=0 status=0) and
    every other event naming the resource on a node."""
    entries = max(final_logs.values(), key=len, default=[])
    transitions: dict[str, list[Transition]] = defaultdict(list)
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("summary"), str):
            continue
        index, ts_ms = int(entry.get("index", 0)), int(entry.get("ts_ms", 0))
        if entry.get("kind") == "OperationsPending":
            match = _PENDING_SUMMARY.match(entry["summary"])
            if match is None:
                continue
            for action in match["actions"].split(", "):
                resource, _, operation = action.partition(" ")
                kind = "claim-start" if operation == "start" else "other"
                transitions[resource].append(Transition(index, kind, match["node"], ts_ms))
        elif entry.get("kind") == "OperationCompleted":
            match = _COMPLETED_SUMMARY.match(entry["summary"])
            if match is None:
                continue
            stopped = match["operation"] == "stop" and match["rc"] == "0" \
                and match["status"] == "0"
            transitions[match["resource"]].append(
                Transition(index, "stopped" if stopped else "other", match["node"], ts_ms))
    return dict(transitions)


def clean_stop_before_claim(transitions: Sequence[Transition], previous_node: str,
                            next_node: str, recovered_ms: int) -> int | None:
    """The log index of a successful stop on `previous_node` that is the last event about the
    resource there before `next_node`'s start claim nearest to `recovered_ms`; else None."""
    claims = [item for item in transitions if item.kind == "claim-start"
              and item.node == next_node and abs(item.ts_ms - recovered_ms) <= CLAIM_MATCH_MS]
    if not claims:
        return None
    claim = min(claims, key=lambda item: abs(item.ts_ms - recovered_ms))
    before = [item for item in transitions if item.index < claim.index
              and item.node == previous_node]
    if before and before[-1].kind == "stopped":
        return before[-1].index
    return None


def node_restarts(history: Sequence[dict]) -> dict[str, list[int]]:
    """When the harness restarted each node's daemon: heal completions naming the node in
    "restarted" (kill, kill-node, restart-all and truncate heals)."""
    restarts: dict[str, list[int]] = defaultdict(list)
    for op in _nemesis_completions(history):
        value = op["value"]
        if value.get("phase") == "heal":
            for node in value.get("restarted", []):
                restarts[str(node)].append(int(op["time_ms"]))
    return dict(restarts)


def check_fenced_recovery(run: RunData) -> dict:
    """Recovery of a faulted node's resource elsewhere happens only after a confirmed fence of
    that node or after the watchdog wait W counted from the start of the fault.

    A handover is "faulted" when the previous holder's last tick fell inside a fault window
    that affected its node; handovers from healthy nodes are clean moves and are not judged.
    A third proof: the fault killed every process of the node (kill-node, restart-all,
    truncate) and the harness restarted the node before the recovery. Its resources were
    gone, and the node came back as a fresh daemon that reports them itself: no fence is
    needed (the record carries "rejoined_ms"). A fourth: the committed log shows a
    successful stop of the resource on the previous node as the last word about it there
    before the new node's start claim (a clean move, "stopped_index").
    """
    if not run.ledger:
        return {"valid": UNKNOWN, "reason": "no ledger ticks recorded"}
    end_ms = run_end_ms(run) or 0
    gap_ms = int(run.param("gap_threshold_ms"))
    wait_ms = run.param("watchdog_wait_ms")
    windows = fault_windows(run.history, end_ms)
    fences = _fences_ok(run.fence_history)
    restarts = node_restarts(run.history)
    transitions = resource_transitions(run.final_logs)
    grouped = intervals_by_resource(activity_intervals(run.ledger, gap_ms))
    judged: list[dict] = []
    violations: list[dict] = []
    undecidable = 0
    for resource, items in sorted(grouped.items()):
        for previous, current in handovers(items):
            faults = [window for window in windows if previous.node in window.affected
                      and window.start_ms - gap_ms <= previous.end_ms <= window.end_ms]
            if not faults:
                continue
            fault_start = min(window.start_ms for window in faults)
            fenced_at = [stamp for stamp in fences.get(previous.node, [])
                         if fault_start - gap_ms <= stamp <= current.start_ms]
            record = {"resource": resource, "from": previous.node, "to": current.node,
                      "fault_start_ms": fault_start, "previous_end_ms": previous.end_ms,
                      "recovered_ms": current.start_ms,
                      "faults": [window.family for window in faults],
                      "fenced_ms": min(fenced_at) if fenced_at else None}
            if not fenced_at and all(window.family in NODE_KILLING_FAMILIES
                                     for window in faults):
                rejoined = [stamp for stamp in restarts.get(previous.node, [])
                            if fault_start <= stamp <= current.start_ms]
                record["rejoined_ms"] = min(rejoined) if rejoined else None
            if not fenced_at and not record.get("rejoined_ms"):
                record["stopped_index"] = clean_stop_before_claim(
                    transitions.get(resource, []), previous.node, current.node,
                    current.start_ms)
            judged.append(record)
            if fenced_at or record.get("rejoined_ms") or record.get("stopped_index"):
                continue
            if wait_ms is None:
                undecidable += 1
                continue
            if current.start_ms - fault_start < int(wait_ms):
                violations.append({**record, "waited_ms": current.start_ms - fault_start,
                                   "watchdog_wait_ms": int(wait_ms)})
    valid: Verdict = not violations
    if valid and undecidable:
        valid = UNKNOWN
    return {"valid": valid, "handovers_judged": len(judged), "violations": violations[:50],
            "undecidable_without_watchdog_wait": undecidable, "handovers": judged[:50]}


# ---------------------------------------------------------------- network faults effective


def partition_effect_windows(history: Sequence[dict]) -> list[tuple[int, int, dict]]:
    """(rules in force from, until, grudge) per partition: from the fault's completion to the
    invocation of the heal that removed it (or the end of the history)."""
    heal_invoked: dict[Any, int] = {}
    for op in history:
        value = op.get("value")
        if op.get("process") == "nemesis" and op.get("type") == "invoke" \
                and isinstance(value, dict) and value.get("phase") == "heal":
            for fault_id in value.get("heals", []):
                heal_invoked.setdefault(fault_id, op["time_ms"])
    end = max((op["time_ms"] for op in history), default=0)
    windows = []
    for op in _nemesis_completions(history):
        value = op["value"]
        if value.get("phase") == "fault" and value.get("grudge"):
            windows.append((op["time_ms"], heal_invoked.get(value.get("id"), end),
                            value["grudge"]))
    return windows


def check_network_faults_effective(run: RunData) -> dict:
    """Partitions really cut traffic: no probe between two nodes separated by a partition
    succeeded while the partition was in force, and at least one such probe was tried.

    Probe ops have f "ping" and value {"from": node, "to": node}."""
    windows = partition_effect_windows(run.history)
    if not windows:
        return {"valid": True, "partitions": 0, "note": "no partition was applied"}
    invokes: dict[str, dict] = {}
    blocked = 0
    violations: list[dict] = []
    for op in run.history:
        if op.get("f") != "ping" or op.get("process") == "nemesis":
            continue
        if op["type"] == "invoke":
            invokes[op["process"]] = op
            continue
        invoke = invokes.pop(op["process"], None)
        value = invoke.get("value") if invoke else None
        if not isinstance(value, Mapping):
            continue
        source, target = value.get("from"), value.get("to")
        for start, until, grudge in windows:
            inside = start <= invoke["time_ms"] and op["time_ms"] <= until
            if inside and target in grudge.get(source, ()):
                if op["type"] == "ok":
                    violations.append({"from": source, "to": target,
                                       "invoke_ms": invoke["time_ms"],
                                       "complete_ms": op["time_ms"]})
                else:
                    blocked += 1
                break
    valid: Verdict = False if violations else (True if blocked else UNKNOWN)
    return {"valid": valid, "partitions": len(windows), "blocked_probes": blocked,
            "violations": violations[:50]}


# ---------------------------------------------------------------- linearizable register

_UNSET = object()  # the register's initial value when the run does not say


@dataclass(frozen=True)
class RegisterOp:
    kind: str            # "write" | "read"
    value: Any
    call_ms: int
    return_ms: float     # math.inf for an indeterminate (info) write
    required: bool       # ok ops must be linearized; info writes may be left out


def register_ops(history: Sequence[dict], write_fs: Iterable[str],
                 read_f: str) -> list[RegisterOp]:
    """Completed register operations from the history: ok reads and writes are required;
    info (indeterminate) writes are optional and may take effect any time after their
    invocation; failed ops and info reads are dropped (they constrain nothing)."""
    write_names = set(write_fs)
    pending: dict[str, dict] = {}
    ops: list[RegisterOp] = []
    for op in history:
        if op.get("process") == "nemesis" or op.get("f") not in write_names | {read_f}:
            continue
        if op["type"] == "invoke":
            pending[op["process"]] = op
            continue
        invoke = pending.pop(op["process"], None)
        if invoke is None:
            continue
        kind = "read" if op["f"] == read_f else "write"
        value = op.get("value") or {}
        if kind == "write":
            token = _write_token(invoke.get("value"))
            if op["type"] == "ok":
                ops.append(RegisterOp("write", token, invoke["time_ms"], op["time_ms"], True))
            elif op["type"] == "info":
                ops.append(RegisterOp("write", token, invoke["time_ms"], math.inf, False))
        elif op["type"] == "ok" and isinstance(value, Mapping) and "value" in value:
            ops.append(RegisterOp("read", value["value"], invoke["time_ms"], op["time_ms"],
                                  True))
    for invoke in pending.values():  # invoked, never completed: like info
        if invoke.get("f") in write_names:
            ops.append(RegisterOp("write", _write_token(invoke.get("value")),
                                  invoke["time_ms"], math.inf, False))
    return ops


def without_unread_optional_writes(ops: Sequence[RegisterOp]) -> list[RegisterOp]:
    """Drop the indeterminate writes whose value no read returned. Sound and complete for
    the search: such a write, once linearized, is followed by another write or nothing (no
    read may see its value), so leaving it out changes no read's outcome; and an
    indeterminate write never has to be linearized. Writes carry unique tokens, so most
    indeterminate writes go, and with them most of the search's width."""
    read_values = {op.value for op in ops if op.kind == "read" and _hashable(op.value)}
    return [op for op in ops if op.required or op.kind != "write"
            or not _hashable(op.value) or op.value in read_values]


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def linearize_register(ops: Sequence[RegisterOp], initial: Any = _UNSET,
                       budget_steps: int = 200_000) -> tuple[Verdict, list[int]]:
    """Wing & Gong search with Lowe's memoisation for one read/write register.

    Returns (True, order) with a linearization of the required ops, (False, deepest
    partial order) when none exists, or ("unknown", []) when the step budget ran out.
    An unknown initial value is fixed by the first read linearized before any write."""
    count = len(ops)
    required_mask = sum(1 << index for index, op in enumerate(ops) if op.required)
    order = sorted(range(count), key=lambda index: ops[index].call_ms)
    seen: set[tuple[int, Any]] = set()
    best: list[int] = []
    steps = 0
    stack: list[tuple[int, Any, list[int]]] = [(0, initial, [])]
    while stack:
        done, state, path = stack.pop()
        if done & required_mask == required_mask:
            return True, path
        steps += 1
        if steps > budget_steps:
            return UNKNOWN, []
        if len(path) > len(best):
            best = path
        # An op may go next only if it was invoked before every remaining required op
        # returned (otherwise that op really happened first).
        horizon = min((ops[index].return_ms for index in order
                       if not done >> index & 1 and ops[index].required), default=math.inf)
        for index in order:
            op = ops[index]
            if done >> index & 1:
                continue
            if op.call_ms > horizon:
                break
            if op.kind == "write":
                next_state = op.value
            elif state is _UNSET or state == op.value:
                next_state = op.value
            else:
                continue
            key = (done | 1 << index, next_state)
            if key in seen:
                continue
            seen.add(key)
            stack.append((done | 1 << index, next_state, [*path, index]))
    return False, best


def check_linearizable_register(run: RunData) -> dict:
    """INV-4 for one register: reads and writes (through the CLI) are linearizable.

    Write ops carry {"token"} (the value written); read ops (f "read") complete with
    {"value"}. params: "register_initial" (omit when unknown), "linearizable_budget"."""
    ops = register_ops(run.history, run.param("write_fs"), "read")
    reads = sum(1 for op in ops if op.kind == "read")
    if not reads:
        return {"valid": UNKNOWN, "reason": "no successful reads recorded", "ops": len(ops)}
    initial = run.params.get("register_initial", _UNSET)
    budget = int(run.params.get("linearizable_budget", 200_000))
    indeterminate = sum(1 for op in ops if not op.required)
    ops = without_unread_optional_writes(ops)
    verdict, path = linearize_register(ops, initial, budget)
    result: dict[str, Any] = {"valid": verdict, "ops": len(ops), "reads": reads,
                              "indeterminate_writes": indeterminate,
                              "indeterminate_writes_read": sum(1 for op in ops
                                                               if not op.required)}
    if verdict is False:
        placed = set(path)
        stuck = [op for index, op in enumerate(ops) if index not in placed and op.required]
        stuck.sort(key=lambda op: op.call_ms)
        result["linearized_prefix"] = len(path)
        result["first_unplaceable"] = [
            {"kind": op.kind, "value": op.value, "call_ms": op.call_ms,
             "return_ms": op.return_ms} for op in stuck[:5]]
    return result


# ---------------------------------------------------------------- hygiene and metrics


def check_stats(run: RunData) -> dict:
    """Client op counts per f; "unknown" if some f never succeeded (it proves nothing)."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"ok": 0, "fail": 0, "info": 0})
    for op in run.history:
        if op.get("process") != "nemesis" and op.get("type") in ("ok", "fail", "info"):
            counts[str(op.get("f"))][op["type"]] += 1
    if not counts:
        return {"valid": UNKNOWN, "reason": "no client operations completed", "by_f": {}}
    minimum = int(run.param("min_ok_ops"))
    starved = sorted(f for f, kinds in counts.items() if kinds["ok"] < minimum)
    return {"valid": UNKNOWN if starved else True, "by_f": dict(sorted(counts.items())),
            "without_ok": starved}


def failover_durations_ms(run: RunData) -> list[int]:
    """Outage lengths: for each resource, every gap between one interval's end and the next
    interval's start on another node. A start while another interval of the resource is
    still open is an overlap (no_overlap reports it), not the end of an outage."""
    gap_ms = int(run.param("gap_threshold_ms"))
    durations: list[int] = []
    grouped = intervals_by_resource(activity_intervals(run.ledger, gap_ms))
    for items in grouped.values():
        for previous, current in handovers(items):
            if any(item is not current and item.start_ms <= current.start_ms <= item.end_ms
                   for item in items):
                continue
            durations.append(current.start_ms - previous.end_ms)
    return durations


def failover_summary(run: RunData) -> dict:
    seconds = [duration / 1000.0 for duration in failover_durations_ms(run)]
    p50 = percentile(seconds, 0.50)
    p99 = percentile(seconds, 0.99)
    return {"p50": None if p50 is None else round(p50, 3),
            "p99": None if p99 is None else round(p99, 3), "n": len(seconds)}


def leader_failover_durations_ms(run: RunData) -> list[int]:
    """For each fault that hit the node leading when it began and cost it the leadership
    while the fault held (a sample without a leader or with another one): time until another
    node was seen leading, or the same node again after a sample without a leader. When a
    later fault on the same leader began before the role was lost, that later fault is the
    cause: the outage is counted once, from its start."""
    samples = sorted(run.leader_samples, key=lambda sample: sample["time_ms"])
    end_ms = run_end_ms(run) or 0
    durations: list[int] = []
    windows = fault_windows(run.history, end_ms)
    for window in windows:
        before = [sample for sample in samples if sample["time_ms"] <= window.start_ms]
        leader = before[-1]["leader"] if before else None
        if leader is None or leader not in window.affected:
            continue
        lost = [sample for sample in samples if window.start_ms < sample["time_ms"]
                <= window.end_ms and sample["leader"] != leader]
        if not lost:
            continue  # the leader kept its role through the fault (clock, light loss)
        if any(other is not window and leader in other.affected
               and window.start_ms < other.start_ms < lost[0]["time_ms"] for other in windows):
            continue  # a later fault on the leader took its role
        leaderless_seen = False
        for sample in samples:
            if sample["time_ms"] <= window.start_ms:
                continue
            if sample["leader"] is None:
                leaderless_seen = True
            elif sample["leader"] != leader or leaderless_seen:
                durations.append(sample["time_ms"] - window.start_ms)
                break
    return durations


def leader_failover_summary(run: RunData) -> dict:
    seconds = [duration / 1000.0 for duration in leader_failover_durations_ms(run)]
    p50, p99 = percentile(seconds, 0.50), percentile(seconds, 0.99)
    return {"p50": None if p50 is None else round(p50, 3),
            "p99": None if p99 is None else round(p99, 3), "n": len(seconds)}


CHECKERS: dict[str, Callable[[RunData], dict]] = {
    "no_overlap": check_no_overlap,
    "promoted_max": check_promoted_max,
    "acknowledged_writes": check_acknowledged_writes,
    "convergence": check_convergence,
    "recovery": check_recovery,
    "fenced_recovery": check_fenced_recovery,
    "stats": check_stats,
    "network_faults_effective": check_network_faults_effective,
    "linearizable_register": check_linearizable_register,
}


def check_all(run: RunData, names: Iterable[str] | None = None) -> dict:
    """Run the named checkers (all by default) and merge their verdicts."""
    selected = list(names) if names is not None else list(CHECKERS)
    unknown = [name for name in selected if name not in CHECKERS]
    if unknown:
        raise ValueError(f"unknown checker(s): {', '.join(unknown)}; "
                         f"known: {', '.join(CHECKERS)}")
    results = {name: CHECKERS[name](run) for name in selected}
    return {"valid": merge_valid(result["valid"] for result in results.values()),
            "checkers": results, "failover_s": failover_summary(run),
            "leader_failover_s": leader_failover_summary(run)}
