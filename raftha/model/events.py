"""Events: the facts and intents replicated through the Raft log (DESIGN section 3).

An event is plain data encoded as one msgpack map, the only thing ever written to the log:

    {"v": 1, "id": <16 bytes>, "kind": str, "origin": node name, "user": OS user or "",
     "ts_ms": int, "body": map}

Invariants:
- `id` is 128 random bits chosen by the proposer (outside this pure module), so a retried
  proposal carries the same id and the reducer applies it once.
- `ts_ms` is the proposer's wall clock; it is data, never a clock reading here.
- Decoding never trusts its input: any malformed entry raises `EventError` with a one-line
  reason, and nothing here ever unpickles or evaluates.
- Body validation is per kind and lives here, so every node rejects the same events for the
  same reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import msgpack

from raftha.model.fencing_events import BODY_VALIDATORS as FENCING_VALIDATORS
from raftha.model.fencing_events import summarize as summarize_fencing

ENVELOPE_VERSION = 1
EVENT_ID_BYTES = 16
MAX_ENTRY_BYTES = 1024 * 1024
MAX_NAME_CHARS = 64
MAX_VALUE_CHARS = 4096
MAX_INITIAL_NODES = 64
MAX_DESCRIPTION_CHARS = 200

NODE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ADDRESS_PATTERN = re.compile(r"^[A-Za-z0-9_.:\[\]-]{1,253}:[0-9]{1,5}$")
CLUSTER_NAME_PATTERN = NODE_NAME_PATTERN
RESOURCE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$")

ENVELOPE_KEYS = ("v", "id", "kind", "origin", "user", "ts_ms", "body")


class EventError(ValueError):
    """An entry that is not a valid event; the message is a one-line reason."""


@dataclass(frozen=True)
class Event:
    """One decoded event. `body` is a read-only mapping of plain msgpack data."""

    id: bytes
    kind: str
    origin: str
    user: str
    ts_ms: int
    body: Mapping[str, Any]
    version: int = ENVELOPE_VERSION

    @property
    def id_hex(self) -> str:
        return self.id.hex()


def make_event(
    event_id: bytes, kind: str, origin: str, user: str, ts_ms: int, body: Mapping[str, Any]
) -> Event:
    """Builds an event, validating it exactly as `decode_event` would on every node."""
    event = Event(
        id=event_id, kind=kind, origin=origin, user=user, ts_ms=ts_ms,
        body=MappingProxyType(dict(body)),
    )
    return decode_event(encode_event(event))


def encode_event(event: Event) -> bytes:
    """The canonical msgpack encoding of an event (envelope keys in a fixed order)."""
    envelope = {
        "v": event.version,
        "id": event.id,
        "kind": event.kind,
        "origin": event.origin,
        "user": event.user,
        "ts_ms": event.ts_ms,
        "body": dict(event.body),
    }
    return msgpack.packb(envelope, use_bin_type=True)


def decode_event(entry: bytes) -> Event:
    """Decodes and validates one log entry; raises EventError naming the problem."""
    if not isinstance(entry, bytes | bytearray | memoryview):
        raise EventError(f"entry is {type(entry).__name__}, not bytes")
    if len(entry) > MAX_ENTRY_BYTES:
        raise EventError(f"entry is {len(entry)} bytes, more than {MAX_ENTRY_BYTES}")
    try:
        envelope = msgpack.unpackb(
            bytes(entry), raw=False, strict_map_key=True, use_list=True,
        )
    except Exception as error:  # msgpack raises several unrelated types on garbage
        raise EventError(f"entry is not msgpack: {type(error).__name__}") from None
    if not isinstance(envelope, dict):
        raise EventError("entry is not a msgpack map")
    version = envelope.get("v")
    if version != ENVELOPE_VERSION:
        raise EventError(f"unknown envelope version {version!r}")
    unknown_keys = sorted(str(key) for key in envelope if key not in ENVELOPE_KEYS)
    if unknown_keys:
        raise EventError(f"unknown envelope field {unknown_keys[0]!r}")
    event_id = envelope.get("id")
    if not isinstance(event_id, bytes) or len(event_id) != EVENT_ID_BYTES:
        raise EventError(f"event id must be {EVENT_ID_BYTES} bytes")
    kind = envelope.get("kind")
    if not isinstance(kind, str) or kind not in BODY_VALIDATORS:
        raise EventError(f"unknown event kind {kind!r}")
    origin = envelope.get("origin")
    if not isinstance(origin, str) or len(origin) > MAX_NAME_CHARS:
        raise EventError("origin must be a node name")
    user = envelope.get("user")
    if not isinstance(user, str) or len(user) > MAX_NAME_CHARS:
        raise EventError("user must be a string of at most 64 characters")
    ts_ms = envelope.get("ts_ms")
    if not isinstance(ts_ms, int) or isinstance(ts_ms, bool) or not 0 <= ts_ms < 2**63:
        raise EventError("ts_ms must be a non-negative integer")
    body = envelope.get("body")
    if not isinstance(body, dict):
        raise EventError("body must be a map")
    BODY_VALIDATORS[kind](body)
    return Event(
        id=bytes(event_id), kind=kind, origin=origin, user=user, ts_ms=ts_ms,
        body=MappingProxyType(body),
    )


# ---------------------------------------------------------------------------
# Body validation, one function per kind. They check shape only; whether the event makes
# sense against the current state (a node that exists, a property that is known) is the
# reducer's decision.

def require_keys(body: Mapping[str, Any], required: tuple[str, ...],
                 optional: tuple[str, ...] = ()) -> None:
    missing = [key for key in required if key not in body]
    if missing:
        raise EventError(f"body lacks field {missing[0]!r}")
    extra = sorted(str(key) for key in body if key not in required + optional)
    if extra:
        raise EventError(f"body has unknown field {extra[0]!r}")


def require_node_name(value: Any, field: str = "name") -> str:
    if not isinstance(value, str) or not NODE_NAME_PATTERN.match(value):
        raise EventError(f"{field} {value!r} is not a valid node name")
    return value


def require_address(value: Any, field: str = "address") -> str:
    if not isinstance(value, str) or not ADDRESS_PATTERN.match(value):
        raise EventError(f"{field} {value!r} is not a HOST:PORT address")
    port = int(value.rsplit(":", 1)[1])
    if not 0 < port < 65536:
        raise EventError(f"{field} {value!r} has port out of range")
    return value


def require_text(value: Any, field: str, max_chars: int) -> str:
    if not isinstance(value, str) or len(value) > max_chars:
        raise EventError(f"{field} must be a string of at most {max_chars} characters")
    return value


def each_map(value: Any, field: str, max_items: int, unit: str,
             not_a_map: str) -> Iterator[dict[str, Any]]:
    """The items of `value`, a list of 1 to `max_items` maps, each checked as it is reached
    (so the first bad item decides the error); `not_a_map` is the error for one that is
    not a map."""
    if not isinstance(value, list) or not 1 <= len(value) <= max_items:
        raise EventError(f"{field} must be a list of 1 to {max_items} {unit}")
    for item in value:
        if not isinstance(item, dict):
            raise EventError(not_a_map)
        yield item


def validate_cluster_created(body: Mapping[str, Any]) -> None:
    require_keys(body, ("name", "nodes"))
    if not isinstance(body["name"], str) or not CLUSTER_NAME_PATTERN.match(body["name"]):
        raise EventError(f"cluster name {body['name']!r} is not valid")
    nodes = body["nodes"]
    for node in each_map(nodes, "nodes", MAX_INITIAL_NODES, "nodes",
                         "each node must be a map with name and address"):
        require_keys(node, ("name", "address"))
        require_node_name(node["name"])
        require_address(node["address"])
    names = [node["name"] for node in nodes]
    addresses = [node["address"] for node in nodes]
    if len(set(names)) != len(names):
        raise EventError("node names must be unique")
    if len(set(addresses)) != len(addresses):
        raise EventError("node addresses must be unique")


def validate_node_joined(body: Mapping[str, Any]) -> None:
    require_keys(body, ("name", "address"))
    require_node_name(body["name"])
    require_address(body["address"])


def validate_node_named(body: Mapping[str, Any]) -> None:
    require_keys(body, ("name",))
    require_node_name(body["name"])


def validate_property_set(body: Mapping[str, Any]) -> None:
    require_keys(body, ("name", "value"))
    require_text(body["name"], "property name", MAX_NAME_CHARS)
    require_text(body["value"], "property value", MAX_VALUE_CHARS)


def validate_property_unset(body: Mapping[str, Any]) -> None:
    require_keys(body, ("name",))
    require_text(body["name"], "property name", MAX_NAME_CHARS)


ATTRIBUTE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.#:-]{0,127}$")


def validate_node_attribute(body: Mapping[str, Any], with_value: bool) -> None:
    require_keys(body, ("node", "name", "value") if with_value else ("node", "name"))
    require_node_name(body["node"], "node")
    if not isinstance(body["name"], str) or not ATTRIBUTE_NAME_PATTERN.match(body["name"]):
        raise EventError(f"attribute name {body['name']!r} is not valid")
    if with_value:
        require_text(body["value"], "attribute value", MAX_VALUE_CHARS)


def validate_node_attribute_set(body: Mapping[str, Any]) -> None:
    validate_node_attribute(body, with_value=True)


def validate_node_attribute_unset(body: Mapping[str, Any]) -> None:
    validate_node_attribute(body, with_value=False)


OPERATIONS = ("start", "stop", "monitor", "promote", "demote", "migrate_to",
              "migrate_from", "notify", "reload", "reload-agent")
AGENT_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*(:[A-Za-z0-9_.-]+){1,2}$")
MAX_EXIT_REASON_CHARS = 512


def require_integer(value: Any, field: str, minimum: int, maximum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise EventError(f"{field} must be an integer from {minimum} to {maximum}")
    return value


def require_resource_id(value: Any, field: str = "resource") -> str:
    if not isinstance(value, str) or not RESOURCE_ID_PATTERN.match(value):
        raise EventError(f"{field} {value!r} is not a valid resource id")
    return value


def require_operation(fields: Mapping[str, Any]) -> None:
    """The resource, agent, operation and interval_ms that name one agent action."""
    require_resource_id(fields["resource"])
    if not isinstance(fields["agent"], str) or not AGENT_PATTERN.match(fields["agent"]):
        raise EventError(f"agent {fields['agent']!r} is not class:[provider:]type")
    if fields["operation"] not in OPERATIONS:
        raise EventError(f"unknown operation {fields['operation']!r}")
    require_integer(fields["interval_ms"], "interval_ms", 0, 2**31)


def validate_operation_completed(body: Mapping[str, Any]) -> None:
    """One agent action's result on one node, as the executor reports it. op_status is
    Pacemaker's executor status (0 done, 1 cancelled, 2 timed out, 4 error, 5 hard error,
    6 fatal error, 7 not installed); target_rc the rc that means success (None: 0, or 7
    for a probe)."""
    require_keys(body, ("node", "resource", "agent", "operation", "interval_ms", "rc",
                        "op_status", "target_rc", "exit_reason", "duration_ms"),
                 DIGEST_FIELDS + NOTIFY_FIELDS + ("notify_through_call_id",) + MIGRATE_FIELDS)
    require_node_name(body["node"], "node")
    require_operation(body)
    require_integer(body["rc"], "rc", -1024, 1024)
    require_integer(body["op_status"], "op_status", -1, 16)
    if body["target_rc"] is not None:
        require_integer(body["target_rc"], "target_rc", 0, 255)
    require_text(body["exit_reason"], "exit_reason", MAX_EXIT_REASON_CHARS)
    require_integer(body["duration_ms"], "duration_ms", 0, 2**40)
    validate_digests(body)
    for key in MIGRATE_FIELDS:
        if key in body:
            require_node_name(body[key], key)
    if body["operation"] == "notify" or any(key in body for key in NOTIFY_FIELDS):
        if body["operation"] != "notify":
            raise EventError("notify_type and notify_operation belong to a notify only")
        require_keys({key: body.get(key) for key in NOTIFY_FIELDS if key in body},
                     NOTIFY_FIELDS)
        if body["notify_type"] not in ("pre", "post"):
            raise EventError("notify_type must be pre or post")
        if body["notify_operation"] not in ("start", "stop", "promote", "demote"):
            raise EventError("notify_operation must be start, stop, promote or demote")
        if "notify_through_call_id" in body:
            require_integer(body["notify_through_call_id"], "notify_through_call_id", 0, 2**62)


# A live migration's source and target nodes (migrate_to and migrate_from results).
MIGRATE_FIELDS = ("migrate_source", "migrate_target")
# A clone notification's type (pre, post) and the operation it is about.
NOTIFY_FIELDS = ("notify_type", "notify_operation")
# The parameters an operation ran with (see raftha.scheduler.digests), all optional.
DIGEST_FIELDS = ("op_digest", "op_restart_digest", "op_force_restart", "parameter_digests")
DIGEST_PATTERN = re.compile(r"^[0-9a-f]{8,64}$")
MAX_DIGESTED_PARAMETERS = 256


def validate_digests(body: Mapping[str, Any]) -> None:
    for key in ("op_digest", "op_restart_digest"):
        if key in body and (not isinstance(body[key], str)
                            or not DIGEST_PATTERN.match(body[key])):
            raise EventError(f"{key} must be a hexadecimal digest")
    if ("op_restart_digest" in body) != ("op_force_restart" in body):
        raise EventError("op_restart_digest and op_force_restart go together")
    if "op_force_restart" in body:
        require_text(body["op_force_restart"], "op_force_restart", MAX_VALUE_CHARS)
    digests = body.get("parameter_digests", {})
    if not isinstance(digests, dict) or len(digests) > MAX_DIGESTED_PARAMETERS:
        raise EventError(f"parameter_digests must map at most {MAX_DIGESTED_PARAMETERS} "
                         "names to digests")
    for name, value in digests.items():
        if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_CHARS * 2:
            raise EventError(f"parameter name {name!r} is not valid")
        if not isinstance(value, str) or not DIGEST_PATTERN.match(value):
            raise EventError(f"digest of parameter {name!r} must be hexadecimal")


def validate_resource_cleaned_up(body: Mapping[str, Any]) -> None:
    require_keys(body, ("resource", "node"))
    require_resource_id(body["resource"])
    if body["node"] is not None:
        require_node_name(body["node"], "node")


MAX_PENDING_OPERATIONS = 64


def validate_operations_pending(body: Mapping[str, Any]) -> None:
    """Actions a node is about to run (Pacemaker's record-pending): each is recorded with
    op_status -1 until its OperationCompleted arrives. `shared` marks the start or stop of
    an anonymous clone instance, which may run on several nodes at once."""
    require_keys(body, ("node", "operations"), ("planned_call_id",))
    require_node_name(body["node"], "node")
    for item in each_map(body["operations"], "operations", MAX_PENDING_OPERATIONS, "maps",
                         "each pending operation must be a map"):
        require_keys(item, ("resource", "agent", "operation", "interval_ms", "shared"))
        require_operation(item)
        if not isinstance(item["shared"], bool):
            raise EventError("shared must be true or false")
    if "planned_call_id" in body:
        require_integer(body["planned_call_id"], "planned_call_id", 0, 2**62)


LOAD_MODES = ("update", "replace")


def validate_configuration_loaded(body: Mapping[str, Any]) -> None:
    """Shape only: whether the configuration itself is sound is the reducer's decision."""
    require_keys(body, ("configuration", "base_index", "mode"), ("description",))
    if "description" in body:
        require_text(body["description"], "description", MAX_DESCRIPTION_CHARS)
    if not isinstance(body["configuration"], dict):
        raise EventError("configuration must be a map")
    base_index = body["base_index"]
    if not isinstance(base_index, int) or isinstance(base_index, bool) or base_index < 0:
        raise EventError("base_index must be a non-negative integer")
    if body["mode"] not in LOAD_MODES:
        raise EventError(f"mode must be one of {', '.join(LOAD_MODES)}")


def validate_empty(body: Mapping[str, Any]) -> None:
    require_keys(body, ())


BODY_VALIDATORS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "ClusterCreated": validate_cluster_created,
    "NodeJoined": validate_node_joined,
    "NodeLeft": validate_node_named,
    "NodeLost": validate_node_named,
    "NodeReturned": validate_node_named,
    "NodeStopped": validate_node_named,
    "ClusterPropertySet": validate_property_set,
    "ClusterPropertyUnset": validate_property_unset,
    "ConfigurationLoaded": validate_configuration_loaded,
    "NodeAttributeSet": validate_node_attribute_set,
    "NodeAttributeUnset": validate_node_attribute_unset,
    "TransientAttributeSet": validate_node_attribute_set,
    "TransientAttributeUnset": validate_node_attribute_unset,
    "OperationsPending": validate_operations_pending,
    "OperationCompleted": validate_operation_completed,
    "ResourceCleanedUp": validate_resource_cleaned_up,
    "ClockTicked": validate_empty,
    # A consistent read's marker: once applied here, this node has every write committed
    # before the read began. It changes nothing but the index and the committed time.
    "ReadBarrier": validate_empty,
}

BODY_VALIDATORS.update(FENCING_VALIDATORS)

EVENT_KINDS: tuple[str, ...] = tuple(BODY_VALIDATORS)


# Kinds whose summary is the body's fields put into a fixed phrase.
SUMMARY_TEMPLATES: dict[str, str] = {
    "NodeJoined": "node {name} joined at {address}",
    "NodeLeft": "node {name} removed",
    "NodeLost": "node {name} offline",
    "NodeReturned": "node {name} online",
    "NodeStopped": "node {name} stopped cleanly",
    "ClusterPropertySet": "{name}={value}",
    "ClusterPropertyUnset": "{name} unset",
    "NodeAttributeSet": "node {node}: {name}={value}",
    "NodeAttributeUnset": "node {node}: {name} unset",
    "ClockTicked": "clock tick",
    "ReadBarrier": "read barrier",
}


def summarize_cluster_created(body: Mapping[str, Any]) -> str:
    names = " ".join(node["name"] for node in body["nodes"])
    return f"cluster {body['name']} created with nodes {names}"


def summarize_configuration_loaded(body: Mapping[str, Any]) -> str:
    if body.get("description"):
        return body["description"]
    resources = body["configuration"].get("resources")
    count = len(resources) if isinstance(resources, list) else 0
    return f"configuration loaded ({body['mode']}): {count} top-level resources"


def summarize_transient_attribute(body: Mapping[str, Any]) -> str:
    value = f"={body['value']}" if "value" in body else " unset"
    return f"node {body['node']}: {body['name']}{value} (transient)"


def summarize_operations_pending(body: Mapping[str, Any]) -> str:
    actions = ", ".join(f"{item['resource']} {item['operation']}"
                        for item in body["operations"])
    return f"{actions} on {body['node']}: pending"


def summarize_operation_completed(body: Mapping[str, Any]) -> str:
    interval = f" ({body['interval_ms']} ms)" if body["interval_ms"] else ""
    reason = f" ({body['exit_reason']})" if body["exit_reason"] else ""
    return (f"{body['resource']} {body['operation']}{interval} on {body['node']}: "
            f"rc={body['rc']} status={body['op_status']}{reason}")


def summarize_resource_cleaned_up(body: Mapping[str, Any]) -> str:
    where = f" on {body['node']}" if body["node"] else ""
    return f"{body['resource']} cleaned up{where}"


SUMMARIZERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "ClusterCreated": summarize_cluster_created,
    "ConfigurationLoaded": summarize_configuration_loaded,
    "TransientAttributeSet": summarize_transient_attribute,
    "TransientAttributeUnset": summarize_transient_attribute,
    "OperationsPending": summarize_operations_pending,
    "OperationCompleted": summarize_operation_completed,
    "ResourceCleanedUp": summarize_resource_cleaned_up,
}


def summarize(event: Event) -> str:
    """A short human summary of an event for `raftha history`."""
    template = SUMMARY_TEMPLATES.get(event.kind)
    if template is not None:
        return template.format_map(event.body)
    summarizer = SUMMARIZERS.get(event.kind)
    if summarizer is not None:
        return summarizer(event.body)
    fencing_summary = summarize_fencing(event.kind, event.body)
    return event.kind if fencing_summary is None else fencing_summary
