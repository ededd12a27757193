"""plan(config, status) -> Plan: runs the engine and turns its working state into a Plan.

Role: the public entry point of the scheduler. The Plan carries, for every resource
instance, where it is and where it ends after this transition; the actions of the transition
(probe, stop, demote, start, promote, recurring monitor, fence), each marked runnable or
blocked with a reason; the orderings between them; and a per-instance explanation.

Invariant: pure and deterministic; the Plan lists instances in configuration order and
actions in a stable order (fencing first, then by resource).
"""

from __future__ import annotations

import itertools

from raftha.model.config import Configuration, Primitive, normalize_role
from raftha.model.status import ClusterStatus
from raftha.scheduler.engine import Resource, Scheduler
from raftha.scheduler.migration import migrate_actions
from raftha.scheduler.notify import add_notifications
from raftha.scheduler.plan import Action, Explanation, InstancePlacement, Plan
from raftha.scheduler.rules import parse_interval_ms

MIGRATION_VERBS = {"migrate_to": "stop", "migrate_from": "start"}


def plan(config: Configuration, status: ClusterStatus) -> Plan:
    """The scheduler's decision: placement, actions, orderings, fencing, explanations."""
    engine = Scheduler(config, status).run()
    placements: list[InstancePlacement] = []
    actions: list[Action] = []
    explanations: list[Explanation] = []
    for node in engine.fenced:
        actions.append(Action(key=f"fence:{node}", verb="fence", resource=None, node=node,
                              runnable=True, reason=engine.nodes[node].unclean_reason))
    probe_nodes = _probe_nodes(engine)
    for resource in engine.resources:
        for primitive in resource.primitives():
            placements.append(_placement(engine, resource, primitive))
            actions.extend(migrate_actions(engine, primitive,
                                           _actions(engine, primitive, probe_nodes)))
            explanations.append(_explanation(primitive))
    node_states = tuple((name, info.state_name()) for name, info in engine.sorted_nodes())
    return add_notifications(Plan(
        placements=tuple(placements),
        actions=tuple(actions),
        orderings=tuple(_orderings(engine, actions)),
        fenced=tuple(engine.fenced),
        explanations=tuple(explanations),
        node_states=node_states,
        warnings=tuple(engine.warnings),
    ), config, status)


def _orderings(engine: Scheduler, actions: list[Action]) -> list[tuple[str, str]]:
    """Pairs (before, after) of action keys: fencing first, probes before starts, stops
    before starts, starts before promotes, demotes before stops, group members in order,
    and the configured orderings (start forward, stop in reverse)."""
    by_resource: dict[str, dict[str, list[str]]] = {}
    for action in actions:
        if action.resource is not None:
            # A live migration stands for the stop (migrate_to) and the start (migrate_from).
            verb = MIGRATION_VERBS.get(action.verb, action.verb)
            by_resource.setdefault(action.resource, {}).setdefault(verb, []).append(
                action.key)
    fence_keys = [action.key for action in actions if action.verb == "fence"]
    pairs: list[tuple[str, str]] = []

    def link(first: list[str], then: list[str]) -> None:
        pairs.extend(itertools.product(first, then))

    for verbs in by_resource.values():
        link(fence_keys, verbs.get("start", []) + verbs.get("stop", []))
        link(verbs.get("probe", []), verbs.get("start", []))
        link(verbs.get("demote", []), verbs.get("stop", []))
        link(verbs.get("stop", []), verbs.get("start", []))
        link(verbs.get("start", []), verbs.get("promote", []) + verbs.get("monitor", []))
        link(verbs.get("reload", []), verbs.get("monitor", []))
        link(verbs.get("promote", []), verbs.get("monitor", []))

    def keys(resource_id: str, verb: str) -> list[str]:
        resource = engine.by_id.get(resource_id)
        if resource is None:
            return []
        return [key for primitive in resource.primitives()
                for key in by_resource.get(primitive.id, {}).get(verb, [])]

    for then_id, firsts in sorted(engine.order_index.items()):
        for first, _kind in firsts:
            if first.config is None:
                continue
            link(keys(first.id, "start"), keys(then_id, "start"))
    for first_id, then_id in engine.symmetric_orders:
        link(keys(first_id, "start"), keys(then_id, "start"))
        link(keys(then_id, "stop"), keys(first_id, "stop"))
    return list(dict.fromkeys(pairs))  # first occurrence of each pair, in order


def _placement(engine: Scheduler, top: Resource, primitive: Resource) -> InstancePlacement:
    final_nodes, final_role = engine.final_state(primitive)
    clone = primitive.clone_parent()
    group = primitive.parent.id if primitive.parent is not None and (
        primitive.parent.variant == "group") else None
    primitive_id = primitive.config.id if not primitive.orphan else "#orphan:" + primitive.id
    return InstancePlacement(
        resource=primitive.id,
        primitive=primitive_id,
        clone=clone.id if clone is not None else None,
        group=group,
        anonymous=clone is not None and not clone.unique,
        current_nodes=tuple(primitive.running_on),
        current_role=primitive.role,
        target_node=primitive.assigned,
        target_role=primitive.next_role or "Stopped",
        final_nodes=final_nodes,
        final_role=final_role,
        managed=primitive.managed,
        failed=primitive.failed,
        blocked=primitive.blocked or (primitive.assigned is not None
                                      and not primitive.start_runnable),
    )


def _probe_nodes(engine: Scheduler) -> list[tuple[str, bool]]:
    """(name, pending) of the nodes that can be probed (online, not unclean), in node
    order: the same for every resource, so computed once per plan."""
    return [(name, info.pending) for name, info in engine.sorted_nodes()
            if info.online and not info.unclean]


def _actions(engine: Scheduler, primitive: Resource,
             probe_nodes: list[tuple[str, bool]]) -> list[Action]:
    found: list[Action] = []
    config = primitive.config
    if primitive.managed and not primitive.orphan:
        primitive_id = primitive.id
        known_on = primitive.known_on
        for name, pending in probe_nodes:
            if name in known_on:
                continue
            found.append(Action(key=f"probe:{primitive_id}:{name}", verb="probe",
                                resource=primitive_id, node=name, runnable=not pending,
                                reason="node is pending" if pending else ""))
    for node, runnable in sorted(primitive.stop_runnable.items()):
        implied = node in engine.fenced or engine.node_gone(node)
        reason = "implied by fencing" if node in engine.fenced else (
            "node is down" if implied else ("" if runnable else "stop cannot run"))
        reason = reason or primitive.parameter_restarts.get(node, "")
        if primitive.role == "Promoted" and not implied:
            found.append(Action(key=f"demote:{primitive.id}:{node}", verb="demote",
                                resource=primitive.id, node=node, runnable=runnable))
        found.append(Action(key=f"stop:{primitive.id}:{node}", verb="stop",
                            resource=primitive.id, node=node, runnable=runnable, reason=reason))
    target = primitive.assigned
    if target is not None and primitive.managed and (
            target not in primitive.running_on or target in primitive.stop_runnable):
        found.append(Action(key=f"start:{primitive.id}:{target}", verb="start",
                            resource=primitive.id, node=target,
                            runnable=primitive.start_runnable,
                            reason=primitive.parameter_restarts.get(target, "")
                            if primitive.start_runnable else "blocked"))
    for node, reason in sorted(primitive.parameter_reloads.items()):
        found.append(Action(key=f"reload:{primitive.id}:{node}", verb="reload",
                            resource=primitive.id, node=node, runnable=primitive.managed,
                            reason=reason))
    final_nodes, final_role = engine.final_state(primitive)
    if target is not None and primitive.managed:
        if primitive.next_role == "Promoted" and primitive.role != "Promoted":
            found.append(Action(key=f"promote:{primitive.id}:{target}", verb="promote",
                                resource=primitive.id, node=target,
                                runnable=primitive.promote_runnable and final_role == "Promoted",
                                reason="" if final_role == "Promoted" else "blocked"))
        if (primitive.next_role in ("Unpromoted", "Started") and primitive.role == "Promoted"
                and target in primitive.running_on and target not in primitive.stop_runnable):
            found.append(Action(key=f"demote:{primitive.id}:{target}", verb="demote",
                                resource=primitive.id, node=target, runnable=True))
    if primitive.managed and len(final_nodes) == 1 and isinstance(config, Primitive):
        for operation in config.operations:
            interval_ms = parse_interval_ms(operation.interval)
            role = normalize_role(operation.role)
            if (operation.name != "monitor" or interval_ms <= 0 or not operation.enabled
                    or role not in (None, final_role, "Started" if final_role == "Started"
                                    else None)):
                continue
            found.append(Action(key=f"monitor:{primitive.id}:{final_nodes[0]}:{interval_ms}",
                                verb="monitor", resource=primitive.id, node=final_nodes[0],
                                runnable=True, reason=f"every {interval_ms} ms"))
    return found


def _parameter_changes(primitive: Resource) -> tuple[tuple[str, str, str], ...]:
    found = []
    for kind, changes in (("restart", primitive.parameter_restarts),
                          ("reload", primitive.parameter_reloads),
                          ("reschedule", primitive.parameter_reschedules)):
        found.extend((node, kind, reason) for node, reason in sorted(changes.items()))
    return tuple(found)


def _explanation(primitive: Resource) -> Explanation:
    scores = tuple(sorted(primitive.pre_colocation_scores.items() or primitive.allowed.items()))
    return Explanation(
        resource=primitive.id,
        scores=scores,
        chosen=primitive.assigned,
        decided_by=primitive.decided_by,
        contributions=tuple(primitive.contributions),
        parameter_changes=_parameter_changes(primitive),
    )
