"""Plain-data views of the cluster state for the Control API (JSON-safe, stable keys).

`status_view` gives the document `raftha status --output json` prints (DESIGN section 8):
    {"cluster": {"name", "leader", "quorum", "commit_index", ...},
     "nodes": {NAME: {"state", ...}}, "resources": {}}
Extra keys live inside "cluster" and inside each node, never at the top level.
"""

from __future__ import annotations

import logging
from typing import Any

from raftha.daemon.executor_views import add_operation_views
from raftha.model.fencing_events import WITNESS_ATTRIBUTE, fencing_status
from raftha.model.lifetimes import lifetime_end_s
from raftha.model.properties import boolean_value
from raftha.model.reducer import stored_configuration
from raftha.model.scheduler_inputs import committed_only, pending_claims, scheduler_inputs
from raftha.model.state import STATE_FORMAT, ClusterState, state_hash
from raftha.scheduler import plan

LOG = logging.getLogger(__name__)


def change_view(state: ClusterState) -> dict[str, Any] | None:
    change = state.last_change
    if change is None:
        return None
    return {"index": change.index, "ts_ms": change.ts_ms, "origin": change.origin,
            "user": change.user, "kind": change.kind}


def leader_name(state: ClusterState, leader_address: str | None,
                fallback_names: dict[str, str]) -> str | None:
    if leader_address is None:
        return None
    record = state.node_by_address(leader_address)
    if record is not None:
        return record.name
    return fallback_names.get(leader_address, leader_address)


def status_view(state: ClusterState, raft_status: Any | None, self_name: str,
                fallback_names: dict[str, str]) -> dict[str, Any]:
    """Live status when `raft_status` is given; a rebuilt past state when it is None."""
    leader = None
    if raft_status is not None:
        leader = leader_name(state, raft_status.leader, fallback_names)
    cluster: dict[str, Any] = {
        "name": state.name or None,
        "leader": leader,
        "quorum": None if raft_status is None else bool(raft_status.has_quorum),
        # The Raft view is refreshed once per tick and may lag what is already applied.
        "commit_index": state.last_index if raft_status is None else max(
            raft_status.commit_index, state.last_index),
        "node": self_name,
        "applied_index": state.last_index,
        "term": None if raft_status is None else raft_status.term,
        "state_hash": state_hash(state),
        "state_format": STATE_FORMAT,
        "last_change": change_view(state),
        "properties": dict(state.properties),
        "rejected_count": state.rejected_count,
        "fencing": fencing_status(state),
    }
    reachable = None
    if raft_status is not None:
        reachable = {raft_status.self_address, *raft_status.connected_peers}
    attributes = configured_node_attributes(state)
    fencing = fencing_enabled(state)
    nodes = {
        node.name: {
            # Transient attributes (standby until reboot) override configured ones, as the
            # scheduler reads them.
            "state": node_state_name(node.state, node.expected,
                                     {**attributes.get(node.name, {}),
                                      **dict(state.transient_of(node.name))},
                                     fencing),
            "address": node.address,
            "leader": node.name == leader,
            "changed_index": node.changed_index,
            "expected": node.expected,
            # This node's own Raft connectivity: live, uncommitted, a hint for operators
            # when the committed state cannot change (no quorum).
            "reachable": None if reachable is None else node.address in reachable,
            "attributes": attributes.get(node.name, {}),
        }
        for node in state.nodes
    }
    have_quorum = True if raft_status is None else bool(raft_status.has_quorum)
    add_operation_views(state, nodes)
    for node in state.nodes:
        nodes[node.name]["transient_attributes"] = dict(state.transient_of(node.name))
    cluster["move_constraints"] = move_constraints_view(state)
    return {"cluster": cluster, "nodes": nodes,
            "resources": resources_view(state, have_quorum)}


def move_constraints_view(state: ClusterState) -> list[dict[str, Any]]:
    """The cli-prefer/cli-ban constraints of `resource move|ban`, with the END of a
    lifetime (seconds since the epoch) while it lives (None: until cleared)."""
    if not state.configuration_bytes:
        return []
    found = []
    for constraint in stored_configuration(state).constraints:
        if not constraint.id.startswith(("cli-prefer-", "cli-ban-")):
            continue
        end_s = lifetime_end_s(constraint)
        rule = constraint.rules[0] if constraint.rules else None
        node = getattr(constraint, "node", None)
        if node is None and rule is not None:
            node = next((term.value for term in rule.terms
                         if getattr(term, "attribute", None) == "#uname"), None)
        found.append({"id": constraint.id, "resource": getattr(constraint, "resource", None),
                      "node": node,
                      "score": getattr(constraint, "score", None) or (rule and rule.score),
                      "expires_s": end_s,
                      "expired": end_s is not None and state.now_ms // 1000 >= end_s})
    return found


def configured_node_attributes(state: ClusterState) -> dict[str, dict[str, str]]:
    if not state.configuration_bytes:
        return {}
    return {node.name: dict(node.attributes) for node in stored_configuration(state).nodes}


def fencing_enabled(state: ClusterState) -> bool:
    """stonith-enabled (Pacemaker 2) or fencing-enabled (Pacemaker 3); true by default."""
    return all(boolean_value(state.property(name) or "true")
               for name in ("stonith-enabled", "fencing-enabled"))


def node_state_name(membership_state: str, expected: str, attributes: dict[str, str],
                    fencing: bool) -> str:
    """crm_mon's words: an online node in standby or maintenance shows that instead; a
    node lost while expected a member is unclean when fencing is enabled (it must be
    fenced before its resources may run elsewhere), plain offline otherwise. A witness
    (attribute witness=true) runs no resources and is never fenced: lost, it is offline."""
    if membership_state != "online":
        witness = boolean_value(attributes.get(WITNESS_ATTRIBUTE, "false"))
        if membership_state == "offline" and expected == "member" and fencing and not witness:
            return "unclean"
        return membership_state
    if boolean_value(attributes.get("maintenance", "false")):
        return "maintenance"
    if boolean_value(attributes.get("standby", "false")):
        return "standby"
    return membership_state


def resources_view(state: ClusterState, have_quorum: bool = True) -> dict[str, Any]:
    """Every configured resource instance: where it runs now and in which role, as the
    scheduler reads the reported operation results, and where it should run."""
    if not state.configuration_bytes:
        return {}
    configuration, status = scheduler_inputs(state, have_quorum)
    # A claimed action's outcome is not shown before its result commits: the claim shows
    # as crm_mon's "Starting node2" instead.
    claims = pending_claims(state)
    try:
        result = plan(configuration, committed_only(status))
    except Exception:  # a scheduler bug must not take status down with it
        LOG.exception("the scheduler failed on the committed state; listing resources only")
        return {primitive.id: {"node": None, "role": "Stopped", "agent": primitive.agent}
                for primitive in configuration.all_primitives()}
    resources = {}
    for placement in result.placements:
        primitive = configuration.find_resource(placement.primitive)
        resources[placement.resource] = {
            "node": placement.current_nodes[0] if placement.current_nodes else None,
            "role": placement.current_role,
            "agent": getattr(primitive, "agent", "") or history_agent(state, placement.resource),
            "nodes": list(placement.current_nodes),
            "target_node": placement.target_node,
            "target_role": placement.target_role,
            "managed": placement.managed,
            "failed": placement.failed,
            # crm_mon groups instances under their group and clone
            "primitive": placement.primitive,
            "group": placement.group,
            "clone": placement.clone,
            "blocked": placement.blocked,
            "disabled": disabled(configuration, placement),
            "pending": [] if placement.anonymous else claims.get(placement.resource, []),
        }
    return resources


def disabled(configuration, placement) -> bool:
    """target-role=Stopped on the resource or on its group or clone (crm_mon's
    "(disabled)")."""
    for resource_id in (placement.primitive, placement.group, placement.clone):
        resource = configuration.find_resource(resource_id) if resource_id else None
        if resource is not None and dict(resource.meta).get("target-role", "").lower() == "stopped":
            return True
    return False


def history_agent(state: ClusterState, resource: str) -> str:
    """class:provider:type of a resource known only from its operation history (an orphan:
    removed from the configuration while still active)."""
    for _node, histories in state.operation_histories:
        for history in histories:
            if history.resource == resource:
                provider = f"{history.provider}:" if history.provider else ""
                return f"{history.agent_class}:{provider}{history.agent_type}"
    return ""


def rejections_view(state: ClusterState) -> list[dict[str, Any]]:
    return [{"index": item.index, "event_id": item.event_id, "kind": item.kind,
             "reason": item.reason} for item in state.rejections]
