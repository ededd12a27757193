"""Parameter changes during one scheduling run: restarts, reloads, re-scheduled monitors.

Role: the engine's use of operation digests (see `digests`). For every primitive active on
a node where it stays, compare the recorded operations there with the configuration:

- restart: the resource is stopped and started again on its node, and so is everything
  that must start after it and stays where it runs (later group members, the `then` side
  of mandatory symmetric orderings; for interleaved clones only the instance on the same
  node), each with the reason;
- reload: one `reload` action on that node (the agent's reload-agent or legacy reload);
- reschedule: a recurring op whose parameters changed is cancelled and scheduled again by
  the executor (its signature changes); the plan only explains it.

And for a recorded start or monitor failure whose parameters changed since, the failure no
longer counts against the node (Pacemaker's "clear fail count: resource parameters have
changed").

Invariants: pure; works on the engine's private working objects during `Scheduler.run`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from raftha.model.config import Primitive
from raftha.scheduler.digests import (
    RELOAD,
    RESCHEDULE,
    RESTART,
    DigestCheck,
    active_records,
    compare_record,
    configured_parameters,
    failure_parameters_changed,
    strongest,
)

if TYPE_CHECKING:
    from raftha.scheduler.engine import Resource, Scheduler

MAX_PROPAGATION_ROUNDS = 64


def _histories(engine: Scheduler):
    """(node name, candidate working objects, history) for every history of an online node
    that belongs to a configured primitive. The candidates are the primitive itself, or
    for an anonymous clone (one history per node) every instance of it."""
    instances: dict[str, list[Resource]] = {}
    for primitive in engine.all_primitives():
        clone = primitive.clone_parent()
        if clone is not None and not clone.unique and isinstance(primitive.config, Primitive):
            instances.setdefault(primitive.config.id, []).append(primitive)
    for node_status in engine.status.nodes:
        info = engine.nodes.get(node_status.name)
        if info is None or not info.online:
            continue
        for history in node_status.histories:
            candidates = instances.get(history.resource)
            if candidates is None:
                resource = engine.by_id.get(history.resource)
                candidates = [resource] if resource is not None else []
            candidates = [item for item in candidates if not item.orphan
                          and item.variant == "primitive"
                          and isinstance(item.config, Primitive)]
            if candidates:
                yield info.name, candidates, history


def _parameters(engine: Scheduler, resource: Resource, operation: str, interval_ms: int):
    return configured_parameters(engine.config, resource.config, resource.params, operation,
                                 interval_ms)


def failures_with_changed_parameters(engine: Scheduler) -> set[tuple[str, str]]:
    """(resource id, node) whose last recorded failure ran with other parameters."""
    found: set[tuple[str, str]] = set()
    for node, candidates, history in _histories(engine):
        for record in history.operations:
            if not record.id.endswith("_last_failure_0"):
                continue
            parameters = _parameters(engine, candidates[0], record.operation,
                                     record.interval_ms)
            if failure_parameters_changed(record, parameters):
                found.update((resource.id, node) for resource in candidates)
    return found


def parameter_checks(engine: Scheduler) -> list[tuple[Resource, str, DigestCheck]]:
    """The deciding check of every primitive that stays active on its node, where something
    changed."""
    found = []
    for node, candidates, history in _histories(engine):
        resource = next((item for item in candidates if node in item.running_on), None)
        if resource is None or not _stays(resource, node):
            continue
        checks = [compare_record(record, _parameters(engine, resource, record.operation,
                                                     record.interval_ms))
                  for record in active_records(history.operations)]
        decided = strongest(checks)
        if decided is not None:
            found.append((resource, node, decided))
    return found


def _stays(resource: Resource, node: str) -> bool:
    """Active on `node` and planned to stay there without a stop."""
    return (resource.managed and node in resource.running_on and resource.assigned == node
            and len(resource.running_on) == 1 and not resource.failed
            and resource.next_role != "Stopped")


def plan_parameter_changes(engine: Scheduler) -> None:
    """Marks restarts, reloads and re-scheduled monitors on the engine's primitives."""
    for resource, node, check in parameter_checks(engine):
        if not _stays(resource, node):
            continue  # it stops or moves anyway: the new parameters apply at its start
        if check.kind == RESTART:
            resource.parameter_restarts[node] = check.reason()
        elif check.kind == RELOAD:
            resource.parameter_reloads[node] = check.reason()
        elif check.kind == RESCHEDULE:
            resource.parameter_reschedules[node] = (
                f"{check.reason()} (monitor every {check.interval_ms} ms re-scheduled)")
    _restart_dependents(engine)
    for resource in engine.all_primitives():
        for node in resource.parameter_restarts:
            # A restart applies every change: no reload besides it.
            resource.parameter_reloads.pop(node, None)


def _then_resources(engine: Scheduler, first: Resource) -> list[tuple[Resource, bool]]:
    """Resources that must start after `first` (any of its ancestors) and stop before it:
    (then resource, whether the ordering is between interleaved clones)."""
    ids = set()
    item = first
    while item is not None:
        ids.add(item.id)
        item = item.parent
    found = []
    for first_id, then_id in engine.symmetric_orders:
        if first_id not in ids:
            continue
        then = engine.by_id.get(then_id)
        if then is None:
            continue
        first_top = engine.by_id.get(first_id)
        interleaved = (then.variant == "clone" and first_top is not None
                       and first_top.variant == "clone"
                       and (then.meta.get("interleave") or "").lower() in ("true", "1", "yes"))
        found.append((then, interleaved))
    return found


def _restart_dependents(engine: Scheduler) -> None:
    changed = True
    rounds = 0
    while changed and rounds < MAX_PROPAGATION_ROUNDS:
        changed = False
        rounds += 1
        for first in engine.all_primitives():
            for node in sorted(first.parameter_restarts):
                for then, interleaved in _then_resources(engine, first):
                    for dependent in then.primitives():
                        for where in list(dependent.running_on):
                            if interleaved and where != node:
                                continue
                            if where in dependent.parameter_restarts or not _stays(
                                    dependent, where):
                                continue
                            dependent.parameter_restarts[where] = f"restarted after {first.id}"
                            changed = True
