"""What this node's executor may run now, decided from the committed state and its plan.

Role: the deterministic half of the reconcile loop. Given the committed ClusterState, the
Plan the scheduler derives from it and this node's name, say which actions are this node's
own, whether each one's prerequisites are satisfied, and exactly how to call the agent
(agent spec, parameters, meta attributes, timeout, interval, role, expected rc).

Rules (DESIGN section 6):
- An action is this node's when its node is this node and its verb is probe, start, stop,
  promote, demote or monitor. Fencing belongs to the fencer.
- A prerequisite (an ordering `before -> action`) is satisfied when `before` is no longer in
  the plan: the plan is derived from committed results only, so an action leaves the plan
  exactly when its result is committed. Two exceptions keep that rule exact: a probe is
  satisfied once the node has any committed history for the resource (anonymous clone
  instances share one history, so one probe answers for all of them), and a stop the
  scheduler implies (a lost or fenced node's) runs nowhere, so it is satisfied when its own
  prerequisites (the fencing) are.
- Clone-wide orderings are added to the plan's: every instance's demote before any promote,
  every stop before any start or promote (Pacemaker's demoted/stopped pseudo-actions), so a
  promotable clone never has two Promoted instances on the way.
- Anonymous clone instances run and are recorded under the primitive id (OCF_RESOURCE_INSTANCE
  without ":N"), as Pacemaker does; unique clone instances keep their ":N".
- An orphan (a resource removed from the configuration while active) is stopped with the agent
  and parameters its history on this node recorded (stop-orphan-resources=true).

Invariants: no I/O, no clock; every function returns plain values.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from raftha.model.config import (
    Clone,
    Configuration,
    Group,
    Operation,
    Primitive,
    normalize_role,
    pairs_dict,
)
from raftha.model.deadlines import failure_timeout_due_ms  # noqa: F401 - re-exported
from raftha.model.state import ClusterState
from raftha.scheduler import Action, InstancePlacement, Plan
from raftha.scheduler.digests import configured_parameters, default_timeout_ms
from raftha.scheduler.migration import migration_meta
from raftha.scheduler.rules import parse_interval_ms

OWN_VERBS = ("probe", "start", "stop", "promote", "demote", "monitor", "reload", "notify",
             "migrate_to", "migrate_from")
ONE_SHOT_VERBS = ("probe", "start", "stop", "promote", "demote", "reload", "notify",
                  "migrate_to", "migrate_from")
IMPLIED_STOP_REASONS = ("implied by fencing", "node is down")
ORPHAN_PREFIX = "#orphan:"  # the scheduler's primitive name for a resource no longer configured


@dataclass(frozen=True)
class AgentCall:
    """Everything needed to run one action and to record its result."""

    action_key: str
    verb: str                  # probe | start | stop | promote | demote | monitor
    operation: str             # the agent action: monitor for probes
    history_id: str            # the id results are recorded under (and OCF_RESOURCE_INSTANCE)
    instance: str              # the scheduler's instance id (rsc, rsc:N)
    agent: str                 # class:provider:type
    params: tuple[tuple[str, str], ...]
    meta: tuple[tuple[str, str], ...]
    timeout_ms: int
    interval_ms: int
    role: str                  # Promoted/Unpromoted for role-specific monitors, else ""
    target_rc: int | None      # None for probes (0, 7 and 8 are all answers)
    on_fail: str               # the configured on-fail of this operation ("" default)
    shared: bool = False       # an anonymous clone instance (one history id, many nodes)
    # The parameters its digest covers (raftha.scheduler.digests), recorded with the result.
    digest_parameters: tuple[tuple[str, str], ...] = ()
    # A post notification: the newest recorded result it reports (call id).
    notify_through_call_id: int | None = None


def own_actions(plan: Plan, node: str) -> list[Action]:
    """This node's runnable or blocked actions, in plan order."""
    return [action for action in plan.actions
            if action.node == node and action.verb in OWN_VERBS and action.resource]


def prerequisites(plan: Plan) -> dict[str, list[str]]:
    """action key -> keys that must be done before it: the plan's orderings and the
    clone-wide ones (every instance's demote before any promote, every stop before any
    start or promote), so a promotable clone never has two Promoted instances on the way."""
    before: dict[str, list[str]] = {}
    for first, then in (*plan.orderings, *clone_orderings(plan)):
        before.setdefault(then, []).append(first)
    return before


def clone_orderings(plan: Plan) -> list[tuple[str, str]]:
    clone_of = {item.resource: item.clone for item in plan.placements if item.clone}
    keys: dict[tuple[str, str], list[str]] = {}
    for action in plan.actions:
        clone = clone_of.get(action.resource or "")
        if clone is not None:
            keys.setdefault((clone, action.verb), []).append(action.key)
    pairs: list[tuple[str, str]] = []
    for clone in sorted(set(clone_of.values())):
        for first_verb, then_verb in (("demote", "promote"), ("stop", "start"),
                                      ("stop", "promote")):
            pairs.extend((first, then) for first in keys.get((clone, first_verb), ())
                         for then in keys.get((clone, then_verb), ()))
    return pairs


def history_id_of(placement: InstancePlacement | None, instance: str) -> str:
    """Anonymous clone instances share the primitive's id; everything else keeps its own."""
    if placement is not None and placement.anonymous:
        return placement.primitive
    return instance


class PlanView:
    """A plan with the lookups the executor needs (built once per committed state)."""

    def __init__(self, state: ClusterState, plan: Plan, configuration: Configuration,
                 node: str) -> None:
        self.state = state
        self.plan = plan
        self.configuration = configuration
        self.node = node
        self.by_key = {action.key: action for action in plan.actions}
        self.before = prerequisites(plan)
        self.placements = {item.resource: item for item in plan.placements}
        self.notifications = {item.key: item for item in plan.notifications}

    def history_id(self, instance: str) -> str:
        return history_id_of(self.placements.get(instance), instance)

    def has_history(self, node: str, history_id: str) -> bool:
        return any(history.resource == history_id for history in self.state.histories_of(node))

    def satisfied(self, key: str, depth: int = 0) -> bool:
        """Whether the action `key` counts as done for the actions ordered after it."""
        action = self.by_key.get(key)
        if action is None:
            return True
        if depth > 64:
            return False  # an ordering cycle: nothing waiting on it may run
        if action.verb == "probe" and action.resource and action.node:
            return self.has_history(action.node, self.history_id(action.resource))
        if action.verb == "monitor":
            return True
        if action.verb == "stop" and action.reason in IMPLIED_STOP_REASONS:
            return all(self.satisfied(first, depth + 1) for first in self.before.get(key, ()))
        return False

    def ready(self, action: Action) -> bool:
        """Runnable, and everything ordered before it is done."""
        return action.runnable and all(self.satisfied(first)
                                       for first in self.before.get(action.key, ()))

    def own(self) -> list[Action]:
        return own_actions(self.plan, self.node)

    def call_for(self, action: Action) -> AgentCall | None:
        """How to run `action`, or None when its resource is neither a configured primitive
        nor an orphan this node has a history of."""
        instance = action.resource or ""
        placement = self.placements.get(instance)
        if placement is None:
            return None
        if placement.primitive.startswith(ORPHAN_PREFIX):
            found = self.orphan_primitive(placement, action)
        else:
            found = self.configuration.find_resource(placement.primitive)
        if not isinstance(found, Primitive):
            return None
        call = build_call(self.configuration, found, placement, action)
        if placement.primitive.startswith(ORPHAN_PREFIX):
            # Each node stops its own copy at once: an orphaned clone may run on several,
            # and a claim on the same history id must not make them wait for each other.
            call = replace(call, shared=True)
        notification = self.notifications.get(action.key)
        if notification is not None:
            # A notification runs with the clone's notify_* variables as meta attributes.
            meta = {**dict(call.meta), **dict(notification.variables)}
            call = replace(call, meta=tuple(sorted(meta.items())), digest_parameters=(),
                           notify_through_call_id=notification.through_call_id)
        return call

    def orphan_primitive(self, placement: InstancePlacement,
                         action: Action) -> Primitive | None:
        """A resource removed from the configuration while active, as its history on this
        node recorded it (agent, last configured parameters): enough to stop or demote it.
        Nothing else is ever run for an orphan."""
        if action.verb not in ("stop", "demote") or action.node != self.node:
            return None
        history = next((item for item in self.state.histories_of(self.node)
                        if item.resource == placement.resource), None)
        if history is None or not history.agent_class or not history.agent_type:
            return None
        return Primitive(id=placement.resource, agent_class=history.agent_class,
                         agent_type=history.agent_type, provider=history.provider,
                         params=history.parameters)

    def probe_calls(self) -> list[AgentCall]:
        """One probe per history id of every configured resource (start-up re-probe)."""
        calls: dict[str, AgentCall] = {}
        for placement in self.plan.placements:
            if placement.primitive.startswith(ORPHAN_PREFIX):
                continue
            found = self.configuration.find_resource(placement.primitive)
            if not isinstance(found, Primitive) or found.agent_class == "stonith":
                continue
            history_id = history_id_of(placement, placement.resource)
            if history_id in calls:
                continue
            action = Action(key=f"probe:{placement.resource}:{self.node}", verb="probe",
                            resource=placement.resource, node=self.node, runnable=True)
            calls[history_id] = build_call(self.configuration, found, placement, action)
        return list(calls.values())


def build_call(configuration: Configuration, primitive: Primitive,
               placement: InstancePlacement, action: Action) -> AgentCall:
    verb = action.verb
    interval_ms = 0
    role = ""
    operation_name = "monitor" if verb == "probe" else verb
    configured: Operation | None = None
    if verb == "monitor":
        interval_ms = int(action.key.rsplit(":", 1)[1])
        configured = find_operation(primitive, "monitor", interval_ms)
        role = normalize_role(configured.role) or "" if configured is not None else ""
    elif verb == "probe":
        configured = find_operation(primitive, "monitor", 0)
    else:
        configured = find_operation(primitive, verb, 0)
    timeout_ms = operation_timeout_ms(configuration, primitive, configured, verb)
    params = dict(pairs_dict(primitive.params))
    if configured is not None:
        # Operation instance attributes (OCF_CHECK_LEVEL...) reach the agent as parameters.
        params.update(pairs_dict(configured.attributes))
    target_rc: int | None = 0
    if verb == "probe":
        target_rc = None
    elif verb == "monitor" and role == "Promoted":
        target_rc = 8
    digested = configured_parameters(configuration, primitive, pairs_dict(primitive.params),
                                     "start" if verb == "reload" else operation_name,
                                     interval_ms)
    return AgentCall(
        action_key=action.key, verb=verb, operation=operation_name,
        history_id=history_id_of(placement, placement.resource),
        instance=placement.resource, agent=primitive.agent,
        params=tuple(sorted(params.items())),
        meta=tuple(sorted({**agent_meta(configuration, primitive, placement),
                           **migration_meta(verb, action.node, placement.current_nodes,
                                            placement.target_node)}.items())),
        timeout_ms=timeout_ms, interval_ms=interval_ms, role=role, target_rc=target_rc,
        on_fail=(configured.on_fail or "") if configured is not None else "",
        shared=placement.anonymous,
        digest_parameters=tuple(sorted(digested.items())),
    )


def find_operation(primitive: Primitive, name: str, interval_ms: int) -> Operation | None:
    for operation in primitive.operations:
        if operation.name == name and parse_interval_ms(operation.interval) == interval_ms:
            return operation
    return None


def operation_timeout_ms(configuration: Configuration, primitive: Primitive,
                         configured: Operation | None, verb: str) -> int:
    """The op's timeout, else (probes) the most frequent monitor's, else op_defaults, else
    20 s (Pacemaker's rule)."""
    if configured is not None and configured.timeout:
        return max(1, parse_interval_ms(configured.timeout))
    if verb == "probe":
        monitors = sorted((parse_interval_ms(item.interval), item) for item in primitive.operations
                          if item.name == "monitor" and item.timeout
                          and parse_interval_ms(item.interval) > 0)
        if monitors:
            return max(1, parse_interval_ms(monitors[0][1].timeout))
    return default_timeout_ms(configuration)


def agent_meta(configuration: Configuration, primitive: Primitive,
               placement: InstancePlacement) -> dict[str, str]:
    """Meta attributes as Pacemaker passes them: the resource's own (inherited from its
    group and clone), and the clone context (clone number, clone-max, promotable...)."""
    meta: dict[str, str] = {}
    clone = configuration.find_resource(placement.clone) if placement.clone else None
    group = configuration.find_resource(placement.group) if placement.group else None
    if isinstance(clone, Clone):
        meta.update(pairs_dict(clone.meta))
    if isinstance(group, Group):
        meta.update(pairs_dict(group.meta))
    meta.update(pairs_dict(primitive.meta))
    meta.pop("target-role", None)
    if isinstance(clone, Clone):
        node_count = max(1, len(configuration.nodes))
        number = placement.resource.rsplit(":", 1)[1] if ":" in placement.resource else "0"
        meta["clone"] = number
        meta.setdefault("clone-max", str(node_count))
        meta.setdefault("clone-node-max", "1")
        meta.setdefault("globally-unique", "false")
        meta.setdefault("notify", "false")
        if clone.promotable or meta.get("promotable", "false").lower() in ("true", "yes", "1"):
            meta["promotable"] = "true"
            meta.setdefault("promoted-max", meta.get("master-max", "1"))
            meta.setdefault("promoted-node-max", meta.get("master-node-max", "1"))
    return meta
