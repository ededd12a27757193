"""Final placement after one transition, in the compact format of the conformance corpus.

Role: `final_placement_from_cib(xml_text)` parses a CIB, plans, and returns
{"resources": {id: {"node", "role"}}, "fenced": [...]}. Anonymous clone instances get
canonical numbers (active instances ordered by role Promoted, Unpromoted, Started, then by
natural node order, then the stopped ones), so output does not depend on internal numbering.
Multiply-active resources carry "node": None and "nodes": [...].

Invariant: pure; "now" is an argument (None uses the CIB's execution-date if any).
"""

from __future__ import annotations

from typing import Any

from raftha.cib import parse_cib
from raftha.model.config import Configuration
from raftha.model.status import ClusterStatus
from raftha.scheduler.engine import natural_key
from raftha.scheduler.plan import InstancePlacement, Plan
from raftha.scheduler.planner import plan

ROLE_RANK = {"Promoted": 0, "Unpromoted": 1, "Started": 2}


def placement_entry(placement: InstancePlacement) -> dict[str, Any]:
    nodes = placement.final_nodes
    if len(nodes) > 1:
        return {"node": None, "role": placement.final_role, "nodes": list(nodes)}
    return {"node": nodes[0] if nodes else None,
            "role": placement.final_role if nodes else "Stopped"}


def compact_placement(plan_result: Plan) -> dict[str, Any]:
    resources: dict[str, dict[str, Any]] = {}
    anonymous: dict[str, list[InstancePlacement]] = {}
    for placement in plan_result.placements:
        if placement.anonymous and placement.clone is not None:
            anonymous.setdefault(placement.clone, []).append(placement)
            continue
        if placement.primitive.startswith("#orphan:") and not placement.final_nodes:
            continue
        resources[placement.resource] = placement_entry(placement)
    for _clone_id, placements in anonymous.items():
        by_instance: dict[str, list[InstancePlacement]] = {}
        for placement in placements:
            instance = placement.group if placement.group else placement.resource
            by_instance.setdefault(instance, []).append(placement)
        instances = list(by_instance.values())

        def instance_key(members: list[InstancePlacement]):
            first = members[0]
            node = first.final_nodes[0] if first.final_nodes else None
            if node is None:
                return (1, 9, [])
            return (0, ROLE_RANK.get(first.final_role, 3), natural_key(node))
        instances.sort(key=instance_key)
        for number, members in enumerate(instances):
            for placement in members:
                resources[f"{placement.primitive}:{number}"] = placement_entry(placement)
    return {"resources": resources, "fenced": sorted(plan_result.fenced)}


def final_placement(config: Configuration, status: ClusterStatus) -> dict[str, Any]:
    return compact_placement(plan(config, status))


def final_placement_from_cib(xml_text: str, now: int | None = None) -> dict[str, Any]:
    """Compact final placement of a Pacemaker CIB (configuration + status)."""
    config, status = parse_cib(xml_text)
    if now is not None and status.now is None:
        status = ClusterStatus(have_quorum=status.have_quorum, now=now, dc_node=status.dc_node,
                               nodes=status.nodes, tickets=status.tickets)
    return final_placement(config, status)
