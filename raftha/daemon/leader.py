"""Leader duties: the facts only the leader proposes, from what it observes.

- Bootstrap: a leader of a log whose cluster was never created proposes `ClusterCreated`
  from its configuration's initial node list. Its event id is derived from the cluster id,
  so every node that tries proposes the same event and it applies once.
- Membership timing: a member whose Raft connection has been down for
  `node_lost_timeout_ms` is proposed `NodeLost`; one connected again for
  `node_return_timeout_ms` is proposed `NodeReturned` (the debounce keeps a flapping link
  from flooding the log). The leader itself is online by definition. A node that went
  offline comes back only over a connection made after that (a node recording its own
  clean stop is still connected for a moment and must not be brought back).
- Lifetimes: when a lifetime-limited move or ban (`resource move --lifetime`) is due, the
  leader commits a clock tick (the scheduler then stops honouring it: time inside the log
  moves only with committed events), and once the committed time has passed it, proposes the
  configuration without the expired constraint.

Waking: the duty sleeps until this node's Raft status changes (role, leader, quorum,
connected peers), the committed node records or configuration change (a new move or
ban lifetime), or the next thing it timed falls
due (a lost or returned node's debounce, a committed deadline); at most
`IDLE_WAIT_S` when nothing is due, one `leader_duty_period_ms` after a failure or while
the cluster is not created yet. A link drop is therefore timed from the moment it is
seen and acted on when its timeout ends, not at the next period.

Invariants: the duty acts only while this node is leader with a quorum, and only after a
read barrier in its own term (its state then holds every earlier commit); timers restart
whenever leadership starts, so a new leader never acts on a predecessor's observations,
except that a link this node itself saw drop (it had seen it up) counts from the drop;
it never proposes a change the committed state already shows.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any

from raftha.daemon import clock
from raftha.daemon.config import NodeConfig
from raftha.daemon.machine import ReducerStateMachine
from raftha.daemon.proposer import ProposalError, Proposer
from raftha.model import lifetimes
from raftha.model.deadlines import next_deadline_ms
from raftha.model.fencing_events import awaiting_fencing
from raftha.model.reducer import stored_configuration
from raftha.model.state import NODE_OFFLINE, NODE_ONLINE, NodeRecord

LOG = logging.getLogger(__name__)
DUTY_PROPOSE_TIMEOUT_MS = 2000
IDLE_WAIT_S = 5.0   # the longest sleep: a safety net, everything it acts on wakes it
DUE_MARGIN_S = 0.002  # wake just after a due time, not just before


def cluster_created_event_id(cluster_id: str) -> bytes:
    return hashlib.sha256(b"raftha ClusterCreated " + cluster_id.encode()).digest()[:16]


class LeaderDuties:
    def __init__(self, config: NodeConfig, raft: Any, machine: ReducerStateMachine,
                 proposer: Proposer) -> None:
        self.config = config
        self.raft = raft
        self.machine = machine
        self.proposer = proposer
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, name="leader-duties", daemon=True)
        self.leading = False
        # node name -> (connected?, monotonic time the connectivity was last seen to change)
        self.links: dict[str, tuple[bool, float]] = {}
        # node name -> (changed_index, monotonic time this leader first saw that state)
        self.state_seen: dict[str, tuple[int, float]] = {}
        # Kept in every role: members whose link this node saw up, and when a link to one
        # of them dropped (monotonic time).
        self.seen_up: set[str] = set()
        self.dropped: dict[str, float] = {}
        # (configuration index, the earliest move/ban lifetime END in it or None)
        self.lifetime_due: tuple[int, int | None] = (-1, None)
        self.deadline_configuration: tuple[int, Any] = (-1, None)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        with self.machine.cluster_changed:
            self.machine.cluster_changed.notify_all()
        if self.thread.is_alive():
            self.thread.join(5)

    def loop(self) -> None:
        period_s = self.config.timing.leader_duty_period_ms / 1000
        wait_s = period_s
        seen = self.machine.cluster_version
        while not self.stopping.is_set():
            self.wait_for_news(wait_s, seen)
            if self.stopping.is_set():
                return
            wait_s = period_s
            seen = self.machine.cluster_version   # before the step reads the state
            try:
                due_s = self.step(clock.monotonic())
                if due_s is not None or self.machine.state.created:
                    wait_s = IDLE_WAIT_S if due_s is None else min(IDLE_WAIT_S, due_s)
            except ProposalError as error:
                LOG.info("leader duty proposal failed: %s", error)
            except Exception:
                LOG.exception("leader duty failed; retrying next period")

    def wait_for_news(self, timeout_s: float, seen: int | None = None) -> None:
        """Sleep up to `timeout_s`, less when the Raft status, the committed node records or
        the configuration changed since the machine's `cluster_version` was `seen` (what the
        duty acts on; now when None), or when stopping."""
        machine = self.machine
        deadline = clock.monotonic() + max(0.0, timeout_s)
        if seen is None:
            seen = machine.cluster_version
        with machine.cluster_changed:
            while not self.stopping.is_set() and machine.cluster_version == seen:
                remaining = deadline - clock.monotonic()
                if remaining <= 0 or not machine.cluster_changed.wait(remaining):
                    return   # a wait that timed out ends it, whatever the clock says

    def step(self, now: float) -> float | None:
        """One pass; returns the seconds until something it timed falls due (None: nothing
        is timed)."""
        status = self.raft.status()
        self.observe_drops(status, now)
        if not (status.is_leader and status.has_quorum):
            self.leading = False
            return None
        if not self.leading:
            # A new leader may not have applied its predecessor's last entries yet: a node
            # record changing under it then would look like a state seen only now (a node
            # that reconnected earlier would never be brought back). Its timers start from
            # a state holding every earlier commit.
            self.proposer.read_barrier(DUTY_PROPOSE_TIMEOUT_MS)
            self.leading = True
            # A link this node saw drop while following counts from the drop: when the
            # leader itself dies, its loss is not timed from the election that follows.
            self.links = {name: (False, dropped) for name, dropped in self.dropped.items()}
            self.state_seen = {}
        state = self.machine.state
        if not state.created:
            self.create_cluster()
            return None
        connected = set(status.connected_peers)
        dues = [self.check_node(node, node.address == self.config.raft_address,
                                node.address in connected, now) for node in state.nodes]
        dues.append(self.tick_when_due(state))
        dues.append(self.expire_lifetimes(self.machine.state))
        timed = [due for due in dues if due is not None]
        return max(0.0, min(timed)) + DUE_MARGIN_S if timed else None

    def observe_drops(self, status: Any, now: float) -> None:
        """This node's own view of its Raft links, kept in every role: when each link to a
        member it had seen connected dropped (members never seen connected, e.g. at start,
        are not listed: their loss is timed as before)."""
        connected = set(status.connected_peers)
        for node in self.machine.state.nodes:
            if node.address == self.config.raft_address:
                continue
            if node.address in connected:
                self.seen_up.add(node.name)
                self.dropped.pop(node.name, None)
            elif node.name in self.seen_up and node.name not in self.dropped:
                self.dropped[node.name] = now

    def tick_when_due(self, state) -> float | None:
        """Commits a clock tick once this node's wall clock passes the next committed
        deadline (a failure-timeout, a lifetime END): nothing else in the log would move
        the committed time then. The configuration is decoded once per change. Returns
        the seconds until that deadline (None: none, or the tick was just committed)."""
        if self.deadline_configuration[0] != state.configuration_index:
            self.deadline_configuration = (state.configuration_index,
                                           stored_configuration(state))
        due_ms = next_deadline_ms(state, self.deadline_configuration[1])
        if due_ms is None:
            return None
        wall_ms = clock.wall_ms()
        if wall_ms < due_ms:
            return (due_ms - wall_ms) / 1000
        LOG.info("leader: committing a clock tick, a committed deadline has passed")
        self.proposer.propose("ClockTicked", {}, user="", timeout_ms=DUTY_PROPOSE_TIMEOUT_MS)
        return None

    def expire_lifetimes(self, state) -> float | None:
        """Removes move/ban constraints whose lifetime ended; returns the seconds until the
        next one ends (None: none, or one was just handled)."""
        if not state.configuration_bytes:
            return None
        # Decoding the configuration every period would be waste: keep the next END per
        # configuration index.
        if self.lifetime_due[0] != state.configuration_index:
            self.lifetime_due = (state.configuration_index, lifetimes.next_expiry_s(
                stored_configuration(state)))
        due_s = self.lifetime_due[1]
        if due_s is None:
            return None
        wall_s = clock.wall_s()
        if wall_s < due_s:
            return due_s - wall_s
        configuration = stored_configuration(state)
        if state.now_ms // 1000 < due_s:
            LOG.info("leader: committing a clock tick, a move or ban lifetime has passed")
            self.proposer.propose("ClockTicked", {}, user="",
                                  timeout_ms=DUTY_PROPOSE_TIMEOUT_MS)
            return None
        gone = lifetimes.expired(configuration, state.now_ms // 1000)
        LOG.info("leader: removing expired constraints %s", " ".join(gone))
        body = {"configuration": lifetimes.without_expired(
                    configuration, state.now_ms // 1000).to_dict(),
                "base_index": state.configuration_index, "mode": "replace",
                "description": f"lifetime ended: {' '.join(gone)} removed"}
        self.proposer.propose("ConfigurationLoaded", body, user="",
                              timeout_ms=DUTY_PROPOSE_TIMEOUT_MS)
        return None

    def check_node(self, node: NodeRecord, is_self: bool, connected: bool,
                   now: float) -> float | None:
        """Proposes NodeReturned / NodeLost once the node's link has been steady for the
        debounce; returns the seconds until that is due (None: nothing pending)."""
        up = is_self or connected
        previous = self.links.get(node.name)
        if previous is None or previous[0] != up:
            previous = self.links[node.name] = (up, now)
        # When this leader first saw the node's current committed state (keyed by the
        # index that set it, so an online spell between two steps is not missed).
        seen = self.state_seen.get(node.name)
        if seen is None or seen[0] != node.changed_index:
            seen = self.state_seen[node.name] = (node.changed_index, now)
        steady_ms = (now - previous[1]) * 1000
        if up and node.state == NODE_OFFLINE and not awaiting_fencing(self.machine.state,
                                                                      node.name):
            # Only a connection made after the node went offline brings it back: a node
            # that recorded its own clean stop is still connected for a moment.
            reconnected = previous[1] >= seen[1]
            return_ms = self.config.timing.node_return_timeout_ms
            if is_self or (reconnected and steady_ms >= return_ms):
                self.propose("NodeReturned", node.name)
            elif reconnected:
                return (return_ms - steady_ms) / 1000
        elif not up and node.state == NODE_ONLINE:
            lost_ms = self.config.timing.node_lost_timeout_ms
            if steady_ms >= lost_ms:
                self.propose("NodeLost", node.name)
            else:
                return (lost_ms - steady_ms) / 1000
        return None

    def propose(self, kind: str, name: str) -> None:
        LOG.info("leader: proposing %s for %s", kind, name)
        self.proposer.propose(kind, {"name": name}, user="", timeout_ms=DUTY_PROPOSE_TIMEOUT_MS)

    def create_cluster(self) -> None:
        if not self.config.initial_nodes:
            return
        body = {
            "name": self.config.cluster_name,
            "nodes": [{"name": name, "address": address}
                      for name, address in self.config.initial_nodes],
        }
        LOG.info("leader: creating cluster %s", self.config.cluster_name)
        self.proposer.propose("ClusterCreated", body, user="", timeout_ms=DUTY_PROPOSE_TIMEOUT_MS,
                              event_id=cluster_created_event_id(self.config.cluster_id))
