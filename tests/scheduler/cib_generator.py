"""Hypothesis strategies for small random Pacemaker CIBs (configuration + status).

Role: feed the differential test of our scheduler against Pacemaker's crm_simulate with
CIBs of the shapes raftha supports: 2-5 nodes (some offline or in standby), 1-8
ocf:heartbeat:Dummy primitives, groups, anonymous clones, location constraints and
colocations with finite and infinite scores, resource-stickiness, migration-threshold, and
a status section in which resources already run, have failed recurring monitors or failed
starts, with per-operation fail counts.

Invariants:
- A CibSpec is plain frozen data; CibSpec.to_xml() renders it deterministically, so a
  Hypothesis example shrinks on the spec and the XML is a pure function of it.
- The XML is what Pacemaker 2.1.5 accepts: validate-with pacemaker-3.9, crm_feature_set
  3.16.1 (the simulator refuses anything newer), per-operation fail-count names
  (`fail-count-<rsc>#<op>_<interval_ms>`), node ids shared by <node> and <node_state>,
  operation history with consistent operation_key, transition-key (target rc in the third
  field), transition-magic and the operation digests Pacemaker computes.
- Fencing is always disabled (stonith-enabled=false): there is no fencing device to model.
- Offline nodes are cleanly down (expected="down") and carry no operation history, unless
  a profile asks for history on offline nodes.
- A GeneratorProfile switches whole features on or off, so a test can restrict itself to
  the subset of Pacemaker semantics the scheduler under test supports.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from hypothesis import strategies as st

FEATURE_SET = "3.16.1"
SCHEMA = "pacemaker-3.9"
TRANSITION_UUID = "6f1a8e2c-5a2e-4c8d-9c7e-3d0f6b1a2c44"
# Digests of the operation parameters as Pacemaker 2.1.5 computes them for a Dummy without
# instance attributes (read from the history crm_simulate itself writes with -O). A wrong
# digest means "definition changed": Pacemaker then clears fail counts and restarts.
ONE_SHOT_DIGEST = "f2317cad3d54cec5d7d7aa7d0bf35cf8"
MONITOR_DIGEST = "4811cef7f7f94e3a35a70be7916cb2fd"  # monitor interval=10s timeout=20s
MONITOR_INTERVAL_MS = 10000
# Promotable clones use ocf:pacemaker:Stateful with one monitor per role.
PROMOTED_MONITOR_INTERVAL_MS = 10000
UNPROMOTED_MONITOR_INTERVAL_MS = 11000
LAST_RC_CHANGE_S = 1700000000

FINITE_SCORES = ("-1000", "-200", "-100", "-50", "-10", "0", "5", "10", "50", "100", "200",
                 "1000")
INFINITE_SCORES = ("INFINITY", "-INFINITY")

# Operation history kinds of one resource on one node.
RUNNING = "running"                # start succeeded, recurring monitor fine
PROBED_STOPPED = "probed_stopped"  # probe found it not running
FAILED_MONITOR = "failed_monitor"  # started, then the recurring monitor found it stopped
FAILED_START = "failed_start"      # start returned an error
PROMOTED = "promoted"              # started and promoted (promotable clones only)
STOPPED_AFTER_FAILURE = "stopped_after_failure"  # failed earlier, stopped since
HISTORY_KINDS = (RUNNING, PROBED_STOPPED, FAILED_MONITOR, FAILED_START, STOPPED_AFTER_FAILURE,
                 PROMOTED)
FAILURE_KINDS = (FAILED_MONITOR, FAILED_START, STOPPED_AFTER_FAILURE)


@dataclass(frozen=True)
class GeneratorProfile:
    """Which features the generated CIBs may use (all on = the full supported shape)."""

    min_nodes: int = 2
    max_nodes: int = 5
    min_primitives: int = 1
    max_primitives: int = 8
    offline_nodes: bool = True
    standby_nodes: bool = True
    groups: bool = True
    clones: bool = True
    cloned_groups: bool = False
    locations: bool = True
    colocations: bool = True
    infinite_scores: bool = True
    stickiness: bool = True
    target_role_stopped: bool = True
    running_resources: bool = True
    failures: bool = True
    migration_threshold: bool = True
    quorum_loss: bool = True
    no_quorum_policies: tuple[str, ...] = ("stop", "ignore", "freeze")
    opt_in_cluster: bool = False
    multiply_active: bool = False
    history_on_offline_nodes: bool = False
    orders: bool = False
    promotable: bool = False
    location_rules: bool = False
    utilization: bool = False
    max_locations: int = 6
    max_colocations: int = 4
    max_orders: int = 3

    def restricted(self, **changes: object) -> GeneratorProfile:
        return dataclasses.replace(self, **changes)


FULL_PROFILE = GeneratorProfile()
EVERYTHING_PROFILE = GeneratorProfile(cloned_groups=True, multiply_active=True,
                                      opt_in_cluster=True, history_on_offline_nodes=True,
                                      orders=True, location_rules=True, utilization=True,
                                      promotable=True)
BASIC_PROFILE = GeneratorProfile(
    offline_nodes=False, standby_nodes=False, groups=False, clones=False, colocations=False,
    target_role_stopped=False, failures=False, migration_threshold=False, quorum_loss=False)


@dataclass(frozen=True)
class NodeSpec:
    name: str
    node_id: str
    online: bool = True
    standby: bool = False
    rack: str | None = None          # a node attribute that location rules test
    capacity: int | None = None      # utilization "capacity" of the node


@dataclass(frozen=True)
class PrimitiveSpec:
    resource_id: str
    stickiness: int | None = None
    migration_threshold: int | None = None
    target_role_stopped: bool = False
    utilization: int | None = None   # "capacity" the resource needs


@dataclass(frozen=True)
class GroupSpec:
    resource_id: str
    members: tuple[PrimitiveSpec, ...]
    stickiness: int | None = None


@dataclass(frozen=True)
class CloneSpec:
    resource_id: str
    child: PrimitiveSpec | GroupSpec
    clone_max: int | None = None
    target_role_stopped: bool = False
    promotable: bool = False
    promoted_max: int | None = None


TopLevel = PrimitiveSpec | GroupSpec | CloneSpec


@dataclass(frozen=True)
class LocationSpec:
    constraint_id: str
    resource_id: str
    node: str
    score: str


@dataclass(frozen=True)
class ColocationSpec:
    constraint_id: str
    resource_id: str
    with_resource_id: str
    score: str


@dataclass(frozen=True)
class OrderSpec:
    constraint_id: str
    first_id: str
    then_id: str
    kind: str = "Mandatory"          # Mandatory or Optional
    symmetrical: bool | None = None  # None: Pacemaker's default


@dataclass(frozen=True)
class RuleLocationSpec:
    """A location rule on the `rack` node attribute (eq / ne) with a score."""

    constraint_id: str
    resource_id: str
    score: str
    operation: str
    rack: str


@dataclass(frozen=True)
class PromotionScoreSpec:
    """The promotion preference (`master-<primitive>` node attribute) on one node."""

    primitive_id: str
    node: str
    score: str


@dataclass(frozen=True)
class HistorySpec:
    """The operation history of one primitive on one node."""

    primitive_id: str
    node: str
    kind: str
    fail_count: str | None = None  # "INFINITY" or a decimal, for failure kinds


@dataclass(frozen=True)
class CibSpec:
    nodes: tuple[NodeSpec, ...]
    resources: tuple[TopLevel, ...]
    locations: tuple[LocationSpec, ...] = ()
    colocations: tuple[ColocationSpec, ...] = ()
    history: tuple[HistorySpec, ...] = ()
    default_stickiness: int | None = None
    default_migration_threshold: int | None = None
    have_quorum: bool = True
    no_quorum_policy: str = "stop"
    symmetric_cluster: bool = True
    orders: tuple[OrderSpec, ...] = ()
    rule_locations: tuple[RuleLocationSpec, ...] = ()
    placement_strategy: str = "default"
    promotion_scores: tuple[PromotionScoreSpec, ...] = ()

    def to_xml(self) -> str:
        return render_cib(self)


def primitives_of(resource: TopLevel) -> tuple[PrimitiveSpec, ...]:
    """The primitives inside a top-level resource, in document order."""
    if isinstance(resource, PrimitiveSpec):
        return (resource,)
    if isinstance(resource, GroupSpec):
        return resource.members
    return primitives_of(resource.child)


# ---------------------------------------------------------------------------- rendering


def _attribute(name: str, value: object) -> str:
    return f"{name}={quoteattr(str(value))}"


def _nvpair(owner_id: str, name: str, value: object) -> str:
    safe_name = name.replace("#", "-").replace(":", "-")
    return (f"<nvpair {_attribute('id', f'{owner_id}-{safe_name}')} {_attribute('name', name)} "
            f"{_attribute('value', value)}/>")


def _meta(owner_id: str, pairs: dict[str, object]) -> str:
    if not pairs:
        return ""
    meta_id = f"{owner_id}-meta_attributes"
    body = "".join(_nvpair(meta_id, name, value) for name, value in pairs.items())
    return f"<meta_attributes {_attribute('id', meta_id)}>{body}</meta_attributes>"


def _render_primitive(primitive: PrimitiveSpec, stateful: bool = False) -> str:
    meta: dict[str, object] = {}
    if primitive.stickiness is not None:
        meta["resource-stickiness"] = primitive.stickiness
    if primitive.migration_threshold is not None:
        meta["migration-threshold"] = primitive.migration_threshold
    if primitive.target_role_stopped:
        meta["target-role"] = "Stopped"
    rid = primitive.resource_id
    utilization = ""
    if primitive.utilization is not None:
        utilization = (f"<utilization {_attribute('id', f'{rid}-utilization')}>"
                       f"{_nvpair(f'{rid}-utilization', 'capacity', primitive.utilization)}"
                       "</utilization>")
    if stateful:
        agent = 'class="ocf" provider="pacemaker" type="Stateful"'
        operations = (f"<op {_attribute('id', f'{rid}-monitor-promoted')} name=\"monitor\" "
                      "interval=\"10s\" timeout=\"20s\" role=\"Promoted\"/>"
                      f"<op {_attribute('id', f'{rid}-monitor-unpromoted')} name=\"monitor\" "
                      "interval=\"11s\" timeout=\"20s\" role=\"Unpromoted\"/>")
    else:
        agent = 'class="ocf" provider="heartbeat" type="Dummy"'
        operations = (f"<op {_attribute('id', f'{rid}-monitor-interval-10s')} "
                      "name=\"monitor\" interval=\"10s\" timeout=\"20s\"/>")
    return (f"<primitive {_attribute('id', rid)} {agent}>{_meta(rid, meta)}{utilization}"
            f"<operations>{operations}</operations></primitive>")


def _render_resource(resource: TopLevel) -> str:
    if isinstance(resource, PrimitiveSpec):
        return _render_primitive(resource)
    if isinstance(resource, GroupSpec):
        meta = ({} if resource.stickiness is None
                else {"resource-stickiness": resource.stickiness})
        members = "".join(_render_primitive(member) for member in resource.members)
        return (f"<group {_attribute('id', resource.resource_id)}>"
                f"{_meta(resource.resource_id, meta)}{members}</group>")
    meta = {}
    if resource.clone_max is not None:
        meta["clone-max"] = resource.clone_max
    if resource.target_role_stopped:
        meta["target-role"] = "Stopped"
    if resource.promotable:
        meta["promotable"] = "true"
        if resource.promoted_max is not None:
            meta["promoted-max"] = resource.promoted_max
    child = (_render_primitive(resource.child, stateful=True)
             if resource.promotable and isinstance(resource.child, PrimitiveSpec)
             else _render_resource(resource.child))
    return (f"<clone {_attribute('id', resource.resource_id)}>"
            f"{_meta(resource.resource_id, meta)}{child}</clone>")


def _render_configuration(spec: CibSpec) -> str:
    options = {"stonith-enabled": "false", "no-quorum-policy": spec.no_quorum_policy}
    if not spec.symmetric_cluster:
        options["symmetric-cluster"] = "false"
    if spec.placement_strategy != "default":
        options["placement-strategy"] = spec.placement_strategy
    properties = "".join(_nvpair("cib-bootstrap-options", name, value)
                         for name, value in options.items())
    parts = ["<configuration><crm_config><cluster_property_set id=\"cib-bootstrap-options\">",
             properties, "</cluster_property_set></crm_config><nodes>"]
    for node in spec.nodes:
        owner = f"nodes-{node.node_id}"
        pairs = ""
        if node.standby:
            pairs += _nvpair(owner, "standby", "on")
        if node.rack is not None:
            pairs += _nvpair(owner, "rack", node.rack)
        attributes = (f"<instance_attributes {_attribute('id', owner)}>{pairs}"
                      "</instance_attributes>") if pairs else ""
        if node.capacity is not None:
            attributes += (f"<utilization {_attribute('id', f'{owner}-utilization')}>"
                           f"{_nvpair(f'{owner}-utilization', 'capacity', node.capacity)}"
                           "</utilization>")
        parts.append(f"<node {_attribute('id', node.node_id)} {_attribute('uname', node.name)}"
                     f">{attributes}</node>")
    parts.append("</nodes><resources>")
    parts.extend(_render_resource(resource) for resource in spec.resources)
    parts.append("</resources><constraints>")
    for location in spec.locations:
        parts.append(f"<rsc_location {_attribute('id', location.constraint_id)} "
                     f"{_attribute('rsc', location.resource_id)} "
                     f"{_attribute('node', location.node)} "
                     f"{_attribute('score', location.score)}/>")
    for colocation in spec.colocations:
        parts.append(f"<rsc_colocation {_attribute('id', colocation.constraint_id)} "
                     f"{_attribute('rsc', colocation.resource_id)} "
                     f"{_attribute('with-rsc', colocation.with_resource_id)} "
                     f"{_attribute('score', colocation.score)}/>")
    for rule_location in spec.rule_locations:
        rule_id = f"{rule_location.constraint_id}-rule"
        parts.append(f"<rsc_location {_attribute('id', rule_location.constraint_id)} "
                     f"{_attribute('rsc', rule_location.resource_id)}>"
                     f"<rule {_attribute('id', rule_id)} "
                     f"{_attribute('score', rule_location.score)}>"
                     f"<expression {_attribute('id', f'{rule_id}-expression')} "
                     f"attribute=\"rack\" {_attribute('operation', rule_location.operation)} "
                     f"{_attribute('value', rule_location.rack)}/></rule></rsc_location>")
    for order in spec.orders:
        symmetrical = ("" if order.symmetrical is None
                       else f" symmetrical=\"{str(order.symmetrical).lower()}\"")
        parts.append(f"<rsc_order {_attribute('id', order.constraint_id)} "
                     f"{_attribute('first', order.first_id)} "
                     f"{_attribute('then', order.then_id)} "
                     f"{_attribute('kind', order.kind)}{symmetrical}/>")
    parts.append("</constraints>")
    defaults: dict[str, object] = {}
    if spec.default_stickiness is not None:
        defaults["resource-stickiness"] = spec.default_stickiness
    if spec.default_migration_threshold is not None:
        defaults["migration-threshold"] = spec.default_migration_threshold
    if defaults:
        body = "".join(_nvpair("rsc-options", name, value) for name, value in defaults.items())
        parts.append(f"<rsc_defaults><meta_attributes id=\"rsc-options\">{body}"
                     "</meta_attributes></rsc_defaults>")
    parts.append("</configuration>")
    return "".join(parts)


class _CallCounter:
    """Call ids and transition action numbers grow through the document, like a real log."""

    def __init__(self) -> None:
        self.value = 0

    def next(self) -> int:
        self.value += 1
        return self.value


def _operation(primitive_id: str, node: str, *, suffix: str, operation: str, interval_ms: int,
               target_rc: int, rc: int, counter: _CallCounter) -> str:
    action_number = counter.next()
    transition_key = f"{action_number}:1:{target_rc}:{TRANSITION_UUID}"
    interval_text = f"{operation}_{interval_ms}"
    return (f"<lrm_rsc_op {_attribute('id', f'{primitive_id}_{suffix}')} "
            f"{_attribute('operation_key', f'{primitive_id}_{interval_text}')} "
            f"{_attribute('operation', operation)} crm-debug-origin=\"do_update_resource\" "
            f"crm_feature_set=\"{FEATURE_SET}\" "
            f"{_attribute('transition-key', transition_key)} "
            f"{_attribute('transition-magic', f'0:{rc};{transition_key}')} exit-reason=\"\" "
            f"{_attribute('on_node', node)} {_attribute('call-id', action_number)} "
            f"{_attribute('rc-code', rc)} op-status=\"0\" {_attribute('interval', interval_ms)} "
            f"last-rc-change=\"{LAST_RC_CHANGE_S}\" exec-time=\"10\" queue-time=\"0\" "
            f"op-digest=\"{MONITOR_DIGEST if interval_ms else ONE_SHOT_DIGEST}\"/>")


def stateful_primitives(spec: CibSpec) -> frozenset[str]:
    """Primitives of promotable clones (rendered as ocf:pacemaker:Stateful)."""
    return frozenset(primitive.resource_id for resource in spec.resources
                     if isinstance(resource, CloneSpec) and resource.promotable
                     for primitive in primitives_of(resource))


def _monitor_interval_ms(stateful: bool) -> int:
    return UNPROMOTED_MONITOR_INTERVAL_MS if stateful else MONITOR_INTERVAL_MS


def _render_history(entry: HistorySpec, counter: _CallCounter, stateful: bool) -> str:
    rid, node = entry.primitive_id, entry.node
    monitor_ms = _monitor_interval_ms(stateful)
    if entry.kind == RUNNING:
        operations = [
            _operation(rid, node, suffix="last_0", operation="start", interval_ms=0,
                       target_rc=0, rc=0, counter=counter),
            _operation(rid, node, suffix=f"monitor_{monitor_ms}", operation="monitor",
                       interval_ms=monitor_ms, target_rc=0, rc=0, counter=counter)]
    elif entry.kind == PROMOTED:
        # start, then promote (the last one-shot operation), then the Promoted-role monitor
        counter.next()  # the start's call id: superseded by the promote in "last_0"
        operations = [
            _operation(rid, node, suffix="last_0", operation="promote", interval_ms=0,
                       target_rc=0, rc=0, counter=counter),
            _operation(rid, node, suffix=f"monitor_{PROMOTED_MONITOR_INTERVAL_MS}",
                       operation="monitor", interval_ms=PROMOTED_MONITOR_INTERVAL_MS,
                       target_rc=8, rc=8, counter=counter)]
    elif entry.kind in (PROBED_STOPPED, STOPPED_AFTER_FAILURE):
        operations = [_operation(rid, node, suffix="last_0", operation="monitor", interval_ms=0,
                                 target_rc=7, rc=7, counter=counter)]
    elif entry.kind == FAILED_MONITOR:
        operations = [
            _operation(rid, node, suffix="last_0", operation="start", interval_ms=0,
                       target_rc=0, rc=0, counter=counter),
            _operation(rid, node, suffix=f"monitor_{monitor_ms}", operation="monitor",
                       interval_ms=monitor_ms, target_rc=0, rc=7, counter=counter),
            _operation(rid, node, suffix="last_failure_0", operation="monitor",
                       interval_ms=monitor_ms, target_rc=0, rc=7, counter=counter)]
    elif entry.kind == FAILED_START:
        operations = [
            _operation(rid, node, suffix="last_0", operation="start", interval_ms=0,
                       target_rc=0, rc=1, counter=counter),
            _operation(rid, node, suffix="last_failure_0", operation="start", interval_ms=0,
                       target_rc=0, rc=1, counter=counter)]
    else:
        raise ValueError(f"unknown history kind {entry.kind!r}")
    agent = ('type="Stateful" class="ocf" provider="pacemaker"' if stateful
             else 'type="Dummy" class="ocf" provider="heartbeat"')
    return (f"<lrm_resource {_attribute('id', rid)} {agent}>{''.join(operations)}"
            "</lrm_resource>")


def _failed_operation(entry: HistorySpec, stateful: bool) -> str:
    if entry.kind == FAILED_START:
        return "start_0"
    return f"monitor_{_monitor_interval_ms(stateful)}"


def _render_node_state(spec: CibSpec, node: NodeSpec, counter: _CallCounter,
                       stateful: frozenset[str]) -> str:
    if node.online:
        state = 'in_ccm="true" crmd="online" join="member" expected="member"'
    else:
        state = 'in_ccm="false" crmd="offline" join="down" expected="down"'
    entries = [entry for entry in spec.history if entry.node == node.name]
    parts = [f"<node_state {_attribute('id', node.node_id)} {_attribute('uname', node.name)} "
             f"crm-debug-origin=\"do_update_resource\" {state}>"]
    failures = [entry for entry in entries if entry.fail_count is not None]
    promotion = [item for item in spec.promotion_scores if item.node == node.name]
    if failures or promotion:
        owner = f"status-{node.node_id}"
        pairs = [_nvpair(owner, f"master-{item.primitive_id}", item.score)
                 for item in promotion]
        for entry in failures:
            operation = _failed_operation(entry, entry.primitive_id in stateful)
            pairs.append(_nvpair(owner, f"fail-count-{entry.primitive_id}#{operation}",
                                 entry.fail_count))
            pairs.append(_nvpair(owner, f"last-failure-{entry.primitive_id}#{operation}",
                                 LAST_RC_CHANGE_S))
        parts.append(f"<transient_attributes {_attribute('id', node.node_id)}>"
                     f"<instance_attributes {_attribute('id', owner)}>{''.join(pairs)}"
                     "</instance_attributes></transient_attributes>")
    if entries:
        parts.append(f"<lrm {_attribute('id', node.node_id)}><lrm_resources>")
        parts.extend(_render_history(entry, counter, entry.primitive_id in stateful)
                     for entry in entries)
        parts.append("</lrm_resources></lrm>")
    parts.append("</node_state>")
    return "".join(parts)


def render_cib(spec: CibSpec) -> str:
    """The CIB XML for a spec (deterministic)."""
    counter = _CallCounter()
    stateful = stateful_primitives(spec)
    status = "".join(_render_node_state(spec, node, counter, stateful) for node in spec.nodes)
    quorum = "1" if spec.have_quorum else "0"
    return (f"<cib crm_feature_set=\"{FEATURE_SET}\" validate-with=\"{SCHEMA}\" epoch=\"1\" "
            f"num_updates=\"0\" admin_epoch=\"0\" have-quorum=\"{quorum}\" dc-uuid=\""
            f"{spec.nodes[0].node_id}\">"
            f"{_render_configuration(spec)}<status>{status}</status></cib>\n")


# ---------------------------------------------------------------------------- shrinking


def _without_primitives(spec: CibSpec, removed: set[str], resources: tuple[TopLevel, ...],
                        removed_top: set[str]) -> CibSpec:
    """The spec with some resources gone, and everything that referred to them."""
    gone = removed | removed_top
    return dataclasses.replace(
        spec, resources=resources,
        locations=tuple(item for item in spec.locations if item.resource_id not in gone),
        rule_locations=tuple(item for item in spec.rule_locations
                             if item.resource_id not in gone),
        orders=tuple(item for item in spec.orders
                     if item.first_id not in gone and item.then_id not in gone),
        colocations=tuple(item for item in spec.colocations
                          if item.resource_id not in gone and item.with_resource_id not in gone),
        history=tuple(item for item in spec.history if item.primitive_id not in removed),
        promotion_scores=tuple(item for item in spec.promotion_scores
                               if item.primitive_id not in removed))


def _simpler_primitive(primitive: PrimitiveSpec) -> list[PrimitiveSpec]:
    variants = []
    if primitive.stickiness is not None:
        variants.append(dataclasses.replace(primitive, stickiness=None))
    if primitive.migration_threshold is not None:
        variants.append(dataclasses.replace(primitive, migration_threshold=None))
    if primitive.target_role_stopped:
        variants.append(dataclasses.replace(primitive, target_role_stopped=False))
    if primitive.utilization is not None:
        variants.append(dataclasses.replace(primitive, utilization=None))
    return variants


def _replace_primitive(resource: TopLevel, old: PrimitiveSpec, new: PrimitiveSpec) -> TopLevel:
    if resource == old:
        return new
    if isinstance(resource, GroupSpec):
        return dataclasses.replace(resource, members=tuple(
            new if member == old else member for member in resource.members))
    if isinstance(resource, CloneSpec):
        return dataclasses.replace(resource, child=_replace_primitive(resource.child, old, new))
    return resource


def simpler_specs(spec: CibSpec):
    """Candidate specs one step simpler than spec (for greedy shrinking of a failure)."""
    for index, resource in enumerate(spec.resources):
        ids = {primitive.resource_id for primitive in primitives_of(resource)}
        rest = spec.resources[:index] + spec.resources[index + 1:]
        if rest:
            yield _without_primitives(spec, ids, rest, {resource.resource_id})
        if isinstance(resource, GroupSpec) and len(resource.members) > 1:
            for member in resource.members:
                smaller = dataclasses.replace(resource, members=tuple(
                    other for other in resource.members if other != member))
                resources = spec.resources[:index] + (smaller,) + spec.resources[index + 1:]
                yield _without_primitives(spec, {member.resource_id}, resources, set())
        if isinstance(resource, CloneSpec):
            if resource.clone_max is not None:
                yield dataclasses.replace(spec, resources=spec.resources[:index] + (
                    dataclasses.replace(resource, clone_max=None),) + spec.resources[index + 1:])
            if resource.target_role_stopped:
                yield dataclasses.replace(spec, resources=spec.resources[:index] + (
                    dataclasses.replace(resource, target_role_stopped=False),)
                    + spec.resources[index + 1:])
            if resource.promoted_max is not None:
                yield dataclasses.replace(spec, resources=spec.resources[:index] + (
                    dataclasses.replace(resource, promoted_max=None),)
                    + spec.resources[index + 1:])
        if isinstance(resource, GroupSpec) and resource.stickiness is not None:
            yield dataclasses.replace(spec, resources=spec.resources[:index] + (
                dataclasses.replace(resource, stickiness=None),) + spec.resources[index + 1:])
        for primitive in primitives_of(resource):
            for variant in _simpler_primitive(primitive):
                changed = _replace_primitive(resource, primitive, variant)
                yield dataclasses.replace(spec, resources=spec.resources[:index] + (changed,)
                                          + spec.resources[index + 1:])
    for field_name in ("locations", "colocations", "history", "orders", "rule_locations",
                       "promotion_scores"):
        items = getattr(spec, field_name)
        for index in range(len(items)):
            yield dataclasses.replace(spec, **{field_name: items[:index] + items[index + 1:]})
    for index, entry in enumerate(spec.history):
        if entry.kind != RUNNING:
            simpler = HistorySpec(entry.primitive_id, entry.node, RUNNING)
            yield dataclasses.replace(spec, history=spec.history[:index] + (simpler,)
                                      + spec.history[index + 1:])
    if len(spec.nodes) > 1:
        last = spec.nodes[-1]
        yield dataclasses.replace(
            spec, nodes=spec.nodes[:-1],
            locations=tuple(item for item in spec.locations if item.node != last.name),
            history=tuple(item for item in spec.history if item.node != last.name))
    for index, node in enumerate(spec.nodes):
        if node.standby or not node.online:
            plain = dataclasses.replace(node, standby=False, online=True)
            yield dataclasses.replace(spec, nodes=spec.nodes[:index] + (plain,)
                                      + spec.nodes[index + 1:])
    if spec.default_stickiness is not None:
        yield dataclasses.replace(spec, default_stickiness=None)
    if spec.default_migration_threshold is not None:
        yield dataclasses.replace(spec, default_migration_threshold=None)
    if not spec.have_quorum:
        yield dataclasses.replace(spec, have_quorum=True)
    if not spec.symmetric_cluster:
        yield dataclasses.replace(spec, symmetric_cluster=True)
    if spec.no_quorum_policy != "stop":
        yield dataclasses.replace(spec, no_quorum_policy="stop")
    if spec.placement_strategy != "default":
        yield dataclasses.replace(spec, placement_strategy="default")
    for index, node in enumerate(spec.nodes):
        if node.rack is not None or node.capacity is not None:
            for plain in (dataclasses.replace(node, rack=None),
                          dataclasses.replace(node, capacity=None)):
                if plain != node:
                    yield dataclasses.replace(spec, nodes=spec.nodes[:index] + (plain,)
                                              + spec.nodes[index + 1:])


def shrink(spec: CibSpec, still_fails, budget: int = 2000) -> CibSpec:
    """Greedy shrinking: take any simpler spec that still fails, until none does."""
    improved = True
    while improved and budget > 0:
        improved = False
        for candidate in simpler_specs(spec):
            budget -= 1
            if budget <= 0:
                break
            if still_fails(candidate):
                spec = candidate
                improved = True
                break
    return spec


# ---------------------------------------------------------------------------- strategies


def _score(profile: GeneratorProfile, *, allow_infinite: bool = True):
    choices = FINITE_SCORES + (INFINITE_SCORES if allow_infinite and profile.infinite_scores
                               else ())
    return st.sampled_from(choices)


@st.composite
def _nodes(draw, profile: GeneratorProfile) -> tuple[NodeSpec, ...]:
    count = draw(st.integers(profile.min_nodes, profile.max_nodes))
    nodes = []
    for index in range(1, count + 1):
        online = not (profile.offline_nodes and draw(st.integers(0, 4)) == 0)
        standby = profile.standby_nodes and draw(st.integers(0, 4)) == 0
        rack = draw(st.sampled_from(("a", "b", None))) if profile.location_rules else None
        capacity = draw(st.sampled_from((None, 1, 2, 3, 4))) if profile.utilization else None
        nodes.append(NodeSpec(name=f"node{index}", node_id=str(index), online=online,
                              standby=standby, rack=rack, capacity=capacity))
    return tuple(nodes)


@st.composite
def _primitive(draw, profile: GeneratorProfile, resource_id: str) -> PrimitiveSpec:
    stickiness = None
    if profile.stickiness and draw(st.integers(0, 3)) == 0:
        stickiness = draw(st.sampled_from((0, 10, 50, 100, 1000)))
    threshold = None
    if profile.migration_threshold and draw(st.integers(0, 3)) == 0:
        threshold = draw(st.integers(1, 3))
    stopped = profile.target_role_stopped and draw(st.integers(0, 9)) == 0
    utilization = draw(st.sampled_from((None, 1, 1, 2, 3))) if profile.utilization else None
    return PrimitiveSpec(resource_id, stickiness, threshold, stopped, utilization)


@st.composite
def _resources(draw, profile: GeneratorProfile, node_count: int) -> tuple[TopLevel, ...]:
    budget = draw(st.integers(profile.min_primitives, profile.max_primitives))
    kinds = ["primitive"]
    if profile.groups:
        kinds.append("group")
    if profile.clones:
        kinds.append("clone")
    resources: list[TopLevel] = []
    primitive_number = 0
    while budget > 0:
        kind = draw(st.sampled_from(kinds))
        top_number = len(resources) + 1
        if kind == "group" and budget >= 2:
            size = draw(st.integers(2, min(3, budget)))
            members = []
            for _ in range(size):
                primitive_number += 1
                members.append(draw(_primitive(profile, f"rsc{primitive_number}")))
            stickiness = (draw(st.sampled_from((None, 0, 100))) if profile.stickiness
                          else None)
            resources.append(GroupSpec(f"grp{top_number}", tuple(members), stickiness))
            budget -= size
        elif kind == "clone":
            use_group = profile.cloned_groups and budget >= 2 and draw(st.booleans())
            if use_group:
                members = []
                for _ in range(2):
                    primitive_number += 1
                    members.append(PrimitiveSpec(f"rsc{primitive_number}"))
                child: PrimitiveSpec | GroupSpec = GroupSpec(f"grp{top_number}",
                                                             tuple(members))
                budget -= 2
            else:
                primitive_number += 1
                child = PrimitiveSpec(f"rsc{primitive_number}")
                budget -= 1
            clone_max = draw(st.sampled_from((None, None, 1, 2, max(1, node_count - 1))))
            stopped = profile.target_role_stopped and draw(st.integers(0, 9)) == 0
            promotable = (profile.promotable and isinstance(child, PrimitiveSpec)
                          and draw(st.booleans()))
            promoted_max = draw(st.sampled_from((None, None, 2))) if promotable else None
            resources.append(CloneSpec(f"clone{top_number}", child, clone_max, stopped,
                                       promotable, promoted_max))
        else:
            primitive_number += 1
            resources.append(draw(_primitive(profile, f"rsc{primitive_number}")))
            budget -= 1
    return tuple(resources)


@st.composite
def _locations(draw, profile: GeneratorProfile, resources, nodes) -> tuple[LocationSpec, ...]:
    if not profile.locations:
        return ()
    count = draw(st.integers(0, profile.max_locations))
    seen = set()
    locations = []
    for _ in range(count):
        resource = draw(st.sampled_from(resources)).resource_id
        node = draw(st.sampled_from(nodes)).name
        if (resource, node) in seen:
            continue
        seen.add((resource, node))
        locations.append(LocationSpec(f"location-{resource}-{node}", resource, node,
                                      draw(_score(profile))))
    return tuple(locations)


def _acyclic_pairs(draw, resources, max_count: int, make) -> tuple:
    """Up to `max_count` specs between two distinct top-level resources, each made by
    `make(later, earlier)` (ids in document order: pairs only point back, so no cycle can
    form); a pair drawn twice is kept once."""
    count = draw(st.integers(0, max_count))
    seen = set()
    specs = []
    for _ in range(count):
        later_index = draw(st.integers(1, len(resources) - 1))
        earlier_index = draw(st.integers(0, later_index - 1))
        pair = (resources[later_index].resource_id, resources[earlier_index].resource_id)
        if pair in seen:
            continue
        seen.add(pair)
        specs.append(make(*pair))
    return tuple(specs)


@st.composite
def _colocations(draw, profile: GeneratorProfile, resources) -> tuple[ColocationSpec, ...]:
    """Colocations between distinct top-level resources, acyclic (later with earlier)."""
    if not profile.colocations or len(resources) < 2:
        return ()

    def colocation(dependent: str, primary: str) -> ColocationSpec:
        return ColocationSpec(f"colocation-{dependent}-with-{primary}", dependent, primary,
                              draw(_score(profile)))
    return _acyclic_pairs(draw, resources, profile.max_colocations, colocation)


@st.composite
def _orders(draw, profile: GeneratorProfile, resources) -> tuple[OrderSpec, ...]:
    """Orderings between distinct top-level resources, acyclic (earlier before later)."""
    if not profile.orders or len(resources) < 2:
        return ()

    def order(then: str, first: str) -> OrderSpec:
        # no Serialize: crm_simulate 2.1.5 builds transitions it cannot complete with it
        kind = draw(st.sampled_from(("Mandatory", "Mandatory", "Optional")))
        symmetrical = draw(st.sampled_from((None, None, False)))
        return OrderSpec(f"order-{first}-then-{then}", first, then, kind, symmetrical)
    return _acyclic_pairs(draw, resources, profile.max_orders, order)


@st.composite
def _rule_locations(draw, profile: GeneratorProfile, resources) -> tuple[RuleLocationSpec, ...]:
    if not profile.location_rules:
        return ()
    count = draw(st.integers(0, 2))
    rules = []
    for number in range(count):
        resource = draw(st.sampled_from(resources)).resource_id
        rules.append(RuleLocationSpec(f"rule-location-{resource}-{number}", resource,
                                      draw(_score(profile)),
                                      draw(st.sampled_from(("eq", "ne"))),
                                      draw(st.sampled_from(("a", "b")))))
    return tuple(rules)


def _failure_kinds(profile: GeneratorProfile) -> tuple[str, ...]:
    return FAILURE_KINDS if profile.failures else ()


@st.composite
def _history_for(draw, profile: GeneratorProfile, resource: TopLevel,
                 nodes: tuple[NodeSpec, ...]) -> list[HistorySpec]:
    candidates = [node for node in nodes if node.online or profile.history_on_offline_nodes]
    if not candidates or not profile.running_resources:
        return []
    history: list[HistorySpec] = []
    active_kinds = (RUNNING, RUNNING, RUNNING) + tuple(
        kind for kind in _failure_kinds(profile) if kind != STOPPED_AFTER_FAILURE)
    if isinstance(resource, CloneSpec):
        chosen = draw(st.lists(st.sampled_from(candidates), unique=True,
                               max_size=len(candidates)))
        kinds = active_kinds + ((PROMOTED, PROMOTED) if resource.promotable else ())
        for primitive in primitives_of(resource):
            for node in chosen:
                history.append(draw(_entry(profile, primitive.resource_id, node.name, kinds)))
        return history
    primitives = primitives_of(resource)
    if draw(st.integers(0, 2)) == 0:
        return []  # never ran anywhere yet
    if profile.multiply_active and draw(st.integers(0, 9)) == 0:
        chosen = draw(st.lists(st.sampled_from(candidates), unique=True, min_size=1,
                               max_size=2))
    else:
        chosen = [draw(st.sampled_from(candidates))]
    running_members = draw(st.integers(1, len(primitives)))
    for node in chosen:
        for position, primitive in enumerate(primitives):
            kinds = active_kinds if position < running_members else (PROBED_STOPPED,)
            history.append(draw(_entry(profile, primitive.resource_id, node.name, kinds)))
    if profile.failures and draw(st.integers(0, 3)) == 0:
        # an earlier failure somewhere else, the resource long stopped there
        others = [node for node in candidates if node not in chosen]
        if others:
            node = draw(st.sampled_from(others))
            for primitive in primitives:
                history.append(HistorySpec(primitive.resource_id, node.name,
                                           STOPPED_AFTER_FAILURE,
                                           draw(st.sampled_from(("1", "2", "3", "INFINITY")))))
    return history


@st.composite
def _entry(draw, profile: GeneratorProfile, primitive_id: str, node: str,
           kinds: tuple[str, ...]) -> HistorySpec:
    kind = draw(st.sampled_from(kinds))
    fail_count = None
    if kind == FAILED_START:
        fail_count = draw(st.sampled_from(("INFINITY", "INFINITY", "1")))
    elif kind == FAILED_MONITOR:
        fail_count = draw(st.sampled_from(("1", "2", "3")))
    return HistorySpec(primitive_id, node, kind, fail_count)


@st.composite
def cib_specs(draw, profile: GeneratorProfile = FULL_PROFILE) -> CibSpec:
    """A random CibSpec within the profile."""
    nodes = draw(_nodes(profile))
    resources = draw(_resources(profile, len(nodes)))
    locations = draw(_locations(profile, resources, nodes))
    colocations = draw(_colocations(profile, resources))
    history: list[HistorySpec] = []
    for resource in resources:
        history.extend(draw(_history_for(profile, resource, nodes)))
    default_stickiness = None
    if profile.stickiness:
        default_stickiness = draw(st.sampled_from((None, 0, 1, 50, 100, 500)))
    default_threshold = None
    if profile.migration_threshold:
        default_threshold = draw(st.sampled_from((None, 1, 2, 3, 1000000)))
    have_quorum = not (profile.quorum_loss and draw(st.integers(0, 4)) == 0)
    policy = draw(st.sampled_from(profile.no_quorum_policies))
    symmetric = not (profile.opt_in_cluster and draw(st.booleans()))
    orders = draw(_orders(profile, resources))
    promotion_scores = []
    for resource in resources:
        if isinstance(resource, CloneSpec) and resource.promotable:
            for node in nodes:
                score = draw(st.sampled_from((None, "1", "5", "10", "100")))
                if score is not None:
                    promotion_scores.append(PromotionScoreSpec(resource.child.resource_id,
                                                               node.name, score))
    rule_locations = draw(_rule_locations(profile, resources))
    strategy = "default"
    if profile.utilization:
        strategy = draw(st.sampled_from(("default", "utilization", "balanced", "minimal")))
    return CibSpec(nodes=nodes, resources=resources, locations=locations,
                   colocations=colocations, history=tuple(history),
                   default_stickiness=default_stickiness,
                   default_migration_threshold=default_threshold, have_quorum=have_quorum,
                   no_quorum_policy=policy, symmetric_cluster=symmetric, orders=orders,
                   rule_locations=rule_locations, placement_strategy=strategy,
                   promotion_scores=tuple(promotion_scores))


def cib_xml(profile: GeneratorProfile = FULL_PROFILE):
    """Strategy of CIB XML texts."""
    return cib_specs(profile).map(render_cib)
