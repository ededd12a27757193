"""plan(config, status) -> Plan: runs the engine and turns its working state into a Plan.

Invariant: pure and deterministic; the Plan lists instances in configuration order.
"""

from __future__ import annotations

from raftha.model.config import Configuration
from raftha.model.status import ClusterStatus
from raftha.scheduler.engine import Resource, Scheduler
from raftha.scheduler.plan import Action, Explanation, InstancePlacement, Plan


def plan(config: Configuration, status: ClusterStatus) -> Plan:
    """The scheduler's decision: placement, actions, orderings, fencing, explanations."""
    engine = Scheduler(config, status).run()
    placements: list[InstancePlacement] = []
    actions: list[Action] = []
    explanations: list[Explanation] = []
    for resource in engine.resources:
        for primitive in resource.primitives():
            placements.append(_placement(engine, resource, primitive))
            actions.extend(_actions(engine, primitive))
            explanations.append(_explanation(primitive))
    for node in engine.fenced:
        actions.insert(0, Action(key=f"fence:{node}", verb="fence", resource=None, node=node,
                                 runnable=True, reason=engine.nodes[node].unclean_reason))
    node_states = tuple((name, info.state_name()) for name, info in engine.sorted_nodes())
    orderings = []
    fence_keys = [a.key for a in actions if a.verb == "fence"]
    for action in actions:
        if action.verb == "stop":
            start_key = f"start:{action.resource}:"
            for other in actions:
                if other.key.startswith(start_key):
                    orderings.append((action.key, other.key))
        if action.verb == "start":
            orderings.extend((fence_key, action.key) for fence_key in fence_keys)
    return Plan(
        placements=tuple(placements),
        actions=tuple(actions),
        orderings=tuple(orderings),
        fenced=tuple(engine.fenced),
        explanations=tuple(explanations),
        node_states=node_states,
        warnings=tuple(engine.warnings),
    )


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


def _actions(engine: Scheduler, primitive: Resource) -> list[Action]:
    found: list[Action] = []
    for node, runnable in sorted(primitive.stop_runnable.items()):
        found.append(Action(key=f"stop:{primitive.id}:{node}", verb="stop",
                            resource=primitive.id, node=node, runnable=runnable,
                            reason="" if runnable else "stop cannot run"))
    target = primitive.assigned
    if target is not None and primitive.managed and (
            target not in primitive.running_on or target in primitive.stop_runnable):
        found.append(Action(key=f"start:{primitive.id}:{target}", verb="start",
                            resource=primitive.id, node=target,
                            runnable=primitive.start_runnable,
                            reason="" if primitive.start_runnable else "blocked"))
    if target is not None and primitive.managed:
        if primitive.next_role == "Promoted" and primitive.role != "Promoted":
            found.append(Action(key=f"promote:{primitive.id}:{target}", verb="promote",
                                resource=primitive.id, node=target,
                                runnable=primitive.promote_runnable))
        if primitive.next_role in ("Unpromoted", "Stopped") and primitive.role == "Promoted":
            for node in primitive.running_on:
                found.append(Action(key=f"demote:{primitive.id}:{node}", verb="demote",
                                    resource=primitive.id, node=node, runnable=True))
    return found


def _explanation(primitive: Resource) -> Explanation:
    scores = tuple(sorted(primitive.pre_colocation_scores.items() or primitive.allowed.items()))
    return Explanation(
        resource=primitive.id,
        scores=scores,
        chosen=primitive.assigned,
        decided_by=primitive.decided_by,
        contributions=tuple(primitive.contributions),
    )
