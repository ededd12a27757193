"""Fencing duties of a node: request fencing of lost nodes, carry out the requests this node
was chosen for, and report every result through the log.

Flow (DESIGN section 7, research jepsen-cts 4):
1. The leader, with quorum, sees a committed member that is lost (offline, still expected a
   member) while fencing is enabled and a fence device (or a watchdog recovery wait) is
   configured: it proposes `FenceRequested`. A failed attempt is retried after a pause that
   grows with the failures, at most `stonith-max-attempts` times.
2. The reducer names the executor from committed state (never the target itself). The node
   that finds itself the executor of a pending request runs the fence agents
   (`raftha.daemon.fencer.FenceRequests`, topology levels, delays, stonith-timeout) and
   proposes `NodeFenced` or `FenceFailed` with the request's index. A result that cannot be
   committed (no quorum) is retried until it is, or until the request is no longer pending.
3. With no fence device and `stonith-watchdog-timeout` W > 0, the executor confirms the node
   as fenced by the watchdog once W has passed on its own monotonic clock since it first saw
   the request committed (the target's lease, renewed only through the log, and its watchdog
   have then run out: the timing rule checked when W was committed).
4. Only `NodeFenced` in the log makes the node offline-clean, so the scheduler recovers its
   resources only after the confirmation is committed.

Invariants: nothing here acts on an uncommitted belief, nor on an old committed one: a
request this daemon did not commit itself is executed only after a read barrier shows it
still pending (a restarted node replays requests answered long ago); a request is executed
at most once per node (keyed by its index); every wait and every proposal is bounded; the
duty thread never dies of an exception (it logs and retries on the next period).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from raftha.daemon import clock
from raftha.daemon.fencer import FenceOutcome, FenceRequests, FenceRunner, FenceRunnerLike
from raftha.daemon.proposer import ProposalError, ProposalRejected
from raftha.model.fencing import (
    FencingConfigError,
    devices_from_config,
    fencing_settings,
    node_priorities,
    resource_priorities,
)
from raftha.model.fencing_events import (
    FENCE_ACTIONS,
    MAX_FENCE_DURATION_MS,
    WATCHDOG_DEVICE,
    PendingFence,
    fencing_readiness,
    fencing_state,
    fencing_status,
    history_rows,
    max_attempts,
    needs_fencing,
)
from raftha.model.reducer import stored_configuration
from raftha.model.state import EXPECTED_MEMBER, NODE_OFFLINE, ClusterState

LOG = logging.getLogger(__name__)
PROPOSE_TIMEOUT_MS = 3000
RETRY_BASE_MS = 1000
RETRY_MAX_MS = 10_000
GUARD_PERIOD_S = 0.1        # the lease guard's longest pause while a watchdog is armed
GUARD_IDLE_PERIOD_S = 5.0   # its pause with no watchdog (a settings change wakes it)
SETTINGS_WAIT_S = 5.0       # the lease's longest wait for the watchdog mode (changes wake it)
IDLE_WAIT_S = 5.0           # the duty's longest sleep with nothing timed (a safety net)



class WakeupEvent(threading.Event):
    """An event whose set() also notifies `condition`: a loop sleeping on the committed
    state's condition wakes at once for any other reason to act too (a result to commit,
    stop), so it can sleep a full period instead of polling the event."""

    def __init__(self, condition: threading.Condition | None) -> None:
        super().__init__()
        self.condition = condition

    def set(self) -> None:
        super().set()
        if self.condition is not None:
            with self.condition:
                self.condition.notify_all()


class FencingDuties:
    """Runs on every node: the leader part acts only while leader with quorum, the executor
    part whenever this node is the executor of a committed request."""

    def __init__(self, config: Any, raft: Any, machine: Any, proposer: Any, *,
                 runner: FenceRunnerLike | None = None,
                 monotonic: Callable[[], float] = clock.monotonic,
                 max_parallel: int = 2) -> None:
        self.config = config
        self.node_name = config.node_name
        self.raft = raft
        self.machine = machine
        self.proposer = proposer
        self.monotonic = monotonic
        self.requests = FenceRequests(runner or FenceRunner(), self.fencing_done,
                                      max_parallel=max_parallel)
        self.lock = threading.Lock()
        self.started: set[int] = set()                 # request indexes begun here
        # Requests known pending in a current state: committed by this daemon, or seen
        # pending after a read barrier (no barrier for them again).
        self.current_requests: set[int] = set()
        self.request_of_target: dict[str, int] = {}
        self.results: dict[int, tuple[str, dict]] = {}  # request index -> (kind, body) to commit
        self.watchdog_seen: dict[int, float] = {}     # request index -> first seen (monotonic)
        self.leading = False
        self.requested_at: dict[str, float] = {}
        self.stopping = threading.Event()
        # A fence result waits to be committed (also wakes a wait on the committed state).
        self.wakeup = WakeupEvent(self.condition_to_wait_on(machine))
        # (configuration index, cluster properties) the runner was last readied for
        self.prepared_for: tuple[int, Any] = (-1, None)
        self.preparing: threading.Thread | None = None
        self.fencing_seen = b""
        self.lost_seen: frozenset[str] = frozenset()
        self.thread = threading.Thread(target=self.loop, name="fencing-duties", daemon=True)
        self.lease = LeaseDuty(config, machine, proposer, monotonic=monotonic)

    @property
    def executor(self) -> Any:
        return self.lease.executor

    @executor.setter
    def executor(self, executor: Any) -> None:
        """The node's executor: the lease applies no-quorum-policy through it, and the
        executor starts or promotes nothing while the lease says no."""
        self.lease.executor = executor
        if executor is not None:
            executor.lease_allows_start = self.lease.allows_start

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.thread.start()
        self.lease.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wakeup.set()
        if self.thread.is_alive():
            self.thread.join(5)
        self.lease.stop()
        close = getattr(self.requests.runner, "close", None)
        if close is not None:
            close()

    def loop(self) -> None:
        period_s = max(0.02, self.config.timing.leader_duty_period_ms / 1000)
        wait_s = period_s
        while not self.stopping.is_set():
            self.wait_for_work(wait_s)
            if self.stopping.is_set():
                return
            wait_s = period_s
            try:
                self.step()
                if not self.has_timed_work(self.machine.state):
                    wait_s = IDLE_WAIT_S
            except Exception:
                LOG.exception("fencing duty failed; retrying next period")

    def has_timed_work(self, state: ClusterState) -> bool:
        """Whether a step is due again after a period rather than on a change: a request
        pending (its execution, a watchdog wait or a read barrier to retry), a result not
        committed yet, fence agents being readied, or a lost node this leader must
        (again) request fencing for. Otherwise only a change can give the duty work: a
        commit that loses a node or changes the fencing state, a change of this node's
        Raft role or quorum, a result to commit."""
        if self.results or not state.created or fencing_state(state).pending:
            return True
        if (state.configuration_index, state.properties) != self.prepared_for or (
                self.preparing is not None and self.preparing.is_alive()):
            return True
        if not self.leading or not fencing_readiness(state).can_fence:
            return False
        fencing = fencing_state(state)
        return any(needs_fencing(state, node.name)
                   and fencing.failure_count(node.name) < max_attempts(state)
                   for node in state.nodes)

    def wait_for_work(self, period_s: float) -> None:
        """Sleep `period_s`, or less: a fence result to commit, a member just lost, a
        change of the fencing state or of this node's Raft status (leadership, quorum)
        wakes the duty at once (failover waits on each)."""
        changed = self.condition_to_wait_on(self.machine)
        deadline = clock.monotonic() + period_s
        index = self.machine.state.last_index
        version = self.raft_status_version()
        while not self.stopping.is_set() and not self.wakeup.is_set():
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                break
            if changed is None:
                self.wakeup.wait(remaining)
                continue
            with changed:
                # Checked under the condition: wakeup.set() notifies it, so none is lost.
                if (self.machine.state.last_index == index and not self.wakeup.is_set()
                        and self.raft_status_version() == version
                        and not self.stopping.is_set()):
                    changed.wait(remaining)
            if self.raft_status_version() != version:
                break
            state = self.machine.state
            if state.last_index != index:
                if self.fencing_may_act(state):
                    break
                index = state.last_index
        self.wakeup.clear()

    @staticmethod
    def condition_to_wait_on(machine: Any) -> threading.Condition | None:
        """The condition notified when the node records, the fencing state, the
        configuration or the Raft status change (the duty acts on nothing else), or any
        commit's when the machine has no such narrower one."""
        return getattr(machine, "cluster_changed", getattr(machine, "changed", None))

    def raft_status_version(self) -> int:
        return getattr(self.machine, "raft_status_version", 0)

    def fencing_may_act(self, state: ClusterState) -> bool:
        """Cheap test: a member newly lost (offline while expected up), or a new fencing
        state. Steady states (a node that stays lost) wait for the period."""
        lost = frozenset(node.name for node in state.nodes
                         if node.state == NODE_OFFLINE and node.expected == EXPECTED_MEMBER)
        if state.fencing_bytes == self.fencing_seen and lost == self.lost_seen:
            return False
        self.fencing_seen, self.lost_seen = state.fencing_bytes, lost
        return True

    def step(self) -> None:
        state = self.machine.state
        if not state.created:
            return
        self.prepare_runner(state)
        self.execute_requests(state)
        self.commit_results(state)
        status = self.raft.status()
        if status.is_leader and status.has_quorum:
            if not self.leading:
                self.leading = True
                self.requested_at = {}
            self.request_fencing(state)
        else:
            self.leading = False

    def prepare_runner(self, state: ClusterState) -> None:
        """On a configuration change, ready the fence runner in the background: meta-data
        read and one process of each configured agent waiting on its stdin, so a request
        does not pay for the agent's start (`FenceRunner.prepare`)."""
        prepare = getattr(self.requests.runner, "prepare", None)
        key = (state.configuration_index, state.properties)
        if prepare is None:
            self.prepared_for = key   # nothing to ready
            return
        if key == self.prepared_for:
            return
        if self.preparing is not None and self.preparing.is_alive():
            return   # the next step prepares for the newest configuration
        self.prepared_for = key
        agents: list[str] = []
        if fencing_readiness(state).enabled:   # no process waits while fencing is off
            try:
                agents = sorted({device.agent for device in devices_from_config(
                    stored_configuration(state)) if device.enabled})
            except FencingConfigError:
                agents = []
        self.preparing = threading.Thread(target=self.run_prepare, args=(prepare, agents),
                                          name="fence-prepare", daemon=True)
        self.preparing.start()

    def run_prepare(self, prepare: Callable[[list[str]], None], agents: list[str]) -> None:
        try:
            prepare(agents)
        except Exception:
            LOG.exception("readying the fence agents failed; requests start them afresh")

    # -- leader part -----------------------------------------------------------------------

    def request_fencing(self, state: ClusterState) -> None:
        readiness = fencing_readiness(state)
        if not readiness.can_fence:
            return
        fencing = fencing_state(state)
        now = self.monotonic()
        for node in state.nodes:
            if not needs_fencing(state, node.name):
                continue
            failures = fencing.failure_count(node.name)
            if failures >= max_attempts(state):
                continue
            pause_ms = min(RETRY_MAX_MS, RETRY_BASE_MS * failures) if failures else 0
            last = self.requested_at.get(node.name)
            if last is not None and (now - last) * 1000 < max(pause_ms, 200):
                continue
            self.requested_at[node.name] = now
            reason = "node lost" if not failures else f"node lost; attempt {failures + 1}"
            index = self.propose("FenceRequested", {"target": node.name,
                                                    "action": self.default_action(state),
                                                    "reason": reason})
            if index is not None:
                self.current_requests.add(index)
            # The leader is usually the executor: start at once, not a period later.
            self.execute_requests(self.machine.state)

    @staticmethod
    def default_action(state: ClusterState) -> str:
        try:
            return fencing_settings(stored_configuration(state)).action
        except FencingConfigError:
            return "reboot"

    # -- executor part ---------------------------------------------------------------------

    def execute_requests(self, state: ClusterState) -> None:
        with self.lock:
            waiting = [pending for pending in fencing_state(state).pending
                       if pending.executor == self.node_name
                       and pending.request_index not in self.started]
        if not waiting:
            return
        if any(pending.request_index not in self.current_requests for pending in waiting):
            # The local state may be an old one (a restarted node replaying its log sees
            # requests answered long ago): act only on what is still pending once every
            # write committed so far is applied here.
            try:
                self.proposer.read_barrier(PROPOSE_TIMEOUT_MS)
            except ProposalError as error:
                LOG.info("fence requests wait: cannot confirm they are current: %s", error)
                return
            state = self.machine.state
            self.current_requests.update(pending.request_index
                                         for pending in fencing_state(state).pending)
        fencing = fencing_state(state)
        readiness = fencing_readiness(state)
        for pending in fencing.pending:
            if pending.executor != self.node_name:
                continue
            index = pending.request_index
            with self.lock:
                if index in self.started:
                    continue
            if readiness.devices == 0 and readiness.watchdog_wait_ms > 0:
                self.confirm_by_watchdog(pending, readiness.watchdog_wait_ms)
                continue
            configuration = stored_configuration(state)
            with self.lock:
                self.started.add(index)
                self.request_of_target[pending.target] = index
            priorities = self.node_priorities(state, configuration)
            if not self.requests.submit(configuration, pending.target, pending.action,
                                        node_priorities=priorities):
                with self.lock:  # an older request for the target still runs: later
                    self.started.discard(index)
                continue
            LOG.info("fencing %s (%s) for request %s", pending.target, pending.action, index)

    @staticmethod
    def node_priorities(state: ClusterState, configuration: Any) -> dict[str, int] | None:
        """Total resource priority per node for priority-fencing-delay, from what the
        committed state shows active where; None while the delay is not configured (the
        plan it needs is not computed then)."""
        try:
            if fencing_settings(configuration).priority_delay_ms <= 0:
                return None
        except FencingConfigError:
            return None
        from raftha.model.scheduler_inputs import scheduler_inputs
        from raftha.scheduler import plan as make_plan
        inputs, status = scheduler_inputs(state, True)
        placements = make_plan(inputs, status).placements
        active = [(placement.primitive, node, placement.current_role)
                  for placement in placements for node in placement.current_nodes]
        return node_priorities([node.name for node in state.nodes], active,
                               resource_priorities(configuration))

    def confirm_by_watchdog(self, pending: PendingFence, wait_ms: int) -> None:
        """Confirm `pending` fenced by the watchdog once W has passed on this node's clock
        since it saw the request committed, or since it saw the target's last lease renewal
        committed after the request (the target held a lease then: W starts again)."""
        index = pending.request_index
        key = (index, pending.lease_renewed_index)
        first_seen = self.watchdog_seen.setdefault(key, self.monotonic())
        waited_ms = int((self.monotonic() - first_seen) * 1000)
        if waited_ms < wait_ms:
            return
        with self.lock:
            self.started.add(index)
            self.results[index] = ("NodeFenced", {
                "target": pending.target, "action": pending.action, "request_index": index,
                "device": WATCHDOG_DEVICE, "level": 0, "duration_ms": waited_ms})

    def fencing_done(self, outcome: FenceOutcome) -> None:
        """Called from a fencer worker thread: queue the result; the duty thread commits it."""
        with self.lock:
            index = self.request_of_target.pop(outcome.target, None)
            if index is None:
                return
            if outcome.ok:
                self.results[index] = ("NodeFenced", {
                    "target": outcome.target, "action": outcome.action,
                    "request_index": index, "device": (outcome.device or "")[:200],
                    "level": outcome.level or 0,
                    "duration_ms": min(max(outcome.duration_ms, 0), MAX_FENCE_DURATION_MS)})
            else:
                reason = (outcome.explanation[-1] if outcome.explanation else "failed")
                self.results[index] = ("FenceFailed", {
                    "target": outcome.target, "action": outcome.action,
                    "request_index": index, "reason": reason[:400]})
        self.wakeup.set()   # commit the result now, not a period later
        LOG.info("fencing %s: %s in %d ms (%s)", outcome.target, outcome.result,
                 outcome.duration_ms, "; ".join(outcome.explanation)[:300])

    def commit_results(self, state: ClusterState) -> None:
        fencing = fencing_state(state)
        with self.lock:
            queued = sorted(self.results.items())
        for index, (kind, body) in queued:
            pending = fencing.pending_for(body["target"])
            if pending is None or pending.request_index != index:
                with self.lock:
                    self.results.pop(index, None)
                continue
            try:
                self.proposer.propose(kind, body, user="", timeout_ms=PROPOSE_TIMEOUT_MS)
            except ProposalRejected as error:
                LOG.info("fence result for request %s refused: %s", index, error)
            except ProposalError as error:
                LOG.info("fence result for request %s not committed yet: %s", index, error)
                continue
            with self.lock:
                self.results.pop(index, None)

    def propose(self, kind: str, body: dict) -> int | None:
        """Propose and wait for the commit; the index, or None when it was not committed."""
        try:
            outcome = self.proposer.propose(kind, body, user="", timeout_ms=PROPOSE_TIMEOUT_MS)
            LOG.info("proposed %s for %s", kind, body.get("target"))
            return getattr(outcome, "index", None)
        except ProposalError as error:
            LOG.info("%s for %s not committed: %s", kind, body.get("target"), error)
            return None


# ---------------------------------------------------------------- Control API operations


class FencingApiError(ValueError):
    """A bad fencing request; the message is a one-line reason."""


def fencing_operations(api: Any) -> dict[str, Callable[[dict, str], Any]]:
    """The Control API operations of fencing, for `ControlApi.operations`:

        node_fence    {"node", "action"?}  -> {"index"}  (FenceRequested; the executor is
                                               chosen by the cluster; the result follows as
                                               NodeFenced / FenceFailed in the log)
        fence_history {}                   -> {"history": [{target, action, result, index,
                                               ts_ms, request_index, executor, device,
                                               reason}], "status": the fencing section}
    """

    def node_fence(args: dict, user: str) -> dict:
        unknown = sorted(set(args) - {"node", "action"})
        if unknown:
            raise api_error(api, f"unknown argument {unknown[0]!r}")
        node = args.get("node")
        state = api.machine.state
        if not isinstance(node, str) or state.node(node) is None:
            raise api_error(api, f"node {node!r} is not a member of the cluster")
        action = args.get("action") or FencingDuties.default_action(state)
        if action not in FENCE_ACTIONS:
            raise api_error(api, f"fence action must be one of {', '.join(FENCE_ACTIONS)}")
        readiness = fencing_readiness(state)
        if readiness.devices == 0:
            raise api_error(api, f"no fence device is configured that could fence {node}")
        return api.propose("FenceRequested", {"target": node, "action": action,
                                              "reason": f"requested by {user or 'operator'}"},
                           user)

    def fence_history(args: dict, user: str) -> dict:
        if args:
            raise api_error(api, f"unknown argument {sorted(args)[0]!r}")
        state = api.machine.state
        return {"history": history_rows(state), "status": fencing_status(state)}

    return {"node_fence": node_fence, "fence_history": fence_history}


def api_error(api: Any, message: str) -> Exception:
    """The API's own request error type when it has one (answered as a one-line error)."""
    import raftha.daemon.api as api_module
    error_type = getattr(api_module, "RequestError", FencingApiError)
    return error_type(message)


# ---------------------------------------------------------------- stonith resources


_STONITH_RUNNER: FenceRunner | None = None


def run_stonith_operation(call: Any, node_name: str) -> Any:
    """The executor's answer for an operation of a `stonith:` resource (the fencer owns the
    device, as in Pacemaker): start/stop register it, a monitor or probe runs the agent's
    monitor. Returns an `AgentResult` like the agent runner's."""
    global _STONITH_RUNNER
    from raftha.agents import AgentResult, ExecStatus
    from raftha.daemon.fencer import stonith_resource_operation
    from raftha.model.config import Primitive
    if _STONITH_RUNNER is None:
        _STONITH_RUNNER = FenceRunner()
    agent_type = call.agent.split(":")[-1]
    primitive = Primitive(id=call.history_id, agent_class="stonith", agent_type=agent_type,
                          params=tuple(call.params))
    started = clock.monotonic()
    rc, reason = stonith_resource_operation(primitive, call.operation, _STONITH_RUNNER,
                                            call.timeout_ms)
    if call.verb == "probe" and rc == 0:
        rc = 7  # a device is "started" only where the cluster started it
    status = ExecStatus.DONE if rc in (0, 1, 7) else ExecStatus.ERROR
    return AgentResult(rc, status, reason, "", int((clock.monotonic() - started) * 1000),
                       False, call.operation, call.interval_ms)


# ---------------------------------------------------------------- lease and watchdog

POLICY_STOP_MARGIN_MS = 200


class LeaseDuty:
    """A node's lease and its watchdog (research jepsen-cts 4.4), active while the committed
    configuration asks for watchdog recovery (stonith-watchdog-timeout W > 0).

    - Every L/3 the node proposes `LeaseRenewed`, noting the send time first; once it is
      committed the lease runs until send time + L (never from the commit notification).
      It stops renewing once a fence request for itself is committed.
    - The executor starts and promotes nothing while the lease is not valid.
    - The guard thread pets raftha-watchdog only while the lease is valid. When the lease
      lapses it applies no-quorum-policy once: stop and demote stop every local resource
      through the executor within WD - K; freeze and ignore leave them (the watchdog kills
      them WD after the last pet, as sbd would); suicide kills the registered resource
      groups and exits the daemon at once.
    - The watchdog, in its own session, kills the resources' process groups and the daemon
      WD after the last pet, whatever state the daemon is in (paused, hung, crashed).
    Invariants: the watchdog is started before the first pet; nothing pets it while the
    lease is invalid; every proposal and every wait is bounded.
    """

    def __init__(self, config: Any, machine: Any, proposer: Any, *,
                 monotonic: Callable[[], float] = clock.monotonic,
                 exit_process: Callable[[int], None] | None = None) -> None:
        import os

        from raftha.daemon.fencer import Lease
        self.config = config
        self.machine = machine
        self.proposer = proposer
        self.monotonic = monotonic
        self.exit_process = exit_process or os._exit
        self.daemon_pid = os.getpid()
        self.executor: Any = None
        self.lease: Any = None
        self.lease_class = Lease
        self.watchdog: Any = None
        self.settings: Any = None
        self.expiry_handled = True
        self.fence_pending_logged = False
        self.policy_log: list[str] = []
        self.stopping = threading.Event()
        # Set when the watchdog settings change or on stop: the guard, idle at
        # GUARD_IDLE_PERIOD_S without a watchdog, starts petting a new one at once.
        self.guard_wakeup = threading.Event()
        self.threads = [threading.Thread(target=self.heartbeat_loop, name="lease-heartbeat",
                                         daemon=True),
                        threading.Thread(target=self.guard_loop, name="lease-guard",
                                         daemon=True)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        """Orderly stop: the resources are stopped by now; disarm the watchdog."""
        self.stopping.set()
        self.guard_wakeup.set()
        condition = getattr(self.machine, "cluster_changed", None)
        if condition is not None:
            with condition:
                condition.notify_all()
        for thread in self.threads:
            if thread.is_alive():
                thread.join(5)
        if self.watchdog is not None:
            self.watchdog.disarm()

    def valid(self) -> bool:
        """True when the watchdog mode is off, or the lease is valid."""
        return self.lease is None or self.lease.valid()

    def allows_start(self) -> bool:
        """May this node start or promote a resource now? Always, unless the committed
        configuration asks for watchdog recovery (stonith-watchdog-timeout W > 0): then
        only while this node's lease is valid, since the majority recovers a lost node's
        resources W after asking, trusting the node to have stopped by then. Read from
        the committed state, so a lease not yet set up (W just committed) says no."""
        from raftha.model.fencing_events import timing_settings
        try:
            wait_ms = timing_settings(self.machine.state.properties).recovery_wait_ms
        except FencingConfigError:
            return False   # the reducer refuses such properties; never start on doubt
        if wait_ms <= 0:
            return True
        lease = self.lease
        return lease is not None and lease.valid()

    # -- configuration ---------------------------------------------------------------------

    def refresh_settings(self) -> bool:
        """Follow the committed configuration; True while the watchdog mode is on."""
        from raftha.model.fencing_events import timing_settings
        state = self.machine.state
        try:
            settings = timing_settings(state.properties)
        except FencingConfigError:
            settings = None
        if settings is None or settings.recovery_wait_ms <= 0 or not state.created:
            if self.watchdog is not None:
                self.watchdog.disarm()
            if self.settings is not None:
                self.guard_wakeup.set()
            self.settings, self.lease, self.watchdog = None, None, None
            return False
        if settings != self.settings:
            self.settings = settings
            self.lease = self.lease_class(settings.lease_ms, self.monotonic)
            self.watchdog = self.start_watchdog(settings.watchdog_timeout_ms)
            self.guard_wakeup.set()   # pet the new watchdog now, not a guard period later
        return True

    def start_watchdog(self, timeout_ms: int) -> Any:
        from raftha.daemon.fencer import WatchdogClient, start_watchdog, watchdog_directory
        directory = watchdog_directory(self.config.data_dir)
        # Everything the node's agents start inherits RAFTHA_SOCKET: the watchdog kills
        # those processes too, even when they left the registered process groups.
        start_watchdog(directory, timeout_ms, self.daemon_pid,
                       environment_marker=f"RAFTHA_SOCKET={self.config.control_socket}")
        LOG.info("watchdog armed on first pet: timeout %d ms, %s", timeout_ms, directory)
        return WatchdogClient(directory, self.daemon_pid)

    # -- the two threads -------------------------------------------------------------------

    def heartbeat_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                seen = getattr(self.machine, "cluster_version", 0)
                if not self.refresh_settings():
                    self.wait_for_settings(seen)
                    continue
                period_s = self.settings.lease_ms / 3000
                sent = self.renew_once(period_s)
                self.stopping.wait(max(0.0, sent + period_s - self.monotonic()))
            except Exception:
                LOG.exception("lease heartbeat failed; retrying")
                self.stopping.wait(0.5)

    def renew_once(self, period_s: float) -> float:
        """Propose one renewal (noting the send time first); returns the send time. No
        renewal while a committed fence request targets this node: the majority waits W
        for its lease to run out, so it must run out (a renewal committed after the
        request restarts W; refusing to send one lets the fencing finish)."""
        lease = self.lease
        sent = lease.heartbeat_sent()
        if fencing_state(self.machine.state).pending_for(self.config.node_name) is not None:
            if not self.fence_pending_logged:
                LOG.warning("a fence request for this node is committed: lease not renewed")
            self.fence_pending_logged = True
            return sent
        self.fence_pending_logged = False
        try:
            self.proposer.propose("LeaseRenewed", {"name": self.config.node_name},
                                  user="", timeout_ms=int(period_s * 1000))
            lease.heartbeat_committed(sent)
        except ProposalError as error:
            LOG.info("lease not renewed: %s", error)
        return sent

    def wait_for_settings(self, seen: int) -> None:
        """Without the watchdog mode: sleep until the machine announces a change that may
        switch it on (fencing timing properties, the cluster's creation) since its
        `cluster_version` was `seen`, or stop; at most `SETTINGS_WAIT_S`."""
        condition = getattr(self.machine, "cluster_changed", None)
        if condition is None:
            self.stopping.wait(0.5)
            return
        with condition:
            if self.machine.cluster_version == seen and not self.stopping.is_set():
                condition.wait(SETTINGS_WAIT_S)

    def guard_loop(self) -> None:
        while not self.stopping.is_set():
            # Cleared before the step: a settings change after it ends the wait below.
            self.guard_wakeup.clear()
            try:
                self.guard_step()
            except Exception:
                LOG.exception("lease guard failed; retrying")
            settings, watchdog = self.settings, self.watchdog
            if settings is None or watchdog is None:
                self.guard_wakeup.wait(GUARD_IDLE_PERIOD_S)
                continue
            self.stopping.wait(min(GUARD_PERIOD_S, settings.watchdog_timeout_ms / 4000))

    def guard_step(self) -> None:
        lease, watchdog = self.lease, self.watchdog
        if lease is None or watchdog is None:
            return
        if lease.valid():
            watchdog.pet()
            self.expiry_handled = False
            return
        if not self.expiry_handled:
            self.expiry_handled = True
            self.apply_no_quorum_policy()

    def apply_no_quorum_policy(self) -> None:
        policy = (self.machine.state.property("no-quorum-policy") or "stop").strip()
        settings = self.settings
        LOG.warning("lease expired: applying no-quorum-policy=%s (watchdog fires in %d ms)",
                    policy, settings.watchdog_timeout_ms if settings else 0)
        self.policy_log.append(policy)
        if policy in ("suicide", "fence"):
            from raftha.daemon.fencer import (
                WATCHDOG_REGISTRY_NAME,
                fence_this_node,
                watchdog_directory,
            )
            fence_this_node(watchdog_directory(self.config.data_dir) / WATCHDOG_REGISTRY_NAME,
                            self.exit_process)
            return
        if policy in ("freeze", "ignore"):
            return
        executor = self.executor
        if executor is None or settings is None:
            LOG.warning("no executor on this node: nothing to stop")
            return
        budget_ms = max(0, settings.watchdog_timeout_ms - settings.margin_ms
                        - POLICY_STOP_MARGIN_MS)
        executor.stop_local_resources(self.monotonic() + budget_ms / 1000)
