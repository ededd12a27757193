"""Fencing in the replicated log: the event kinds, their reducer handlers, the fencing state.

Role: pure. A fence request and its result are committed events, so every node agrees on
who is being fenced, by whom, and whether it worked:

    FenceRequested {target, action, reason}        someone (the leader, an operator) asks
    NodeFenced     {target, action, request_index, device, level, duration_ms?}   success
    FenceFailed    {target, action, request_index, reason}          every level failed

Invariants:
- The executor of a request is chosen by the reducer from committed state, never by the
  proposer: the proposer (`origin`) when it is online and is not the target, else the first
  online member by name other than the target. A node is never fenced by itself, and a
  request is committed only with quorum (it is a log entry), so fencing needs quorum.
- A result counts only when it answers the pending request (same `request_index`) and comes
  from that request's executor; a stale or forged result is rejected, identically everywhere.
- Only a successful result changes the node: it becomes offline and expected down (Pacemaker's
  clean offline), so the scheduler inputs treat it as offline-clean and recovery of its
  resources follows from the log alone. A failure leaves the node unclean.
- The fencing state is bounded (the last `HISTORY_WINDOW` results, one pending request per
  target) and is stored in `ClusterState.fencing_bytes` as canonical msgpack (never pickle).

Timing rule for watchdog-only recovery (DESIGN section 7): `timing_problem(properties)` checks
`W >= (1+p)*((L+WD)/(1-p)+K)` with W = stonith-watchdog-timeout and L, WD, K, p from the
`lease-time`, `watchdog-timeout`, `watchdog-margin`, `clock-rate-error` properties (or their
defaults); the reducer refuses configuration that breaks it, the message giving the numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import msgpack

from raftha.model.fencing import (
    FencingConfigError,
    check_timing,
    devices_from_config,
    fencing_settings,
    parse_duration_ms,
)
from raftha.model.state import (
    EXPECTED_DOWN,
    EXPECTED_MEMBER,
    NODE_OFFLINE,
    NODE_ONLINE,
    ClusterState,
    evolve,
    with_node,
)

if TYPE_CHECKING:
    from raftha.model.events import Event

# events.py and reducer.py register the kinds below by importing this module at their end,
# so this module reaches them only inside functions (no import cycle at load time).

HISTORY_WINDOW = 64
MAX_REASON_CHARS = 400
MAX_FENCE_DURATION_MS = 24 * 3600 * 1000
FENCE_ACTIONS = ("reboot", "off", "on")
RESULT_SUCCESS = "success"
RESULT_FAILED = "failed"
RESULT_PENDING = "pending"
WATCHDOG_DEVICE = "watchdog"
DEFAULT_MAX_ATTEMPTS = 10

# Defaults of the lease/watchdog timing (research jepsen-cts 4.4): lease L, watchdog WD,
# margin K (the watchdog kills within K of firing), clock-rate error p.
DEFAULT_LEASE_MS = 2000
DEFAULT_WATCHDOG_TIMEOUT_MS = 2000
DEFAULT_WATCHDOG_MARGIN_MS = 500
DEFAULT_CLOCK_RATE_ERROR = 0.01
TIMING_PROPERTIES = ("lease-time", "watchdog-timeout", "watchdog-margin", "clock-rate-error",
                     "stonith-watchdog-timeout", "fencing-watchdog-timeout")


# ---------------------------------------------------------------- the fencing state


@dataclass(frozen=True)
class PendingFence:
    """A committed request not yet answered."""

    target: str
    action: str
    request_index: int
    executor: str
    origin: str
    ts_ms: int
    reason: str
    # Index of the target's last LeaseRenewed committed while the request is pending: the
    # target still held its lease then, so a watchdog recovery wait restarts from it.
    lease_renewed_index: int = 0


@dataclass(frozen=True)
class FenceRecord:
    """One answered request, for `raftha fence history`."""

    target: str
    action: str
    result: str            # success | failed
    index: int             # index of the result event
    ts_ms: int
    request_index: int
    executor: str
    device: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "action": self.action, "result": self.result,
                "index": self.index, "ts_ms": self.ts_ms, "request_index": self.request_index,
                "executor": self.executor, "device": self.device, "reason": self.reason}


@dataclass(frozen=True)
class FencingState:
    pending: tuple[PendingFence, ...] = ()
    history: tuple[FenceRecord, ...] = ()
    # target -> failed results since its last success (Pacemaker's stonith-max-attempts)
    failures: tuple[tuple[str, int], ...] = ()

    def pending_for(self, target: str) -> PendingFence | None:
        for item in self.pending:
            if item.target == target:
                return item
        return None

    def failure_count(self, target: str) -> int:
        return dict(self.failures).get(target, 0)

    def last_result(self, target: str) -> FenceRecord | None:
        for record in reversed(self.history):
            if record.target == target:
                return record
        return None


EMPTY_FENCING = FencingState()


def fencing_state(state: ClusterState) -> FencingState:
    """The fencing part of the cluster state (empty when nothing was ever fenced)."""
    data = getattr(state, "fencing_bytes", b"")
    if not data:
        return EMPTY_FENCING
    plain = msgpack.unpackb(data, raw=False, strict_map_key=True)
    return FencingState(
        pending=tuple(PendingFence(*item) for item in plain["pending"]),
        history=tuple(FenceRecord(*item) for item in plain["history"]),
        failures=tuple((str(name), int(count)) for name, count in plain["failures"]),
    )


def pending_record(item: PendingFence) -> list[Any]:
    """The stored form of a pending request. lease_renewed_index is written only once set,
    so states without a renewal encode (and hash) exactly as before the field existed."""
    values = list(item.__dict__.values())
    return values if item.lease_renewed_index else values[:-1]


def with_fencing(state: ClusterState, fencing: FencingState) -> ClusterState:
    if fencing == EMPTY_FENCING:
        return evolve(state, fencing_bytes=b"")
    plain = {
        "pending": [pending_record(item) for item in
                    sorted(fencing.pending, key=lambda item: item.target)],
        "history": [list(item.__dict__.values()) for item in fencing.history[-HISTORY_WINDOW:]],
        "failures": [[name, count] for name, count in sorted(fencing.failures) if count > 0],
    }
    return evolve(state, fencing_bytes=msgpack.packb(plain, use_bin_type=True))


# ---------------------------------------------------------------- body validation


def _event_error(reason: str) -> Exception:
    from raftha.model.events import EventError
    return EventError(reason)


def _require_action(value: Any) -> None:
    if value not in FENCE_ACTIONS:
        raise _event_error(f"fence action must be one of {', '.join(FENCE_ACTIONS)}")


def _require_index(value: Any, field: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise _event_error(f"{field} must be a positive integer")


def validate_fence_requested(body: Mapping[str, Any]) -> None:
    from raftha.model import events as event_model
    event_model.require_keys(body, ("target", "action", "reason"))
    event_model.require_node_name(body["target"], "target")
    _require_action(body["action"])
    event_model.require_text(body["reason"], "reason", MAX_REASON_CHARS)


def validate_node_fenced(body: Mapping[str, Any]) -> None:
    from raftha.model import events as event_model
    event_model.require_keys(body, ("target", "action", "request_index", "device", "level"),
                             ("duration_ms",))
    event_model.require_node_name(body["target"], "target")
    _require_action(body["action"])
    _require_index(body["request_index"], "request_index")
    event_model.require_text(body["device"], "device", event_model.MAX_NAME_CHARS * 4)
    level = body["level"]
    if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 9:
        raise _event_error("level must be an integer from 0 to 9")
    duration_ms = body.get("duration_ms", 0)
    if (not isinstance(duration_ms, int) or isinstance(duration_ms, bool)
            or not 0 <= duration_ms <= MAX_FENCE_DURATION_MS):
        raise _event_error(f"duration_ms must be an integer from 0 to {MAX_FENCE_DURATION_MS}")


def validate_fence_failed(body: Mapping[str, Any]) -> None:
    from raftha.model import events as event_model
    event_model.require_keys(body, ("target", "action", "request_index", "reason"))
    event_model.require_node_name(body["target"], "target")
    _require_action(body["action"])
    _require_index(body["request_index"], "request_index")
    event_model.require_text(body["reason"], "reason", MAX_REASON_CHARS)


BODY_VALIDATORS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "FenceRequested": validate_fence_requested,
    "NodeFenced": validate_node_fenced,
    "FenceFailed": validate_fence_failed,
}


def validate_lease_renewed(body: Mapping[str, Any]) -> None:
    from raftha.model import events as event_model
    event_model.require_keys(body, ("name",))
    event_model.require_node_name(body["name"])


BODY_VALIDATORS["LeaseRenewed"] = validate_lease_renewed

# Bookkeeping kinds that must not show as the cluster's "last change".
QUIET_KINDS = frozenset({"LeaseRenewed"})


def summarize(kind: str, body: Mapping[str, Any]) -> str | None:
    """`raftha history` text for the fencing kinds (None for other kinds)."""
    if kind == "FenceRequested":
        return f"fence {body['target']} ({body['action']}) requested: {body['reason']}"
    if kind == "NodeFenced":
        # The time the executor spent fencing (agents, delays) shows where failover goes.
        took = f" in {body['duration_ms']} ms" if "duration_ms" in body else ""
        return (f"node {body['target']} fenced ({body['action']}) by {body['device']}"
                f" at level {body['level']}{took}")
    if kind == "FenceFailed":
        return f"fencing {body['target']} ({body['action']}) failed: {body['reason']}"
    if kind == "LeaseRenewed":
        return f"lease of {body['name']} renewed"
    return None


# ---------------------------------------------------------------- executor choice


def choose_executor(state: ClusterState, target: str, origin: str) -> str | None:
    """Who runs the fence agents: the proposer when it is online and not the target, else
    the first online member by name other than the target; None when nobody can."""
    online = [node.name for node in state.nodes
              if node.state == NODE_ONLINE and node.name != target]
    if origin in online:
        return origin
    return min(online) if online else None


# ---------------------------------------------------------------- reducer handlers


def _refuse(reason: str) -> Exception:
    from raftha.model.reducer import Refused
    return Refused(reason)


def _require_member(state: ClusterState, name: str) -> None:
    if not state.created:
        raise _refuse("the cluster has not been created yet")
    if state.node(name) is None:
        raise _refuse(f"node {name!r} is not a member of the cluster")


def on_fence_requested(state: ClusterState, index: int,
                       event: Event) -> ClusterState:
    target = event.body["target"]
    _require_member(state, target)
    fencing = fencing_state(state)
    pending = fencing.pending_for(target)
    if pending is not None:
        executor = state.node(pending.executor)
        if executor is not None and executor.state == NODE_ONLINE:
            raise _refuse(f"{target} is already being fenced by {pending.executor} "
                          f"(request at index {pending.request_index})")
    executor_name = choose_executor(state, target, event.origin)
    if executor_name is None:
        raise _refuse(f"no online node other than {target} can fence it")
    request = PendingFence(target, event.body["action"], index, executor_name, event.origin,
                           event.ts_ms, event.body["reason"])
    others = tuple(item for item in fencing.pending if item.target != target)
    return with_fencing(state, replace(fencing, pending=(*others, request)))


def _answered_request(state: ClusterState, event: Event
                      ) -> tuple[FencingState, PendingFence]:
    target = event.body["target"]
    _require_member(state, target)
    fencing = fencing_state(state)
    pending = fencing.pending_for(target)
    if pending is None or pending.request_index != event.body["request_index"]:
        raise _refuse(f"no pending fence request for {target} at index "
                      f"{event.body['request_index']}")
    if event.origin != pending.executor:
        raise _refuse(f"the fence request for {target} belongs to {pending.executor}, "
                      f"not {event.origin}")
    return fencing, pending


def _with_result(fencing: FencingState, pending: PendingFence, record: FenceRecord,
                 failures: int) -> FencingState:
    counts = dict(fencing.failures)
    counts[pending.target] = failures
    return FencingState(
        pending=tuple(item for item in fencing.pending if item.target != pending.target),
        history=(*fencing.history, record)[-HISTORY_WINDOW:],
        failures=tuple(sorted(counts.items())),
    )


def on_node_fenced(state: ClusterState, index: int, event: Event) -> ClusterState:
    fencing, pending = _answered_request(state, event)
    record = FenceRecord(pending.target, event.body["action"], RESULT_SUCCESS, index,
                         event.ts_ms, pending.request_index, event.origin,
                         event.body["device"], "")
    state = with_fencing(state, _with_result(fencing, pending, record, 0))
    node = state.node(pending.target)
    if node is None:  # checked above; keeps the type checker honest
        return state
    # The node was powered off or reset: nothing it ran before the fencing runs any more.
    state = forget_runtime(state, node.name)
    if node.state == NODE_ONLINE and (node.changed_index > pending.request_index
                                      or event.body["action"] == "reboot"):
        # Rebooted (or it rejoined after the request: a reboot brings it back before the
        # agent returns): it stays a member, reset, and is probed afresh. Should it not come
        # back, the leader records it lost again.
        return state
    if node.state == NODE_OFFLINE:
        # Already out of the membership: only what the cluster expects changes (it is now
        # known down). The membership index stays, so the leader's return detection, keyed
        # on it, still sees a reconnection made after the loss.
        return with_node(state, replace(node, expected=EXPECTED_DOWN))
    return with_node(state, replace(node, state=NODE_OFFLINE, expected=EXPECTED_DOWN,
                                    changed_index=index, changed_ts_ms=event.ts_ms))


def forget_runtime(state: ClusterState, node: str) -> ClusterState:
    """The node's operation history and transient attributes are gone with its reboot (the
    reducer's own rule for a rejoining node, when the state holds them)."""
    from raftha.model import reducer
    forget = getattr(reducer, "forget_node_runtime", None)
    return state if forget is None else forget(state, node)


def on_fence_failed(state: ClusterState, index: int, event: Event) -> ClusterState:
    fencing, pending = _answered_request(state, event)
    record = FenceRecord(pending.target, event.body["action"], RESULT_FAILED, index,
                         event.ts_ms, pending.request_index, event.origin, "",
                         event.body["reason"])
    failures = fencing.failure_count(pending.target) + 1
    return with_fencing(state, _with_result(fencing, pending, record, failures))


def on_lease_renewed(state: ClusterState, index: int, event: Event) -> ClusterState:
    """A node's lease heartbeat: its commit is the proof. The state changes only while a
    fence request for the node is pending: the request notes the renewal, so the watchdog
    recovery wait (which must outlast the node's lease) starts again from it."""
    name = event.body["name"]
    _require_member(state, name)
    if event.origin != name:
        raise _refuse(f"a lease is renewed by its own node, not by {event.origin}")
    fencing = fencing_state(state)
    pending = fencing.pending_for(name)
    if pending is None:
        return state
    renewed = replace(pending, lease_renewed_index=index)
    others = tuple(item for item in fencing.pending if item.target != name)
    return with_fencing(state, replace(fencing, pending=(*others, renewed)))


HANDLERS: dict[str, Callable[[ClusterState, int, Event], ClusterState]] = {
    "LeaseRenewed": on_lease_renewed,
    "FenceRequested": on_fence_requested,
    "NodeFenced": on_node_fenced,
    "FenceFailed": on_fence_failed,
}


# ---------------------------------------------------------------- queries for the daemon


def needs_fencing(state: ClusterState, target: str) -> bool:
    """A member lost while expected up, with no request pending."""
    node = state.node(target)
    return (node is not None and node.state == NODE_OFFLINE
            and node.expected == EXPECTED_MEMBER
            and fencing_state(state).pending_for(target) is None
            and not is_witness(state, target))


def history_rows(state: ClusterState) -> list[dict[str, Any]]:
    """`raftha fence history --output json` rows (DESIGN section 8), oldest first: every
    answered request, then the pending ones (result "pending", index of the request)."""
    fencing = fencing_state(state)
    rows = [record.to_dict() for record in fencing.history]
    rows.extend({"target": item.target, "action": item.action, "result": RESULT_PENDING,
                 "index": item.request_index, "ts_ms": item.ts_ms,
                 "request_index": item.request_index, "executor": item.executor,
                 "device": "", "reason": item.reason}
                for item in sorted(fencing.pending, key=lambda item: item.request_index))
    return rows


# ---------------------------------------------------------------- the timing rule


@dataclass(frozen=True)
class TimingSettings:
    lease_ms: int
    watchdog_timeout_ms: int
    margin_ms: int
    clock_rate_error: float
    recovery_wait_ms: int          # W: stonith-watchdog-timeout (0: no watchdog recovery)


def parse_rate(text: str) -> float:
    """"1%" or "0.01" -> 0.01; raises FencingConfigError."""
    value = text.strip()
    try:
        rate = float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        raise FencingConfigError(f"clock-rate-error must be a fraction or a percentage, "
                                 f"not {text!r}") from None
    if not 0 <= rate < 1:
        raise FencingConfigError(f"clock-rate-error must be within [0, 1), not {text!r}")
    return rate


def timing_settings(properties: Iterable[tuple[str, str]]) -> TimingSettings:
    """The lease/watchdog numbers from cluster properties; raises FencingConfigError."""
    values = dict(properties)

    def duration(name: str, default_ms: int) -> int:
        text = values.get(name)
        return default_ms if text is None else parse_duration_ms(text, name)

    watchdog_text = values.get("fencing-watchdog-timeout",
                               values.get("stonith-watchdog-timeout", "0")).strip()
    recovery_wait_ms = 0 if watchdog_text.startswith("-") else parse_duration_ms(
        watchdog_text, "stonith-watchdog-timeout")
    rate_text = values.get("clock-rate-error")
    return TimingSettings(
        lease_ms=duration("lease-time", DEFAULT_LEASE_MS),
        watchdog_timeout_ms=duration("watchdog-timeout", DEFAULT_WATCHDOG_TIMEOUT_MS),
        margin_ms=duration("watchdog-margin", DEFAULT_WATCHDOG_MARGIN_MS),
        clock_rate_error=DEFAULT_CLOCK_RATE_ERROR if rate_text is None else parse_rate(rate_text),
        recovery_wait_ms=recovery_wait_ms,
    )


def timing_problem(properties: Iterable[tuple[str, str]]) -> str | None:
    """None when the properties keep the timing rule (or no watchdog recovery wait is set),
    else a one-line reason giving the numbers."""
    try:
        settings = timing_settings(properties)
    except FencingConfigError as error:
        return str(error)
    if settings.recovery_wait_ms <= 0:
        return None
    return check_timing(settings.lease_ms, settings.watchdog_timeout_ms,
                        settings.clock_rate_error, settings.margin_ms,
                        settings.recovery_wait_ms)


# ---------------------------------------------------------------- readiness and status


@dataclass(frozen=True)
class FencingReadiness:
    """Can this cluster fence a lost node at all, and how? With the reason when it cannot."""

    enabled: bool
    devices: int
    watchdog_wait_ms: int
    problem: str

    @property
    def can_fence(self) -> bool:
        return self.enabled and (self.devices > 0 or self.watchdog_wait_ms > 0)


def fencing_readiness(state: ClusterState) -> FencingReadiness:
    """From committed state only (the same answer on every node)."""
    from raftha.model.reducer import stored_configuration
    configuration = stored_configuration(state)
    try:
        settings = fencing_settings(configuration)
        devices = devices_from_config(configuration)
        wait_ms = timing_settings(state.properties).recovery_wait_ms
    except FencingConfigError as error:
        return FencingReadiness(True, 0, 0, str(error))
    if not settings.enabled:
        return FencingReadiness(False, len(devices), wait_ms, "")
    if not devices and wait_ms <= 0:
        return FencingReadiness(True, 0, 0, "Resource start-up disabled since no STONITH "
                                            "resources have been defined")
    return FencingReadiness(True, len(devices), wait_ms, "")


def max_attempts(state: ClusterState) -> int:
    text = state.property("stonith-max-attempts")
    try:
        return max(1, int(text)) if text else DEFAULT_MAX_ATTEMPTS
    except ValueError:
        return DEFAULT_MAX_ATTEMPTS


def fencing_status(state: ClusterState) -> dict[str, Any]:
    """The `fencing` section of `raftha status`: whether fencing can work, what is pending,
    and the last failure per node still unclean (crm_mon's "Failed Fencing Actions")."""
    readiness = fencing_readiness(state)
    fencing = fencing_state(state)
    failures = []
    for target, count in fencing.failures:
        record = fencing.last_result(target)
        node = state.node(target)
        if record is None or node is None or count <= 0:
            continue
        failures.append({"target": target, "action": record.action, "attempts": count,
                         "index": record.index, "ts_ms": record.ts_ms,
                         "reason": record.reason, "executor": record.executor,
                         "gave_up": count >= max_attempts(state)})
    return {
        "enabled": readiness.enabled,
        "devices": readiness.devices,
        "watchdog_wait_ms": readiness.watchdog_wait_ms,
        "problem": readiness.problem or None,
        "pending": [{"target": item.target, "action": item.action, "executor": item.executor,
                     "request_index": item.request_index} for item in fencing.pending],
        "failed": failures,
    }


def awaiting_fencing(state: ClusterState, target: str) -> bool:
    """A lost member that the cluster can and still will fence: it must not be brought back
    into the membership before the fencing result is committed (its old resources would be
    forgotten while they may still run)."""
    node = state.node(target)
    if node is None or node.state != NODE_OFFLINE or node.expected != EXPECTED_MEMBER:
        return False
    if not fencing_readiness(state).can_fence or is_witness(state, target):
        return False
    return fencing_state(state).failure_count(target) < max_attempts(state)


# ---------------------------------------------------------------- the sandbox's fencing


def sandbox_fencing_text(sandbox_dir: str, node_names: list[str]) -> str:
    """crm configure text for `raftha sandbox up --fencing`: one fence_raftha_sandbox
    device per node (it fences that node only and never runs on it) and fencing enabled."""
    lines = []
    for name in node_names:
        lines.append(f"primitive fence-{name} stonith:fence_raftha_sandbox params "
                     f"sandbox_dir=\"{sandbox_dir}\" pcmk_host_list={name} "
                     f"pcmk_host_check=static-list")
        lines.append(f"location fence-{name}-not-on-{name} fence-{name} -inf: {name}")
    lines.append("property stonith-enabled=true")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- what the scheduler sees

WITNESS_ATTRIBUTE = "witness"


def witness_nodes(configuration: Any) -> frozenset[str]:
    """Nodes whose permanent attribute witness=true: they vote in Raft (the quorum device of
    a two-node cluster) but run no resources, so the scheduler never sees them."""
    from raftha.model.properties import boolean_value
    return frozenset(node.name for node in configuration.nodes
                     if boolean_value(dict(node.attributes).get(WITNESS_ATTRIBUTE, "false")))


def for_scheduling(state: ClusterState, configuration: Any) -> Any:
    """The configuration the scheduler plans with: witness nodes left out, and
    have-watchdog=true while watchdog recovery (stonith-watchdog-timeout > 0) is configured,
    as Pacemaker's controller sets it when sbd runs (then a lost node counts as fenceable
    and resources are not held back for want of a fence device)."""
    witnesses = witness_nodes(configuration)
    if witnesses:
        configuration = replace(configuration, nodes=tuple(
            node for node in configuration.nodes if node.name not in witnesses))
    try:
        wait_ms = timing_settings(state.properties).recovery_wait_ms
    except FencingConfigError:
        wait_ms = 0
    properties = dict(configuration.properties)
    if wait_ms > 0 and "have-watchdog" not in properties:
        properties["have-watchdog"] = "true"
        configuration = replace(configuration, properties=tuple(sorted(properties.items())))
    return configuration


def is_witness(state: ClusterState, name: str) -> bool:
    from raftha.model.reducer import stored_configuration
    return name in witness_nodes(stored_configuration(state))
