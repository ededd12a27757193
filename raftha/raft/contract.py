"""The Raft layer's contract: settings, the state machine protocol, proposal outcomes, status.

These types are shared by the real log (`raftha.raft.log.RaftLog`) and its in-process twin
(`raftha.raft.fake.FakeRaftLog`), so code written against one runs against the other.
This module imports nothing from pysyncobj.

Invariants:
- `ProposeOutcome.COMMITTED` means the entry is committed by a majority and applied locally;
  `NOT_APPLIED` means it was never appended by a leader (or was definitely superseded), so it
  can be retried freely; `UNKNOWN` means it may or may not commit: retry with the same event id
  (deduplication lives in the replicated state, not here).
- `RaftSettings` is validated on construction: a bad value raises `ValueError` with a one-line
  reason naming the field.
"""

from __future__ import annotations

import enum
import pathlib
from dataclasses import dataclass
from typing import Protocol

AUTHKEY_BYTES = 32


class StateMachine(Protocol):
    """What the Raft layer drives. Implemented by the daemon around the pure reducer."""

    def apply_entry(self, index: int, entry: bytes) -> None:
        """Apply one committed entry. Runs on the Raft tick thread: fast, never blocks.

        Indexes increase strictly but are not contiguous (Raft's own no-op and membership
        entries take indexes too). After a restart every entry after the restored snapshot
        is applied again, so this must only change in-memory state.
        """
        ...

    def snapshot_bytes(self) -> bytes:
        """msgpack bytes of the whole state as of the last applied entry."""
        ...

    def restore_snapshot(self, data: bytes) -> None:
        """Replace the whole state by one produced by `snapshot_bytes`."""
        ...


class ProposeOutcome(enum.Enum):
    COMMITTED = "committed"
    NOT_APPLIED = "not_applied"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ProposeResult:
    outcome: ProposeOutcome
    index: int | None
    reason: str


@dataclass(frozen=True)
class RaftStatus:
    self_address: str
    leader: str | None
    is_leader: bool
    has_quorum: bool
    term: int
    commit_index: int
    last_applied: int
    members: tuple[str, ...]
    connected_peers: tuple[str, ...]


def parse_address(address: str, field_name: str = "address") -> tuple[str, int]:
    """Split "host:port"; raises ValueError naming the field on anything else."""
    if not isinstance(address, str) or ":" not in address:
        raise ValueError(f"{field_name} must be 'host:port', got {address!r}")
    host, port_text = address.rsplit(":", 1)
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{field_name} must be 'host:port' with a port in 1..65535, "
                         f"got {address!r}")
    return host, int(port_text)


@dataclass(frozen=True)
class RaftSettings:
    """One member's Raft configuration.

    self_address/peer_addresses: "host:port" (the Raft port binds to self_address only).
    data_dir: holds raft.journal, raft.journal.meta and raft.snapshot (created 0700).
    authkey: the cluster secret (exactly 32 bytes); frames are authenticated with it before
    anything is decoded, so a holder of the key is trusted like a member.
    Timers in milliseconds; compaction snapshots the state after `compaction_min_entries`
    entries or `compaction_min_time_ms`, whichever comes first.
    """

    self_address: str
    peer_addresses: tuple[str, ...]
    data_dir: pathlib.Path
    authkey: bytes
    election_timeout_min_ms: int = 300
    election_timeout_max_ms: int = 600
    heartbeat_period_ms: int = 95
    leader_fallback_timeout_ms: int = 1000
    connection_timeout_ms: int = 1500
    peer_ping_period_ms: int = 700
    dynamic_membership: bool = True
    compaction_min_entries: int = 5000
    compaction_min_time_ms: int = 300_000

    def __post_init__(self) -> None:
        parse_address(self.self_address, "self_address")
        if isinstance(self.peer_addresses, str):
            raise ValueError("peer_addresses must be a tuple of 'host:port' strings")
        for peer in self.peer_addresses:
            parse_address(peer, "peer_addresses")
        if self.self_address in self.peer_addresses:
            raise ValueError("peer_addresses must not contain self_address")
        if len(set(self.peer_addresses)) != len(self.peer_addresses):
            raise ValueError("peer_addresses contains a duplicate")
        if not isinstance(self.authkey, bytes) or len(self.authkey) != AUTHKEY_BYTES:
            raise ValueError(f"authkey must be exactly {AUTHKEY_BYTES} bytes")
        if not isinstance(self.data_dir, pathlib.Path):
            raise ValueError("data_dir must be a pathlib.Path")
        self._validate_timing()

    def _validate_timing(self) -> None:
        if self.heartbeat_period_ms <= 0:
            raise ValueError("heartbeat_period_ms must be positive")
        if self.election_timeout_min_ms <= 3 * self.heartbeat_period_ms:
            raise ValueError("election_timeout_min_ms must exceed 3 x heartbeat_period_ms")
        if self.election_timeout_max_ms <= self.election_timeout_min_ms:
            raise ValueError("election_timeout_max_ms must exceed election_timeout_min_ms")
        if self.leader_fallback_timeout_ms <= self.heartbeat_period_ms:
            raise ValueError("leader_fallback_timeout_ms must exceed heartbeat_period_ms")
        if self.connection_timeout_ms < self.election_timeout_max_ms:
            raise ValueError("connection_timeout_ms must be >= election_timeout_max_ms")
        if self.peer_ping_period_ms <= 0 or self.peer_ping_period_ms >= self.connection_timeout_ms:
            raise ValueError("peer_ping_period_ms must be positive and below "
                             "connection_timeout_ms")
        if self.compaction_min_entries < 2:
            raise ValueError("compaction_min_entries must be at least 2")
        if self.compaction_min_time_ms <= 0:
            raise ValueError("compaction_min_time_ms must be positive")

    @property
    def members(self) -> tuple[str, ...]:
        """Every configured member, this node included, sorted."""
        return tuple(sorted((self.self_address, *self.peer_addresses)))
