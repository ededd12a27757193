"""Cluster state: the immutable value the reducer folds the committed log into.

Invariants:
- Immutable: frozen dataclasses and tuples only; an update builds a new value.
- Canonical: collections are kept sorted (nodes and properties by name) or in log order
  (recent event ids, rejections), so equal logs give byte-equal `encode_state` output and
  the same `state_hash` on every node.
- Bounded: the dedup window of applied event ids and the list of recent rejections have
  fixed maximum lengths, so snapshots stay small however long the log grows. The window
  holds the last 960 to 1024 ids: a short tuple of the newest, plus frozen chunks of 64
  (so the membership test and the update stay cheap on the apply path).
- `STATE_FORMAT` names the encoding (version plus record layout): equal logs give equal
  hashes only between nodes of equal format, so it is reported beside every hash.
- Snapshots are msgpack (never pickle): `encode_snapshot` / `decode_snapshot` round-trip
  exactly, and decoding untrusted bytes raises `StateError` with a one-line reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from typing import Any

import msgpack

from raftha.model.config import from_dict as model_data
from raftha.model.config import to_dict as plain_data
from raftha.model.status import OperationRecord, ResourceHistory

STATE_VERSION = 1
SNAPSHOT_VERSION = 1
APPLIED_ID_CHUNK = 64
APPLIED_ID_CHUNKS = 16
APPLIED_ID_WINDOW = APPLIED_ID_CHUNK * APPLIED_ID_CHUNKS
REJECTION_WINDOW = 64
MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024

NODE_ONLINE = "online"
NODE_OFFLINE = "offline"
NODE_STATES = (NODE_ONLINE, NODE_OFFLINE)
EXPECTED_MEMBER = "member"
EXPECTED_DOWN = "down"
EXPECTED_STATES = (EXPECTED_MEMBER, EXPECTED_DOWN)


class StateError(ValueError):
    """Bytes that are not a valid state snapshot; the message is a one-line reason."""


@dataclass(frozen=True)
class NodeRecord:
    name: str
    address: str
    state: str = NODE_OFFLINE
    joined_index: int = 0
    changed_index: int = 0
    changed_ts_ms: int = 0
    # What the cluster expects of the node (Pacemaker's "expected"): "member" once it has
    # been online, "down" before that and after a clean stop. An offline node that is
    # expected to be a member was lost, not stopped: it may need fencing.
    expected: str = EXPECTED_DOWN


@dataclass(frozen=True)
class Rejection:
    index: int
    event_id: str          # hex, or "" when the entry could not be decoded
    kind: str              # "" when the entry could not be decoded
    reason: str


@dataclass(frozen=True)
class Change:
    """Who last changed the cluster, as crm_mon's "Last change" line shows it."""

    index: int
    ts_ms: int
    origin: str
    user: str
    kind: str


@dataclass(frozen=True)
class ClusterState:
    last_index: int = 0
    name: str = ""
    created_index: int = 0
    nodes: tuple[NodeRecord, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()
    # The Pacemaker configuration other than cluster properties: canonical msgpack of
    # `Configuration.to_dict()` (bytes keep the state immutable and cheap to copy).
    configuration_bytes: bytes = b""
    # Index of the last change to the configuration or the properties (the epoch a
    # `configure load` is checked against).
    configuration_index: int = 0
    # Resource operation results per node (Pacemaker's lrm history): (node, histories
    # sorted by resource), nodes sorted; and transient node attributes (fail-count-*,
    # last-failure-*): (node, sorted pairs). Call ids order one node's operations.
    operation_histories: tuple[tuple[str, tuple[ResourceHistory, ...]], ...] = ()
    transient_attributes: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    next_call_id: int = 1
    now_ms: int = 0
    last_change: Change | None = None
    applied_count: int = 0
    rejected_count: int = 0
    duplicate_count: int = 0
    recent_event_ids: tuple[bytes, ...] = field(default=(), repr=False)
    older_event_ids: tuple[frozenset[bytes], ...] = field(default=(), repr=False)
    rejections: tuple[Rejection, ...] = ()
    # Fence requests and results, canonical msgpack (raftha.model.fencing_events).
    fencing_bytes: bytes = b""

    @property
    def created(self) -> bool:
        return self.created_index > 0

    def node(self, name: str) -> NodeRecord | None:
        for record in self.nodes:
            if record.name == name:
                return record
        return None

    def node_by_address(self, address: str) -> NodeRecord | None:
        for record in self.nodes:
            if record.address == address:
                return record
        return None

    def property(self, name: str) -> str | None:
        for key, value in self.properties:
            if key == name:
                return value
        return None

    def has_applied(self, event_id: bytes) -> bool:
        if event_id in self.recent_event_ids:
            return True
        return any(event_id in chunk for chunk in self.older_event_ids)

    def applied_id_count(self) -> int:
        return len(self.recent_event_ids) + sum(len(chunk) for chunk in self.older_event_ids)

    def histories_of(self, node: str) -> tuple[ResourceHistory, ...]:
        for name, histories in self.operation_histories:
            if name == node:
                return histories
        return ()

    def transient_of(self, node: str) -> tuple[tuple[str, str], ...]:
        for name, pairs in self.transient_attributes:
            if name == node:
                return pairs
        return ()

    def rejection_for(self, event_id_hex: str) -> Rejection | None:
        for rejection in reversed(self.rejections):
            if rejection.event_id == event_id_hex:
                return rejection
        return None


EMPTY_STATE = ClusterState()


def evolve(state: ClusterState, **changes: Any) -> ClusterState:
    """A copy of `state` with `changes`: `dataclasses.replace` without its per-call
    introspection, which dominated the cost of applying an entry."""
    unknown = set(changes) - STATE_FIELDS
    if unknown:
        raise TypeError(f"ClusterState has no field {sorted(unknown)[0]!r}")
    new_state = object.__new__(ClusterState)
    attributes = new_state.__dict__
    attributes.update(state.__dict__)
    attributes.update(changes)
    return new_state


STATE_FIELDS = frozenset(item.name for item in fields(ClusterState))


# ---------------------------------------------------------------------------
# Small immutable updates used by the reducer.

def with_node(state: ClusterState, record: NodeRecord) -> ClusterState:
    others = [node for node in state.nodes if node.name != record.name]
    nodes = tuple(sorted([*others, record], key=lambda node: node.name))
    return evolve(state, nodes=nodes)


def without_node(state: ClusterState, name: str) -> ClusterState:
    return evolve(state, nodes=tuple(node for node in state.nodes if node.name != name))


def with_property(state: ClusterState, name: str, value: str | None) -> ClusterState:
    others = [(key, old) for key, old in state.properties if key != name]
    if value is not None:
        others.append((name, value))
    return evolve(state, properties=tuple(sorted(others)))


def with_event_id(state: ClusterState, event_id: bytes) -> ClusterState:
    recent = (*state.recent_event_ids, event_id)
    if len(recent) < APPLIED_ID_CHUNK:
        return evolve(state, recent_event_ids=recent)
    older = (*state.older_event_ids, frozenset(recent))[-(APPLIED_ID_CHUNKS - 1):]
    return evolve(state, recent_event_ids=(), older_event_ids=older)


def with_rejection(state: ClusterState, rejection: Rejection) -> ClusterState:
    rejections = (*state.rejections, rejection)[-REJECTION_WINDOW:]
    return evolve(state, rejections=rejections, rejected_count=state.rejected_count + 1)


# ---------------------------------------------------------------------------
# Plain data, canonical encoding, hash, snapshots.

def state_to_plain(state: ClusterState) -> dict[str, Any]:
    """Plain msgpack/JSON-safe data in a fixed key order (bytes stay bytes)."""
    change = state.last_change
    return {
        "v": STATE_VERSION,
        "last_index": state.last_index,
        "name": state.name,
        "created_index": state.created_index,
        "nodes": [
            [node.name, node.address, node.state, node.joined_index, node.changed_index,
             node.changed_ts_ms, node.expected]
            for node in state.nodes
        ],
        "properties": [[key, value] for key, value in state.properties],
        "configuration": state.configuration_bytes,
        "configuration_index": state.configuration_index,
        "operation_histories": [[node, plain_data(histories)]
                                for node, histories in state.operation_histories],
        "transient_attributes": [[node, [list(pair) for pair in pairs]]
                                 for node, pairs in state.transient_attributes],
        "next_call_id": state.next_call_id,
        "now_ms": state.now_ms,
        "last_change": None if change is None else [
            change.index, change.ts_ms, change.origin, change.user, change.kind
        ],
        "applied_count": state.applied_count,
        "rejected_count": state.rejected_count,
        "duplicate_count": state.duplicate_count,
        "recent_event_ids": list(state.recent_event_ids),
        "older_event_ids": [sorted(chunk) for chunk in state.older_event_ids],
        "rejections": [
            [item.index, item.event_id, item.kind, item.reason] for item in state.rejections
        ],
        "fencing": state.fencing_bytes,
    }


def record_layout() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The field names of every record the state encoding is made of, in order."""
    records = (ClusterState, NodeRecord, Change, Rejection, ResourceHistory,
               OperationRecord)
    return tuple((record.__name__, tuple(item.name for item in fields(record)))
                 for record in records)


def compute_state_format() -> str:
    """A short id of the state encoding: its version and the layout of its records.

    Nodes whose formats differ run different state code (a rolling upgrade, or a node
    restarted from another build): their state hashes are not comparable, and a reducer that
    changed may decide differently on the same log. It changes whenever a field is added,
    removed or renamed, without anyone having to remember to bump STATE_VERSION."""
    layout = msgpack.packb([STATE_VERSION, [[name, list(names)]
                                            for name, names in record_layout()]])
    return hashlib.sha256(layout).hexdigest()[:12]


def encode_state(state: ClusterState) -> bytes:
    """Canonical bytes of the state: equal states give equal bytes on every node."""
    return msgpack.packb(state_to_plain(state), use_bin_type=True)


def state_hash(state: ClusterState) -> str:
    return hashlib.sha256(encode_state(state)).hexdigest()


def encode_snapshot(state: ClusterState) -> bytes:
    return msgpack.packb({"v": SNAPSHOT_VERSION, "state": state_to_plain(state)},
                         use_bin_type=True)


def decode_snapshot(data: bytes) -> ClusterState:
    """The state inside a snapshot; raises StateError naming the problem."""
    if not isinstance(data, bytes | bytearray) or len(data) > MAX_SNAPSHOT_BYTES:
        raise StateError("snapshot must be bytes of bounded size")
    try:
        snapshot = msgpack.unpackb(bytes(data), raw=False, strict_map_key=True)
    except Exception as error:  # msgpack raises several unrelated types on garbage
        raise StateError(f"snapshot is not msgpack: {type(error).__name__}") from None
    if not isinstance(snapshot, dict) or snapshot.get("v") != SNAPSHOT_VERSION:
        raise StateError("snapshot has an unknown version")
    try:
        return state_from_plain(snapshot["state"])
    except StateError:
        raise
    except Exception as error:
        raise StateError(f"snapshot state is malformed: {type(error).__name__}") from None


STATE_FORMAT = compute_state_format()


def state_from_plain(plain: dict[str, Any]) -> ClusterState:
    if not isinstance(plain, dict) or plain.get("v") != STATE_VERSION:
        raise StateError("state has an unknown version")
    change = plain["last_change"]
    state = ClusterState(
        last_index=int(plain["last_index"]),
        name=str(plain["name"]),
        created_index=int(plain["created_index"]),
        nodes=tuple(
            NodeRecord(str(name), str(address), str(node_state), int(joined),
                       int(changed), int(changed_ts), str(expected))
            for name, address, node_state, joined, changed, changed_ts, expected
            in plain["nodes"]
        ),
        properties=tuple((str(key), str(value)) for key, value in plain["properties"]),
        configuration_bytes=bytes(plain["configuration"]),
        configuration_index=int(plain["configuration_index"]),
        operation_histories=tuple(
            (str(node), tuple(model_data(histories)))
            for node, histories in plain["operation_histories"]),
        transient_attributes=tuple(
            (str(node), tuple((str(key), str(value)) for key, value in pairs))
            for node, pairs in plain["transient_attributes"]),
        next_call_id=int(plain["next_call_id"]),
        now_ms=int(plain["now_ms"]),
        last_change=None if change is None else Change(
            int(change[0]), int(change[1]), str(change[2]), str(change[3]), str(change[4])
        ),
        applied_count=int(plain["applied_count"]),
        rejected_count=int(plain["rejected_count"]),
        duplicate_count=int(plain["duplicate_count"]),
        recent_event_ids=tuple(bytes(item) for item in plain["recent_event_ids"]),
        older_event_ids=tuple(frozenset(bytes(item) for item in chunk)
                              for chunk in plain["older_event_ids"]),
        rejections=tuple(
            Rejection(int(index), str(event_id), str(kind), str(reason))
            for index, event_id, kind, reason in plain["rejections"]
        ),
        fencing_bytes=bytes(plain["fencing"]),
    )
    if any(node.state not in NODE_STATES or node.expected not in EXPECTED_STATES
           for node in state.nodes):
        raise StateError("snapshot has a node in an unknown state")
    if encode_state(state) != msgpack.packb(plain, use_bin_type=True):
        raise StateError("snapshot state is not in canonical form")
    return state
