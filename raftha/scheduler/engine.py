"""The placement engine: Pacemaker's scheduler semantics over the configuration and status.

Role: `Scheduler(config, status).run()` unpacks nodes, resources and their operation history,
builds each resource's node scores (base, locations, stickiness, failure bans), assigns
resources in Pacemaker's order (priority, then document order; primaries before their
dependents) with colocation, clone instance distribution and promotion, then decides which
actions can run (quorum, fencing, orderings) and therefore where every instance ends after
one transition.

Invariants: pure and deterministic (every sort has a total tie-break: node names by byte
order, instances by number, resources by document order). Objects here are private, mutable
working state of one run; the result is the frozen `Plan`.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass, field

from raftha.model.config import (
    AttributeSet,
    Clone,
    ColocationConstraint,
    Configuration,
    Group,
    LocationConstraint,
    OrderConstraint,
    Primitive,
    ResourceSet,
    normalize_role,
    pairs_get,
)
from raftha.model.status import ClusterStatus, OperationRecord
from raftha.scheduler.migration import dangling_migrations
from raftha.scheduler.restarts import failures_with_changed_parameters, plan_parameter_changes
from raftha.scheduler.rules import RuleContext, evaluate_rule, parse_interval_ms
from raftha.scheduler.scores import (
    INFINITY,
    add_scores,
    attenuate,
    colocation_factor,
    parse_score,
)

# Probe results Pacemaker reads as "not running" plus a ban (not installed, invalid parameter).
MASKED_PROBE_RCS = (2, 5)
# on-fail values a completed stop (or start) does not clear (Pacemaker's unpack).
LASTING_ON_FAIL = ("stop", "standby")
ROLE_ORDER = {"Unknown": 0, "Stopped": 1, "Started": 2, "Unpromoted": 3, "Promoted": 4}
UNUSABLE_SENTINEL = -100 * INFINITY
UNIQUE_INCAPABLE_CLASSES = ("lsb", "systemd", "service", "upstart", "nagios")


def truth(value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("true", "yes", "on", "y", "1")


def natural_key(name: str) -> list:
    """Case-insensitive order comparing digit runs numerically (Pacemaker's node order)."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part.lower())
            for part in re.findall(r"\d+|\D+", name)]


# ---------------------------------------------------------------- working objects


@dataclass
class NodeInfo:
    name: str
    id: str
    weight: int = 0
    attributes: dict[str, str] = field(default_factory=dict)
    utilization: dict[str, int] = field(default_factory=dict)
    online: bool = False
    unclean: bool = False
    standby: bool = False
    maintenance: bool = False
    shutdown: bool = False
    pending: bool = False
    unclean_reason: str = ""
    seen: bool = False
    num_resources: int = 0
    remaining: dict[str, int] = field(default_factory=dict)

    def available(self) -> bool:
        return (self.online and not self.shutdown and not self.unclean and not self.standby
                and not self.maintenance)

    def state_name(self) -> str:
        if self.unclean:
            return "unclean"
        if not self.online:
            return "offline"
        if self.maintenance:
            return "maintenance"
        if self.standby or self.pending:
            return "standby"
        return "online"


@dataclass
class Colocation:
    id: str
    dependent: Resource
    primary: Resource
    score: int
    dependent_role: str | None
    primary_role: str | None
    node_attribute: str
    influence: bool


@dataclass
class Resource:
    """A primitive, group or clone (or an instance of one) during one scheduling run."""

    id: str
    variant: str
    config: object
    parent: Resource | None = None
    children: list[Resource] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    allowed: dict[str, int] = field(default_factory=dict)
    running_on: list[str] = field(default_factory=list)
    role: str = "Stopped"
    next_role: str | None = None
    failed: bool = False
    managed: bool = True
    blocked: bool = False
    orphan: bool = False
    provisional: bool = True
    allocating: bool = False
    merging: bool = False
    assigned: str | None = None
    this_with: list[Colocation] = field(default_factory=list)
    with_this: list[Colocation] = field(default_factory=list)
    priority: int = 0
    stickiness: int = 0
    migration_threshold: int = INFINITY
    instance_number: int = -1
    order_index: int = 0
    known_on: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    promotion_priority: int = 0
    stop_failed_on: set[str] = field(default_factory=set)
    failure_ignored: bool = False
    exclusive_discovery: bool = False
    contributions: list[tuple[str, str, int]] = field(default_factory=list)
    decided_by: str = ""
    pre_colocation_scores: dict[str, int] = field(default_factory=dict)
    utilization: dict[str, int] = field(default_factory=dict)
    # clone settings
    clone_max: int = 0
    clone_node_max: int = 1
    promoted_max: int = 1
    promoted_node_max: int = 1
    unique: bool = False
    promotable: bool = False
    interleave: bool = False
    # colocations inherited from the parent clone by one instance
    parent_this_with: list[Colocation] = field(default_factory=list)
    parent_with_this: list[Colocation] = field(default_factory=list)
    parent_colocations_added: bool = False
    limit_reached: bool = False
    own_promotion_priority: int | None = None
    stop_everywhere: bool = False
    demote_forced: bool = False
    # action results
    order_blocked: bool = False
    no_quorum_stop: bool = False
    start_runnable: bool = True
    stop_runnable: dict[str, bool] = field(default_factory=dict)
    promote_runnable: bool = True
    # parameter changes (see raftha.scheduler.restarts): node -> reason
    parameter_restarts: dict[str, str] = field(default_factory=dict)
    parameter_reloads: dict[str, str] = field(default_factory=dict)
    parameter_reschedules: dict[str, str] = field(default_factory=dict)
    # nodes where a completed live migration left only a stop to do (raftha.scheduler.migration)
    dangling_on: set[str] = field(default_factory=set)

    @property
    def current_node(self) -> str | None:
        return self.running_on[0] if self.running_on else None

    def primitives(self) -> list[Resource]:
        if self.variant == "primitive":
            return [self]
        found: list[Resource] = []
        for child in self.children:
            found.extend(child.primitives())
        return found

    def top(self) -> Resource:
        item = self
        while item.parent is not None:
            item = item.parent
        return item

    def clone_parent(self) -> Resource | None:
        item = self.parent
        while item is not None:
            if item.variant == "clone":
                return item
            item = item.parent
        return None

    def is_unique_clone_instance(self) -> bool:
        clone = self.clone_parent()
        return clone is not None and clone.unique


class Scheduler:
    """One scheduling run. Call `run()` once."""

    def __init__(self, config: Configuration, status: ClusterStatus) -> None:
        self.config = config
        self.status = status
        self.now = status.now
        self.properties = dict(config.properties)
        self.warnings: list[str] = []
        self.nodes: dict[str, NodeInfo] = {}
        self.resources: list[Resource] = []
        self.by_id: dict[str, Resource] = {}
        self.primitive_by_config_id: dict[str, Resource] = {}
        self.colocations: list[Colocation] = []
        self.fenced: list[str] = []
        self.orderings: list[tuple[str, str]] = []
        self.property_symmetric = truth(self.properties.get("symmetric-cluster"), True)
        self.fencing_enabled = truth(self.properties.get("stonith-enabled"), True)
        self.startup_fencing = truth(self.properties.get("startup-fencing"), True)
        self.have_quorum = status.have_quorum
        self.no_quorum_policy = (self.properties.get("no-quorum-policy") or "stop").lower()
        if self.no_quorum_policy == "suicide":
            self.no_quorum_policy = "fence"
        if self.no_quorum_policy == "fence" and not status.have_quorum and (
                not status.quorum_panic):
            # A partition that never had quorum stops rather than fencing everyone.
            self.no_quorum_policy = "stop"
        self.stop_all = truth(self.properties.get("stop-all-resources"))
        self.maintenance_mode = truth(self.properties.get("maintenance-mode"))
        self.placement_strategy = (self.properties.get("placement-strategy") or "default").lower()
        self.stop_orphans = truth(self.properties.get("stop-orphan-resources"), True)
        self.start_failure_fatal = truth(self.properties.get("start-failure-is-fatal"), True)
        self.has_fencing_device = any(p.agent_class == "stonith" for p in config.all_primitives())
        self.have_watchdog = truth(self.properties.get("have-watchdog"))
        self.legacy_fail_counts = status.feature_set == "" or _version_before(
            status.feature_set, (3, 0, 13))
        self._fillers_by_container: dict[str, list[Resource]] | None = None
        self._sorted_node_names: tuple[tuple[str, ...],
                                       tuple[tuple[str, NodeInfo], ...]] | None = None
        # node name -> resource-name prefix -> [(position, attribute, value)], per pass
        self._failure_attributes: dict[str, dict[str, list[tuple[int, str, str]]]] = {}

    # ============================================================ unpack: nodes

    def unpack_nodes(self) -> None:
        for node in self.config.nodes:
            if node.node_type not in ("member", "normal", ""):
                continue
            info = NodeInfo(name=node.name, id=node.id or node.name,
                            weight=parse_score(node.score, 0))
            info.attributes.update(dict(node.attributes))
            for key, value in node.utilization:
                info.utilization[key] = _int_value(value)
            self.nodes[node.name] = info
        for node_status in self.status.nodes:
            info = self.nodes.get(node_status.name)
            if info is None:
                continue
            info.seen = True
            info.attributes.update(dict(node_status.attributes))
            for key, value in node_status.utilization:
                info.utilization[key] = _int_value(value)
        for info in self.nodes.values():
            info.attributes["#uname"] = info.name
            info.attributes["#id"] = info.id
            info.attributes["#kind"] = "cluster"
            info.attributes["#is_dc"] = "true" if self.status.dc_node == info.name else "false"
            info.remaining = dict(info.utilization)
        for node in self.config.nodes:
            info = self.nodes.get(node.name)
            if info is None:
                continue
            for attribute_set in sorted(node.conditional_attributes,
                                        key=lambda item: -parse_score(item.score, 0)):
                if attribute_set.rule is None or evaluate_rule(
                        attribute_set.rule, RuleContext(info.attributes, self.now)):
                    for key, value in attribute_set.values:
                        info.attributes.setdefault(key, value)
        for node_status in self.status.nodes:
            info = self.nodes.get(node_status.name)
            if info is not None:
                self.determine_online(info, node_status)
        for info in self.nodes.values():
            if not info.seen:
                if self.fencing_enabled and self.startup_fencing:
                    info.unclean = True
                    info.unclean_reason = "node is unclean"
            info.standby = info.standby or truth(info.attributes.get("standby"))
            info.maintenance = truth(info.attributes.get("maintenance"))

    def determine_online(self, info: NodeInfo, node_status) -> None:
        in_cluster = node_status.in_membership
        controller = node_status.controller_online
        join = (node_status.join or "down").lower()
        expected = (node_status.expected or "down").lower()
        shutdown_value = info.attributes.get("shutdown", "0")
        info.shutdown = shutdown_value not in ("", "0", "false")
        terminate_value = info.attributes.get("terminate")
        terminate = truth(terminate_value) or (terminate_value is not None
                                               and terminate_value.isdigit()
                                               and int(terminate_value) > 0)
        if not self.fencing_enabled:
            if not in_cluster:
                return
            if controller:
                if join == "member":
                    info.online = True
                else:
                    info.pending = True
                    info.standby = True
                    info.online = True
            elif expected == "member":
                self.mark_unclean(info, "peer is unexpectedly down")
            return
        if info.shutdown:
            info.online = controller
            return
        if in_cluster is None:
            self.mark_unclean(info, "peer has not been seen by the cluster")
        elif join == "nack":
            self.mark_unclean(info, "peer failed Pacemaker membership criteria")
        elif not terminate and expected == "down":
            if in_cluster or controller:
                info.standby = True
                info.pending = True
                info.online = bool(in_cluster and controller)
        elif terminate and join == "down" and not in_cluster and not controller:
            info.online = False
        elif not in_cluster:
            self.mark_unclean(info, "peer is no longer part of the cluster")
        elif not controller:
            self.mark_unclean(info, "peer process is no longer available")
        elif terminate:
            info.online = True
            self.mark_unclean(info, "termination was requested")
        elif join == "member":
            info.online = True
        elif join in ("pending", "down"):
            info.online = True
            info.standby = True
            info.pending = True
        else:
            self.mark_unclean(info, "peer was in an unknown state")

    def mark_unclean(self, info: NodeInfo, reason: str) -> None:
        if not info.unclean:
            info.unclean = True
            info.unclean_reason = reason

    # ============================================================ unpack: resources

    def defaults_meta(self, primitive: Primitive | None) -> dict[str, str]:
        found: dict[str, str] = {}
        for attribute_set in sorted(self.config.rsc_defaults,
                                    key=lambda item: -parse_score(item.score, 0)):
            if attribute_set.rule is not None:
                agent = None
                if primitive is not None:
                    agent = (primitive.agent_class, primitive.provider, primitive.agent_type)
                context = RuleContext({}, self.now, agent=agent)
                if not evaluate_rule(attribute_set.rule, context):
                    continue
            for key, value in attribute_set.values:
                found.setdefault(key, value)
        return found

    def unpack_resources(self) -> None:
        templates = {template.id: template for template in self.config.templates}
        node_count = len(self.nodes)
        for index, item in enumerate(self.config.resources):
            if isinstance(item, Primitive):
                resource = self.make_primitive(item, None, "", templates)
            elif isinstance(item, Group):
                resource = self.make_group(item, None, "", templates)
            else:
                resource = self.make_clone(item, templates, node_count)
            resource.order_index = index
            self.resources.append(resource)
        for resource in self.resources:
            self.finish_meta(resource)

    def resolve_template(self, primitive: Primitive, templates) -> Primitive:
        if primitive.template and primitive.template in templates:
            template = templates[primitive.template]
            return Primitive(
                id=primitive.id, agent_class=template.agent_class,
                agent_type=template.agent_type, provider=template.provider,
                params=template.params + primitive.params,
                meta=template.meta + primitive.meta,
                utilization=template.utilization + primitive.utilization,
                operations=template.operations + primitive.operations,
                conditional_sets=primitive.conditional_sets, template=primitive.template,
            )
        return primitive

    def make_primitive(self, primitive: Primitive, parent: Resource | None, suffix: str,
                       templates) -> Resource:
        primitive = self.resolve_template(primitive, templates)
        resource = Resource(id=primitive.id + suffix, variant="primitive", config=primitive,
                            parent=parent)
        resource.meta = self.merge_attribute_sets(
            primitive.meta, [item for kind, item in primitive.conditional_sets if kind == "meta"])
        resource.params = dict(primitive.params)
        resource.utilization = {key: _int_value(value) for key, value in primitive.utilization}
        self.by_id[resource.id] = resource
        if not suffix:
            self.primitive_by_config_id[primitive.id] = resource
        return resource

    def merge_attribute_sets(self, plain, conditional: list[AttributeSet]) -> dict[str, str]:
        """Attribute sets by descending score (plain ones score 0); the first value wins."""
        candidates = [(parse_score(item.score, 0), index, item.values)
                      for index, item in enumerate(conditional)
                      if self.attribute_set_applies(item)]
        candidates.append((0, len(conditional), tuple(dict(plain).items())))
        merged: dict[str, str] = {}
        for _score, _index, values in sorted(candidates, key=lambda item: (-item[0], item[1])):
            for key, value in values:
                merged.setdefault(key, value)
        return merged

    def attribute_set_applies(self, attribute_set: AttributeSet) -> bool:
        return attribute_set.rule is None or evaluate_rule(
            attribute_set.rule, RuleContext({}, self.now))

    def make_group(self, group: Group, parent: Resource | None, suffix: str,
                   templates) -> Resource:
        resource = Resource(id=group.id + suffix, variant="group", config=group, parent=parent)
        resource.meta = dict(group.meta)
        for member in group.members:
            resource.children.append(self.make_primitive(member, resource, suffix, templates))
        self.by_id[resource.id] = resource
        return resource

    def make_clone(self, clone: Clone, templates, node_count: int) -> Resource:
        resource = Resource(id=clone.id, variant="clone", config=clone)
        resource.meta = dict(clone.meta)
        meta = resource.meta
        child_primitive = clone.child if isinstance(clone.child, Primitive) else None
        defaults = self.defaults_meta(child_primitive)
        resource.promotable = clone.promotable or truth(meta.get("promotable"))
        resource.unique = truth(meta.get("globally-unique"))
        resource.interleave = truth(meta.get("interleave"))
        clone_max = _int_value(meta.get("clone-max"), node_count) if meta.get(
            "clone-max") is not None else node_count
        clone_node_max = _int_value(meta.get("clone-node-max"), 1) if meta.get(
            "clone-node-max") is not None else 1
        agent_classes = {p.agent_class for p in _clone_primitives(clone)}
        if resource.unique and agent_classes & set(UNIQUE_INCAPABLE_CLASSES):
            resource.unique = False
            clone_max = min(clone_max, node_count)
        if not resource.unique:
            clone_node_max = 1
        resource.clone_max = max(0, clone_max)
        resource.clone_node_max = max(0, clone_node_max)
        promoted_max = meta.get("promoted-max", meta.get("master-max"))
        promoted_node_max = meta.get("promoted-node-max", meta.get("master-node-max"))
        resource.promoted_max = _int_value(promoted_max, 1) if promoted_max is not None else 1
        resource.promoted_node_max = (_int_value(promoted_node_max, 1)
                                      if promoted_node_max is not None else 1)
        if "resource-stickiness" not in meta and "resource-stickiness" not in defaults:
            meta["resource-stickiness"] = "1"
        for number in range(resource.clone_max):
            suffix = f":{number}"
            if isinstance(clone.child, Primitive):
                child = self.make_primitive(clone.child, resource, suffix, templates)
            else:
                child = self.make_group(clone.child, resource, suffix, templates)
            child.instance_number = number
            resource.children.append(child)
        self.by_id[resource.id] = resource
        return resource

    def finish_meta(self, resource: Resource, inherited: dict[str, str] | None = None) -> None:
        inherited = dict(inherited or {})
        merged = dict(inherited)
        merged.update(resource.meta)
        if resource.parent is None:
            primitive = resource.config if isinstance(resource.config, Primitive) else None
            for key, value in self.defaults_meta(primitive).items():
                merged.setdefault(key, value)
        resource.meta = merged
        resource.priority = parse_score(merged.get("priority"), 0)
        resource.stickiness = parse_score(merged.get("resource-stickiness",
                                                     merged.get("default-resource-stickiness")),
                                          0)
        threshold = merged.get("migration-threshold")
        resource.migration_threshold = parse_score(threshold, INFINITY) if threshold else INFINITY
        managed = truth(merged.get("is-managed"), True) and not truth(merged.get("maintenance"))
        if self.maintenance_mode:
            managed = False
        resource.managed = managed
        role = normalize_role(merged.get("target-role"))
        if role == "Stopped":
            resource.next_role = "Stopped"
        for child in resource.children:
            self.finish_meta(child, {k: v for k, v in merged.items()})

    # ============================================================ unpack: history

    def find_history_target(self, history_id: str, node: str) -> Resource | None:
        resource = self.by_id.get(history_id)
        if resource is not None and resource.variant == "primitive" and (
                resource.clone_parent() is None or resource.is_unique_clone_instance()):
            return resource
        base, _, number = history_id.partition(":")
        template = self.primitive_by_config_id.get(base)
        if template is not None:
            return template
        candidates = [r for r in self.by_id.values() if r.variant == "primitive"
                      and r.config.id == base and r.clone_parent() is not None]
        if not candidates:
            return None
        clone = candidates[0].clone_parent()
        if clone.unique:
            return self.by_id.get(history_id)
        # Anonymous clone: the instance already active here, else the first instance not
        # active anywhere (for cloned groups: the group instance with nothing active).
        for candidate in candidates:
            if node in candidate.running_on:
                return candidate
        grouped = candidates[0].parent is not clone
        if grouped:
            for candidate in candidates:
                if any(node in member.running_on for member in candidate.parent.children):
                    return candidate
            for candidate in candidates:
                if not any(member.running_on for member in candidate.parent.children):
                    return candidate
            return None
        for candidate in candidates:
            if not candidate.running_on:
                return candidate
        return None

    def note_dangling(self, history_id: str, node: str) -> None:
        """The source of a completed live migration: known there, active elsewhere."""
        resource = self.find_history_target(history_id, node)
        if resource is not None:
            resource.known_on.add(node)
            resource.dangling_on.add(node)

    def unpack_status(self) -> None:
        dangling = dangling_migrations(self.status)
        for node_status in self.status.nodes:
            info = self.nodes.get(node_status.name)
            if info is None:
                continue
            if not self.fencing_enabled and not info.online:
                # Without fencing, an offline node's history says nothing about now.
                continue
            for history in node_status.histories:
                if (history.resource, info.name) in dangling:
                    self.note_dangling(history.resource, info.name)
                    continue
                ops = sorted((op for op in history.operations),
                             key=lambda op: (op.call_id if op.call_id >= 0 else 1 << 40))
                state = self.replay_history(history.resource, ops)
                if state is None:
                    continue
                resource = self.find_history_target(history.resource, info.name)
                if resource is None:
                    if state["role"] != "Stopped":
                        self.add_orphan(history.resource, info.name, state)
                    continue
                self.apply_history_state(resource, info, state)
                if history.shutdown_lock is not None and not info.online:
                    self.recorded_locks.append((resource, info.name, history.shutdown_lock))

    def apply_shutdown_locks(self) -> None:
        """shutdown-lock: what a cleanly leaving node ran stays locked to it (no failover)."""
        if not truth(self.properties.get("shutdown-lock")):
            return
        limit_seconds = parse_interval_ms(self.properties.get("shutdown-lock-limit")) // 1000
        locks: list[tuple[Resource, str]] = []
        for resource in self.all_primitives():
            if resource.config.agent_class == "stonith" or resource.clone_parent() is not None:
                continue
            if len(resource.running_on) == 1 and self.nodes[resource.running_on[0]].shutdown:
                locks.append((resource, resource.running_on[0]))
        for resource, node, locked_at in self.recorded_locks:
            if resource.config.agent_class == "stonith" or resource.clone_parent() is not None:
                continue
            expired = (limit_seconds > 0 and self.now is not None
                       and self.now > locked_at + limit_seconds)
            if not expired:
                locks.append((resource, node))
        for resource, node in locks:
            for other in self.nodes:
                if other != node:
                    self.resource_location(resource, other, -INFINITY, "shutdown-lock")

    def replay_history(self, resource_id: str, ops: list[OperationRecord]):
        role = "Stopped"
        failed = False
        failure_ignored = False
        on_fail_actions: list[tuple[str, str]] = []
        # Failures whose on-fail outlives a completed stop (Pacemaker keeps on-fail=stop and
        # on-fail=standby in force until the failure is cleaned up or expires).
        lasting_on_fail: list[tuple[str, str]] = []
        last_failure_op = None
        stop_failed = False
        hard_error = None
        migrate_target = None
        if not ops:
            return None
        primitive_config = None
        base = resource_id.split(":")[0]
        found = self.by_id.get(resource_id) or self.primitive_by_config_id.get(base)
        if found is None:
            for candidate in self.by_id.values():
                if candidate.variant == "primitive" and candidate.config.id == base:
                    found = candidate
                    break
        if found is not None:
            primitive_config = found.config
        for op in ops:
            task = op.operation
            if op.op_status == 1 or task in ("notify", "meta-data", "cancel", "reload",
                                             "reload-agent", "validate-all"):
                continue
            is_probe = task == "monitor" and op.interval_ms == 0
            if op.op_status == -1:
                if task in ("start", "migrate_from"):
                    role = "Started"
                elif task == "promote":
                    role = "Promoted"
                elif task == "stop" and role == "Stopped":
                    role = "Started"
                continue
            if op.op_status == 4:
                # "done" and "error" are both re-judged from the rc and the expected rc.
                op = dataclasses.replace(op, op_status=0)
            elif op.op_status in (5, 6, 7):
                # Executor hard error, fatal error, agent not installed.
                op = dataclasses.replace(op, op_status=0, rc={5: 1, 6: 6, 7: 5}[op.op_status],
                                         target_rc=-99 if op.op_status == 5 else op.target_rc)
                if op.op_status == 0 and op.rc == 1:
                    hard_error = 2
            target = op.target_rc
            if target is None:
                target = 7 if is_probe else 0
            rc = op.rc
            success = op.op_status == 0 and rc == target
            if op.op_status == 0 and is_probe:
                if rc == 7:
                    role = "Stopped"
                    failed = False
                    continue
                if rc == 0:
                    role = "Started"
                    continue
                if rc == 8:
                    role = "Promoted"
                    continue
            if (op.op_status == 0 and task != "stop" and rc in (2, 4, 5, 6) and not success
                    and self.op_on_fail(primitive_config, task, op.interval_ms) != "ignore"):
                hard_error = rc
                if rc in MASKED_PROBE_RCS and is_probe:
                    # Probe masking: not installed or invalid here means not running here.
                    role = "Stopped"
                    continue
            if success:
                if task in ("start", "migrate_from"):
                    role = "Started"
                    failed = False
                elif task == "migrate_to":
                    role = "Started"
                    migrate_target = op.migrate_target
                elif task == "stop":
                    role = "Stopped"
                    failed = False
                    stop_failed = False
                elif task == "promote":
                    role = "Promoted"
                elif task == "demote":
                    role = "Unpromoted"
                elif task == "monitor":
                    if rc == 8:
                        role = "Promoted"
                    elif rc == 0 and role in ("Stopped",):
                        role = "Started"
                    elif rc == 7:
                        role = "Stopped"
                continue
            # A failure.
            filler = found is not None and bool(found.meta.get("container")) and (
                found.meta.get("container") != found.id)
            on_fail = self.op_on_fail(primitive_config, task, op.interval_ms, filler)
            if on_fail == "ignore":
                failure_ignored = True
                if task in ("start", "promote", "migrate_from", "monitor"):
                    role = "Promoted" if rc == 8 or task == "promote" else (
                        role if role != "Stopped" else "Started")
                continue
            failed = True
            last_failure_op = op
            on_fail_actions.append((task, on_fail))
            if on_fail in LASTING_ON_FAIL and not self.failure_expired(found, op):
                lasting_on_fail.append((task, on_fail))
            if task == "stop":
                stop_failed = True
                if role == "Stopped":
                    role = "Started"
            elif task in ("start", "migrate_from"):
                role = "Started"
            elif task == "promote":
                role = "Promoted"
            elif task == "demote":
                role = "Promoted" if on_fail != "demote" else "Unpromoted"
            elif task == "monitor":
                if rc == 8:
                    role = "Promoted"
                elif role == "Stopped":
                    role = "Started"
            elif task == "migrate_to":
                role = "Started"
        if failed is False:
            on_fail_actions = []
        return {"role": role, "failed": failed, "on_fail": on_fail_actions,
                "stop_failed": stop_failed, "hard_error": hard_error,
                "last_failure": last_failure_op, "migrate_target": migrate_target,
                "failure_ignored": failure_ignored, "lasting_on_fail": lasting_on_fail}

    def failure_expired(self, resource: Resource | None, op: OperationRecord) -> bool:
        """Whether the resource's failure-timeout has passed since this failure."""
        if resource is None or self.now is None or op.last_rc_change is None:
            return False
        failure_timeout = parse_interval_ms(resource.meta.get("failure-timeout")) // 1000
        return failure_timeout > 0 and self.now > op.last_rc_change + failure_timeout

    def op_on_fail(self, primitive: Primitive | None, task: str, interval_ms: int,
                   filler: bool = False) -> str:
        configured = None
        if primitive is not None:
            for operation in primitive.operations:
                if operation.name == task and parse_interval_ms(operation.interval) == interval_ms:
                    configured = operation.on_fail
                    break
            if configured is None and task == "monitor":
                for operation in primitive.operations:
                    if operation.name == task and operation.on_fail:
                        configured = operation.on_fail if interval_ms else None
                        break
        if configured is None:
            for attribute_set in self.config.op_defaults:
                if attribute_set.rule is None:
                    configured = pairs_get(attribute_set.values, "on-fail", configured)
        if configured:
            return configured.lower()
        if filler:
            # A resource inside a container is recovered by restarting its container.
            return "restart-container"
        if task == "stop":
            return "fence" if self.fencing_enabled else "block"
        return "restart"

    def add_orphan(self, resource_id: str, node: str, state) -> None:
        resource = self.by_id.get(resource_id)
        if resource is None:
            primitive = Primitive(id=resource_id, agent_class="ocf", agent_type="orphan")
            resource = Resource(id=resource_id, variant="primitive", config=primitive)
            resource.orphan = True
            resource.managed = self.stop_orphans and not self.maintenance_mode
            resource.next_role = "Stopped"
            resource.order_index = len(self.resources)
            self.by_id[resource_id] = resource
            self.resources.append(resource)
        info = self.nodes[node]
        self.apply_history_state(resource, info, state)

    def apply_history_state(self, resource: Resource, info: NodeInfo, state) -> None:
        resource.known_on.add(info.name)
        if state.get("failure_ignored"):
            resource.failure_ignored = True
        if state["hard_error"] in (2, 4, 5) and resource.managed:
            # Pacemaker bans the resource's top parent: no instance of a clone runs there.
            self.hard_bans.append((resource.clone_parent() or resource, info.name))
        if state["hard_error"] == 6:
            self.fatal_bans.append(resource)
        role = state["role"]
        lasting = state.get("lasting_on_fail", ())
        if role == "Stopped":
            # A completed stop clears a failure, but not its on-fail=stop or standby.
            for task, on_fail in lasting:
                self.apply_on_fail(resource, info, task, on_fail)
            return
        if state["failed"] and state["on_fail"] and all(
                on_fail == "restart-container" for _task, on_fail in state["on_fail"]):
            # The failure is the container's to recover.
            self.container_failures.append((resource.meta.get("container"), info.name))
            if state["stop_failed"]:
                # A filler that failed to stop counts as stopped once its container is.
                resource.failure_ignored = True
                return
        if info.maintenance:
            resource.managed = False
        if info.name not in resource.running_on:
            resource.running_on.append(info.name)
        if role == "Started" and self.is_promotable(resource):
            role = "Unpromoted"
        if ROLE_ORDER[role] > ROLE_ORDER[resource.role]:
            resource.role = role
        if state["failed"]:
            resource.failed = True
            for task, on_fail in state["on_fail"]:
                if on_fail != "restart-container":
                    self.apply_on_fail(resource, info, task, on_fail)
        else:
            for task, on_fail in lasting:
                self.apply_on_fail(resource, info, task, on_fail)
        if state["stop_failed"] and not all(
                on_fail == "restart-container" for _task, on_fail in state["on_fail"]):
            resource.stop_failed_on.add(info.name)
        if not info.online and not info.maintenance and resource.managed and not info.unclean:
            if self.fencing_enabled:
                self.mark_unclean(info, f"{resource.id} is thought to be active there")

    def apply_on_fail(self, resource: Resource, info: NodeInfo, task: str, on_fail: str) -> None:
        if info.unclean:
            return
        if on_fail == "block":
            resource.managed = False
            resource.blocked = True
        elif on_fail == "stop":
            resource.next_role = "Stopped"
            target = resource
            clone = resource.clone_parent()
            if clone is not None and not clone.unique:
                target = clone
            self.stop_bans.append(target)
        elif on_fail == "standby":
            info.standby = True
        elif on_fail == "fence":
            if self.fencing_enabled:
                self.mark_unclean(info, f"{resource.id} failed there")
            else:
                resource.managed = False
                resource.blocked = True
        elif on_fail == "demote":
            if resource.role == "Promoted":
                resource.demote_forced = True

    # ============================================================ fail counts

    def fail_count(self, resource: Resource, node: NodeInfo, include_fillers: bool = True) -> int:
        if node.name in self._failure_attributes and not self._failure_attributes[node.name]:
            return 0  # the node records no failure at all (nor, then, for any filler)
        base = resource.config.id if isinstance(resource.config, Primitive) else resource.id
        names = {resource.id, base}
        total = 0
        last_failure = 0
        for key, value in self.failure_attributes(resource, node):
            if key.startswith("fail-count-"):
                name = key[len("fail-count-"):]
                rsc_name, _, op_part = name.partition("#")
                if not op_part and not self.legacy_fail_counts:
                    # Per-resource fail counts only count in old status formats.
                    continue
                if rsc_name in names or rsc_name.split(":")[0] == base and (
                        resource.clone_parent() is not None
                        and not resource.clone_parent().unique):
                    total = add_scores(total, parse_score(value, 0))
            elif key.startswith("last-failure-"):
                name = key[len("last-failure-"):]
                rsc_name = name.partition("#")[0]
                if rsc_name in names:
                    last_failure = max(last_failure, _int_value(value, 0))
        if total > 0 and self.now is not None and last_failure:
            failure_timeout = parse_interval_ms(resource.meta.get("failure-timeout")) // 1000
            if failure_timeout > 0 and self.now > last_failure + failure_timeout:
                total = 0
        if include_fillers:
            for filler in self.fillers_by_container().get(resource.id, ()):
                if filler is not resource:
                    total = add_scores(total, self.fail_count(filler, node, False))
        return total

    def failure_attributes(self, resource: Resource, node: NodeInfo) -> list[tuple[str, str]]:
        """The node's fail-count-* and last-failure-* attributes that may concern `resource`,
        in attribute order: those whose resource name, up to a ":", is the resource's id,
        its configured id, or either of those up to a ":" (fail_count decides exactly)."""
        index = self._failure_attributes.get(node.name)
        if index is None:
            index = self._failure_attributes[node.name] = _index_failure_attributes(node)
        if not index:
            return []
        base = resource.config.id if isinstance(resource.config, Primitive) else resource.id
        prefixes = {resource.id.split(":")[0], base, base.split(":")[0]}
        found: list[tuple[int, str, str]] = []
        for prefix in prefixes:
            found.extend(index.get(prefix, ()))
        found.sort()
        return [(key, value) for _, key, value in found]

    def fillers_by_container(self) -> dict[str, list[Resource]]:
        """Primitives by the id in their `container` meta attribute, in primitive order.

        Built once per stickiness pass: scanning every primitive for every resource on
        every node made fail counting quadratic in the number of resources.
        """
        if self._fillers_by_container is None:
            fillers: dict[str, list[Resource]] = {}
            for primitive in self.all_primitives():
                container_id = primitive.meta.get("container")
                if container_id:
                    fillers.setdefault(container_id, []).append(primitive)
            self._fillers_by_container = fillers
        return self._fillers_by_container

    # ============================================================ constraints

    def is_tag_or_template(self, reference: str | None) -> bool:
        return reference is not None and (
            any(tag.id == reference for tag in self.config.tags)
            or any(template.id == reference for template in self.config.templates))

    def expand_reference(self, reference: str) -> list[str]:
        for tag in self.config.tags:
            if tag.id == reference:
                return list(tag.references)
        templates = {template.id for template in self.config.templates}
        if reference in templates:
            return [p.id for p in self.config.all_primitives() if p.template == reference]
        return [reference]

    def apply_locations(self) -> None:
        for constraint in self.config.constraints:
            if not isinstance(constraint, LocationConstraint):
                continue
            targets: list[tuple[Resource, str | None, str | None]] = []
            if constraint.resource:
                for reference in self.expand_reference(constraint.resource):
                    resource = self.by_id.get(reference)
                    if resource is not None:
                        targets.append((resource, constraint.role, constraint.score))
            elif constraint.resource_pattern:
                pattern = constraint.resource_pattern
                invert = pattern.startswith("!")
                regex = re.compile(pattern[1:] if invert else pattern)
                for resource in self.resources:
                    if bool(regex.search(resource.id)) != invert:
                        targets.append((resource, constraint.role, constraint.score))
            for resource_set in constraint.resource_sets:
                for reference in resource_set.resources:
                    for expanded in self.expand_reference(reference):
                        resource = self.by_id.get(expanded)
                        if resource is not None:
                            targets.append((resource, resource_set.role or constraint.role,
                                            resource_set.score or constraint.score))
            for resource, role, score_text in targets:
                if constraint.resource_discovery == "exclusive":
                    self.mark_exclusive(resource)
                all_entries = self.location_entries(constraint, resource, score_text, role)
                promoted = [(n, v) for n, v, r in all_entries if r == "Promoted"]
                entries = [(n, v) for n, v, r in all_entries if r != "Promoted"]
                if promoted:
                    self.promoted_locations.append((resource, promoted, constraint.id))
                self.apply_location_entries(resource, entries, constraint.id)
                if constraint.resource_discovery == "exclusive":
                    self.exclusive_nodes.setdefault(resource.top().id, set()).update(
                        node for node, _ in entries)
        for resource in self.resources:
            if resource.exclusive_discovery:
                allowed_nodes = self.exclusive_nodes.get(resource.id, set())
                for name in self.nodes:
                    if name not in allowed_nodes:
                        self.resource_location(resource, name, -INFINITY, "exclusive-discovery")

    def apply_node_health(self) -> None:
        """node-health-strategy: each node's summed #health-* score joins every resource."""
        strategy = (self.properties.get("node-health-strategy") or "none").lower()
        if strategy == "none":
            return
        colors = {
            "migrate-on-red": {"red": -INFINITY, "yellow": 0, "green": 0},
            "only-green": {"red": -INFINITY, "yellow": -INFINITY, "green": 0},
        }.get(strategy) or {color: parse_score(self.properties.get(f"node-health-{color}"), 0)
                            for color in ("red", "yellow", "green")}
        for name, info in self.sorted_nodes():
            health = 0
            for key, value in info.attributes.items():
                if key.startswith("#health"):
                    lowered = value.strip().lower()
                    score = colors[lowered] if lowered in colors else parse_score(value, 0)
                    health = add_scores(health, score)
            if health == 0:
                continue
            for resource in self.resources:
                if health < 0 and truth(resource.meta.get("allow-unhealthy-nodes")):
                    continue
                self.resource_location(resource, name, health, "node-health")

    def mark_exclusive(self, resource: Resource) -> None:
        resource.top().exclusive_discovery = True

    def location_entries(self, constraint: LocationConstraint, resource: Resource,
                         score_text: str | None,
                         role: str | None) -> list[tuple[str, int, str | None]]:
        entries: list[tuple[str, int, str | None]] = []
        role = normalize_role(role)
        if constraint.node is not None:
            if constraint.node in self.nodes:
                entries.append((constraint.node, parse_score(score_text, 0), role))
            return entries
        for rule in constraint.rules:
            rule_role = normalize_role(rule.role) or role
            for name, info in self.sorted_nodes():
                context = RuleContext(info.attributes, self.now,
                                      self.params_for_node(resource, info), resource.meta)
                if not evaluate_rule(rule, context):
                    continue
                if rule.score_attribute:
                    value = info.attributes.get(rule.score_attribute)
                    if value is None:
                        continue
                    score = parse_score(value, 0)
                else:
                    score = parse_score(rule.score, 0)
                entries.append((name, score, rule_role))
        return entries

    def params_for_node(self, resource: Resource, info: NodeInfo) -> dict[str, str]:
        """Instance attributes as seen on one node: rule-guarded sets by descending score."""
        primitive = resource.config if isinstance(resource.config, Primitive) else None
        if primitive is None or not primitive.conditional_sets:
            return resource.params
        candidates = [(parse_score(attribute_set.score, 0), index, attribute_set.values)
                      for index, (kind, attribute_set) in enumerate(primitive.conditional_sets)
                      if kind == "params" and (attribute_set.rule is None or evaluate_rule(
                          attribute_set.rule, RuleContext(info.attributes, self.now)))]
        candidates.append((0, len(candidates) + 1, tuple(resource.params.items())))
        found: dict[str, str] = {}
        for _score, _index, values in sorted(candidates, key=lambda item: (-item[0], item[1])):
            for key, value in values:
                found.setdefault(key, value)
        return found

    def apply_location_entries(self, resource: Resource, entries, tag: str) -> None:
        if resource.variant == "group":
            first = True
            self.add_allowed(resource, entries, tag)
            for child in resource.children:
                self.apply_location_entries(
                    child, entries if first else [(node, 0) for node, _ in entries], tag)
                first = False
            return
        self.add_allowed(resource, entries, tag)
        for child in resource.children:
            self.apply_location_entries(child, entries, tag)

    def add_allowed(self, resource: Resource, entries, tag: str) -> None:
        for node, score in entries:
            if node in resource.allowed:
                resource.allowed[node] = add_scores(resource.allowed[node], score)
            else:
                resource.allowed[node] = score
            if score:
                resource.contributions.append((tag, node, score))

    def resource_location(self, resource: Resource, node: str, score: int, tag: str) -> None:
        """Pacemaker's resource_location: add a score to the resource and all descendants."""
        for child in resource.children:
            self.resource_location(child, node, score, tag)
        if node in resource.allowed:
            resource.allowed[node] = add_scores(resource.allowed[node], score)
        else:
            base = self.nodes[node].weight if node in self.nodes else 0
            resource.allowed[node] = add_scores(base, score) if tag != "symmetric" else base
        if score:
            resource.contributions.append((tag, node, score))

    def sorted_nodes(self) -> list[tuple[str, NodeInfo]]:
        """Nodes in natural name order. The order is computed once per set of node names
        (called per resource, re-sorting with the natural key dominated large runs); a
        name's NodeInfo is only ever set while unpacking nodes, before any call."""
        names = tuple(self.nodes)
        if self._sorted_node_names is None or self._sorted_node_names[0] != names:
            ordered = tuple((name, self.nodes[name]) for name in sorted(names, key=natural_key))
            self._sorted_node_names = (names, ordered)
        return list(self._sorted_node_names[1])

    def unpack_colocations(self) -> None:
        for constraint in self.config.constraints:
            if not isinstance(constraint, ColocationConstraint):
                continue
            if constraint.resource_sets:
                self.unpack_colocation_sets(constraint)
                continue
            if self.is_tag_or_template(constraint.resource) and self.is_tag_or_template(
                    constraint.with_resource):
                # Pacemaker 2.1.5 leaves a colocation between two tags/templates without effect.
                continue
            dependents = self.expand_reference(constraint.resource or "")
            primaries = self.expand_reference(constraint.with_resource or "")
            for dependent_id in dependents:
                for primary_id in primaries:
                    self.add_colocation(constraint.id, dependent_id, primary_id,
                                        parse_score(constraint.score, 0),
                                        constraint.resource_role, constraint.with_resource_role,
                                        constraint.node_attribute, constraint.influence)

    def unpack_colocation_sets(self, constraint: ColocationConstraint) -> None:
        score = parse_score(constraint.score, 0)
        sets = constraint.resource_sets
        expanded_sets = [[r for ref in s.resources for r in self.expand_reference(ref)]
                         for s in sets]
        for resource_set, members in zip(sets, expanded_sets, strict=True):
            set_score = parse_score(resource_set.score, score) if resource_set.score else score
            if resource_set.sequential is False or set_score == 0:
                continue
            role = resource_set.role
            if set_score > 0:
                for previous, member in zip(members, members[1:], strict=False):
                    self.add_colocation(constraint.id, member, previous, set_score, role, role,
                                        constraint.node_attribute, constraint.influence)
            else:
                for index, member in enumerate(members):
                    for earlier in members[:index]:
                        self.add_colocation(constraint.id, member, earlier, set_score, role, role,
                                            constraint.node_attribute, constraint.influence)
        for index in range(len(sets) - 1):
            first_set, second_set = sets[index], sets[index + 1]
            first_members, second_members = expanded_sets[index], expanded_sets[index + 1]
            if not first_members or not second_members:
                continue
            if first_set.sequential is not False and second_set.sequential is not False:
                pairs = [(first_members[0], second_members[-1])]
            elif first_set.sequential is not False:
                pairs = [(first_members[0], other) for other in second_members]
            elif second_set.sequential is not False:
                pairs = [(other, second_members[-1]) for other in first_members]
            else:
                pairs = [(a, b) for a in first_members for b in second_members]
            for dependent_id, primary_id in pairs:
                self.add_colocation(constraint.id, dependent_id, primary_id, score,
                                    first_set.role, second_set.role,
                                    constraint.node_attribute, constraint.influence)

    def add_colocation(self, constraint_id: str, dependent_id: str, primary_id: str, score: int,
                       dependent_role: str | None, primary_role: str | None,
                       node_attribute: str, influence: bool | None) -> None:
        dependent = self.by_id.get(dependent_id)
        primary = self.by_id.get(primary_id)
        if dependent is None or primary is None or score == 0 or dependent is primary:
            return
        if influence is None:
            influence = truth(dependent.meta.get("critical"), True)
        colocation = Colocation(constraint_id, dependent, primary, score,
                                _coloc_role(dependent_role), _coloc_role(primary_role),
                                node_attribute or "#uname", influence)
        self.colocations.append(colocation)
        _insert_sorted(dependent.this_with, colocation, lambda c: c.primary)
        _insert_sorted(primary.with_this, colocation, lambda c: c.dependent)

    def internal_colocations(self) -> None:
        for resource in self.all_primitives():
            container_id = resource.meta.get("container")
            container = self.by_id.get(container_id or "")
            if container is not None and container is not resource:
                # A resource inside a container lives where its container runs.
                self.add_colocation(f"#container-{resource.id}", resource.id, container.id,
                                    INFINITY, None, None, "#uname", True)
                self.container_orders.append((container.id, resource.id))
        for resource in self.by_id.values():
            if resource.variant == "group" and truth(resource.meta.get("collocated"), True):
                for previous, member in zip(resource.children, resource.children[1:],
                                            strict=False):
                    colocation = Colocation("#group-members", member, previous, INFINITY,
                                            None, None, "#uname",
                                            truth(member.meta.get("critical"), True))
                    member.this_with.append(colocation)
                    previous.with_this.append(colocation)

    # ============================================================ scores before assignment

    def apply_base_scores(self) -> None:
        for resource in self.resources:
            self.apply_base(resource)

    def apply_base(self, resource: Resource) -> None:
        if self.property_symmetric:
            for name, info in self.nodes.items():
                resource.allowed.setdefault(name, info.weight)
        for child in resource.children:
            self.apply_base(child)

    def apply_stickiness_and_failures(self) -> None:
        self._fillers_by_container = None
        self._failure_attributes = {}
        for resource in self.resources:
            for name, info in self.sorted_nodes():
                self.sticky_and_failures(resource, name, info)
        self._fillers_by_container = None
        self._failure_attributes = {}

    def sticky_and_failures(self, resource: Resource, name: str, info: NodeInfo) -> None:
        if resource.children:
            for child in resource.children:
                self.sticky_and_failures(child, name, info)
            return
        if (resource.managed and resource.stickiness != 0 and len(resource.running_on) == 1
                and resource.running_on[0] == name):
            if name in resource.allowed or self.property_symmetric:
                self.resource_location(resource, name, resource.stickiness, "stickiness")
        if resource.migration_threshold == 0 or resource.failure_ignored:
            return
        if (resource.id, name) in self.changed_failures:
            return  # the failure ran with other parameters: its fail count is cleared
        count = self.fail_count(resource, info)
        if count > 0 and resource.migration_threshold - count <= 0:
            target = resource
            clone = resource.clone_parent()
            if clone is not None and not clone.unique:
                target = clone
            self.resource_location(target, name, -INFINITY, "__fail_limit__")

    def apply_multiple_active(self) -> None:
        for resource in self.all_primitives():
            if len(resource.running_on) <= 1 or not resource.managed:
                continue
            clone = resource.clone_parent()
            if clone is not None and not clone.unique:
                continue
            policy = (resource.meta.get("multiple-active") or "stop_start").lower()
            if policy == "block":
                resource.managed = False
                resource.blocked = True
                parent = resource.parent
                if parent is not None and parent.variant == "group" and (
                        (parent.meta.get("multiple-active") or "").lower() == "block"):
                    # A group configured to block is blocked as a whole.
                    for member in parent.children:
                        member.managed = False
                        member.blocked = True
            elif policy == "stop_only":
                resource.next_role = "Stopped"
                self.stop_bans.append(resource)
            else:
                resource.stop_everywhere = True

    def apply_unmanaged_and_bans(self) -> None:
        self.apply_multiple_active()
        for resource in self.all_primitives():
            if not resource.managed and resource.running_on:
                for node in resource.running_on:
                    self.resource_location(resource, node, INFINITY, "not_managed_default")
        for resource, node in self.hard_bans:
            self.resource_location(resource, node, -INFINITY, "hard-error")
        for resource in self.fatal_bans:
            for node in self.nodes:
                self.resource_location(resource, node, -INFINITY, "fatal-error")
        for resource in self.stop_bans:
            for node in self.nodes:
                self.resource_location(resource, node, -INFINITY, "on-fail=stop")
        for resource in self.all_primitives():
            for node in resource.stop_failed_on:
                if not self.nodes[node].unclean:
                    self.resource_location(resource, node, -INFINITY, "__stop_fail__")

    def all_primitives(self) -> list[Resource]:
        found: list[Resource] = []
        for resource in self.resources:
            found.extend(resource.primitives())
        return found

    # ============================================================ assignment

    def assign(self, resource: Resource, prefer: str | None = None) -> str | None:
        if resource.variant == "clone":
            self.assign_clone(resource)
            return None
        if resource.variant == "group":
            return self.assign_group(resource, prefer)
        return self.assign_primitive(resource, prefer)

    def assign_group(self, group: Resource, prefer: str | None) -> str | None:
        if not group.provisional:
            return group.assigned
        if group.allocating:
            return None
        if not group.children:
            group.provisional = False
            return None
        group.allocating = True
        first_node = None
        for index, child in enumerate(group.children):
            node = self.assign_primitive(child, prefer)
            if index == 0:
                first_node = node
        group.assigned = first_node
        group.next_role = group.children[0].next_role
        group.allocating = False
        group.provisional = False
        return first_node

    def group_this_with(self, resource: Resource) -> list[Colocation]:
        """Colocations where the resource is the dependent, including inherited ones."""
        found = list(resource.this_with)
        parent = resource.parent
        if parent is not None and parent.variant == "group" and parent.children[0] is resource:
            found = _merge_sorted(found, self.group_this_with(parent), lambda c: c.primary)
        return found

    def assign_primitive(self, resource: Resource, prefer: str | None) -> str | None:
        parent = resource.parent
        if parent is not None and not parent.allocating and parent.provisional:
            self.assign(parent.top() if parent.variant != "clone" else parent)
        if not resource.provisional:
            return resource.assigned
        if resource.allocating:
            return None
        resource.allocating = True
        for colocation in self.group_this_with(resource) + self.inherited_clone_this_with(
                resource):
            archive = None
            if (colocation.dependent_role in ("Promoted",)
                    or (-INFINITY < colocation.score < 0)):
                archive = dict(resource.allowed)
            self.assign(colocation.primary)
            self.apply_colocation_to_dependent(resource, colocation)
            if archive is not None and not self.any_available(resource.allowed):
                resource.allowed = archive
        for colocation in self.with_this_list(resource):
            if not self.has_influence(colocation):
                continue
            resource.allowed = self.merge_weights(
                colocation.dependent, resource.id, resource.allowed,
                colocation.node_attribute, colocation_factor(colocation.score),
                rollback=True, positive=False)
        if resource.next_role == "Stopped":
            for node in self.nodes:
                self.add_score(resource, node, -INFINITY, "target-role")
        elif (resource.next_role is not None and resource.role != "Stopped"
              and ROLE_ORDER[resource.next_role] > ROLE_ORDER[resource.role]
              and not self.have_quorum and self.no_quorum_policy == "freeze"):
            resource.next_role = resource.role
        resource.pre_colocation_scores = dict(resource.allowed)
        if self.fencing_enabled and not self.has_fencing_device and not self.have_watchdog:
            resource.managed = False
        if not resource.managed:
            resource.next_role = resource.role
            self.finalize_assignment(resource, resource.current_node, force=True,
                                     reason="unmanaged")
        elif self.stop_all:
            self.finalize_assignment(resource, None, force=True, reason="stop-all-resources")
        elif resource.provisional:
            self.choose_node(resource, prefer)
        resource.allocating = False
        return resource.assigned

    def inherited_clone_this_with(self, resource: Resource) -> list[Colocation]:
        return list(resource.parent_this_with)

    def with_this_list(self, resource: Resource) -> list[Colocation]:
        found = list(resource.with_this)
        found.extend(resource.parent_with_this)
        parent = resource.parent
        if parent is not None and parent.variant == "group" and parent.children and (
                parent.children[-1] is resource):
            found.extend(parent.with_this)
        return found

    def has_influence(self, colocation: Colocation) -> bool:
        if colocation.influence:
            return True
        return not colocation.primary.running_on and not any(
            p.running_on for p in colocation.primary.primitives())

    def add_score(self, resource: Resource, node: str, score: int, tag: str) -> None:
        if node in resource.allowed:
            resource.allowed[node] = add_scores(resource.allowed[node], score)
        else:
            resource.allowed[node] = score
        resource.contributions.append((tag, node, score))

    def any_available(self, table: dict[str, int]) -> bool:
        return any(score >= 0 and self.nodes[node].available()
                   for node, score in table.items() if node in self.nodes)

    def node_attribute(self, node: str, attribute: str) -> str | None:
        info = self.nodes.get(node)
        if info is None:
            return None
        return info.attributes.get(attribute)

    def colocation_affects(self, dependent: Resource, primary: Resource,
                           colocation: Colocation) -> str:
        if primary.provisional and primary.variant != "clone":
            return "nothing"
        if primary.variant == "clone" and primary.provisional and primary.allocating:
            return "nothing"
        if (colocation.dependent_role in ("Unpromoted", "Promoted")
                and dependent.parent is not None and dependent.parent.variant == "clone"
                and dependent.parent.promotable and not dependent.provisional):
            return "role"
        if not dependent.provisional:
            return "nothing"
        if colocation.dependent_role is not None and colocation.dependent_role != (
                dependent.next_role or "Unknown") and not (
                colocation.dependent_role == "Started" and dependent.next_role is None):
            if colocation.dependent_role == "Promoted":
                return "nothing"
            if colocation.dependent_role == "Unpromoted" and dependent.next_role not in (
                    None, "Unpromoted", "Started"):
                return "nothing"
        return "location"

    def apply_colocation_to_dependent(self, dependent: Resource, colocation: Colocation) -> None:
        primary = colocation.primary
        if self.colocation_affects(dependent, primary, colocation) != "location":
            return
        if primary.variant == "group":
            if primary.provisional:
                return
            members = primary.children
            if not members:
                return
            member = members[-1] if colocation.score >= INFINITY else members[0]
            self.apply_primitive_colocation(dependent, member, colocation)
            return
        if primary.variant == "clone":
            self.apply_clone_colocation(dependent, primary, colocation)
            return
        self.apply_primitive_colocation(dependent, primary, colocation)

    def apply_primitive_colocation(self, dependent: Resource, primary: Resource,
                                   colocation: Colocation) -> None:
        attribute = colocation.node_attribute
        score = colocation.score
        if colocation.primary_role is not None and colocation.primary_role != "Started":
            primary_role = primary.next_role or "Unknown"
            if colocation.primary_role != primary_role:
                return
        value = None
        if primary.assigned is not None:
            value = self.node_attribute(primary.assigned, attribute)
        elif score < 0:
            return
        work = dict(dependent.allowed)
        for node in list(work):
            if primary.assigned is None:
                work[node] = add_scores(-score, work[node])
            elif _casefold_equal(self.node_attribute(node, attribute), value):
                if score < INFINITY:
                    work[node] = add_scores(score, work[node])
            elif score >= INFINITY:
                work[node] = -INFINITY
        if score <= -INFINITY or score >= INFINITY or self.any_available(work):
            dependent.allowed = work
            dependent.contributions.append((colocation.id, primary.assigned or "-", score))

    def apply_clone_colocation(self, dependent: Resource, clone: Resource,
                               colocation: Colocation) -> None:
        if clone.provisional and not clone.allocating:
            return
        if colocation.primary_role in ("Promoted", "Unpromoted") and not clone.promotable:
            # A role the primary can never have: the colocation never applies.
            return
        dependent_clone = dependent.clone_parent()
        if (dependent_clone is not None and dependent_clone.interleave
                and dependent_clone is not clone and dependent.parent is dependent_clone):
            primary_instance = self.find_compatible_instance(dependent, clone, colocation)
            if primary_instance is not None:
                self.apply_primitive_colocation(dependent, primary_instance, colocation)
            elif colocation.score >= INFINITY:
                for node in dependent.allowed:
                    dependent.allowed[node] = -INFINITY
            return
        if colocation.score >= INFINITY:
            allowed_nodes = set()
            for instance in clone.children:
                node = instance.assigned
                if node is None:
                    continue
                if colocation.primary_role not in (None, "Started") and (
                        instance.next_role != colocation.primary_role):
                    continue
                if not instance.blocked:
                    allowed_nodes.add(node)
            attribute = colocation.node_attribute
            values = {self.node_attribute(node, attribute) for node in allowed_nodes}
            for node in dependent.allowed:
                if self.node_attribute(node, attribute) not in values:
                    dependent.allowed[node] = -INFINITY
            dependent.contributions.append((colocation.id, ",".join(sorted(allowed_nodes)),
                                            INFINITY))
            return
        for instance in clone.children:
            if instance.limit_reached:
                continue
            target = instance if instance.variant == "primitive" else (
                instance.children[0] if instance.children else None)
            if target is None or (target.provisional and target.assigned is None):
                continue
            # An instance that could not be placed pushes positive dependents away.
            self.apply_primitive_colocation(dependent, target, colocation)

    def find_compatible_instance(self, dependent: Resource, clone: Resource,
                                 colocation: Colocation) -> Resource | None:
        nodes = self.sort_nodes(dependent, dependent.allowed, dependent.current_node)
        for node in nodes:
            for instance in clone.children:
                if instance.assigned == node and (
                        colocation.primary_role in (None, "Started")
                        or instance.next_role == colocation.primary_role):
                    return instance
        return None

    def merge_weights(self, resource: Resource, primary_id: str, table: dict[str, int],
                      attribute: str, factor: float, rollback: bool, positive: bool,
                      init: bool = False, forward: bool = False) -> dict[str, int]:
        if resource.merging:
            return table
        if resource.variant == "group" and resource.children and not forward:
            # A group contributes through its first member, then its own dependents.
            resource.merging = True
            work = self.merge_weights(resource.children[0], primary_id, table, attribute,
                                      factor, rollback, positive, init)
            for colocation in resource.with_this:
                if colocation.score == 0 or not self.has_influence(colocation):
                    continue
                work = self.merge_weights(colocation.dependent, resource.id, work,
                                          colocation.node_attribute,
                                          colocation_factor(colocation.score),
                                          rollback, positive)
            resource.merging = False
            return work
        resource.merging = True
        if resource.variant == "group" and resource.children:
            last = resource.children[-1]
            work = self.merge_weights(last, primary_id, dict(table), attribute, factor,
                                      rollback, positive, init, forward)
        elif init:
            work = dict(resource.allowed)
        else:
            work = dict(table)
            self.add_node_scores_matching_attr(work, resource, attribute, factor, positive)
        if self.can_run_any(work):
            multiplier = -1 if factor < 0 else 1
            if forward:
                others = self.group_this_with(resource)
            elif resource.variant == "group" and resource.children:
                others = self.with_this_list(resource.children[-1])
            else:
                others = self.with_this_list(resource)
            for colocation in others:
                if forward:
                    other = colocation.primary
                elif not self.has_influence(colocation):
                    continue
                else:
                    other = colocation.dependent
                work = self.merge_weights(
                    other, primary_id, work, colocation.node_attribute,
                    float(multiplier) * colocation_factor(colocation.score),
                    True, positive, forward=forward)
        elif rollback:
            resource.merging = False
            return table
        if positive:
            for node, score in work.items():
                if score == UNUSABLE_SENTINEL:
                    work[node] = 1
        resource.merging = False
        return work

    def add_node_scores_matching_attr(self, table: dict[str, int], resource: Resource,
                                      attribute: str, factor: float, positive: bool) -> None:
        best_by_value = self.best_scores_by_attribute_value(resource, attribute)
        weights: dict[int, int] = {}  # few distinct scores: attenuate each once
        for node in list(table):
            value = self.node_attribute(node, attribute)
            score = best_by_value.get(value.lower() if value is not None else None, -INFINITY)
            if factor < 0 and score < 0:
                continue
            if table[node] == UNUSABLE_SENTINEL:
                continue
            weight = weights.get(score)
            if weight is None:
                weight = weights[score] = attenuate(factor, score)
            new_score = add_scores(weight, table[node])
            if positive and new_score < 0 and table[node] > 0:
                table[node] = UNUSABLE_SENTINEL
                continue
            if positive and new_score < 0 and table[node] == 0:
                continue
            table[node] = new_score

    def best_scores_by_attribute_value(self, resource: Resource,
                                       attribute: str) -> dict[str | None, int]:
        """The best score of `resource` on an available node, by that node's value of
        `attribute` (lower-cased; None when the node lacks it). A value no available node
        has scores -INFINITY. One pass over the nodes rather than one per node compared."""
        best_by_value: dict[str | None, int] = {}
        for node, score in resource.allowed.items():
            info = self.nodes.get(node)
            if info is None or not info.available():
                continue
            value = info.attributes.get(attribute)
            key = value.lower() if value is not None else None
            if score > best_by_value.get(key, -INFINITY):
                best_by_value[key] = score
        return best_by_value

    def can_run_any(self, table: dict[str, int]) -> bool:
        return self.any_available(table)

    def sort_nodes(self, resource: Resource | None, table: dict[str, int],
                   current: str | None) -> list[str]:
        """Pacemaker's compare_nodes: score, capacity (balanced), load, current node, name."""
        def compare(first: str, second: str) -> int:
            first_info, second_info = self.nodes[first], self.nodes[second]
            first_score = table[first] if first_info.available() else -INFINITY
            second_score = table[second] if second_info.available() else -INFINITY
            if first_score != second_score:
                return -1 if first_score > second_score else 1
            if self.placement_strategy != "minimal":
                if self.placement_strategy == "balanced":
                    votes = self.compare_capacities(first_info, second_info)
                    if votes:
                        return votes
                if first_info.num_resources != second_info.num_resources:
                    return -1 if first_info.num_resources < second_info.num_resources else 1
                if current is not None and current in (first, second):
                    return -1 if first == current else 1
            first_bytes, second_bytes = first.encode(), second.encode()
            return (first_bytes > second_bytes) - (first_bytes < second_bytes)
        candidates = [node for node in table if node in self.nodes]
        if self.placement_strategy == "balanced":
            # Capacity votes are not a total order: keep Pacemaker's pairwise comparison.
            return sorted(candidates, key=functools.cmp_to_key(compare))
        # The same order as `compare` without capacities, as a key (much faster to sort).
        nodes = self.nodes
        if self.placement_strategy == "minimal":
            def minimal_key(node: str) -> tuple:
                score = table[node] if nodes[node].available() else -INFINITY
                return (-score, node.encode())
            return sorted(candidates, key=minimal_key)

        def load_key(node: str) -> tuple:
            info = nodes[node]
            score = table[node] if info.available() else -INFINITY
            return (-score, info.num_resources, node != current, node.encode())
        return sorted(candidates, key=load_key)

    @staticmethod
    def compare_capacities(first: NodeInfo, second: NodeInfo) -> int:
        """Negative when `first` has more free capacity: one vote per utilization attribute."""
        result = 0
        names = list(first.remaining) + [n for n in second.remaining if n not in first.remaining]
        for name in names:
            first_value = first.remaining.get(name, 0)
            second_value = second.remaining.get(name, 0)
            if first_value > second_value:
                result -= 1
            elif first_value < second_value:
                result += 1
        return (result > 0) - (result < 0)

    def resource_order(self) -> list[Resource]:
        """Assignment order: priority, document order; other strategies compare scores too."""
        by_priority = sorted(self.resources, key=lambda r: (-r.priority, r.order_index))
        if self.placement_strategy == "default":
            return by_priority
        node_order = self.sort_nodes(None, {name: info.weight for name, info in self.nodes.items()},
                                     None)
        tables = {r.id: self.merge_weights(r, r.id, {}, "#uname", 1.0, rollback=False,
                                           positive=False, init=True, forward=True)
                  for r in by_priority}

        def current_score(resource: Resource) -> int:
            running = [p.current_node for p in resource.primitives() if p.current_node]
            if not running:
                return -INFINITY
            return tables[resource.id].get(running[0], -INFINITY)

        def compare(first: Resource, second: Resource) -> int:
            if first.priority != second.priority:
                return -1 if first.priority > second.priority else 1
            first_current, second_current = current_score(first), current_score(second)
            if first_current != second_current:
                return -1 if first_current > second_current else 1
            for node in node_order:
                first_score = tables[first.id].get(node, -INFINITY)
                second_score = tables[second.id].get(node, -INFINITY)
                if first_score != second_score:
                    return -1 if first_score > second_score else 1
            return 0
        return sorted(by_priority, key=functools.cmp_to_key(compare))

    def choose_node(self, resource: Resource, prefer: str | None) -> None:
        self.process_utilization(resource)
        if not resource.provisional:
            return
        table = resource.allowed
        nodes = self.sort_nodes(resource, table, resource.current_node)
        best = nodes[0] if nodes else None
        chosen = None
        reason = ""
        if prefer is not None and nodes:
            if prefer in table and table[prefer] >= table[best] and self.nodes[
                    prefer].available():
                chosen = prefer
                reason = "preferred node"
        if chosen is None and best is not None:
            chosen = best
            reason = "highest score"
            unique_instance = resource.is_unique_clone_instance()
            if (not unique_instance and table[chosen] > 0
                    and self.nodes[chosen].available()):
                running = resource.current_node
                if running is not None and running in self.nodes and self.nodes[
                        running].available():
                    for other in nodes[1:]:
                        if table[other] != table[chosen]:
                            break
                        if other == running:
                            chosen = other
                            reason = "current node among equal scores"
            if len(nodes) > 1 and reason == "highest score":
                second = nodes[1]
                if table[second] == table[chosen] and self.nodes[second].available():
                    reason = "tie broken by load and node name"
        self.finalize_assignment(resource, chosen, force=False, reason=reason)

    def finalize_assignment(self, resource: Resource, node: str | None, force: bool,
                            reason: str) -> bool:
        if node is not None and not force:
            info = self.nodes.get(node)
            if info is None or not info.available() or resource.allowed.get(node, 0) < 0:
                node = None
        resource.provisional = False
        if node is None:
            resource.assigned = None
            resource.next_role = "Stopped"
            resource.decided_by = reason if force else "cannot run anywhere"
            return False
        resource.assigned = node
        resource.decided_by = reason
        if resource.next_role is None or resource.next_role == "Stopped":
            resource.next_role = resource.role if resource.role not in (
                "Stopped", "Unknown") else "Started"
            if resource.next_role in ("Promoted", "Unpromoted") and not self.is_promotable(
                    resource):
                resource.next_role = "Started"
        info = self.nodes.get(node)
        if info is not None:
            info.num_resources += 1
            for key, value in resource.utilization.items():
                info.remaining[key] = info.remaining.get(key, 0) - value
        return True

    def is_promotable(self, resource: Resource) -> bool:
        clone = resource.clone_parent()
        return clone is not None and clone.promotable

    def process_utilization(self, resource: Resource) -> None:
        if self.placement_strategy == "default":
            return
        demand = dict(resource.utilization)
        colocated = self.unassigned_colocated(resource)
        for other in colocated:
            for key, value in other.utilization.items():
                demand[key] = demand.get(key, 0) + value
        if not demand:
            return

        def fits(node: str, needed: dict[str, int]) -> bool:
            info = self.nodes[node]
            return all(info.remaining.get(key, 0) >= value for key, value in needed.items())
        candidates = [node for node, score in resource.allowed.items()
                      if node in self.nodes and self.nodes[node].available() and score >= 0]
        if any(fits(node, demand) for node in candidates):
            needed = demand
        else:
            needed = dict(resource.utilization)
        for node in list(resource.allowed):
            if node in self.nodes and not fits(node, needed):
                resource.allowed[node] = -INFINITY
                resource.contributions.append(("__limit_utilization__", node, -INFINITY))

    def unassigned_colocated(self, resource: Resource) -> list[Resource]:
        """Resources that must share the node (mandatory colocations, followed transitively;
        a clone does not pull in non-clone dependents), as utilization consumers."""
        collected: list[Resource] = []

        def visit(item: Resource) -> None:
            if any(item is seen for seen in collected):
                return
            collected.append(item)
            for colocation in self.group_this_with(item) + self.inherited_clone_this_with(item):
                if colocation.score >= INFINITY and colocation.primary is not resource:
                    visit(colocation.primary)
            for colocation in self.with_this_list(item):
                dependent = colocation.dependent
                if dependent is resource or colocation.score < INFINITY:
                    continue
                if item.variant == "clone" and dependent.variant != "clone":
                    continue
                visit(dependent)

        visit(resource)
        found: list[Resource] = []
        for item in collected[1:]:
            if not item.provisional:
                continue
            if item.variant == "clone":
                first = item.children[0] if item.children else None
                members = first.primitives() if first is not None else []
            else:
                members = item.primitives()
            found.extend(member for member in members if member.provisional
                         and member is not resource)
        return found

    # ------------------------------------------------------------ clones

    def assign_clone(self, clone: Resource) -> None:
        if not clone.provisional or clone.allocating:
            return
        if clone.promotable:
            self.add_promotion_scores(clone)
        clone.allocating = True
        for colocation in clone.this_with:
            self.assign(colocation.primary)
        for colocation in clone.with_this:
            if not self.has_influence(colocation):
                continue
            clone.allowed = self.merge_weights(
                colocation.dependent, clone.id, clone.allowed, colocation.node_attribute,
                colocation_factor(colocation.score), rollback=True, positive=True)
        nodes = self.sort_nodes(clone, clone.allowed, None)
        instances = sorted(clone.children, key=lambda child: self.instance_key(clone, child))
        self.distribute_instances(clone, instances, nodes)
        if clone.promotable:
            self.set_instance_roles(clone)
        clone.provisional = False
        clone.allocating = False

    def add_promotion_scores(self, clone: Resource) -> None:
        """Positive promotion scores join each instance's node scores before assignment."""
        for instance in clone.children:
            target = instance if instance.variant == "primitive" else instance.children[0]
            for node in list(target.allowed):
                info = self.nodes.get(node)
                if info is None or not info.available():
                    continue
                score = self.promotion_score(instance, node)
                if score is not None and score > 0:
                    target.allowed[node] = add_scores(target.allowed[node], score)
                    target.contributions.append(("promotion score", node, score))
                # The best promotion score also orders the instances for assignment.
                instance.priority = max(instance.priority, score or 0)

    def compare_instances(self, clone: Resource, first: Resource, second: Resource,
                          promotion: bool = False) -> int:
        """Pacemaker's instance order: fewer active nodes, usable current location, priority,
        active before inactive, available node, allowed by the clone, not failed, id."""
        def facts(instance: Resource):
            running = self.instance_running_nodes(instance)
            current = running[0] if running else None
            usable = True
            if current is not None:
                score = instance.allowed.get(current)
                if score is None or score < 0:
                    current = None
                    usable = False
            priority = instance.priority
            if promotion:
                priority = (instance.own_promotion_priority
                            if instance.own_promotion_priority is not None else priority)
            return running, current, usable, priority

        running1, node1, usable1, priority1 = facts(first)
        running2, node2, usable2, priority2 = facts(second)
        if running1 and running2 and len(running1) != len(running2):
            return -1 if len(running1) < len(running2) else 1
        if usable1 != usable2:
            return -1 if usable1 else 1
        if priority1 != priority2:
            return -1 if priority1 > priority2 else 1
        if node1 is None and node2 is None:
            return (first.instance_number > second.instance_number) - (
                first.instance_number < second.instance_number)
        if node1 is None or node2 is None:
            return 1 if node1 is None else -1
        available1, available2 = self.nodes[node1].available(), self.nodes[node2].available()
        if available1 != available2:
            return -1 if available1 else 1
        allowed1, allowed2 = node1 in clone.allowed, node2 in clone.allowed
        if allowed1 != allowed2:
            return -1 if allowed1 else 1
        count1, count2 = clone.counts.get(node1, 0), clone.counts.get(node2, 0)
        if count1 != count2:
            return -1 if count1 < count2 else 1
        failed1 = any(p.failed for p in first.primitives())
        failed2 = any(p.failed for p in second.primitives())
        if failed1 != failed2:
            return 1 if failed1 else -1
        id1, id2 = first.id.encode(), second.id.encode()
        return (id1 > id2) - (id1 < id2)

    def instance_key(self, clone: Resource, instance: Resource, promotion: bool = False):
        """Sort key wrapper for `compare_instances`."""
        scheduler = self

        class Key:
            def __init__(self, item: Resource) -> None:
                self.item = item

            def __lt__(self, other: Key) -> bool:
                return scheduler.compare_instances(clone, self.item, other.item, promotion) < 0

        return Key(instance)

    def instance_running_nodes(self, instance: Resource) -> list[str]:
        if instance.variant == "primitive":
            return list(instance.running_on)
        found: list[str] = []
        for member in instance.primitives():
            for node in member.running_on:
                if node not in found:
                    found.append(node)
        return found

    def distribute_instances(self, clone: Resource, instances: list[Resource],
                             nodes: list[str]) -> None:
        clone.counts = {node: 0 for node in clone.allowed}
        available_nodes = sum(1 for node in nodes if self.nodes[node].available())
        maximum = clone.clone_max
        all_colocations = maximum < available_nodes
        optimal = max(1, maximum // available_nodes) if available_nodes else 1
        allocated = 0
        for instance in instances:
            if allocated >= maximum:
                break
            running = self.instance_running_nodes(instance)
            if not running or not instance.provisional or any(
                    p.failed for p in instance.primitives()):
                continue
            current = running[0]
            if current not in self.nodes or not self.nodes[current].available():
                continue
            if clone.counts.get(current, 0) >= optimal:
                continue
            if self.assign_instance(clone, instance, current, all_colocations):
                allocated += 1
        for instance in instances:
            if not instance.provisional:
                continue
            if allocated >= maximum:
                for node in self.nodes:
                    self.resource_location(instance, node, -INFINITY, "clone:limit_reached")
                self.mark_unassigned(instance)
                continue
            if self.assign_instance(clone, instance, None, all_colocations):
                allocated += 1

    def mark_unassigned(self, instance: Resource) -> None:
        instance.limit_reached = True
        for primitive in instance.primitives():
            if primitive.provisional:
                primitive.provisional = False
                primitive.assigned = None
                primitive.next_role = "Stopped"
                primitive.decided_by = "clone-max reached"
        instance.provisional = False
        instance.assigned = None

    def assign_instance(self, clone: Resource, instance: Resource, prefer: str | None,
                        all_colocations: bool) -> bool:
        if not instance.provisional:
            return instance.assigned is not None
        self.append_parent_colocations(clone, instance, all_colocations)
        if prefer is not None:
            score = instance.allowed.get(prefer)
            if score is None or score < 0:
                return False
        self.can_run_instance(clone, instance)
        backup = self.snapshot(instance)
        nodes_before = {name: info.num_resources for name, info in self.nodes.items()}
        remaining_before = {name: dict(info.remaining) for name, info in self.nodes.items()}
        chosen = self.assign(instance, prefer)
        if instance.variant == "group":
            chosen = instance.children[0].assigned if instance.children else None
        if chosen is not None and prefer is not None and chosen != prefer:
            self.restore(instance, backup)
            for name, count in nodes_before.items():
                self.nodes[name].num_resources = count
                self.nodes[name].remaining = remaining_before[name]
            return False
        if chosen is not None:
            clone.counts[chosen] = clone.counts.get(chosen, 0) + 1
        return chosen is not None

    def snapshot(self, instance: Resource):
        return [(item, dict(item.allowed), item.provisional, item.assigned, item.next_role,
                 list(item.contributions), item.decided_by)
                for item in [instance, *instance.children]]

    def restore(self, instance: Resource, backup) -> None:
        for item, allowed, provisional, assigned, next_role, contributions, decided in backup:
            item.allowed = allowed
            item.provisional = provisional
            item.assigned = assigned
            item.next_role = next_role
            item.contributions = contributions
            item.decided_by = decided
            item.allocating = False

    def append_parent_colocations(self, clone: Resource, instance: Resource,
                                  all_colocations: bool) -> None:
        if instance.parent_colocations_added:
            return
        instance.parent_colocations_added = True
        this_with = [c for c in clone.this_with
                     if all_colocations or c.score < 0 or c.score >= INFINITY]
        with_this = [c for c in clone.with_this
                     if self.has_influence(c) and (all_colocations or c.score < 0)]
        target = instance if instance.variant == "primitive" else instance.children[0]
        target.parent_this_with = list(this_with)
        last = instance if instance.variant == "primitive" else instance.children[-1]
        last.parent_with_this = list(with_this)

    def can_run_instance(self, clone: Resource, instance: Resource) -> None:
        for node in list(instance.allowed):
            info = self.nodes.get(node)
            ok = False
            if info is not None and info.available() and not instance.orphan:
                parent_score = clone.allowed.get(node)
                if parent_score is None:
                    ok = False
                elif parent_score < 0:
                    self.update_score(instance, node, parent_score)
                    continue
                elif clone.counts.get(node, 0) < clone.clone_node_max:
                    ok = True
            if not ok:
                self.update_score(instance, node, -INFINITY)

    def update_score(self, resource: Resource, node: str, score: int) -> None:
        if node in resource.allowed:
            resource.allowed[node] = score
        for child in resource.children:
            self.update_score(child, node, score)

    # ------------------------------------------------------------ promotion

    def promotion_score(self, instance: Resource, node: str) -> int | None:
        if instance.variant == "group":
            total = None
            for member in instance.children:
                score = self.promotion_score(member, node)
                if score is not None:
                    total = (total or 0) + score
            return total
        clone = instance.clone_parent()
        base = instance.config.id
        names = [instance.id, base] if clone is not None and clone.unique else [base, instance.id]
        info = self.nodes.get(node)
        if info is None:
            return None
        if instance.known_on and node not in instance.known_on and not (
                clone is not None and not clone.unique):
            return None
        for name in names:
            value = info.attributes.get(f"master-{name}")
            if value is not None:
                return parse_score(value, 0)
        if clone is not None and not clone.unique:
            prefix = f"master-{base}:"
            for key in sorted(info.attributes):
                if key.startswith(prefix) and key[len(prefix):].isdigit():
                    return parse_score(info.attributes[key], 0)
        return None

    def set_instance_roles(self, clone: Resource) -> None:
        ordered = []
        for instance in clone.children:
            node = self.instance_node(instance)
            fixed = normalize_role(instance.meta.get("target-role"))
            if node is None:
                instance.promotion_priority = 0
                continue
            if fixed == "Unpromoted" or instance.next_role == "Stopped":
                priority = -INFINITY
            else:
                score = self.promotion_score(instance, node)
                priority = -1 if score is None else score
            for resource, entries, _tag in self.promoted_locations:
                if resource is clone or resource is instance or resource.id == instance.id:
                    for entry_node, value in entries:
                        if entry_node == node:
                            priority = add_scores(priority, value)
            for colocation in clone.this_with:
                priority = self.apply_coloc_to_priority(instance, node, colocation, priority)
            instance.promotion_priority = priority
            instance.own_promotion_priority = priority
            ordered.append(instance)
        # The clone's node table accumulates the instances' priorities; colocations with
        # the promoted role then add their preferences; each instance takes its node's total.
        table = dict(clone.allowed)
        for instance in ordered:
            node = self.instance_node(instance)
            if instance.promotion_priority < 0:
                continue
            table[node] = add_scores(instance.promotion_priority, table.get(node, 0))
        for colocation in clone.this_with:
            if colocation.dependent_role == "Promoted":
                table = self.merge_weights(colocation.primary, clone.id, table,
                                           colocation.node_attribute,
                                           colocation_factor(colocation.score),
                                           rollback=False, positive=False, forward=True)
        for colocation in clone.with_this:
            if colocation.primary_role == "Promoted" and self.has_influence(colocation):
                table = self.merge_weights(colocation.dependent, clone.id, table,
                                           colocation.node_attribute,
                                           colocation_factor(colocation.score),
                                           rollback=True, positive=True)
        for instance in ordered:
            if instance.promotion_priority >= 0:
                instance.promotion_priority = table.get(self.instance_node(instance), 0)
        ordered.sort(key=lambda item: (-item.promotion_priority,
                                       0 if item_role(item) == "Promoted" else 1,
                                       self.instance_key(clone, item, promotion=True)))
        promoted = 0
        per_node: dict[str, int] = {}
        for instance in ordered:
            node = self.instance_node(instance)
            can_promote = (
                instance.promotion_priority >= 0 and promoted < clone.promoted_max
                and per_node.get(node, 0) < clone.promoted_node_max
                and self.nodes[node].available()
                and not (not self.have_quorum and self.no_quorum_policy == "freeze"
                         and item_role(instance) != "Promoted")
                and not (not self.have_quorum and self.no_quorum_policy == "demote")
            )
            if not all(p.managed for p in instance.primitives()):
                can_promote = item_role(instance) == "Promoted"
            role = "Promoted" if can_promote else "Unpromoted"
            if can_promote:
                promoted += 1
                per_node[node] = per_node.get(node, 0) + 1
            for primitive in instance.primitives():
                if primitive.assigned is not None:
                    primitive.next_role = role
            instance.next_role = role

    def apply_coloc_to_priority(self, instance: Resource, node: str, colocation: Colocation,
                                priority: int) -> int:
        if colocation.dependent_role not in ("Promoted",) and colocation.primary_role not in (
                "Promoted",):
            return priority
        primary = colocation.primary
        primary_nodes = set()
        for item in ([primary] if primary.variant != "clone" else primary.children):
            item_node = self.instance_node(item)
            if item_node is None:
                continue
            if colocation.primary_role not in (None, "Started") and (
                    item_role_next(item) != colocation.primary_role):
                continue
            primary_nodes.add(self.node_attribute(item_node, colocation.node_attribute))
        here = self.node_attribute(node, colocation.node_attribute)
        if colocation.dependent_role != "Promoted":
            return priority
        if here in primary_nodes:
            return add_scores(priority, colocation.score)
        if colocation.score >= INFINITY:
            return -INFINITY
        return priority

    def dependent_node(self, resource: Resource) -> str | None:
        if resource.variant == "clone":
            return None
        return self.instance_node(resource)

    def instance_node(self, instance: Resource) -> str | None:
        if instance.variant == "primitive":
            return instance.assigned
        if instance.variant == "group":
            return instance.children[0].assigned if instance.children else None
        return None

    # ============================================================ actions and blocking

    def decide_actions(self) -> None:
        self.compute_fencing()
        primitives = self.all_primitives()
        for resource in primitives:
            self.initial_runnability(resource)
        self.block_stops_behind_unmanaged()
        changed = True
        rounds = 0
        while changed and rounds < 50:
            changed = False
            rounds += 1
            for resource in primitives:
                if self.propagate_orderings(resource):
                    changed = True

    def block_stops_behind_unmanaged(self) -> None:
        """Stopping `first` requires stopping `then` first; an unmanaged `then` cannot stop."""
        for first_id, then_id in self.symmetric_orders:
            first = self.by_id.get(first_id)
            then = self.by_id.get(then_id)
            if first is None or then is None:
                continue
            then_stuck = any(not p.managed and p.running_on for p in then.primitives())
            if not then_stuck:
                continue
            for primitive in first.primitives():
                for node in list(primitive.stop_runnable):
                    if not self.node_gone(node):
                        primitive.stop_runnable[node] = False

    def compute_fencing(self) -> None:
        managed_exists = any(r.managed for r in self.all_primitives())
        can_fence = self.fencing_enabled and (self.has_fencing_device or self.have_watchdog)
        for name, info in self.sorted_nodes():
            if not info.unclean:
                continue
            quorum_ok = self.have_quorum or self.no_quorum_policy == "ignore" or info.online
            if can_fence and quorum_ok and managed_exists:
                self.fenced.append(name)
        if (not self.have_quorum and self.no_quorum_policy == "fence" and can_fence
                and self.ever_had_quorum()):
            for name, info in self.sorted_nodes():
                if info.online and name not in self.fenced:
                    self.fenced.append(name)

    def ever_had_quorum(self) -> bool:
        return self.status.quorum_panic

    def node_gone(self, node: str) -> bool:
        """The node's resources are known stopped: fenced, or fencing off and node down."""
        info = self.nodes.get(node)
        if info is None:
            return True
        if node in self.fenced:
            return True
        if not info.online and not self.fencing_enabled:
            return True
        return False

    def stop_possible(self, resource: Resource, node: str) -> bool:
        info = self.nodes.get(node)
        if self.node_gone(node):
            return True
        if info is None or not info.online or info.unclean:
            return False
        if not resource.managed:
            return False
        if node in resource.stop_failed_on:
            return False
        return True

    def needs_quorum(self, resource: Resource) -> bool:
        requires = resource.meta.get("requires")
        if requires is None:
            if not self.fencing_enabled and self.no_quorum_policy == "ignore":
                requires = "nothing"
            elif resource.config.agent_class == "stonith":
                requires = "quorum"
            else:
                requires = "fencing" if self.fencing_enabled else "quorum"
        return requires != "nothing"

    def initial_runnability(self, resource: Resource) -> None:
        target = resource.assigned
        resource.stop_runnable = {}
        stop_everywhere = resource.stop_everywhere
        for node in resource.running_on:
            if (node != target or resource.failed or resource.next_role == "Stopped"
                    or stop_everywhere or node in resource.parameter_restarts):
                resource.stop_runnable[node] = self.stop_possible(resource, node)
        no_quorum = not self.have_quorum and self.no_quorum_policy != "ignore"
        if no_quorum and self.needs_quorum(resource) and self.no_quorum_policy in (
                "stop", "demote", "fence") and resource.managed:
            keep = (self.no_quorum_policy == "demote" and resource.clone_parent() is not None
                    and resource.clone_parent().promotable)
            if not keep:
                for node in resource.running_on:
                    resource.stop_runnable[node] = self.stop_possible(resource, node)
                resource.start_runnable = False
                resource.no_quorum_stop = True
                return
        start_needed = target is not None and (target not in resource.running_on
                                               or resource.failed
                                               or target in resource.stop_runnable)
        runnable = target is not None and resource.managed
        if target is not None and not resource.managed:
            runnable = True
        if runnable and start_needed:
            if no_quorum and self.needs_quorum(resource):
                if self.no_quorum_policy == "freeze" and not resource.running_on:
                    runnable = False
            for ok in resource.stop_runnable.values():
                if not ok:
                    runnable = False
            if not resource.running_on and any(
                    info.pending and info.online and name not in resource.known_on
                    for name, info in self.nodes.items()):
                # A start waits for the probe on every node; a pending node cannot probe.
                runnable = False
            if self.fencing_enabled and self.needs_fencing_requirement(resource):
                for node in self.nodes:
                    info = self.nodes[node]
                    if info.unclean and node not in self.fenced and node in resource.running_on:
                        runnable = False
        resource.start_runnable = runnable
        resource.promote_runnable = runnable

    def needs_fencing_requirement(self, resource: Resource) -> bool:
        requires = resource.meta.get("requires")
        return requires in (None, "fencing", "unfencing")

    def propagate_orderings(self, resource: Resource) -> bool:
        if not resource.start_runnable:
            return False
        blocked = False
        parent = resource.parent
        if parent is not None and parent.variant == "group" and truth(
                parent.meta.get("ordered"), True):
            index = parent.children.index(resource)
            if index > 0:
                previous = parent.children[index - 1]
                if not previous.start_runnable and previous.assigned is not None:
                    blocked = True
        stays = (len(resource.running_on) == 1 and resource.assigned == resource.running_on[0]
                 and not resource.failed)
        if not blocked:
            blocked = self.blocked_by_colocation(resource, ("Started", None))
        if not blocked and resource.promote_runnable and resource.next_role == "Promoted" and (
                self.blocked_by_colocation(resource, ("Promoted",))):
            resource.promote_runnable = False
            return True
        for first, kind in self.mandatory_firsts(resource):
            if kind[3] == "promote":
                # "first then promote": only the promotion waits on the first resource.
                if resource.promote_runnable and resource.next_role == "Promoted" and (
                        not self.first_runnable(first, resource, kind)):
                    resource.promote_runnable = False
                    return True
                continue
            if not kind[2] and stays:
                # An asymmetric ordering never stops what already runs where it should.
                continue
            if not self.first_runnable(first, resource, kind):
                blocked = True
                break
        if blocked:
            resource.start_runnable = False
            resource.promote_runnable = False
            resource.order_blocked = True
            return True
        return False

    def blocked_by_colocation(self, resource: Resource, roles: tuple) -> bool:
        """A mandatory colocation with a primary that cannot start stops the dependent
        (or, for a colocation of the promoted role, keeps it from being promoted)."""
        for colocation in self.group_this_with(resource) + self.inherited_clone_this_with(
                resource):
            if colocation.score < INFINITY or colocation.id == "#group-members":
                continue
            if colocation.dependent_role not in roles:
                continue
            primary = colocation.primary
            if primary.variant == "clone":
                continue
            members = primary.primitives()
            if primary.variant == "group":
                members = members[-1:]
            for member in members:
                if member.assigned is not None and not member.start_runnable and (
                        member.order_blocked
                        or member.assigned not in member.running_on):
                    return True
        return False

    def mandatory_firsts(self, resource: Resource):
        return self.order_index.get(resource.id, [])

    def first_runnable(self, first: Resource, then: Resource, kind) -> bool:
        minimum, interleave = kind[0], kind[1]
        primitives = first.primitives()
        if first.variant == "clone":
            instances = first.children
            if interleave and minimum <= 0 and then.clone_parent() is not None:
                node = then.assigned
                for instance in instances:
                    if self.instance_node(instance) == node and all(
                            p.start_runnable for p in instance.primitives()):
                        return True
                return False
            count = sum(1 for instance in instances
                        if self.instance_node(instance) is not None and all(
                            p.start_runnable for p in instance.primitives()))
            return count >= max(1, minimum)
        if first.variant == "group":
            # The group is "running" only when every member can run.
            return all(p.start_runnable and p.assigned is not None for p in primitives)
        return first.start_runnable and first.assigned is not None

    def build_order_index(self) -> None:
        self.order_index: dict[str, list] = {}
        self.symmetric_orders: list[tuple[str, str]] = []
        for first_id, then_id in self.container_orders:
            self.add_order(first_id, then_id, True)
        for resource in self.by_id.values():
            if resource.variant == "group" and truth(resource.meta.get("ordered"), True):
                for index, member in enumerate(resource.children):
                    for later in resource.children[index + 1:]:
                        self.symmetric_orders.append((member.id, later.id))
        for constraint in self.config.constraints:
            if not isinstance(constraint, OrderConstraint):
                continue
            kind = (constraint.kind or "").lower()
            if not kind:
                kind = "mandatory"
                if constraint.score is not None and parse_score(constraint.score, 0) == 0:
                    kind = "optional"
            if kind != "mandatory":
                continue
            if constraint.resource_sets:
                self.build_set_orders(constraint)
                continue
            first_action = (constraint.first_action or "start").lower()
            then_action = (constraint.then_action or first_action).lower()
            if first_action not in ("start", "promote") or then_action not in (
                    "start", "promote"):
                continue
            symmetric = constraint.symmetrical is not False
            for first_id in self.expand_reference(constraint.first or ""):
                for then_id in self.expand_reference(constraint.then or ""):
                    self.add_order(first_id, then_id, symmetric,
                                   minimum=1 if constraint.require_all is False else None,
                                   then_action=then_action)
                    if symmetric and first_action == "start":
                        self.symmetric_orders.append((first_id, then_id))

    def build_set_orders(self, constraint: OrderConstraint) -> None:
        sets = constraint.resource_sets
        symmetric = constraint.symmetrical is not False
        previous_members: list[str] = []
        previous_set: ResourceSet | None = None
        for resource_set in sets:
            action = (resource_set.action or "start").lower()
            members = [r for ref in resource_set.resources for r in self.expand_reference(ref)]
            if action not in ("start", "promote"):
                previous_members, previous_set = members, resource_set
                continue
            set_kind = (resource_set.kind or "mandatory").lower()
            if resource_set.sequential is not False and set_kind == "mandatory":
                for first_id, then_id in zip(members, members[1:], strict=False):
                    self.add_order(first_id, then_id, symmetric)
            if previous_set is not None and previous_members and members:
                if previous_set.require_all:
                    firsts = previous_members if previous_set.sequential is False else [
                        previous_members[-1]]
                    thens = members if resource_set.sequential is False else [members[0]]
                    for first_id in firsts:
                        for then_id in thens:
                            self.add_order(first_id, then_id, symmetric)
                else:
                    thens = members if resource_set.sequential is False else [members[0]]
                    for then_id in thens:
                        self.add_order_any(previous_members, then_id, symmetric)
            previous_members, previous_set = members, resource_set

    def add_order(self, first_id: str, then_id: str, symmetric: bool = True,
                  minimum: int | None = None, then_action: str = "start") -> None:
        first = self.by_id.get(first_id)
        then = self.by_id.get(then_id)
        if first is None or then is None:
            return
        if self.is_fencing_device(first) != self.is_fencing_device(then):
            return
        if minimum is None:
            minimum = (_int_value(first.meta.get("clone-min"), 0)
                       if first.variant == "clone" else 0)
        for primitive in then.primitives():
            interleave = (then.variant == "clone" and then.interleave
                          and first.variant == "clone")
            self.order_index.setdefault(primitive.id, []).append(
                (first, (minimum, interleave, symmetric, then_action)))

    def add_order_any(self, first_ids: list[str], then_id: str, symmetric: bool = True) -> None:
        firsts = [self.by_id[f] for f in first_ids if f in self.by_id]
        then = self.by_id.get(then_id)
        if not firsts or then is None:
            return
        pseudo = Resource(id="one-or-more:" + then_id, variant="clone", config=None)
        pseudo.children = firsts
        for primitive in then.primitives():
            self.order_index.setdefault(primitive.id, []).append(
                (pseudo, (1, False, symmetric, "start")))

    def is_fencing_device(self, resource: Resource) -> bool:
        return all(p.config.agent_class == "stonith" for p in resource.primitives())

    # ============================================================ final placement

    def final_state(self, resource: Resource) -> tuple[tuple[str, ...], str]:
        nodes = list(resource.running_on)
        role = resource.role
        if not resource.managed:
            return tuple(nodes), role if nodes else "Stopped"
        for node, ok in resource.stop_runnable.items():
            if ok and node in nodes:
                nodes.remove(node)
        if resource.order_blocked:
            # An unrunnable start blocks the resource where it runs too: it is stopped.
            for node in list(nodes):
                if self.stop_possible(resource, node):
                    nodes.remove(node)
        target = resource.assigned
        if resource.no_quorum_stop:
            return tuple(nodes), role if nodes else "Stopped"
        if target is not None and resource.start_runnable and target not in nodes:
            if not nodes:
                nodes.append(target)
                role = "Started"
        if target is not None and target in nodes and len(nodes) == 1:
            next_role = resource.next_role or "Started"
            if next_role == "Promoted" and role != "Promoted":
                role = "Promoted" if resource.promote_runnable else (
                    "Unpromoted" if role in ("Started", "Stopped", "Unpromoted") else role)
                if role == "Promoted" and not resource.promote_runnable:
                    role = "Unpromoted"
            elif next_role in ("Unpromoted", "Started") and role == "Promoted":
                role = "Unpromoted" if self.is_promotable(resource) else "Started"
            elif role == "Stopped":
                role = "Started"
            if self.is_promotable(resource) and role == "Started":
                role = "Unpromoted" if next_role != "Promoted" else "Unpromoted"
        if not nodes:
            return (), "Stopped"
        if len(nodes) > 1:
            return tuple(sorted(nodes, key=natural_key)), role
        return tuple(nodes), role

    # ============================================================ driver

    def run(self):
        self.hard_bans: list = []
        self.fatal_bans: list = []
        self.stop_bans: list = []
        self.promoted_locations: list = []
        self.exclusive_nodes: dict[str, set[str]] = {}
        self.container_orders: list[tuple[str, str]] = []
        self.recorded_locks: list[tuple[Resource, str, int]] = []
        self.container_failures: list[tuple[str | None, str]] = []
        self.unpack_nodes()
        self.unpack_resources()
        self.unpack_status()
        self.changed_failures = failures_with_changed_parameters(self)
        for container_id, node in self.container_failures:
            container = self.by_id.get(container_id or "")
            if container is not None and node in container.running_on:
                container.failed = True
        self.apply_base_scores()
        self.unpack_colocations()
        self.internal_colocations()
        self.apply_locations()
        self.apply_node_health()
        self.apply_shutdown_locks()
        self.apply_stickiness_and_failures()
        self.apply_unmanaged_and_bans()
        order = self.resource_order()
        for resource in order:
            self.assign(resource)
        self.build_order_index()
        plan_parameter_changes(self)
        self.decide_actions()
        return self


# ---------------------------------------------------------------- helpers


def item_role(instance: Resource) -> str:
    if instance.variant == "primitive":
        return instance.role
    return instance.children[0].role if instance.children else "Stopped"


def item_role_next(instance: Resource) -> str | None:
    if instance.variant == "primitive":
        return instance.next_role
    return instance.next_role or (instance.children[0].next_role if instance.children else None)


def _int_value(value: str | None, default: int = 0) -> int:
    if value is None:
        return default
    match = re.match(r"\s*([+-]?\d+)", value)
    if match:
        return int(match.group(1))
    if value.strip().lower() in ("infinity", "+infinity"):
        return INFINITY
    return default


def _index_failure_attributes(node: NodeInfo) -> dict[str, list[tuple[int, str, str]]]:
    """A node's fail-count-* and last-failure-* attributes by the resource name they name,
    up to its first ":" (a clone instance counts under its clone's name), with their
    position so that several groups merge back into attribute order."""
    index: dict[str, list[tuple[int, str, str]]] = {}
    for position, (key, value) in enumerate(node.attributes.items()):
        if key.startswith("fail-count-"):
            name = key[len("fail-count-"):]
        elif key.startswith("last-failure-"):
            name = key[len("last-failure-"):]
        else:
            continue
        prefix = name.partition("#")[0].split(":")[0]
        index.setdefault(prefix, []).append((position, key, value))
    return index


def _version_before(version: str, limit: tuple[int, ...]) -> bool:
    parts = tuple(int(part) if part.isdigit() else 0 for part in version.split("."))
    return parts < limit


def _casefold_equal(first: str | None, second: str | None) -> bool:
    if first is None or second is None:
        return first is None and second is None
    return first.lower() == second.lower()


def _coloc_role(role: str | None) -> str | None:
    normalized = normalize_role(role)
    if normalized == "Started":
        return None
    return normalized


def _variant_rank(resource: Resource) -> int:
    return {"clone": 3, "group": 2, "primitive": 1}.get(resource.variant, 0)


def _coloc_sort_key(resource: Resource):
    return (-resource.priority, -_variant_rank(resource),
            0 if resource.promotable else 1, resource.id.encode())


def _insert_sorted(items: list[Colocation], colocation: Colocation, pick) -> None:
    items.append(colocation)
    items.sort(key=lambda item: _coloc_sort_key(pick(item)))


def _merge_sorted(first: list[Colocation], second: list[Colocation], pick) -> list[Colocation]:
    merged = first + [item for item in second if item not in first]
    return sorted(merged, key=lambda item: _coloc_sort_key(pick(item)))


def _clone_primitives(clone: Clone) -> list[Primitive]:
    if isinstance(clone.child, Primitive):
        return [clone.child]
    return list(clone.child.members)
