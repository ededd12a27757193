"""Live migration (meta allow-migrate=true): migrate_to and migrate_from instead of a stop and
a start when a primitive moves.

Role: Pacemaker's migration, derived like every plan from the committed history alone:

1. the primitive runs on S and moves to T: the plan has migrate_to on S, then migrate_from
   on T (in place of stop on S and start on T; every ordering of the stop applies to the
   migrate_to and of the start to the migrate_from);
2. S recorded a successful migrate_to towards T (a partial migration): only migrate_from on
   T remains;
3. T recorded a successful migrate_from after it: the migration is done, S is a "dangling"
   source. The primitive is active on T alone and a stop on S cleans up.

A migration is planned only for a managed primitive outside groups and clones, running
cleanly on one node, whose stop and start can both run, between two online nodes. An agent
that does not advertise migrate_to/migrate_from is stopped and started instead by the
executor. A failed migrate_to or migrate_from is an ordinary failure (recovery).

Invariants: pure and deterministic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from raftha.model.status import ClusterStatus, OperationRecord
from raftha.scheduler.plan import Action

if TYPE_CHECKING:
    from raftha.scheduler.engine import Resource, Scheduler


def _succeeded(record: OperationRecord) -> bool:
    return record.op_status == 0 and record.rc == 0


def last_one_shot(status: ClusterStatus, node: str, history_id: str) -> OperationRecord | None:
    """The newest recorded one-shot result (not a claim, not a notification) of a resource
    on a node."""
    node_status = status.node(node)
    if node_status is None:
        return None
    for history in node_status.histories:
        if history.resource != history_id:
            continue
        records = [record for record in history.operations
                   if record.interval_ms == 0 and record.op_status != -1
                   and record.operation != "notify" and record.id.endswith("_last_0")]
        return max(records, key=lambda record: record.call_id, default=None)
    return None


def dangling_migrations(status: ClusterStatus) -> set[tuple[str, str]]:
    """(history id, source node) of every migration completed on its target: the source
    only needs a stop."""
    found: set[tuple[str, str]] = set()
    for node_status in status.nodes:
        for history in node_status.histories:
            source = last_one_shot(status, node_status.name, history.resource)
            if (source is None or source.operation != "migrate_to" or not _succeeded(source)
                    or not source.migrate_target):
                continue
            target = last_one_shot(status, source.migrate_target, history.resource)
            if (target is not None and target.operation == "migrate_from"
                    and _succeeded(target) and target.call_id > source.call_id):
                found.add((history.resource, node_status.name))
    return found


def _truth(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "yes", "on", "y", "1")


def _migratable(engine: Scheduler, primitive: Resource) -> tuple[str, str] | None:
    """(source, target) when the primitive can move by live migration now."""
    if (primitive.parent is not None or primitive.orphan or not primitive.managed
            or primitive.failed or primitive.role != "Started"
            or not _truth(primitive.meta.get("allow-migrate"))
            or len(primitive.running_on) != 1):
        return None
    source, target = primitive.running_on[0], primitive.assigned
    if target is None or target == source or source in primitive.stop_failed_on:
        return None
    for name in (source, target):
        info = engine.nodes.get(name)
        if info is None or not info.online or info.unclean or name in engine.fenced:
            return None
    return source, target


def migrate_actions(engine: Scheduler, primitive: Resource, actions: list[Action]) -> list[Action]:
    """`actions` of one primitive with its stop and start replaced by a live migration when
    it can migrate (and the stop dropped when the migrate_to is already done)."""
    found = list(actions)
    for node in sorted(primitive.dangling_on):
        info = engine.nodes.get(node)
        online = info is not None and info.online and not info.unclean
        found.append(Action(key=f"stop:{primitive.id}:{node}", verb="stop",
                            resource=primitive.id, node=node, runnable=online,
                            reason="source of a completed live migration"))
    pair = _migratable(engine, primitive)
    if pair is None:
        return found
    source, target = pair
    stop_key, start_key = f"stop:{primitive.id}:{source}", f"start:{primitive.id}:{target}"
    by_key = {action.key: action for action in found}
    stop, start = by_key.get(stop_key), by_key.get(start_key)
    if stop is None or start is None or not stop.runnable or not start.runnable:
        return found
    done = last_one_shot(engine.status, source, primitive.id)
    partial = (done is not None and done.operation == "migrate_to" and _succeeded(done)
               and done.migrate_target == target)
    replaced = []
    for action in found:
        if action.key == stop_key:
            if partial:
                continue  # migrate_to already done: only migrate_from remains
            action = Action(key=f"migrate_to:{primitive.id}:{source}", verb="migrate_to",
                            resource=primitive.id, node=source, runnable=True,
                            reason=f"live migration to {target}")
        elif action.key == start_key:
            action = Action(key=f"migrate_from:{primitive.id}:{target}", verb="migrate_from",
                            resource=primitive.id, node=target, runnable=True,
                            reason=f"live migration from {source}")
        replaced.append(action)
    return replaced


def migration_meta(verb: str, node: str | None, current_nodes: tuple[str, ...],
                   target_node: str | None) -> dict[str, str]:
    """migrate_source and migrate_target for a migrate_to or migrate_from (the agent reads
    them as OCF_RESKEY_CRM_meta_migrate_*); nothing for other actions."""
    if verb == "migrate_to" and node and target_node:
        return {"migrate_source": node, "migrate_target": target_node}
    if verb == "migrate_from" and node:
        source = next((name for name in current_nodes if name != node), "")
        return {"migrate_source": source, "migrate_target": node} if source else {}
    return {}
