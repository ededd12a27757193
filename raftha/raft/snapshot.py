"""Snapshot files in msgpack (never pickle): our state plus the Raft data the library needs.

pysyncobj's custom serializer hooks receive, besides our state, the last two applied log
entries and the member set; they must be written and handed back on load. File layout:

    msgpack {"format": 1, "sha256": <digest of body>, "body": <bytes>}
    body = msgpack {"state": <StateMachine.snapshot_bytes()>, "last": [command, index, term],
                    "previous": [command, index, term], "members": ["host:port", ...]}

Members come back as `TCPNode` objects (strings would make a node count itself as a peer
when dynamic membership is on). The digest turns a torn or corrupted file into a clear load
error instead of a silently wrong state. Both hooks run on the tick thread.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any

import msgpack

from raftha.raft.contract import StateMachine
from raftha.raft.library import TCPNode

SNAPSHOT_FORMAT = 1
MAX_SNAPSHOT_BYTES = 1024 * 1024 * 1024


class SnapshotError(RuntimeError):
    """A snapshot file cannot be read back."""


def _entry_to_list(entry: Any) -> list[Any]:
    command, index, term = entry
    return [bytes(command), int(index), int(term)]


def _entry_from_list(value: Any) -> tuple[bytes, int, int]:
    if not isinstance(value, list) or len(value) != 3:
        raise SnapshotError("snapshot log entry is not [command, index, term]")
    command, index, term = value
    if not isinstance(command, bytes) or not isinstance(index, int) or not isinstance(term, int):
        raise SnapshotError("snapshot log entry has wrong field types")
    return command, index, term


def encode_snapshot(state: bytes, last: Any, previous: Any, members: list[str]) -> bytes:
    body = msgpack.packb({
        "state": state,
        "last": _entry_to_list(last),
        "previous": _entry_to_list(previous),
        "members": sorted(members),
    }, use_bin_type=True)
    return msgpack.packb({
        "format": SNAPSHOT_FORMAT,
        "sha256": hashlib.sha256(body).digest(),
        "body": body,
    }, use_bin_type=True)


def decode_snapshot(data: bytes) -> dict[str, Any]:
    """Returns {"state", "last", "previous", "members"}; raises SnapshotError."""
    try:
        outer = msgpack.unpackb(data, raw=False)
    except Exception as error:
        raise SnapshotError(f"snapshot is not msgpack: {error}") from None
    if not isinstance(outer, dict) or outer.get("format") != SNAPSHOT_FORMAT:
        raise SnapshotError("snapshot has an unknown format")
    body = outer.get("body")
    if not isinstance(body, bytes) or hashlib.sha256(body).digest() != outer.get("sha256"):
        raise SnapshotError("snapshot checksum mismatch")
    try:  # the checksum guards against damage, not against a crafted file
        inner = msgpack.unpackb(body, raw=False)
    except Exception as error:
        raise SnapshotError(f"snapshot body is not msgpack: {type(error).__name__}") from None
    if not isinstance(inner, dict):
        raise SnapshotError("snapshot body is not a map")
    members = inner.get("members")
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        raise SnapshotError("snapshot member list is malformed")
    if not isinstance(inner.get("state"), bytes):
        raise SnapshotError("snapshot state is not bytes")
    return {
        "state": inner["state"],
        "last": _entry_from_list(inner.get("last")),
        "previous": _entry_from_list(inner.get("previous")),
        "members": members,
    }


def make_serializer(state_machine: StateMachine) -> Callable[[str, Any], None]:
    """The `serializer(tmp_path, raft_data)` hook: raft_data = (last, previous, member set)."""

    def serialize(temporary_path: str, raft_data: Any) -> None:
        last, previous, cluster = raft_data
        data = encode_snapshot(state_machine.snapshot_bytes(), last, previous,
                               [node.id for node in cluster])
        with open(temporary_path, "wb") as snapshot_file:
            snapshot_file.write(data)
            snapshot_file.flush()
            os.fsync(snapshot_file.fileno())

    return serialize


def make_deserializer(state_machine: StateMachine,
                      on_failure: Callable[[str], None]) -> Callable[[str], Any]:
    """The `deserializer(path)` hook: restores our state, returns (last, previous, nodes).

    pysyncobj swallows exceptions from this hook and carries on with whatever state it has,
    so a failure is handed to `on_failure` (which stops the process) instead.
    """

    def deserialize(path: str) -> Any:
        try:
            size = os.path.getsize(path)
            if size > MAX_SNAPSHOT_BYTES:
                raise SnapshotError(f"snapshot of {size} bytes exceeds the limit")
            with open(path, "rb") as snapshot_file:
                snapshot = decode_snapshot(snapshot_file.read())
            state_machine.restore_snapshot(snapshot["state"])
        except Exception as error:
            on_failure(f"cannot load raft snapshot {path}: {error}")
            raise
        nodes = {TCPNode(address) for address in snapshot["members"]}
        return snapshot["last"], snapshot["previous"], nodes

    return deserialize
