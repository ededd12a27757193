"""Control API operations for operators' read-only questions: verify a configuration text,
export a Pacemaker CIB, explain a placement and find why a resource moved.

    configure_verify {"text", "mode"?}     -> {"problems": [str], "line"?, "column"?}
                                              (the text merged onto the live configuration
                                              as `configure_load` would; nothing committed)
    cib_export       {}                    -> {"xml", "index"}  (configuration and status as
                                              a CIB that crm_mon and crmsh read offline)
    explain          {"resource", "at"?}   -> {"index", "at", "explanations": [...],
                                              "last_change": {...}|null}
    why_moved        {"resource", "depth"?} -> {"moves": [{index, kind, summary, user,
                                              ts_ms, before, after, explanations}],
                                              "scanned": N}  (newest first)
    node_utilization {"node", "name", "value"|null} -> {"index"}  (a node's capacity,
                                              e.g. cpu=4; null removes it; one committed
                                              configuration change)

Invariants: none of these proposes anything; the rebuilt states come from the node's
history journal with the same pure reducer; why_moved replays at most `depth` entries
(bounded, default 200), reading the journal once, and the scheduler runs once per entry
scanned.
"""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import raftha
from raftha.cib import write_cib
from raftha.crmsh import CrmSyntaxError, load_configuration, verify
from raftha.daemon.history import ENTRY, SNAPSHOTS, row_for
from raftha.daemon.views import leader_name
from raftha.model.config import Node as ConfiguredNode
from raftha.model.properties import READ_ONLY_PROPERTIES, validate_property
from raftha.model.reducer import QUIET_KINDS, apply, stored_configuration
from raftha.model.scheduler_inputs import scheduler_inputs
from raftha.model.state import EMPTY_STATE, ClusterState, decode_snapshot
from raftha.scheduler import plan

DEFAULT_WHY_DEPTH = 200
MAX_WHY_DEPTH = 5000
# The newest feature set the Debian 2.1.5 tools read (3.16.2 makes them refuse the file).
EXPORT_FEATURE_SET = "3.16.1"


def problems_of(state: ClusterState, text: str, mode: str) -> dict[str, Any]:
    try:
        configuration = load_configuration(stored_configuration(state), text, mode)
    except CrmSyntaxError as error:
        return {"problems": [str(error)], "line": error.line, "column": error.column}
    problems = verify(configuration)
    for name, value in configuration.properties:
        if name in READ_ONLY_PROPERTIES:
            continue
        problem = validate_property(name, value)
        if problem is not None:
            problems.append(problem)
    return {"problems": problems, "resources": len(configuration.all_primitives())}


def export_cib(state: ClusterState, leader: str | None, have_quorum: bool) -> str:
    configuration, status = scheduler_inputs(state, have_quorum)
    status = replace(status, feature_set=EXPORT_FEATURE_SET, dc_node=leader)
    root = ElementTree.fromstring(write_cib(configuration, status))
    # The configuration index is the real epoch; "now" of a live cluster is the wall clock
    # of whoever reads the file, not a simulation date.
    root.set("epoch", str(max(1, state.configuration_index)))
    root.attrib.pop("execution-date", None)
    options = root.find("configuration/crm_config/cluster_property_set")
    if options is not None:
        # What crm_mon prints as "Stack" and "version"; dropped again on import.
        for name, value in (("dc-version", f"raftha-{raftha.__version__}"),
                            ("cluster-infrastructure", "raftha")):
            if value and options.find(f"nvpair[@name='{name}']") is None:
                ElementTree.SubElement(options, "nvpair", {
                    "id": f"cib-bootstrap-options-{name}", "name": name, "value": value})
    change = state.last_change
    if change is not None and change.ts_ms:
        written = datetime.datetime.fromtimestamp(change.ts_ms / 1000, tz=datetime.UTC)
        root.set("cib-last-written", written.strftime("%a %b %d %H:%M:%S %Y"))
        root.set("update-origin", change.origin)
        root.set("update-client", change.kind)
        root.set("update-user", change.user or "root")
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode") + "\n"


def instance_matches(instance: str, resource: str) -> bool:
    return instance == resource or instance.split(":")[0] == resource


def explanations_of(state: ClusterState, resource: str, have_quorum: bool = True
                    ) -> list[dict[str, Any]]:
    configuration, status = scheduler_inputs(state, have_quorum)
    result = plan(configuration, status)
    found = []
    for explanation in result.explanations:
        placement = result.placement(explanation.resource)
        if not instance_matches(explanation.resource, resource) and not (
                placement is not None and resource in (placement.group, placement.clone)):
            continue
        found.append({
            "resource": explanation.resource,
            "scores": [list(item) for item in explanation.scores],
            "chosen": explanation.chosen,
            "decided_by": explanation.decided_by,
            "contributions": [list(item) for item in explanation.contributions],
            "parameter_changes": [list(item) for item in explanation.parameter_changes],
            "current_nodes": list(placement.current_nodes) if placement else [],
            "current_role": placement.current_role if placement else "Stopped",
            "target_node": placement.target_node if placement else None,
            "target_role": placement.target_role if placement else "Stopped",
        })
    return found


def targets_of(state: ClusterState, resource: str) -> dict[str, str | None]:
    if not state.configuration_bytes:
        return {}
    return {item["resource"]: item["target_node"]
            for item in explanations_of(state, resource)}


def replayed_window(history: Any, depth: int) -> Iterator[tuple[Any, ClusterState]]:
    """(None, state before the window) then (entry record, state after it) for the last
    `depth` entries of the journal, replayed forward once from the nearest checkpoint
    (one read of the journal, one reducer pass). A snapshot restored from the leader inside
    the window yields (None, its state) again: what came before it is unknown here."""
    records = history.records()
    entries = [position for position, record in enumerate(records)
               if record.record_type == ENTRY]
    if not entries:
        return
    first = entries[-depth:][0]
    start = 0
    for position in range(first, -1, -1):
        if records[position].record_type in SNAPSHOTS:
            start = position
            break
    state = EMPTY_STATE
    for position in range(start, len(records)):
        record = records[position]
        if record.record_type in SNAPSHOTS:
            state = decode_snapshot(record.payload)
            if position >= first:
                yield None, state
            continue
        if position == first:
            yield None, state
        state = apply(state, record.index, record.payload)
        if position >= first:
            yield record, state


def operator_operations(api: Any) -> dict[str, Callable[[dict, str], Any]]:
    from raftha.daemon.api import RequestError, allow, integer_arg, string_arg

    def configure_verify(args: dict, user: str) -> dict:
        allow(args, "text", "mode")
        mode = args.get("mode", "update")
        if mode not in ("update", "replace"):
            raise RequestError("mode must be 'update' or 'replace'")
        return problems_of(api.machine.state, string_arg(args, "text"), mode)

    def cib_export(args: dict, user: str) -> dict:
        allow(args)
        raft_status = api.raft.status()
        leader = leader_name(api.machine.state, raft_status.leader, api.fallback_names())
        state = api.machine.state
        return {"xml": export_cib(state, leader, bool(raft_status.has_quorum)),
                "index": state.last_index}

    def require_resource(state: ClusterState, resource: str) -> None:
        if not state.configuration_bytes or (
                stored_configuration(state).find_resource(resource) is None):
            raise RequestError(f"no resource {resource!r} in the configuration")

    def explain(args: dict, user: str) -> dict:
        allow(args, "resource", "at")
        resource = string_arg(args, "resource")
        at = args.get("at")
        if at is None:
            state = api.machine.state
            have_quorum = bool(api.raft.status().has_quorum)
        else:
            at = integer_arg(args, "at", minimum=0)
            api.require_history()
            state = api.history.state_at(at)
            have_quorum = True
        require_resource(state, resource)
        change = state.last_change
        return {"index": state.last_index, "at": at,
                "explanations": explanations_of(state, resource, have_quorum),
                "last_change": None if change is None else {
                    "index": change.index, "kind": change.kind, "user": change.user,
                    "origin": change.origin, "ts_ms": change.ts_ms}}

    def why_moved(args: dict, user: str) -> dict:
        allow(args, "resource", "depth")
        resource = string_arg(args, "resource")
        depth = integer_arg(args, "depth", minimum=1, default=DEFAULT_WHY_DEPTH,
                            maximum=MAX_WHY_DEPTH)
        require_resource(api.machine.state, resource)
        api.require_history()
        moves = []
        scanned = 0
        previous: dict[str, str | None] | None = None
        for record, state in replayed_window(api.history, depth):
            if record is None:  # the state just before the window (or a restored snapshot)
                previous = targets_of(state, resource)
                continue
            scanned += 1
            targets = targets_of(state, resource)
            if previous is not None and targets != previous and record.status == "applied":
                moves.append(move_record(row_for(record), previous, targets, state, resource))
            previous = targets
        moves.reverse()  # newest first
        return {"moves": moves, "scanned": scanned}

    def move_record(row, before, after, state, resource) -> dict:
        return {"index": row.index, "kind": row.kind, "summary": row.summary,
                "user": row.user, "origin": row.origin, "ts_ms": row.ts_ms,
                "quiet": row.kind in QUIET_KINDS, "before": before, "after": after,
                "explanations": explanations_of(state, resource)}

    def node_utilization(args: dict, user: str) -> dict:
        allow(args, "node", "name", "value")
        node, name = string_arg(args, "node"), string_arg(args, "name")
        value = args.get("value")
        if value is not None and not isinstance(value, str):
            raise RequestError("argument 'value' must be a string or null")
        api.require_member(node)
        words = f"{name}={value}" if value is not None else f"{name} removed"
        return api.edit_configuration(
            lambda configuration: with_node_utilization(configuration, node, name, value),
            f"node {node} utilization {words}", user)

    return {"configure_verify": configure_verify, "cib_export": cib_export,
            "explain": explain, "why_moved": why_moved, "node_utilization": node_utilization}


def with_node_utilization(configuration, node: str, name: str, value: str | None):
    """The configuration with node `node`'s utilization `name` set (or removed)."""
    nodes = list(configuration.nodes)
    position = next((index for index, item in enumerate(nodes) if item.name == node), None)
    if position is None:
        nodes.append(ConfiguredNode(name=node, id=node))
        position = len(nodes) - 1
    current = nodes[position]
    pairs = tuple((key, old) for key, old in current.utilization if key != name)
    if value is not None:
        pairs = (*pairs, (name, value))
    nodes[position] = replace(current, utilization=pairs)
    return replace(configuration, nodes=tuple(nodes))

