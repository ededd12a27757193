"""Clone notifications (meta notify=true): pre and post notify actions around start, stop,
promote and demote of a clone's instances, with Pacemaker's notify variables.

Role: add to a Plan the notify actions due now, derived (like everything in a plan) from the
committed configuration and status alone:

- pre(OP) on every online node where an instance of the clone is active, while the plan has
  runnable OP actions of the clone and none of an operation before it (demote, stop, start,
  promote: Pacemaker's order); every OP action waits for them. A pre(OP) is done once
  that node recorded a pre(OP) notification after the clone's last post notification and
  last result of another operation (so each round of OP gets its own).
- post(OP) on every online node where an instance is active, once OP results of the clone
  were recorded that the node has not been told of (results newer than its last post(OP)
  notification and not older than its own instance's start there).
- a node's post notifications come before its pre notifications (the previous round ends
  before the next begins), and the clone's operations run one kind after another.

Each notify action carries the variables Pacemaker sets (`notify_type`, `notify_operation`,
and space-separated `notify_{start,stop,promote,demote,active,inactive,promoted,unpromoted}
_{resource,uname}` lists, `notify_all_uname`, `notify_available_uname`, `notify_all_hosts`);
the agent environment adds the old names (master, slave). A pre notification lists the
plan's actions; a post notification lists the recorded results it reports for its own
operation and the plan's actions for the others. A notify result never fails anything.

Invariants: pure and deterministic; nothing here changes placement or the other actions.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from raftha.model.config import Clone, Configuration, Primitive, pairs_get
from raftha.model.status import ClusterStatus, OperationRecord
from raftha.scheduler.plan import Action, InstancePlacement, Notification, Plan

NOTIFIED_OPERATIONS = ("demote", "stop", "start", "promote")
OFFLINE_STATES = ("offline", "unclean")
IMPLIED_REASONS = ("implied by fencing", "node is down")


def notify_record_id(history_id: str, notify_type: str, operation: str) -> str:
    """The history record id of a notification result (one per type and operation)."""
    return f"{history_id}_{notify_type}_notify_{operation}_0"


@dataclass
class CloneView:
    """One notify=true clone during `add_notifications`."""

    clone: str
    placements: list[InstancePlacement]
    online: list[str]
    all_nodes: list[str]
    planned: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    records: dict[str, list[OperationRecord]] = field(default_factory=dict)

    def history_id(self, placement: InstancePlacement) -> str:
        return placement.primitive if placement.anonymous else placement.resource

    def active_on(self, node: str) -> InstancePlacement | None:
        for placement in self.placements:
            if node in placement.current_nodes:
                return placement
        return None

    def target_nodes(self) -> list[str]:
        """Online nodes with an active instance, in node order."""
        return [node for node in self.online if self.active_on(node) is not None]


def _truth(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "yes", "on", "y", "1")


def notify_clones(plan: Plan, configuration: Configuration) -> list[str]:
    """Ids of the clones with notify=true (on the clone or its primitive)."""
    found = []
    for clone_id in dict.fromkeys(item.clone for item in plan.placements if item.clone):
        clone = configuration.find_resource(clone_id)
        if not isinstance(clone, Clone):
            continue
        child = clone.child
        primitive = child if isinstance(child, Primitive) else (
            child.members[0] if child.members else None)
        flag = pairs_get(clone.meta, "notify")
        if flag is None and primitive is not None:
            flag = pairs_get(primitive.meta, "notify")
        if _truth(flag) and (primitive is None or primitive.agent_class != "stonith"):
            found.append(clone_id)
    return found


def _clone_view(plan: Plan, status: ClusterStatus, clone: str) -> CloneView:
    placements = [item for item in plan.placements if item.clone == clone]
    online = [name for name, state in plan.node_states if state not in OFFLINE_STATES]
    view = CloneView(clone, placements, online, [name for name, _ in plan.node_states])
    instances = {item.resource for item in placements}
    for action in plan.actions:
        if (action.resource in instances and action.verb in NOTIFIED_OPERATIONS
                and action.runnable and action.reason not in IMPLIED_REASONS
                and action.node in online):
            view.planned.setdefault(action.verb, []).append((action.resource, action.node))
    history_ids = {view.history_id(item) for item in placements}
    for node_status in status.nodes:
        records = [record for history in node_status.histories
                   if history.resource in history_ids for record in history.operations
                   if record.op_status != -1]
        view.records[node_status.name] = records
    return view


def _notification_records(records: list[OperationRecord], notify_type: str,
                          operation: str) -> list[OperationRecord]:
    suffix = f"_{notify_type}_notify_{operation}_0"
    return [record for record in records
            if record.operation == "notify" and record.id.endswith(suffix)]


def _results(view: CloneView, operation: str) -> list[tuple[int, str, str]]:
    """(call id, instance, node) of the clone's recorded one-shot results of `operation`."""
    found = []
    for node, records in view.records.items():
        for record in records:
            if (record.operation == operation and record.interval_ms == 0
                    and record.id.endswith("_last_0")):
                placement = next((item for item in view.placements
                                  if view.history_id(item) == record.id.rsplit("_last", 1)[0]
                                  and node in (*item.current_nodes, item.target_node)),
                                 None)
                instance = placement.resource if placement else record.id.rsplit("_last", 1)[0]
                found.append((record.call_id, instance, node))
    return sorted(found)


def _activation_call_id(view: CloneView, node: str) -> int:
    """Call id of the last one-shot result of the clone on `node` (it has been active at
    least since then)."""
    calls = [record.call_id for record in view.records.get(node, ())
             if record.interval_ms == 0 and record.operation != "notify"]
    return max(calls, default=-1)


def _last_call(records: list[OperationRecord]) -> int:
    return max((record.call_id for record in records), default=-1)


def _told_through(records: list[OperationRecord]) -> int:
    """The newest result a node's post notifications told it of (a notification records
    the newest result it reported; results recorded while it ran are reported next)."""
    return max((record.notified_through if record.notified_through is not None
                else record.call_id for record in records), default=-1)


def _pre_round_start(view: CloneView, operation: str) -> int:
    """A pre(OP) notification counts for the current round when it is newer than every
    post notification of the clone and every result of another operation."""
    newest = -1
    for records in view.records.values():
        for record in records:
            if record.operation == "notify" and "_post_notify_" in record.id:
                newest = max(newest, record.call_id)
            elif (record.operation in NOTIFIED_OPERATIONS and record.operation != operation
                  and record.interval_ms == 0):
                newest = max(newest, record.call_id)
    return newest


def _pairs(items: list[tuple[str, str]]) -> tuple[str, str]:
    return " ".join(item[0] for item in items), " ".join(item[1] for item in items)


def _variables(view: CloneView, notify_type: str, operation: str,
               reported: list[tuple[str, str]] | None) -> tuple[tuple[str, str], ...]:
    """The notify_* meta attributes (without the CRM_meta_ prefix)."""
    values: dict[str, str] = {"notify_type": notify_type, "notify_operation": operation}
    for name in NOTIFIED_OPERATIONS:
        items = view.planned.get(name, [])
        if reported is not None and name == operation:
            items = reported
        values[f"notify_{name}_resource"], values[f"notify_{name}_uname"] = _pairs(items)
    active = [(item.resource, node) for item in view.placements for node in item.current_nodes]
    promoted = [(item.resource, node) for item in view.placements
                if item.current_role == "Promoted" for node in item.current_nodes]
    unpromoted = [(item.resource, node) for item in view.placements
                  if item.current_role == "Unpromoted" for node in item.current_nodes]
    inactive = [item.resource for item in view.placements if not item.current_nodes]
    values["notify_active_resource"], values["notify_active_uname"] = _pairs(active)
    values["notify_promoted_resource"], values["notify_promoted_uname"] = _pairs(promoted)
    values["notify_unpromoted_resource"], values["notify_unpromoted_uname"] = _pairs(
        unpromoted)
    values["notify_inactive_resource"] = " ".join(inactive)
    values["notify_all_uname"] = " ".join(view.all_nodes)
    values["notify_all_hosts"] = " ".join(view.all_nodes)
    values["notify_available_uname"] = " ".join(view.online)
    return tuple(sorted(values.items()))


def _notify_action(view: CloneView, node: str, notify_type: str, operation: str,
                   reason: str) -> Action:
    instance = view.active_on(node)
    assert instance is not None
    return Action(key=f"notify:{notify_type}:{operation}:{view.clone}:{node}", verb="notify",
                  resource=instance.resource, node=node, runnable=True, reason=reason)


def _post_notifications(view: CloneView) -> list[tuple[Action, Notification]]:
    found = []
    for operation in NOTIFIED_OPERATIONS:
        results = _results(view, operation)
        if not results:
            continue
        for node in view.target_nodes():
            told = _told_through(_notification_records(view.records.get(node, []), "post",
                                                       operation))
            since = _activation_call_id(view, node)
            newest = [(call_id, instance, where) for call_id, instance, where in results
                      if call_id > told and (call_id >= since or where == node)]
            if not newest:
                continue
            reported = [(instance, where) for _, instance, where in newest]
            action = _notify_action(view, node, "post", operation,
                                    f"after {operation} of {' '.join(i for i, _ in reported)}")
            found.append((action, Notification(action.key, "post", operation,
                                               _variables(view, "post", operation,
                                                          reported),
                                               through_call_id=newest[-1][0])))
    return found


def _pre_notifications(view: CloneView) -> list[tuple[Action, Notification]]:
    found = []
    # One operation at a time, in Pacemaker's order (demote, stop, start, promote): the next
    # one is announced once the plan no longer has the previous one.
    operation = next((name for name in NOTIFIED_OPERATIONS if view.planned.get(name)), None)
    if operation is not None:
        planned = view.planned[operation]
        round_start = _pre_round_start(view, operation)
        for node in view.target_nodes():
            told = _last_call(_notification_records(view.records.get(node, []), "pre",
                                                    operation))
            if told > round_start:
                continue
            action = _notify_action(view, node, "pre", operation,
                                    f"before {operation} of {' '.join(i for i, _ in planned)}")
            found.append((action, Notification(action.key, "pre", operation,
                                               _variables(view, "pre", operation, None))))
    return found


def _operation_orderings(plan: Plan, instances: set[str]) -> list[tuple[str, str]]:
    """A notify clone's operations run one after another (demote, stop, start, promote), so
    each is announced, and reported, before the next begins."""
    keys: dict[str, list[str]] = {}
    for action in plan.actions:
        if action.resource in instances and action.verb in NOTIFIED_OPERATIONS:
            keys.setdefault(action.verb, []).append(action.key)
    pairs = []
    for index, first in enumerate(NOTIFIED_OPERATIONS):
        for then in NOTIFIED_OPERATIONS[index + 1:]:
            pairs.extend((before, after) for before in keys.get(first, ())
                         for after in keys.get(then, ()))
    return pairs


def add_notifications(plan: Plan, configuration: Configuration,
                      status: ClusterStatus) -> Plan:
    """The plan with the notify actions due now, their variables and orderings."""
    actions: list[Action] = []
    notifications: list[Notification] = []
    orderings: list[tuple[str, str]] = []
    for clone in notify_clones(plan, configuration):
        view = _clone_view(plan, status, clone)
        posts = _post_notifications(view)
        pres = _pre_notifications(view)
        instances = {item.resource for item in view.placements}
        for action, notification in posts + pres:
            actions.append(action)
            notifications.append(notification)
        for pre, notification in pres:
            orderings.extend((post.key, pre.key) for post, _ in posts if post.node == pre.node)
            orderings.extend((pre.key, action.key) for action in plan.actions
                             if action.resource in instances
                             and action.verb == notification.operation)
        orderings.extend(_operation_orderings(plan, instances))
    if not actions and not orderings:
        return plan
    return replace(plan, actions=plan.actions + tuple(actions),
                   orderings=plan.orderings + tuple(orderings),
                   notifications=plan.notifications + tuple(notifications))
