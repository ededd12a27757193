"""RaftLog: the replicated event log of one node, over hardened pysyncobj 0.3.17.

Role: carry opaque entries (msgpack events) through Raft and hand every committed entry, in
log order, to the node's `StateMachine`. The only code in raftha that drives pysyncobj.

Invariants:
- One replicated entry point taking bytes. `StateMachine.apply_entry` runs on our own tick
  thread; an exception from it is logged and counted, never raised into pysyncobj (a raising
  apply wedges a pysyncobj cluster; a raising callback double-applies an entry).
- A state machine offering `announce_after_ticks` has its readers woken once per tick,
  after the proposers' callbacks (see `raftha.daemon.machine`).
- Watchers registered with `watch_status` are called on the tick thread after a tick that
  changed this node's role, the leader, the term, quorum, the members or the connected
  peers (not the commit index): loops that act on those sleep until then instead of
  polling `status()`. A watcher must return at once; its exceptions are logged.
- The tick thread is ours (`autoTick=False`). Any unexpected exception in a tick stops the
  whole process with a message on stderr: a stopped node is safe, a diverged one is not.
- `propose` blocks only its caller, always with a timeout, and classifies the outcome as
  COMMITTED / NOT_APPLIED / UNKNOWN (see `raftha.raft.outcome`). It never raises for cluster
  conditions; it answers NOT_APPLIED without submitting when this node sees no quorum or
  cannot reach the leader.
- Journal and term/vote meta are fsynced before they are acted on (`raftha.raft.durability`);
  every pickle the library reads goes through the restricted unpickler; snapshots are msgpack.
- Entries up to `MAX_ENTRY_BYTES` (512 KiB) are accepted.

Lifecycle: `start()` opens `data_dir/raft.journal` (+ `.meta`) and `data_dir/raft.snapshot`.
On the first tick a node restores its snapshot (`StateMachine.restore_snapshot`), then
applies again every committed entry after it: apply must only change in-memory state. A
snapshot received from the leader also arrives through `restore_snapshot`. A node that cannot
load its snapshot, or whose tick fails, exits with status 70 (`FAIL_STOP_EXIT_CODE`).
Proposals still waiting when `stop()` is called end UNKNOWN when their timeout expires.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from raftha.raft.contract import (
    ProposeOutcome,
    ProposeResult,
    RaftSettings,
    RaftStatus,
    StateMachine,
    parse_address,
)
from raftha.raft.durability import CorruptMetaError, SyncStats
from raftha.raft.engine import (
    MAX_ENTRY_BYTES,
    MAX_TICK_WAIT_SECONDS,
    ReplicatedLogNode,
    build_conf,
    install_peer_ping,
    prune_abandoned_callbacks,
)
from raftha.raft.keys import frame_sealer, install_frame_sealer
from raftha.raft.library import SyncObj
from raftha.raft.outcome import PendingProposal, guarded
from raftha.raft.snapshot import make_deserializer, make_serializer

__all__ = [
    "MAX_ENTRY_BYTES", "ProposeOutcome", "ProposeResult", "RaftLog", "RaftSettings",
    "RaftStatus", "StateMachine",
]

logger = logging.getLogger(__name__)

FAIL_STOP_EXIT_CODE = 70
STOP_JOIN_SECONDS = 5.0
PRUNE_PERIOD_SECONDS = 10.0
# How long after its timeout a proposal's callback is kept in case the answer still arrives.
ABANDON_GRACE_SECONDS = 60.0
_STATE_NAMES = {0: "follower", 1: "candidate", 2: "leader"}


def fail_stop(message: str) -> None:
    """Stop the process now: used when continuing could let this node diverge."""
    try:
        sys.stderr.write(f"raftha: fatal raft error: {message}; stopping the process\n")
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()
    finally:
        os._exit(FAIL_STOP_EXIT_CODE)


class RaftLog:
    """One node's view of the replicated log. Thread-safe; see the module docstring."""

    def __init__(self, settings: RaftSettings, state_machine: StateMachine) -> None:
        self._settings = settings
        self._state_machine = state_machine
        self._node: ReplicatedLogNode | None = None
        self._tick_thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lifecycle_lock = threading.Lock()
        self._started_once = False
        self._sync_stats = SyncStats()
        self._apply_errors = 0
        self._elections_seen = 0
        self._callbacks_pruned = 0
        self._outcome_counts = {outcome.name: 0 for outcome in ProposeOutcome}
        self._counts_lock = threading.Lock()
        self._status = self._empty_status()
        self._status_inputs: tuple = ()
        self._pending_frame_sealer: Any = None  # installed by the tick thread
        self._announce_changes: Any = lambda: None
        self._status_watchers: list[Callable[[], None]] = []
        self._watched_inputs: tuple = ()

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Open the journal, bind the Raft port, start the tick thread.

        Raises RuntimeError with a one-line reason if the node cannot start.
        """
        with self._lifecycle_lock:
            if self._started_once:
                # A new start replays the whole log into the same state machine.
                raise RuntimeError("a RaftLog starts once: build a new one with a fresh "
                                   "state machine")
            self._started_once = True
            self._settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            conf = build_conf(self._settings, make_serializer(self._state_machine),
                              make_deserializer(self._state_machine, fail_stop),
                              guarded(self._on_state_changed))
            try:
                node = ReplicatedLogNode(self._settings, conf, self._apply, self._sync_stats)
            except CorruptMetaError as error:
                raise RuntimeError(str(error)) from None
            except Exception as error:
                raise RuntimeError(f"cannot start raft node on {self._settings.self_address}: "
                                   f"{error!r} (port in use?)") from None
            install_peer_ping(node, self._settings.peer_ping_period_ms)
            self._announce_changes = self._tick_announcer()
            node.addOnTickCallback(self._announce_changes)
            self._node = node
            self._stopping.clear()
            self._tick_thread = threading.Thread(target=self._tick_loop, args=(node,),
                                                 name="raft-tick", daemon=True)
            self._tick_thread.start()

    def stop(self) -> None:
        """Stop ticking, close connections and the journal. Idempotent."""
        with self._lifecycle_lock:
            node, thread = self._node, self._tick_thread
            if node is None:
                return
            self._stopping.set()
            if thread is not None and thread is not threading.current_thread():
                thread.join(STOP_JOIN_SECONDS)
            node.destroy()
            self._node = None
            self._tick_thread = None
            self._status = self._empty_status()
            self._status_inputs = ()

    # ----------------------------------------------------------------- the tick thread

    def _tick_loop(self, node: ReplicatedLogNode) -> None:
        next_prune = time.monotonic() + PRUNE_PERIOD_SECONDS
        try:
            while not self._stopping.is_set():
                sealer, self._pending_frame_sealer = self._pending_frame_sealer, None
                if sealer is not None:
                    install_frame_sealer(node, sealer)
                # Durable before the leader counts its own entries in this tick.
                node.journal.sync()
                node.doTick(MAX_TICK_WAIT_SECONDS)  # shortened to the next due time
                # Durable before a follower acknowledges what it received in this tick.
                node.transport.flush_acknowledgements()
                self._announce_changes()  # a tick cut short skipped the tick callbacks
                self._status = self._read_status(node)
                self._tell_watchers()
                now = time.monotonic()
                if now >= next_prune:
                    self._callbacks_pruned += prune_abandoned_callbacks(node, now)
                    next_prune = now + PRUNE_PERIOD_SECONDS
        except BaseException as error:  # noqa: B036 - fail-stop on anything
            fail_stop(f"tick failed: {error!r}")

    def _tick_announcer(self) -> Any:
        """The state machine's per-tick wake-up of its readers, when it offers one
        (`announce_after_ticks`): after the tick's proposal callbacks, before the tick
        sleeps. Never raises (a raising tick callback stops the process)."""
        request = getattr(self._state_machine, "announce_after_ticks", None)
        if request is None:
            return lambda: None
        announce = request()

        def announce_guarded() -> None:
            try:
                announce()
            except Exception:
                logger.exception("raft: waking the state machine's readers failed")

        return announce_guarded

    def watch_status(self, watcher: Callable[[], None]) -> None:
        """Call `watcher` (on the tick thread) whenever the status changes other than by
        its commit and applied indexes. Register before `start`."""
        self._status_watchers.append(watcher)

    def _tell_watchers(self) -> None:
        status_inputs = self._status_inputs
        watched = status_inputs[:3] + status_inputs[5:]   # without the two indexes
        if watched == self._watched_inputs:
            return
        self._watched_inputs = watched
        for watcher in self._status_watchers:
            try:
                watcher()
            except Exception:
                logger.exception("raft: a status watcher failed")

    def use_frame_keys(self, keys: tuple[bytes, ...]) -> None:
        """Seal frames with keys[0] and open frames sealed with any of `keys`, from the next
        tick on (a rolling cluster key rotation, see raftha.raft.keys)."""
        self._pending_frame_sealer = frame_sealer(keys)

    def _apply(self, index: int, entry: bytes) -> None:
        try:
            self._state_machine.apply_entry(index, entry)
        except Exception:
            self._apply_errors += 1
            logger.exception("raft: state machine raised while applying entry %d; "
                             "entry skipped on this node", index)

    def _on_state_changed(self, old_state: int, new_state: int) -> None:
        if new_state == 1:
            self._elections_seen += 1
        logger.info("raft: %s -> %s", _STATE_NAMES.get(old_state, old_state),
                    _STATE_NAMES.get(new_state, new_state))

    def _read_status(self, node: SyncObj) -> RaftStatus:
        """The status after a tick; the previous value when none of its inputs changed (it
        is read after every tick, and building it costs more than comparing its inputs)."""
        peers = node._SyncObj__otherNodes
        inputs = (node._SyncObj__raftState, node._SyncObj__raftLeader,
                  node._SyncObj__raftCurrentTerm, node._SyncObj__raftCommitIndex,
                  node._SyncObj__raftLastApplied, frozenset(peers),
                  frozenset(peers & node._SyncObj__connectedNodes))
        if inputs == self._status_inputs:
            return self._status
        self._status_inputs = inputs
        return self._build_status(node)

    def _build_status(self, node: SyncObj) -> RaftStatus:
        peers = node.otherNodes
        leader = node._getLeader()
        return RaftStatus(
            self_address=self._settings.self_address,
            leader=str(leader) if leader is not None else None,
            is_leader=node._isLeader(),
            has_quorum=node.hasQuorum,
            term=node.raftCurrentTerm,
            commit_index=node.raftCommitIndex,
            last_applied=node.raftLastApplied,
            members=tuple(sorted([self._settings.self_address] + [peer.id for peer in peers])),
            connected_peers=tuple(sorted(peer.id for peer in peers
                                         if node.isNodeConnected(peer))),
        )

    def _empty_status(self) -> RaftStatus:
        return RaftStatus(self._settings.self_address, None, False, False, 0, 0, 0,
                          self._settings.members, ())

    # ----------------------------------------------------------------- queries

    def status(self) -> RaftStatus:
        """This node's latest view (refreshed every tick; a hint, not an authority)."""
        return self._status

    def metrics(self) -> dict[str, Any]:
        """Counters for observability and benchmarks."""
        values: dict[str, Any] = dict(self._sync_stats.as_dict())
        values["apply_errors"] = self._apply_errors
        values["elections_seen"] = self._elections_seen
        values["callbacks_pruned"] = self._callbacks_pruned
        with self._counts_lock:
            values["propose_outcomes"] = dict(self._outcome_counts)
        node = self._node
        values["pings_received"] = node.transport.pings_received() if node is not None else {}
        return values

    # ----------------------------------------------------------------- writes

    def propose(self, entry: bytes, timeout_ms: int) -> ProposeResult:
        """Replicate `entry`, blocking the caller at most `timeout_ms` (never the tick thread)."""
        result = self._propose(entry, timeout_ms)
        with self._counts_lock:
            self._outcome_counts[result.outcome.name] += 1
        return result

    def _propose(self, entry: bytes, timeout_ms: int) -> ProposeResult:
        if not isinstance(entry, bytes):
            raise TypeError("raft entries must be bytes")
        if len(entry) > MAX_ENTRY_BYTES:
            return _not_applied(f"entry of {len(entry)} bytes exceeds {MAX_ENTRY_BYTES}")
        refusal = self._precheck(timeout_ms)
        if refusal is not None:
            return refusal
        pending = PendingProposal()
        node = self._node
        if node is None:
            return _not_applied("raft log is not running")
        try:
            node.apply_entry(entry, callback=guarded(pending.deliver, _abandon_after(timeout_ms)))
        except Exception as error:
            # The entry may already sit in the library's queue: its fate is unknown.
            return ProposeResult(ProposeOutcome.UNKNOWN, None, f"submission failed: {error!r}")
        return pending.wait(timeout_ms)

    def add_member(self, address: str, timeout_ms: int) -> ProposeResult:
        """Add a member through the log (single-server change). Start the new node after."""
        parse_address(address, "address")
        return self._change_membership("add", address, timeout_ms)

    def remove_member(self, address: str, timeout_ms: int) -> ProposeResult:
        """Remove a member through the log. The leader cannot remove itself."""
        parse_address(address, "address")
        return self._change_membership("remove", address, timeout_ms)

    def _change_membership(self, action: str, address: str, timeout_ms: int) -> ProposeResult:
        if not self._settings.dynamic_membership:
            return _not_applied("dynamic membership is disabled")
        refusal = self._precheck(timeout_ms)
        if refusal is not None:
            return refusal
        status = self._status
        if action == "add" and address in status.members:
            return _not_applied(f"{address} is already a member")
        if action == "remove" and address not in status.members:
            return _not_applied(f"{address} is not a member")
        if action == "remove" and address == self._settings.self_address and status.is_leader:
            return _not_applied("the leader cannot remove itself")
        node = self._node
        if node is None:
            return _not_applied("raft log is not running")
        pending = PendingProposal()
        try:
            if action == "add":
                node.addNodeToCluster(address, callback=guarded(
                    pending.deliver, _abandon_after(timeout_ms)))
            else:
                node.removeNodeFromCluster(address, callback=guarded(
                    pending.deliver, _abandon_after(timeout_ms)))
        except Exception as error:
            return ProposeResult(ProposeOutcome.UNKNOWN, None, f"submission failed: {error!r}")
        return pending.wait(timeout_ms)

    def _precheck(self, timeout_ms: int) -> ProposeResult | None:
        """Refuse without submitting when the outcome is already known to be a failure."""
        if not isinstance(timeout_ms, int) or timeout_ms <= 0:
            raise ValueError("timeout_ms must be a positive integer")
        if self._node is None or self._stopping.is_set():
            return _not_applied("raft log is not running")
        if threading.current_thread() is self._tick_thread:
            return _not_applied("propose called on the raft tick thread")
        status = self._status
        if not status.has_quorum:
            return _not_applied(f"no quorum: connected to {len(status.connected_peers)} of "
                                f"{len(status.members) - 1} peers")
        if status.leader is None:
            return _not_applied("no leader known")
        if not status.is_leader and status.leader not in status.connected_peers:
            return _not_applied(f"leader {status.leader} is not connected")
        return None


def _abandon_after(timeout_ms: int) -> float:
    return time.monotonic() + timeout_ms / 1000.0 + ABANDON_GRACE_SECONDS


def _not_applied(reason: str) -> ProposeResult:
    return ProposeResult(ProposeOutcome.NOT_APPLIED, None, reason)
