"""FakeRaftCluster / FakeRaftLog: an in-process, deterministic twin of the Raft layer.

For unit tests of the daemon. Same interface as `RaftLog` (start, stop, propose, status,
add_member, remove_member), no threads, no sockets, no clock:
- A proposal from a node that sees a majority of started, connected members commits at once:
  the entry is appended to the shared log and applied, in order and synchronously on the
  proposing thread, on every started, connected member. Disconnected members catch up when
  reconnected. A node that does not see a majority gets NOT_APPLIED "no quorum".
- The leader is the first started, connected member in address order (or the one chosen
  with `set_leader`); `term` grows by one on every leader change.
- Status watchers (`watch_status`) are called on every start, stop, disconnect, reconnect,
  leader choice and membership change, on the thread that made it.
- `inject_outcome` makes the next proposal end UNKNOWN or NOT_APPLIED, committed or not, to
  exercise the caller's retry-with-the-same-event-id path.
Indexes start at 1 and are contiguous (the real log also spends indexes on its own entries,
so callers must not rely on contiguity).
"""

from __future__ import annotations

import pathlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

from raftha.raft.contract import (
    ProposeOutcome,
    ProposeResult,
    RaftSettings,
    RaftStatus,
    StateMachine,
    parse_address,
)


@dataclass
class _InjectedOutcome:
    outcome: ProposeOutcome
    reason: str
    commit: bool


class FakeRaftCluster:
    """Shared log and connectivity of a set of fake members."""

    def __init__(self, addresses: tuple[str, ...] | list[str]) -> None:
        for address in addresses:
            parse_address(address)
        self.members: list[str] = sorted(addresses)
        self.entries: list[tuple[int, bytes]] = []
        self.term = 1
        self._logs: dict[str, FakeRaftLog] = {}
        self._disconnected: set[str] = set()
        self._chosen_leader: str | None = None
        self._last_leader: str | None = None
        self._injected: list[_InjectedOutcome] = []
        self._next_index = 1
        self.lock = threading.RLock()

    # ------------------------------------------------------------ building
    def make_log(self, address: str, state_machine: StateMachine) -> FakeRaftLog:
        """A FakeRaftLog for `address` (a member of this cluster)."""
        settings = RaftSettings(
            self_address=address,
            peer_addresses=tuple(m for m in self.members if m != address),
            data_dir=pathlib.Path("/nonexistent-fake-raft"),
            authkey=b"\0" * 32,
        )
        return FakeRaftLog(settings, state_machine, self)

    def _register(self, log: FakeRaftLog) -> None:
        with self.lock:
            self._logs[log.address] = log

    # ------------------------------------------------------------ faults
    def disconnect(self, address: str) -> None:
        """Cut `address` off from every other member (both directions)."""
        with self.lock:
            self._disconnected.add(address)
            self._refresh_leader()

    def reconnect(self, address: str) -> None:
        with self.lock:
            self._disconnected.discard(address)
            self._refresh_leader()
            self._catch_up_all()

    def set_leader(self, address: str) -> None:
        with self.lock:
            self._chosen_leader = address
            self._refresh_leader()

    def inject_outcome(self, outcome: ProposeOutcome, *, commit: bool,
                       reason: str = "injected") -> None:
        """The next proposal answers `outcome`; with commit=True the entry commits anyway."""
        with self.lock:
            self._injected.append(_InjectedOutcome(outcome, reason, commit))

    # ------------------------------------------------------------ views
    def _reachable(self, address: str) -> list[str]:
        """Started members that `address` can talk to (itself included)."""
        if address in self._disconnected:
            return [address] if address in self._started() else []
        return [m for m in self._started() if m not in self._disconnected]

    def _started(self) -> list[str]:
        return [m for m in self.members if m in self._logs and self._logs[m].running]

    def _majority(self) -> int:
        return len(self.members) // 2 + 1

    def has_quorum(self, address: str) -> bool:
        return len(self._reachable(address)) >= self._majority()

    def leader(self) -> str | None:
        connected = [m for m in self._started() if m not in self._disconnected]
        if len(connected) < self._majority():
            return None
        if self._chosen_leader in connected:
            return self._chosen_leader
        return connected[0]

    def _refresh_leader(self) -> None:
        leader = self.leader()
        if leader is not None and leader != self._last_leader:
            self.term += 1
            self._last_leader = leader
        for log in list(self._logs.values()):
            log._tell_watchers()

    # ------------------------------------------------------------ log
    def _append(self, entry: bytes) -> int:
        index = self._next_index
        self._next_index += 1
        self.entries.append((index, entry))
        self._catch_up_all()
        return index

    def _catch_up_all(self) -> None:
        for address in self._started():
            if address not in self._disconnected:
                self._logs[address]._catch_up(self.entries)

    def commit_index(self) -> int:
        return self.entries[-1][0] if self.entries else 0


class FakeRaftLog:
    """In-process twin of RaftLog for one member of a FakeRaftCluster."""

    def __init__(self, settings: RaftSettings, state_machine: StateMachine,
                 cluster: FakeRaftCluster) -> None:
        if settings.self_address not in cluster.members:
            raise ValueError(f"{settings.self_address} is not a member of the fake cluster")
        self.address = settings.self_address
        self._settings = settings
        self._state_machine = state_machine
        self._cluster = cluster
        self._last_applied = 0
        self.running = False
        self._status_watchers: list[Callable[[], None]] = []
        cluster._register(self)

    def watch_status(self, watcher: Callable[[], None]) -> None:
        self._status_watchers.append(watcher)

    def _tell_watchers(self) -> None:
        for watcher in self._status_watchers:
            watcher()

    def start(self) -> None:
        with self._cluster.lock:
            self.running = True
            self._cluster._refresh_leader()
            if self.address not in self._cluster._disconnected:
                self._catch_up(self._cluster.entries)

    def stop(self) -> None:
        with self._cluster.lock:
            self.running = False
            self._cluster._refresh_leader()

    def _catch_up(self, entries: list[tuple[int, bytes]]) -> None:
        for index, entry in entries:
            if index > self._last_applied:
                self._state_machine.apply_entry(index, entry)
                self._last_applied = index

    def status(self) -> RaftStatus:
        with self._cluster.lock:
            cluster = self._cluster
            leader = cluster.leader() if cluster.has_quorum(self.address) else None
            reachable = cluster._reachable(self.address) if self.running else []
            return RaftStatus(
                self_address=self.address,
                leader=leader,
                is_leader=self.running and leader == self.address,
                has_quorum=self.running and cluster.has_quorum(self.address),
                term=cluster.term,
                commit_index=cluster.commit_index() if leader else self._last_applied,
                last_applied=self._last_applied,
                members=tuple(cluster.members),
                connected_peers=tuple(m for m in reachable if m != self.address),
            )

    def propose(self, entry: bytes, timeout_ms: int) -> ProposeResult:
        if not isinstance(entry, bytes):
            raise TypeError("raft entries must be bytes")
        if not isinstance(timeout_ms, int) or timeout_ms <= 0:
            raise ValueError("timeout_ms must be a positive integer")
        with self._cluster.lock:
            refusal = self._refusal()
            if refusal is not None:
                return refusal
            if self._cluster._injected:
                injected = self._cluster._injected.pop(0)
                if injected.commit:
                    self._cluster._append(entry)
                return ProposeResult(injected.outcome, None, injected.reason)
            index = self._cluster._append(entry)
            return ProposeResult(ProposeOutcome.COMMITTED, index, "committed")

    def _refusal(self) -> ProposeResult | None:
        if not self.running:
            return ProposeResult(ProposeOutcome.NOT_APPLIED, None, "raft log is not running")
        if not self._cluster.has_quorum(self.address):
            return ProposeResult(ProposeOutcome.NOT_APPLIED, None, "no quorum")
        return None

    def add_member(self, address: str, timeout_ms: int) -> ProposeResult:
        parse_address(address, "address")
        with self._cluster.lock:
            refusal = self._refusal()
            if refusal is not None:
                return refusal
            if address in self._cluster.members:
                return ProposeResult(ProposeOutcome.NOT_APPLIED, None,
                                     f"{address} is already a member")
            self._cluster.members = sorted([*self._cluster.members, address])
            return ProposeResult(ProposeOutcome.COMMITTED, None, "committed")

    def remove_member(self, address: str, timeout_ms: int) -> ProposeResult:
        parse_address(address, "address")
        with self._cluster.lock:
            refusal = self._refusal()
            if refusal is not None:
                return refusal
            if address not in self._cluster.members:
                return ProposeResult(ProposeOutcome.NOT_APPLIED, None,
                                     f"{address} is not a member")
            if address == self._cluster.leader() and address == self.address:
                return ProposeResult(ProposeOutcome.NOT_APPLIED, None,
                                     "the leader cannot remove itself")
            self._cluster.members = [m for m in self._cluster.members if m != address]
            self._cluster._refresh_leader()
            return ProposeResult(ProposeOutcome.COMMITTED, None, "committed")
