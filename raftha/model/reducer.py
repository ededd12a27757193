"""The reducer: folds committed log entries into `ClusterState` (DESIGN section 3).

`apply(state, index, entry)` is a pure function of its arguments and never raises:
- an entry that does not decode, or an event that makes no sense against the state, is
  recorded as a `Rejection` with a one-line reason, identically on every node;
- an event whose id is in the bounded window of applied ids is a duplicate (a retried
  proposal) and changes nothing but the counters and the index;
- time inside the reducer is only what events carry (`now_ms` never goes backwards).

`apply_with_outcome` also returns what happened to the entry, so the daemon can answer the
proposer ("applied", "rejected: reason", "duplicate").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import msgpack

from raftha.model.config import Configuration
from raftha.model.config import Node as ConfiguredNode
from raftha.model.events import Event, EventError, decode_event
from raftha.model.fencing_events import HANDLERS as FENCING_HANDLERS
from raftha.model.fencing_events import QUIET_KINDS as FENCING_QUIET_KINDS
from raftha.model.fencing_events import TIMING_PROPERTIES, timing_problem
from raftha.model.properties import (
    boolean_value,
    is_boolean,
    validate_property,
    validate_property_name,
)
from raftha.model.state import (
    EMPTY_STATE,
    EXPECTED_DOWN,
    EXPECTED_MEMBER,
    NODE_OFFLINE,
    NODE_ONLINE,
    Change,
    ClusterState,
    NodeRecord,
    Rejection,
    evolve,
    with_event_id,
    with_node,
    with_property,
    with_rejection,
    without_node,
)
from raftha.model.status import OperationRecord, ResourceHistory

APPLIED = "applied"
REJECTED = "rejected"
DUPLICATE = "duplicate"


class Refused(Exception):
    """Raised by a handler to reject an event; caught inside apply, never escapes."""


@dataclass(frozen=True)
class Outcome:
    index: int
    status: str                 # applied | rejected | duplicate
    reason: str = ""
    event: Event | None = None


def apply(state: ClusterState, index: int, entry: bytes) -> ClusterState:
    return apply_with_outcome(state, index, entry)[0]


def apply_with_outcome(
    state: ClusterState, index: int, entry: bytes
) -> tuple[ClusterState, Outcome]:
    try:
        return apply_checked(state, index, entry)
    except Exception as error:  # a bug must not split the cluster: reject deterministically
        reason = f"internal error: {type(error).__name__}"
        rejected = with_rejection(evolve(state, last_index=index), Rejection(index, "", "",
                                                                              reason))
        return rejected, Outcome(index, REJECTED, reason)


def apply_checked(
    state: ClusterState, index: int, entry: bytes
) -> tuple[ClusterState, Outcome]:
    try:
        event = decode_event(entry)
    except EventError as error:
        reason = str(error)
        rejected = with_rejection(evolve(state, last_index=index),
                                  Rejection(index, "", "", reason))
        return rejected, Outcome(index, REJECTED, reason)
    if event.kind in UNTRACKED_KINDS:
        # Applying one twice is harmless, so it takes no place in the dedup window (many
        # reads must not push the ids of recent writes out of it).
        marked = evolve(state, last_index=index, now_ms=max(state.now_ms, event.ts_ms),
                        applied_count=state.applied_count + 1)
        return marked, Outcome(index, APPLIED, "", event)
    if state.has_applied(event.id):
        duplicate = evolve(state, last_index=index, duplicate_count=state.duplicate_count + 1)
        return duplicate, Outcome(index, DUPLICATE, "event already applied", event)
    stamped = with_event_id(
        evolve(state, last_index=index, now_ms=max(state.now_ms, event.ts_ms)), event.id
    )
    try:
        changed = HANDLERS[event.kind](stamped, index, event)
    except Refused as refusal:
        reason = str(refusal)
        rejected = with_rejection(stamped, Rejection(index, event.id_hex, event.kind, reason))
        return rejected, Outcome(index, REJECTED, reason, event)
    if event.kind not in QUIET_KINDS:
        changed = evolve(changed, last_change=Change(index, event.ts_ms, event.origin,
                                                      event.user, event.kind))
    changed = evolve(changed, applied_count=changed.applied_count + 1)
    return changed, Outcome(index, APPLIED, "", event)


def replay(entries: Iterable[tuple[int, bytes]],
           state: ClusterState = EMPTY_STATE) -> ClusterState:
    """Folds `(index, entry)` pairs in order, as every node does."""
    for index, entry in entries:
        state = apply(state, index, entry)
    return state


# ---------------------------------------------------------------------------
# Handlers: (state, index, event) -> state, raising Refused with a one-line reason.

def require_created(state: ClusterState) -> None:
    if not state.created:
        raise Refused("the cluster has not been created yet")


def require_node(state: ClusterState, name: str) -> NodeRecord:
    record = state.node(name)
    if record is None:
        raise Refused(f"node {name!r} is not a member of the cluster")
    return record


def on_cluster_created(state: ClusterState, index: int, event: Event) -> ClusterState:
    if state.created:
        raise Refused(f"cluster {state.name!r} already exists")
    created = evolve(state, name=event.body["name"], created_index=index)
    for node in event.body["nodes"]:
        created = with_node(created, NodeRecord(
            name=node["name"], address=node["address"], state=NODE_OFFLINE,
            joined_index=index, changed_index=index, changed_ts_ms=event.ts_ms,
        ))
    return created


def on_node_joined(state: ClusterState, index: int, event: Event) -> ClusterState:
    require_created(state)
    name, address = event.body["name"], event.body["address"]
    if state.node(name) is not None:
        raise Refused(f"node {name!r} is already a member")
    holder = state.node_by_address(address)
    if holder is not None:
        raise Refused(f"address {address} is already used by node {holder.name!r}")
    return with_node(state, NodeRecord(name, address, NODE_OFFLINE, index, index, event.ts_ms))


def on_node_left(state: ClusterState, index: int, event: Event) -> ClusterState:
    require_created(state)
    require_node(state, event.body["name"])
    if len(state.nodes) == 1:
        raise Refused("the last node of a cluster cannot be removed")
    return without_node(state, event.body["name"])


def node_state_handler(new_state: str, expected: str | None
                       ) -> Callable[[ClusterState, int, Event], ClusterState]:
    """NodeReturned: online, expected a member, with a fresh operation history (it is
    probed again). NodeLost: offline, still expected (so it was lost, not stopped; its
    history says what may still run there). NodeStopped: offline and expected down."""
    def handler(state: ClusterState, index: int, event: Event) -> ClusterState:
        require_created(state)
        record = require_node(state, event.body["name"])
        new_expected = expected or record.expected
        if record.state == new_state and record.expected == new_expected:
            return state  # two leaders may both notice the same change; the second is a no-op
        if new_state == NODE_ONLINE:
            state = forget_node_runtime(state, record.name)
        return with_node(state, replace(record, state=new_state, expected=new_expected,
                                        changed_index=index, changed_ts_ms=event.ts_ms))
    return handler


def on_property_set(state: ClusterState, index: int, event: Event) -> ClusterState:
    require_created(state)
    name, value = event.body["name"], event.body["value"]
    problem = validate_property(name, value)
    if problem is not None:
        raise Refused(problem)
    changed = with_property(state, name, value)
    if name in TIMING_PROPERTIES:
        problem = timing_problem(changed.properties)
        if problem is not None:
            raise Refused(problem)
    return evolve(changed, configuration_index=index)


def on_property_unset(state: ClusterState, index: int, event: Event) -> ClusterState:
    require_created(state)
    name = event.body["name"]
    problem = validate_property_name(name)
    if problem is not None:
        raise Refused(problem)
    if state.property(name) is None:
        raise Refused(f"cluster property {name!r} is not set")
    changed = with_property(state, name, None)
    if name in TIMING_PROPERTIES:
        problem = timing_problem(changed.properties)
        if problem is not None:
            raise Refused(problem)
    return evolve(changed, configuration_index=index)


def stored_configuration(state: ClusterState) -> Configuration:
    """The whole configuration: the stored objects plus the cluster properties."""
    configuration = Configuration()
    if state.configuration_bytes:
        plain = msgpack.unpackb(state.configuration_bytes, raw=False, strict_map_key=True)
        configuration = Configuration.from_dict(plain)
    return replace(configuration, properties=state.properties)


def on_configuration_loaded(state: ClusterState, index: int, event: Event) -> ClusterState:
    require_created(state)
    base_index = event.body["base_index"]
    if base_index != state.configuration_index:
        raise Refused(f"the configuration changed at index {state.configuration_index} after "
                      f"it was read at index {base_index}; load it again")
    try:
        configuration = Configuration.from_dict(event.body["configuration"])
        properties = dict(configuration.properties)  # from_dict leaves their shape unchecked
        if not all(isinstance(item, str) for pair in properties.items() for item in pair):
            raise ValueError("property names and values must be text")
    except Exception as error:  # from_dict raises several types on malformed data
        raise Refused(f"invalid configuration: {error}") from None
    for name, value in properties.items():
        problem = validate_property(name, value)
        if problem is not None:
            raise Refused(problem)
    problem = timing_problem(properties.items())
    if problem is not None:
        raise Refused(problem)
    state = with_orphans_marked(state, stored_configuration(state), configuration)
    return with_configuration(evolve(state, properties=tuple(sorted(properties.items()))),
                              index, configuration)


def with_orphans_marked(state: ClusterState, old: Configuration,
                        new: Configuration) -> ClusterState:
    """Histories of resources the new configuration drops become orphans that keep the
    parameters last configured (so an active one can still be stopped with them, as
    Pacemaker's stop-orphan-resources does); an inactive one is forgotten at once with its
    fail counts. A resource configured again is no orphan."""
    if not state.operation_histories:
        return state
    configured = {primitive.id for primitive in new.all_primitives()}
    previous = {primitive.id: primitive for primitive in old.all_primitives()}
    for node, histories in state.operation_histories:
        kept = []
        for history in histories:
            configured_id = history.resource.split(":")[0]
            if configured_id in configured and history.orphaned:
                history = replace(history, orphaned=False, parameters=())
            elif configured_id not in configured and history_inactive(history):
                state = without_failures(state, node, history.resource)
                continue
            elif configured_id not in configured and not history.orphaned:
                old_primitive = previous.get(configured_id)
                parameters = old_primitive.params if old_primitive is not None else ()
                history = replace(history, orphaned=True, parameters=parameters)
            kept.append(history)
        if tuple(kept) != histories:
            state = with_histories(state, node, tuple(kept))
    return state


def history_inactive(history: ResourceHistory) -> bool:
    """Whether the last one-shot result says the resource is not running on the node: a
    probe that found it stopped (or not installed there) or a completed stop, with nothing
    claimed since."""
    one_shot = [record for record in history.operations if record.interval_ms == 0]
    if not one_shot or any(record.op_status == -1 for record in history.operations):
        return False
    last = max(one_shot, key=lambda record: record.call_id)
    if last.operation == "monitor":
        return last.op_status == 7 or (last.op_status == 0 and last.rc in (7, 2, 5))
    return last.operation == "stop" and last.op_status == 0 and last.rc == 0


def with_configuration(state: ClusterState, index: int,
                       configuration: Configuration) -> ClusterState:
    stored = msgpack.packb(replace(configuration, properties=()).to_dict(), use_bin_type=True)
    return evolve(state, configuration_bytes=stored, configuration_index=index)


def node_attribute_handler(set_value: bool) -> Callable[[ClusterState, int, Event],
                                                         ClusterState]:
    """Permanent node attributes live in the configuration's node section, as in
    Pacemaker's CIB (`crm node standby` sets standby=on there)."""
    def handler(state: ClusterState, index: int, event: Event) -> ClusterState:
        require_created(state)
        node_name, name = event.body["node"], event.body["name"]
        require_node(state, node_name)
        value = event.body["value"] if set_value else None
        if value is not None and name in BOOLEAN_NODE_ATTRIBUTES and not is_boolean(value):
            raise Refused(f"node attribute {name} must be a boolean (on/off, true/false), "
                          f"not {value!r}")
        configuration = stored_configuration(state)
        nodes = list(configuration.nodes)
        position = next((number for number, node in enumerate(nodes)
                         if node.name == node_name), None)
        node = nodes[position] if position is not None else ConfiguredNode(node_name,
                                                                           id=node_name)
        attributes = [(key, old) for key, old in node.attributes if key != name]
        if not set_value and len(attributes) == len(node.attributes):
            raise Refused(f"node {node_name} has no attribute {name!r}")
        if set_value:
            attributes.append((name, value))
        node = replace(node, attributes=tuple(attributes))
        if position is None:
            nodes.append(node)
        else:
            nodes[position] = node
        return with_configuration(state, index, replace(configuration, nodes=tuple(nodes)))
    return handler


# ---------------------------------------------------------------------------
# Operation history (Pacemaker's lrm history and fail counts), kept as its controller does:
# per node and resource, the last non-recurring operation ("RSC_last_0"), the last failure
# ("RSC_last_failure_0") and each recurring operation ("RSC_monitor_10000"); call ids
# order them. A failure adds to fail-count-RSC#OP_INTERVAL and sets last-failure-...; a
# failed start counts INFINITY while start-failure-is-fatal is true (the default).

def operation_failed(operation: str, interval_ms: int, rc: int, op_status: int,
                     target_rc: int | None) -> bool:
    if op_status == -1:
        return False  # pending
    if op_status == 1:
        return False  # cancelled
    if op_status != 0:
        return True
    if operation == "monitor" and interval_ms == 0 and target_rc is None:
        return rc not in (0, 7, 8)  # a probe finds running, stopped or promoted
    expected = target_rc if target_rc is not None else 0
    return rc != expected


def agent_parts(agent: str) -> tuple[str, str | None, str]:
    parts = agent.split(":")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    return parts[0], None, parts[1]


def replace_in(items: tuple, key, item, key_of) -> tuple:
    """`items` (sorted by key) with `item` put at `key` (or removed when item is None)."""
    kept = [old for old in items if key_of(old) != key]
    if item is not None:
        kept.append(item)
    return tuple(sorted(kept, key=key_of))


def with_histories(state: ClusterState, node: str,
                   histories: tuple[ResourceHistory, ...]) -> ClusterState:
    entry = (node, histories) if histories else None
    return evolve(state, operation_histories=replace_in(
        state.operation_histories, node, entry, lambda pair: pair[0]))


def with_transient(state: ClusterState, node: str,
                   pairs: tuple[tuple[str, str], ...]) -> ClusterState:
    entry = (node, tuple(sorted(pairs))) if pairs else None
    return evolve(state, transient_attributes=replace_in(
        state.transient_attributes, node, entry, lambda pair: pair[0]))


def on_operation_completed(state: ClusterState, index: int, event: Event) -> ClusterState:
    require_created(state)
    body = event.body
    node, resource = body["node"], body["resource"]
    require_node(state, node)
    operation, interval_ms = body["operation"], body["interval_ms"]
    failed = operation_failed(operation, interval_ms, body["rc"], body["op_status"],
                              body["target_rc"])
    seconds = event.ts_ms // 1000
    operation_key = f"{resource}_{operation}_{interval_ms}"
    pending = body["op_status"] == -1
    record_id = f"{resource}_last_0" if interval_ms == 0 else operation_key
    if operation == "notify":
        # A clone notification is kept apart from the resource's own results (one record
        # per type and operation) and never fails the resource (Pacemaker ignores its rc).
        record_id = f"{resource}_{body['notify_type']}_notify_{body['notify_operation']}_0"
        failed = False
    if pending:
        # A claim is kept beside the last result, never over it: the executor plans with
        # claims left out, and must still see what the resource last did (a claimed stop
        # leaves the resource active until its result is committed).
        record_id = f"{operation_key}_pending"
    record = OperationRecord(
        operation=operation, call_id=state.next_call_id, rc=body["rc"],
        op_status=body["op_status"], interval_ms=interval_ms, target_rc=body["target_rc"],
        last_rc_change=seconds, last_run=seconds, operation_key=operation_key,
        id=record_id, on_node=node, exit_reason=body["exit_reason"],
        op_digest=body.get("op_digest"), op_restart_digest=body.get("op_restart_digest"),
        op_force_restart=body.get("op_force_restart"),
        parameter_digests=tuple(sorted(body.get("parameter_digests", {}).items())),
        notified_through=body.get("notify_through_call_id"),
        migrate_source=body.get("migrate_source"), migrate_target=body.get("migrate_target"),
    )
    histories = state.histories_of(node)
    history = next((item for item in histories if item.resource == resource), None)
    agent_class, provider, agent_type = agent_parts(body["agent"])
    if history is None:
        history = ResourceHistory(resource=resource)
    records = {item.id: item for item in history.operations}
    if not pending and operation != "notify":
        # A result ends this node's claims on the resource: one action per resource runs
        # at a time on a node, so any other claim there was abandoned.
        records = {key: item for key, item in records.items()
                   if item.op_status != -1 or (interval_ms and item.interval_ms == 0)}
    records[record.id] = record
    if failed:
        records[f"{resource}_last_failure_0"] = replace(record,
                                                        id=f"{resource}_last_failure_0")
    if operation == "stop" and not failed and not pending and history.orphaned:
        # An orphan, once stopped, is forgotten with its failures (nothing configures it).
        state = evolve(state, next_call_id=state.next_call_id + 1)
        state = with_histories(state, node, tuple(item for item in histories
                                                  if item.resource != resource))
        return without_failures(state, node, resource)
    if operation == "stop" and not failed:
        # A stop cancels the recurring operations; the last failure stays until cleanup.
        records = {key: item for key, item in records.items()
                   if item.interval_ms == 0 or key == f"{resource}_last_failure_0"}
    history = replace(history, agent_class=agent_class, provider=provider,
                      agent_type=agent_type, operations=tuple(
                          sorted(records.values(), key=lambda item: item.call_id)))
    state = evolve(state, next_call_id=state.next_call_id + 1)
    state = with_histories(state, node, replace_in(histories, resource, history,
                                                   lambda item: item.resource))
    if failed and not (operation == "monitor" and interval_ms == 0):
        # A failed probe counts no failure (Pacemaker's controller counts recurring
        # operations, start, stop, promote and demote); the scheduler reads its record.
        state = with_failure(state, node, resource, operation, interval_ms, seconds)
    return state


def with_failure(state: ClusterState, node: str, resource: str, operation: str,
                 interval_ms: int, seconds: int) -> ClusterState:
    suffix = f"{resource}#{operation}_{interval_ms}"
    pairs = dict(state.transient_of(node))
    fatal = operation == "start" and boolean_value(
        state.property("start-failure-is-fatal") or "true")
    if fatal:
        count = "INFINITY"
    else:
        previous = pairs.get(f"fail-count-{suffix}", "0")
        count = "INFINITY" if previous == "INFINITY" else str(int(previous) + 1)
    pairs[f"fail-count-{suffix}"] = count
    pairs[f"last-failure-{suffix}"] = str(seconds)
    return with_transient(state, node, tuple(pairs.items()))


def on_resource_cleaned_up(state: ClusterState, index: int, event: Event) -> ClusterState:
    """crm resource cleanup: forget the resource's history and failures (on one node or
    all), so the scheduler probes it again."""
    require_created(state)
    resource, only_node = event.body["resource"], event.body["node"]
    if only_node is not None:
        require_node(state, only_node)
    for record in state.nodes:
        if only_node is not None and record.name != only_node:
            continue
        histories = state.histories_of(record.name)
        state = with_histories(state, record.name, tuple(
            item for item in histories if item.resource != resource))
        state = without_failures(state, record.name, resource)
    return state


def without_failures(state: ClusterState, node: str, resource: str) -> ClusterState:
    """The node's transient attributes without the resource's fail counts."""
    prefixes = (f"fail-count-{resource}#", f"last-failure-{resource}#")
    return with_transient(state, node, tuple(
        (key, value) for key, value in state.transient_of(node)
        if not key.startswith(prefixes)))


def forget_node_runtime(state: ClusterState, node: str) -> ClusterState:
    """A node that (re)joins starts with no history and no transient attributes, as with
    Pacemaker's join: the scheduler probes what it runs."""
    return with_transient(with_histories(state, node, ()), node, ())


def on_transient_attribute(state: ClusterState, index: int, event: Event) -> ClusterState:
    """Transient node attributes (crm_attribute -l reboot, attrd_updater, promotion scores
    master-RSC) live beside the fail counts and are forgotten when the node rejoins;
    unsetting one that is not set changes nothing."""
    require_created(state)
    node, name = event.body["node"], event.body["name"]
    require_node(state, node)
    pairs = [(key, value) for key, value in state.transient_of(node) if key != name]
    if "value" in event.body:
        pairs.append((name, event.body["value"]))
    return with_transient(state, node, tuple(pairs))


def on_operations_pending(state: ClusterState, index: int, event: Event) -> ClusterState:
    """A node claims actions before running them. Refused while another online node has an
    action pending on the same resource (so two nodes acting on plans derived from different
    states cannot both start or promote it), except parallel starts and stops of an
    anonymous clone's instances. The claims are recorded as pending (op_status -1)."""
    require_created(state)
    node = event.body["node"]
    require_node(state, node)
    for item in event.body["operations"]:
        for other, histories in state.operation_histories:
            record = state.node(other)
            if other == node or record is None or record.state != NODE_ONLINE:
                continue
            for history in histories:
                if history.resource != item["resource"]:
                    continue
                for pending in history.operations:
                    if pending.op_status != -1:
                        continue
                    shared = item["shared"] and item["operation"] in ("start", "stop") and (
                        pending.operation in ("start", "stop"))
                    if not shared:
                        raise Refused(f"{item['resource']} has a {pending.operation} pending "
                                      f"on {other}; plan again when it completes")
    planned_call_id = event.body.get("planned_call_id")
    if planned_call_id is not None:
        refuse_stale_claims(state, node, event.body["operations"], planned_call_id)
    for item in event.body["operations"]:
        body = {"node": node, "resource": item["resource"], "agent": item["agent"],
                "operation": item["operation"], "interval_ms": item["interval_ms"], "rc": 0,
                "op_status": -1, "target_rc": None, "exit_reason": "", "duration_ms": 0}
        state = on_operation_completed(state, index, replace(event, body=body))
    return state


def refuse_stale_claims(state: ClusterState, node: str, operations: list,
                        planned_call_id: int) -> None:
    """A start or promote of a single instance is claimed from a plan of some earlier state;
    if another node recorded a result for the resource since that state (its own start
    completed, say), the plan is stale and the claim is refused: plan again. This closes
    the race in which two nodes, each planning before the other's start was committed,
    both start the resource."""
    for item in operations:
        if item["shared"] or item["operation"] not in ("start", "promote"):
            continue
        for other, histories in state.operation_histories:
            if other == node:
                continue
            for history in histories:
                if history.resource != item["resource"]:
                    continue
                if any(record.call_id >= planned_call_id and record.op_status != -1
                       and record.operation != "notify"
                       for record in history.operations):
                    raise Refused(f"{item['resource']} changed on {other} since this plan; "
                                  f"plan again")


def on_clock_ticked(state: ClusterState, index: int, event: Event) -> ClusterState:
    return state


HANDLERS: dict[str, Callable[[ClusterState, int, Event], ClusterState]] = {
    "ClusterCreated": on_cluster_created,
    "NodeJoined": on_node_joined,
    "NodeLeft": on_node_left,
    "NodeLost": node_state_handler(NODE_OFFLINE, None),
    "NodeReturned": node_state_handler(NODE_ONLINE, EXPECTED_MEMBER),
    "NodeStopped": node_state_handler(NODE_OFFLINE, EXPECTED_DOWN),
    "ClusterPropertySet": on_property_set,
    "ClusterPropertyUnset": on_property_unset,
    "ConfigurationLoaded": on_configuration_loaded,
    "NodeAttributeSet": node_attribute_handler(set_value=True),
    "NodeAttributeUnset": node_attribute_handler(set_value=False),
    "TransientAttributeSet": on_transient_attribute,
    "TransientAttributeUnset": on_transient_attribute,
    "OperationsPending": on_operations_pending,
    "OperationCompleted": on_operation_completed,
    "ResourceCleanedUp": on_resource_cleaned_up,
    "ClockTicked": on_clock_ticked,
    "ReadBarrier": on_clock_ticked,
}
HANDLERS.update(FENCING_HANDLERS)

# Node attributes the scheduler reads as booleans (Pacemaker's standby and maintenance).
BOOLEAN_NODE_ATTRIBUTES = frozenset({"standby", "maintenance"})

# Kinds that change nothing but the index and the committed time: not deduplicated.
UNTRACKED_KINDS = frozenset({"ReadBarrier"})

# Kinds that are bookkeeping rather than a change an operator would look for.
QUIET_KINDS = frozenset({"ClockTicked", "NodeLost", "NodeReturned", "NodeStopped",
                         "OperationCompleted", "OperationsPending", "TransientAttributeSet",
                         "TransientAttributeUnset"}) | FENCING_QUIET_KINDS
