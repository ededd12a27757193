"""The daemon's StateMachine: the pure reducer behind the Raft layer's apply callback.

Invariants:
- `apply_entry` never raises and does no blocking work: one reducer step, one buffered
  history append, one dictionary insert and a condition notify. Any unexpected error is
  logged and the process exits (fail-stop beats a node whose state silently diverged).
- The current state is one immutable value swapped by reference, so readers on other
  threads always see a whole state, never a half-applied one.
- The outcome of every event id is remembered (bounded) from its first application, so a
  proposer, even one that retried, learns whether its event was applied or rejected.
- `raft_status_version` counts changes of this node's Raft role, leader, quorum or
  connected peers (`note_raft_status_change`, called by the Raft layer's status watch);
  each one also wakes `changed`, so a loop that acts on them sleeps until one happens.
- `cluster_changed` is notified (with `changed`, at the same moments) only when the
  node records, the fencing state, the configuration (resources, constraints) or the
  fencing timing properties (watchdog mode) changed, or the Raft status did: the duties
  that act on those alone sleep through the other commits (hundreds a second under load).
  `cluster_version` counts those notifications: a loop that read it before looking at the
  state knows, by comparing, whether anything it acts on changed since.
- Threads waiting on `changed` (executor, fencing duties, proposers) are woken right after
  each apply, or, once the Raft layer asked for it (`announce_after_ticks`), once per tick
  just before the tick thread sleeps: the proposer whose entry was applied (woken through
  its own callback) then replies before the executor takes the interpreter to re-plan.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from raftha.daemon import clock
from raftha.daemon.history import HistoryJournal
from raftha.model.fencing_events import TIMING_PROPERTIES
from raftha.model.reducer import DUPLICATE, Outcome, apply_with_outcome
from raftha.model.state import EMPTY_STATE, ClusterState, decode_snapshot, encode_snapshot

LOG = logging.getLogger(__name__)
OUTCOME_WINDOW = 4096


def timing_properties(state: ClusterState) -> tuple[tuple[str, str], ...]:
    """The cluster properties that switch and time the watchdog mode."""
    return tuple(item for item in state.properties if item[0] in TIMING_PROPERTIES)


class ReducerStateMachine:
    def __init__(self, history: HistoryJournal | None = None,
                 on_fatal: Callable[[], None] | None = None) -> None:
        self.state: ClusterState = EMPTY_STATE
        self.history = history
        self.history_error = ""
        self.outcomes: OrderedDict[bytes, Outcome] = OrderedDict()
        self.changed = threading.Condition()
        self.on_fatal = on_fatal or (lambda: os._exit(70))
        self.apply_count = 0
        self.apply_seconds_total = 0.0
        self.announce_per_tick = False
        self.unannounced = False
        self.raft_status_version = 0
        self.cluster_changed = threading.Condition()
        self.cluster_unannounced = False
        self.cluster_version = 0

    # -- StateMachine protocol (Raft tick thread) ----------------------------------------

    def apply_entry(self, index: int, entry: bytes) -> None:
        try:
            started = time.perf_counter()
            if index <= self.state.last_index:
                return  # already folded in (restored snapshot newer than the replayed entry)
            previous = self.state
            state, outcome = apply_with_outcome(previous, index, entry)
            if self.history is not None:
                self.record_history(index, entry, state, outcome)
            cluster_news = (state.nodes is not previous.nodes
                            or state.fencing_bytes != previous.fencing_bytes
                            or (state.configuration_bytes is not previous.configuration_bytes
                                and state.configuration_bytes != previous.configuration_bytes)
                            or (state.properties is not previous.properties
                                and timing_properties(state) != timing_properties(previous)))
            with self.changed:
                self.state = state
                self.remember(outcome)
                if self.announce_per_tick:
                    self.unannounced = True
                    self.cluster_unannounced |= cluster_news
                else:
                    self.changed.notify_all()
            if cluster_news and not self.announce_per_tick:
                self.announce_cluster_change()
            self.apply_count += 1
            self.apply_seconds_total += time.perf_counter() - started
        except Exception:
            LOG.exception("applying entry %s failed; stopping this node", index)
            self.on_fatal()

    def announce_after_ticks(self) -> Callable[[], None]:
        """Wake `changed` waiters once per Raft tick instead of after every apply; returns
        the call the Raft layer makes on its tick thread before it sleeps (after the
        proposers' callbacks ran)."""
        self.announce_per_tick = True
        return self.announce_changes

    def announce_changes(self) -> None:
        if not self.unannounced:
            return
        with self.changed:
            self.unannounced = False
            cluster_news, self.cluster_unannounced = self.cluster_unannounced, False
            self.changed.notify_all()
        if cluster_news:
            self.announce_cluster_change()

    def announce_cluster_change(self) -> None:
        with self.cluster_changed:
            self.cluster_version += 1
            self.cluster_changed.notify_all()

    def note_raft_status_change(self) -> None:
        """The Raft layer's status watch (its tick thread): wake every `changed` waiter."""
        with self.changed:
            self.raft_status_version += 1
            self.changed.notify_all()
        self.announce_cluster_change()

    def record_history(self, index: int, entry: bytes, state: ClusterState,
                       outcome: Outcome) -> None:
        """The history journal is a convenience copy: a disk error there (full, read-only)
        must not stop the node, so it is logged and the journal is switched off."""
        try:
            self.history.append_entry(index, entry, state, outcome)
        except OSError as error:
            LOG.error("history journal write failed (%s); history is off until restart",
                      error)
            self.history_error = f"history journal failed at index {index}: {error}"
            self.history = None

    def snapshot_bytes(self) -> bytes:
        return encode_snapshot(self.state)

    def restore_snapshot(self, data: bytes) -> None:
        try:
            state = decode_snapshot(data)
        except Exception:
            LOG.exception("a snapshot could not be restored; stopping this node")
            self.on_fatal()
            return
        if self.history is not None:
            self.history.append_snapshot(state)
        with self.changed:
            self.state = state
            self.changed.notify_all()
        self.announce_cluster_change()

    # -- readers (any thread) --------------------------------------------------------------

    def remember(self, outcome: Outcome) -> None:
        if outcome.event is None:
            return
        event_id = outcome.event.id
        if outcome.status == DUPLICATE and event_id in self.outcomes:
            return  # keep the first application's answer
        self.outcomes[event_id] = outcome
        while len(self.outcomes) > OUTCOME_WINDOW:
            self.outcomes.popitem(last=False)

    def outcome_of(self, event_id: bytes) -> Outcome | None:
        with self.changed:
            return self.outcomes.get(event_id)

    def wait_for_outcome(self, event_id: bytes, timeout_s: float) -> Outcome | None:
        deadline = clock.monotonic() + timeout_s
        with self.changed:
            while event_id not in self.outcomes:
                remaining = deadline - clock.monotonic()
                if remaining <= 0:
                    return None
                self.changed.wait(remaining)
            return self.outcomes[event_id]

    def wait_for_index(self, index: int, timeout_s: float) -> bool:
        deadline = clock.monotonic() + timeout_s
        with self.changed:
            while self.state.last_index < index:
                remaining = deadline - clock.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(remaining)
            return True
