"""The executor: reconcile this node to the committed plan by running resource agents.

Loop (one thread): whenever the committed state changes (or every `poll_ms` while anything
waits on time, every `IDLE_WAIT_S` once settled), derive the
plan from the committed state, pick this node's actions whose prerequisites are done (see
`executor_plan`), and hand each to a bounded pool of workers. A worker runs the agent and
proposes the result as an `OperationCompleted` event, retrying with the same event id until
it is committed. Recurring monitors run on their own timers while the plan lists them; a
monitor result is proposed the first time and whenever it changes (so a failure reaches the
log at once and a steady state costs nothing).

Pace: under a stream of commits the plan is derived at most once per
`MIN_PLAN_INTERVAL_S` (a commit right after a plan waits for the rest of it; a worker's
result, a due monitor and a first commit after a quiet spell are acted on at once), so the
executors of every node do not re-plan for each of hundreds of commits a second while the
same interpreters carry those commits.

Start-up: before acting on anything, the executor probes every configured resource on this
node and records the results, so a restarted daemon learns what really runs here and never
starts a second copy. The first plan after a start (and the re-probe) waits for a read
barrier, so nothing is planned from a replayed, stale state. A clean stop stops what runs
here (demote first) and records it.

Without quorum (lost for `quorum_loss_grace_ms`): nothing can be claimed or recorded, so the
executor carries out no-quorum-policy on this node alone, as a Pacemaker partition without
quorum does: stop and demote run the stops and demotes that the plan derived without quorum
gives this node (no claims, results not recorded), freeze and ignore keep what runs and start
nothing, suicide (with fencing configured) kills the resources and ends the daemon. When the
quorum returns after such local actions, the node re-probes everything before it plans again:
the probes record what really runs here.

Invariants:
- Nothing runs on a belief that is not committed: the plan comes from the committed state,
  and a resource with an action running or a result not yet committed is busy (no second
  action for it) until the plan is derived from a state that includes that result.
- At most one action per resource at a time (a running monitor counts); at most
  `max_parallel` actions at once.
- Every agent call has a timeout (the runner kills the agent's process group on expiry).
- Without quorum nothing starts or promotes; only stops and demotes run, never waiting on
  another node (it cannot be heard from).
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from raftha.agents import AgentResult, AgentRunner, AgentRunnerSettings, AgentSpec, ExecStatus
from raftha.agents.spec import AgentSpecError
from raftha.daemon import clock
from raftha.daemon.executor_plan import AgentCall, PlanView, failure_timeout_due_ms
from raftha.daemon.fencing_duties import WakeupEvent, run_stonith_operation
from raftha.daemon.proposer import ProposalError, ProposalRejected
from raftha.model.fencing_events import fencing_readiness
from raftha.model.reducer import stored_configuration
from raftha.model.scheduler_inputs import (
    committed_only,
    configuration_with_members,
    scheduler_inputs,
)
from raftha.model.state import NODE_ONLINE, ClusterState
from raftha.scheduler import Action
from raftha.scheduler import plan as make_plan
from raftha.scheduler.digests import record_digests

LOG = logging.getLogger(__name__)
MIN_PLAN_INTERVAL_S = 0.02
IDLE_WAIT_S = 1.0   # the longest sleep once settled (a safety net: changes wake it)
RESULT_PROPOSE_TIMEOUT_MS = 5000
SHUTDOWN_STOP_BUDGET_MS = 8000
# While stopping, one result proposal gets this long: with a quorum a commit takes
# milliseconds; without one, waiting longer only delays the stop of the node.
SHUTDOWN_PROPOSE_TIMEOUT_MS = 1500
# How long a stopping node waits for a quorum to show again before it stops recording.
SHUTDOWN_QUORUM_WAIT_MS = 500
MAX_EXIT_REASON_CHARS = 512
REJECTION_BACKOFF_S = 5.0
# The first plan after a start waits for a read barrier this long per attempt.
READ_BARRIER_TIMEOUT_MS = 3000
# What a node without quorum may run on its own (no-quorum-policy stop and demote).
POLICY_VERBS = ("stop", "demote")
NO_QUORUM_POLICIES = ("stop", "freeze", "ignore", "demote")
# Pacemaker's executor statuses (PCMK_EXEC_*), as the OperationCompleted event carries them.
OP_STATUS = {
    ExecStatus.DONE: 0,
    ExecStatus.TIMED_OUT: 2,
    ExecStatus.NOT_SUPPORTED: 3,
    ExecStatus.ERROR: 5,
    ExecStatus.NOT_INSTALLED: 7,
}


@dataclass(frozen=True)
class ExecutorSettings:
    """The `[executor]` table of the node configuration (all optional)."""

    enabled: bool = True
    max_parallel: int = 4
    poll_ms: int = 250
    # HA_RSCTMP / HA_VARRUN. Default: private directories under the node's data directory,
    # so several nodes on one host (the sandbox) keep apart; set them to /run/resource-agents
    # and /var/run for the system locations.
    resource_tmp_dir: str = ""
    varrun_dir: str = ""
    lsb_directory: str = ""
    stop_resources_on_shutdown: bool = True
    quorum_loss_grace_ms: int = 3000
    environment: tuple[tuple[str, str], ...] = ()
    extra_ocf_directories: tuple[str, ...] = field(default=())


class ExecutorConfigError(ValueError):
    """A bad [executor] table; the message is a one-line reason."""


def load_executor_settings(config_path: Path) -> ExecutorSettings:
    """Reads the optional [executor] table of the node configuration file."""
    try:
        data = tomllib.loads(Path(config_path).read_text())
    except FileNotFoundError:
        return ExecutorSettings()
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ExecutorConfigError(f"cannot read {config_path}: {error}") from None
    table = data.get("executor", {})
    if not isinstance(table, dict):
        raise ExecutorConfigError("[executor] must be a table")
    known = set(ExecutorSettings.__dataclass_fields__)
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise ExecutorConfigError(f"[executor] unknown setting {key!r}")
        default = getattr(ExecutorSettings(), key)
        if key == "environment":
            if not isinstance(value, dict) or not all(isinstance(item, str)
                                                      for item in value.values()):
                raise ExecutorConfigError("[executor] environment must map names to strings")
            values[key] = tuple(sorted(value.items()))
        elif key == "extra_ocf_directories":
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ExecutorConfigError("[executor] extra_ocf_directories must be a list")
            values[key] = tuple(value)
        elif type(value) is not type(default):
            raise ExecutorConfigError(f"[executor] {key} must be a {type(default).__name__}")
        else:
            values[key] = value
    settings = ExecutorSettings(**values)
    if not 1 <= settings.max_parallel <= 64 or not 10 <= settings.poll_ms <= 10_000:
        raise ExecutorConfigError("[executor] max_parallel must be 1-64 and poll_ms 10-10000")
    return settings


def runner_settings(settings: ExecutorSettings, data_dir: Path,
                    socket_path: str) -> AgentRunnerSettings:
    run_dir = Path(data_dir) / "run"
    resource_tmp = settings.resource_tmp_dir or str(run_dir / "resource-agents")
    varrun = settings.varrun_dir or str(run_dir)
    for directory in (resource_tmp, varrun):
        Path(directory).mkdir(parents=True, exist_ok=True)
    base = AgentRunnerSettings()
    search = tuple(Path(item) for item in settings.extra_ocf_directories) + base.ocf_search_path
    # The shims (agents/shims) reach the daemon through RAFTHA_SOCKET, with this interpreter.
    environment = {"RAFTHA_SOCKET": str(socket_path), "RAFTHA_PYTHON": sys.executable,
                   **dict(settings.environment)}
    return AgentRunnerSettings(
        ocf_search_path=search,
        lsb_directory=Path(settings.lsb_directory) if settings.lsb_directory
        else base.lsb_directory,
        resource_tmp_dir=resource_tmp, varrun_dir=varrun,
        common_environment=environment,
    )


def exit_reason_of(result: AgentResult) -> str:
    return (result.exit_reason or "")[:MAX_EXIT_REASON_CHARS]


def operation_body(node: str, call: AgentCall, result: AgentResult,
                   non_reloadable: list[str] | None = None) -> dict[str, Any]:
    """The OperationCompleted body for one result, with the digests of the parameters it
    ran with (`non_reloadable`: the agent's parameters a reload cannot apply, None when it
    cannot reload). A reload is recorded as a start when it ran (its parameters are now the
    resource's), else as a monitor (Pacemaker's rule)."""
    operation = call.operation
    if call.verb == "reload":
        operation = "start" if result.status is ExecStatus.DONE else "monitor"
    body = {
        "node": node, "resource": call.history_id, "agent": call.agent,
        "operation": operation, "interval_ms": call.interval_ms, "rc": int(result.rc),
        "op_status": OP_STATUS.get(result.status, 4), "target_rc": call.target_rc,
        "exit_reason": exit_reason_of(result), "duration_ms": max(0, int(result.duration_ms)),
    }
    if call.digest_parameters:
        body.update(record_digests(dict(call.digest_parameters), call.interval_ms,
                                   non_reloadable).to_body())
    if call.operation in ("migrate_to", "migrate_from"):
        meta = dict(call.meta)
        for key in ("migrate_source", "migrate_target"):
            if meta.get(key):
                body[key] = meta[key]
    if call.verb == "notify":
        meta = dict(call.meta)
        body["notify_type"] = meta.get("notify_type", "")
        body["notify_operation"] = meta.get("notify_operation", "")
        if call.notify_through_call_id is not None:
            body["notify_through_call_id"] = call.notify_through_call_id
    return body


def monitor_signature(call: AgentCall) -> tuple:
    """What makes a monitor the same one: anonymous clone instances may be renumbered
    between plans without anything changing on this node."""
    meta = tuple(item for item in call.meta if item[0] != "clone")
    return (call.history_id, call.agent, call.interval_ms, call.role, call.timeout_ms,
            call.params, meta)


@dataclass
class MonitorTimer:
    """One recurring monitor while the plan lists it."""

    call: AgentCall
    due: float
    last_reported: tuple[int, int] | None = None   # (rc, op_status) last proposed
    running: bool = False


class Executor:
    """Runs this node's share of the committed plan (see the module docstring)."""

    def __init__(self, node_name: str, machine: Any, proposer: Any, raft: Any,
                 runner: Any, settings: ExecutorSettings | None = None,
                 registry: Any = None, pool: Any = None) -> None:
        self.node = node_name
        self.machine = machine
        self.proposer = proposer
        self.raft = raft
        self.runner = runner
        self.settings = settings or ExecutorSettings()
        self.registry = registry
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        # Anything with submit(fn, *args) -> Future and shutdown(); tests run actions inline.
        self.pool = pool or ThreadPoolExecutor(max_workers=self.settings.max_parallel,
                                               thread_name_prefix="executor")
        self.thread = threading.Thread(target=self.loop, name="executor", daemon=True)
        # history id -> action key running (or whose result is being proposed)
        self.busy: dict[str, str] = {}
        self.planned_call_ids: dict[str, int] = {}  # history id -> next_call_id of its plan
        # history id -> log index of its last committed result (busy until planned from it)
        self.result_index: dict[str, int] = {}
        self.monitors: dict[tuple[str, int], MonitorTimer] = {}
        self.probed = False
        self.planned_index = -1
        self.view: PlanView | None = None
        self.view_quorum = True
        # A worker finished or stop() was called: wakes a wait on the committed state too.
        self.wakeup = WakeupEvent(getattr(machine, "changed", None))
        self.last_step_at = float("-inf")   # monotonic start of the last step
        self.counts = {"actions": 0, "results": 0, "monitor_runs": 0, "proposal_failures": 0}
        self.last_error = ""
        self.tick_pending = False
        self.no_quorum_since: float | None = None
        self.backoff_until: dict[str, float] = {}
        # What this node's agents left active, as the agents answered (committed or not):
        # history id -> the call that started, promoted or found it. A clean stop stops
        # these too, so a start whose result never reached the log is not left running.
        self.active_here: dict[str, AgentCall] = {}
        self.stopped_here: set[str] = set()  # stopped by this node's agents since last active
        # Set once a result could not be committed during shutdown for want of a quorum:
        # the remaining stops still run, without waiting on the log.
        self.shutdown_unrecorded = False
        # Set by the fencing duties: False while watchdog recovery is configured and this
        # node's lease is not valid (a start then could outlive the majority's wait).
        self.lease_allows_start: Any = None
        # Taken once after a start and after each rejoin, before the (re-)probe.
        self.barrier_taken = False
        # Without quorum: action keys this node carried out on its own (never recorded), and
        # whether it did anything the log does not know of (then it re-probes on rejoin).
        self.partition_done: set[str] = set()
        self.acted_without_quorum = False
        # Started without quorum: probed alone (results in active_here/stopped_here only,
        # never recorded), so the policy also covers what survived the restart.
        self.probed_alone = False
        self.announced_policy = ""
        self.exit_process: Any = os._exit   # no-quorum-policy=suicide ends the daemon

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Stops the loop and the monitors; with stop_resources_on_shutdown, stops what runs
        here first (bounded by SHUTDOWN_STOP_BUDGET_MS)."""
        self.stopping.set()
        self.wakeup.set()
        if self.thread.is_alive():
            self.thread.join(5)
        deadline = clock.monotonic() + SHUTDOWN_STOP_BUDGET_MS / 1000
        while self.busy and clock.monotonic() < deadline:
            time.sleep(0.05)
        if self.settings.stop_resources_on_shutdown and self.probed:
            try:
                self.stop_local_resources(deadline)
            except Exception:
                LOG.exception("stopping resources at shutdown failed")
        self.pool.shutdown(wait=False, cancel_futures=True)

    def status(self) -> dict[str, Any]:
        with self.lock:
            return {"probed": self.probed, "busy": dict(self.busy),
                    "monitors": sorted(f"{key[0]}:{key[1]}" for key in self.monitors),
                    "planned_index": self.planned_index, "counts": dict(self.counts),
                    "last_error": self.last_error,
                    # The no-quorum-policy this node is carrying out alone, or None.
                    "no_quorum_policy": self.announced_policy or None,
                    "done_without_quorum": sorted(self.partition_done)}

    # -- the loop --------------------------------------------------------------------------

    def loop(self) -> None:
        period_s = self.settings.poll_ms / 1000
        while not self.stopping.is_set():
            wait_s = period_s
            try:
                self.last_step_at = clock.monotonic()
                self.step(self.last_step_at)
                if self.settled():
                    wait_s = max(period_s, IDLE_WAIT_S)
            except Exception as error:
                LOG.exception("executor step failed; retrying")
                self.last_error = f"{type(error).__name__}: {error}"
            self.wait_for_change(wait_s)

    def settled(self) -> bool:
        """Nothing here waits on time alone: probed, nothing running, no retry pause, the
        quorum held, no clock tick owed. Then only a commit, a worker, a due monitor or a
        change of the Raft status (all of which wake the wait) can give the executor work,
        and it sleeps `IDLE_WAIT_S` instead of `poll_ms`."""
        if not (self.probed and self.barrier_taken and self.view_quorum) or self.tick_pending \
                or self.no_quorum_since is not None or self.acted_without_quorum:
            return False
        now = clock.monotonic()
        with self.lock:
            return not self.busy and all(until <= now for until in self.backoff_until.values())

    def wait_for_change(self, period_s: float) -> None:
        """Sleeps until the committed state moves, a worker finishes, or a monitor is due."""
        deadline = clock.monotonic() + period_s
        with self.lock:
            due = [timer.due for timer in self.monitors.values() if not timer.running]
        if due:
            deadline = min(deadline, max(clock.monotonic(), min(due)))
        index = self.machine.state.last_index
        status_version = self.raft_status_version()
        paced = False
        while not self.stopping.is_set():
            remaining = deadline - clock.monotonic()
            if remaining <= 0 or self.wakeup.is_set():
                break
            if paced:   # a commit is waiting for the pace: only a worker or stop comes first
                self.wakeup.wait(remaining)
                continue
            with self.machine.changed:
                # Checked under the condition: wakeup.set() notifies it, so none is lost.
                if (self.machine.state.last_index == index and not self.wakeup.is_set()
                        and self.raft_status_version() == status_version
                        and not self.stopping.is_set()):
                    self.machine.changed.wait(remaining)
            if self.raft_status_version() != status_version:
                break   # quorum or leadership moved: the plan may differ now
            if self.machine.state.last_index != index:
                # A commit: act on it, but not sooner than the pace allows.
                deadline = min(deadline, self.last_step_at + MIN_PLAN_INTERVAL_S)
                paced = True
        self.wakeup.clear()

    def raft_status_version(self) -> int:
        return getattr(self.machine, "raft_status_version", 0)

    def eligible(self, state: ClusterState) -> bool:
        """The executor acts only in a created cluster where this node is online."""
        record = state.node(self.node)
        return state.created and record is not None and record.state == NODE_ONLINE

    def have_quorum(self) -> bool:
        """Quorum as the plan should see it: lost only after `quorum_loss_grace_ms` without
        it, so an election (a moment without a leader) does not stop every resource under
        no-quorum-policy=stop. Leases guard the real partition case."""
        try:
            has_quorum = bool(self.raft.status().has_quorum)
        except Exception:
            has_quorum = False
        now = clock.monotonic()
        if has_quorum:
            self.no_quorum_since = None
            return True
        if self.no_quorum_since is None:
            self.no_quorum_since = now
        return (now - self.no_quorum_since) * 1000 < self.settings.quorum_loss_grace_ms

    def current_view(self, state: ClusterState) -> PlanView:
        quorum = self.have_quorum()
        if self.view is None or self.view.state is not state or self.view_quorum != quorum:
            configuration, status = scheduler_inputs(state, quorum)
            status = committed_only(status)
            self.view_quorum = quorum
            self.view = PlanView(state, make_plan(configuration, status), configuration,
                                 self.node)
            self.planned_index = state.last_index
        return self.view

    def step(self, now: float) -> None:
        state = self.machine.state
        if not self.eligible(state):
            self.cancel_monitors(set())
            return
        if self.probed and self.acted_without_quorum and self.have_quorum():
            self.rejoin_after_partition()
        if not self.probed:
            if not self.take_read_barrier():
                if not self.have_quorum():
                    self.act_alone_before_probing(state)
                return
            state = self.machine.state
            if self.eligible(state):
                self.initial_probe(state)
            return
        view = self.current_view(state)
        if not self.view_quorum:
            self.apply_no_quorum_policy(view)
        else:
            self.announced_policy = ""
            self.dispatch_actions(view)
        self.reconcile_monitors(view, now)
        self.tick_clock_when_due(view)

    def take_read_barrier(self) -> bool:
        """Before the first plan after a start or a rejoin: wait until every write committed
        so far is applied here. A restarted daemon replays its own log first, and a probe
        built from an old configuration (other parameters, a resource deleted since) would
        record a wrong answer. True once taken."""
        if self.barrier_taken:
            return True
        try:
            self.proposer.read_barrier(READ_BARRIER_TIMEOUT_MS)
        except ProposalError as error:
            LOG.info("executor on %s waits: cannot confirm its state is current: %s",
                     self.node, error)
            return False
        self.barrier_taken = True
        return True

    def tick_clock_when_due(self, view: PlanView) -> None:
        """The leader commits a clock tick once a failure-timeout has passed (time inside the
        log moves only with committed events)."""
        due_ms = failure_timeout_due_ms(view.state, view.configuration)
        if due_ms is None or clock.wall_ms() < due_ms or self.tick_pending:
            return
        try:
            if not self.raft.status().is_leader:
                return
        except Exception:
            return
        self.tick_pending = True

        def tick() -> None:
            try:
                self.proposer.propose("ClockTicked", {}, user="", timeout_ms=2000)
            except ProposalError as error:
                LOG.info("clock tick not committed: %s", error)
            finally:
                self.tick_pending = False
                self.wakeup.set()
        threading.Thread(target=tick, name="clock-tick", daemon=True).start()

    # -- start-up probe ----------------------------------------------------------------------

    def act_alone_before_probing(self, state: ClusterState) -> None:
        """Started (or restarted) without quorum: the read barrier that comes before the
        recorded probe cannot be taken, yet resources may still run here from before the
        restart while the majority recovers them elsewhere. Probe alone, record nothing,
        and carry out no-quorum-policy on what the probes found (stop stops it too). The
        recorded probe follows the barrier once the quorum is back."""
        if not self.probed_alone:
            calls = self.current_view(state).probe_calls()
            succeeded = self.run_in_parallel(self.probe_without_recording, calls)
            if succeeded is None:
                return
            self.probed_alone = succeeded
            LOG.warning("executor on %s: started without quorum: probed %d resources alone "
                        "(not recorded)", self.node, len(calls))
            if not self.probed_alone:
                return
        self.apply_no_quorum_policy(self.current_view(state))

    def probe_without_recording(self, call: AgentCall) -> bool:
        result = self.run_agent(call)
        self.note_outcome(call, result)
        return result.status is ExecStatus.DONE

    def run_in_parallel(self, function: Any, calls: list[AgentCall]) -> bool | None:
        """Run `function(call)` for every call on the pool; True when all returned true,
        None when the executor stopped meanwhile."""
        futures = [self.pool.submit(function, call) for call in calls]
        for future in futures:
            while not future.done():
                if self.stopping.wait(0.05):
                    return None
        return all(future.result() for future in futures)

    def initial_probe(self, state: ClusterState) -> None:
        """Probe every configured resource here and record the results before trusting the
        committed history of this node (it may predate a restart)."""
        configuration = configuration_with_members(state)
        if not configuration.all_primitives():
            self.probed = True
            return
        view = self.current_view(state)
        calls = view.probe_calls()
        succeeded = self.run_in_parallel(self.run_and_record, calls)
        if succeeded is None:
            return
        self.probed = succeeded
        if self.probed:
            LOG.info("executor on %s: probed %d resources", self.node, len(calls))
            with self.lock:   # the probes recorded what runs here, whatever was done alone
                self.acted_without_quorum = False
                self.partition_done.clear()
                self.probed_alone = False

    # -- one-shot actions ------------------------------------------------------------------

    def resource_busy(self, history_id: str, view: PlanView) -> bool:
        with self.lock:
            if history_id in self.busy:
                return True
            if self.backoff_until.get(history_id, 0.0) > clock.monotonic():
                return True
            return self.result_index.get(history_id, 0) > view.state.last_index

    def dispatch_actions(self, view: PlanView) -> None:
        for action in view.own():
            if action.verb == "monitor" or not view.ready(action):
                continue
            if action.verb in ("start", "promote") and not self.starts_allowed():
                continue
            call = view.call_for(action)
            if call is None or self.resource_busy(call.history_id, view):
                continue
            if action.verb == "probe" and view.has_history(self.node, call.history_id):
                continue  # an anonymous clone's other instance: one probe answers for all
            with self.lock:
                self.busy[call.history_id] = action.key
                self.planned_call_ids[call.history_id] = view.state.next_call_id
                self.counts["actions"] += 1
            LOG.info("executor on %s: %s", self.node, action.key)
            self.pool.submit(self.run_and_record, call)

    def starts_allowed(self) -> bool:
        """Starts and promotes need this node's lease in watchdog mode (DESIGN section 7)."""
        return self.lease_allows_start is None or bool(self.lease_allows_start())

    def advertises(self, call: AgentCall, action: str) -> bool:
        """Whether the agent's meta-data lists `action` (False when it has none)."""
        try:
            metadata = self.runner.metadata(AgentSpec.parse(call.agent,
                                                            resource_id=call.history_id),
                                            node_name=self.node)
        except Exception:
            return False
        return metadata.supports(action)

    def migration_fallback(self, call: AgentCall) -> AgentCall:
        """A migrate_to or migrate_from of an agent that does not advertise it runs as a
        stop or start instead (and is recorded so): the resource moves the usual way."""
        if call.verb not in ("migrate_to", "migrate_from") or self.advertises(call, call.verb):
            return call
        verb = "stop" if call.verb == "migrate_to" else "start"
        LOG.info("executor on %s: %s: the agent cannot migrate; %s instead", self.node,
                 call.action_key, verb)
        return replace(call, verb=verb, operation=verb)

    def run_and_record(self, call: AgentCall) -> bool:
        """Runs one action and proposes its result; True once the result is committed.
        Everything but a probe is first claimed in the log (OperationsPending): the claim
        is refused while another node has an action pending on the resource."""
        with self.lock:
            self.busy.setdefault(call.history_id, call.action_key)
        try:
            call = self.migration_fallback(call)
            # Probes and notifications change nothing the scheduler reads: no claim.
            if call.verb not in ("probe", "notify") and not self.claim(call):
                return False
            result = self.run_agent(call)
            self.note_outcome(call, result)
            return self.record(call, result)
        finally:
            with self.lock:
                self.busy.pop(call.history_id, None)
            self.wakeup.set()

    def quorum_shows(self, wait_ms: int) -> bool:
        """Whether this node sees a quorum now or within `wait_ms` (an election's gap)."""
        deadline = clock.monotonic() + wait_ms / 1000
        while True:
            try:
                if self.raft.status().has_quorum:
                    return True
            except Exception:
                return False
            if clock.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def note_outcome(self, call: AgentCall, result: AgentResult) -> None:
        """Keeps `active_here` in step with what the agents answered."""
        rc = int(result.rc) if result.status is ExecStatus.DONE else -1
        with self.lock:
            if (call.verb in ("start", "promote") and rc == 0) or (
                    call.verb == "probe" and rc in (0, 8)):
                self.active_here[call.history_id] = call
                self.stopped_here.discard(call.history_id)
            elif (call.verb == "probe" and rc == 7) or (call.verb == "stop" and rc == 0):
                self.active_here.pop(call.history_id, None)
                self.stopped_here.add(call.history_id)

    def run_agent(self, call: AgentCall) -> AgentResult:
        if call.agent.startswith("stonith:"):  # the fencer owns fence devices
            return run_stonith_operation(call, self.node)
        try:
            spec = AgentSpec.parse(call.agent, resource_id=call.history_id)
        except AgentSpecError as error:
            return AgentResult(5, ExecStatus.ERROR, str(error), "", 0, False, call.operation,
                               call.interval_ms)
        if call.verb == "notify" and not self.advertises(call, "notify"):
            # Pacemaker notifies only agents that advertise notify; the result marks it done.
            return AgentResult(3, ExecStatus.NOT_SUPPORTED, "the agent has no notify action",
                               "", 0, False, "notify", 0)
        params, meta = dict(call.params), dict(call.meta)
        if call.role:
            meta["role"] = call.role
        if call.verb == "reload":
            result = self.runner.reload(spec, params=params, meta=meta,
                                        timeout_ms=call.timeout_ms, node_name=self.node)
        else:
            result = self.runner.run(spec, call.operation, params=params, meta=meta,
                                     timeout_ms=call.timeout_ms, interval_ms=call.interval_ms,
                                     node_name=self.node)
        if result.status is ExecStatus.TIMED_OUT:
            LOG.warning("executor on %s: %s timed out after %d ms (process group killed)",
                        self.node, call.action_key, result.duration_ms)
        if call.verb == "notify" and not result.ok:
            # Pacemaker logs a failed notification and carries on; so do we.
            LOG.warning("executor on %s: %s failed (rc=%d): ignored", self.node,
                        call.action_key, result.rc)
        if (self.registry is not None and call.verb in ("start", "promote") and result.ok
                and result.pid > 1):
            try:   # what the agent left in its group dies with the watchdog
                self.registry.add(result.pid, call.history_id)
            except OSError:
                LOG.warning("could not register process group %d", result.pid)
        if self.registry is not None and call.verb == "stop" and result.ok:
            try:
                self.registry.remove_label(call.history_id)
            except OSError:
                LOG.warning("could not unregister the process groups of %s", call.history_id)
        return result

    def non_reloadable(self, call: AgentCall) -> list[str] | None:
        """The agent's parameters a reload cannot apply (OCF 1.1: not reloadable="1";
        legacy reload: unique="1"), or None when the agent has no reload action."""
        if call.agent.startswith("stonith:") or call.interval_ms > 0:
            return None
        try:
            metadata = self.runner.metadata(AgentSpec.parse(call.agent,
                                                            resource_id=call.history_id),
                                            node_name=self.node)
        except Exception:  # no meta-data: restart on any change, the safe side
            return None
        action = metadata.reload_action()
        if action is None:
            return None
        if action == "reload-agent":
            return [item.name for item in metadata.parameters if not item.reloadable]
        return [item.name for item in metadata.parameters if item.unique]

    def claim(self, call: AgentCall) -> bool:
        body = {"node": self.node, "operations": [{
            "resource": call.history_id, "agent": call.agent, "operation": call.operation,
            "interval_ms": call.interval_ms,
            "shared": call.shared and call.verb in ("start", "stop")}]}
        with self.lock:
            planned_call_id = self.planned_call_ids.pop(call.history_id, None)
        if planned_call_id is not None:
            body["planned_call_id"] = planned_call_id  # the reducer refuses a stale plan
        try:
            self.proposer.propose("OperationsPending", body, user="",
                                  timeout_ms=RESULT_PROPOSE_TIMEOUT_MS)
            return True
        except ProposalRejected as rejection:
            LOG.info("executor on %s: %s waits: %s", self.node, call.action_key, rejection)
            return False
        except ProposalError as error:
            LOG.info("executor on %s: %s not claimed: %s", self.node, call.action_key, error)
            return False

    def record(self, call: AgentCall, result: AgentResult,
               budget_ms: int | None = None) -> bool:
        """Proposes the result until it is committed (same event id on every retry)."""
        body = operation_body(self.node, call, result, self.non_reloadable(call))
        event_id = secrets.token_bytes(16)
        deadline = None if budget_ms is None else clock.monotonic() + budget_ms / 1000
        while True:
            timeout_ms = RESULT_PROPOSE_TIMEOUT_MS
            if self.stopping.is_set():
                timeout_ms = SHUTDOWN_PROPOSE_TIMEOUT_MS
            if deadline is not None:
                timeout_ms = max(1, min(timeout_ms, int((deadline - clock.monotonic()) * 1000)))
            if self.stopping.is_set() and not self.quorum_shows(SHUTDOWN_QUORUM_WAIT_MS):
                LOG.info("result of %s not recorded: no quorum while stopping",
                         call.action_key)
                self.shutdown_unrecorded = True
                return False
            if not self.stopping.is_set() and not self.have_quorum():
                # Lost past the grace: no-quorum-policy rules now, and the re-probe on the
                # quorum's return records the truth (a monitor reports again by itself).
                LOG.info("result of %s not recorded: no quorum", call.action_key)
                if call.verb != "monitor":
                    with self.lock:
                        self.acted_without_quorum = True
                return False
            try:
                outcome = self.proposer.propose("OperationCompleted", body, user="",
                                                timeout_ms=timeout_ms, event_id=event_id)
            except ProposalRejected as rejection:
                LOG.error("result of %s rejected: %s", call.action_key, rejection)
                with self.lock:
                    self.last_error = f"{call.action_key}: {rejection}"
                    # No hot loop on a result the log refuses: wait before trying again.
                    self.backoff_until[call.history_id] = (clock.monotonic()
                                                           + REJECTION_BACKOFF_S)
                return False
            except ProposalError as error:
                with self.lock:
                    self.counts["proposal_failures"] += 1
                LOG.info("result of %s not committed yet (%s); retrying", call.action_key,
                         error)
                if self.stopping.is_set() and (deadline is None
                                               or str(error).startswith("no quorum")):
                    # A stopping node does not wait for a quorum that may never return.
                    self.shutdown_unrecorded = str(error).startswith("no quorum")
                    return False
                if deadline is not None and clock.monotonic() > deadline:
                    return False
                time.sleep(0.2)
                continue
            with self.lock:
                self.result_index[call.history_id] = outcome.index
                self.counts["results"] += 1
            return True

    # -- without quorum --------------------------------------------------------------------

    def no_quorum_policy(self, state: ClusterState) -> str:
        """no-quorum-policy as this node carries it out alone: suicide (fence) only where
        fencing is configured, else stop (Pacemaker's reading); an unknown value is stop."""
        policy = (state.property("no-quorum-policy") or "stop").strip().lower()
        if policy in ("suicide", "fence"):
            return "fence" if fencing_readiness(state).can_fence else "stop"
        return policy if policy in NO_QUORUM_POLICIES else "stop"

    def apply_no_quorum_policy(self, view: PlanView) -> None:
        """Quorum lost past the grace: nothing can be claimed or recorded, so carry out the
        policy here, alone. stop and demote run this node's stops and demotes of the plan
        derived without quorum (it says which: requires=nothing keeps running, demote keeps
        promotable clones Unpromoted), then stop what this node's agents started that the
        log never heard of; freeze and ignore keep what runs; fence kills and exits."""
        policy = self.no_quorum_policy(view.state)
        if policy != self.announced_policy:
            self.announced_policy = policy
            LOG.warning("executor on %s: no quorum for %d ms: applying no-quorum-policy=%s "
                        "on this node alone", self.node, self.settings.quorum_loss_grace_ms,
                        policy)
        if policy == "fence":
            self.fence_self()
            return
        if policy not in POLICY_VERBS:
            return
        for action in view.own():
            if action.verb not in POLICY_VERBS or not action.runnable:
                continue
            if action.key in self.partition_done or not self.ready_alone(view, action):
                continue
            call = view.call_for(action)
            if call is not None:
                self.submit_without_quorum(call)
        placed_here = {view.history_id(placement.resource) for placement in view.plan.placements
                       if self.node in placement.current_nodes}
        with self.lock:
            leftovers = [call for history_id, call in self.active_here.items()
                         if history_id not in placed_here]
        for call in leftovers:   # started here, the result never committed: not the log's
            self.submit_without_quorum(stop_call_for(call, self.node))

    def ready_alone(self, view: PlanView, action: Action) -> bool:
        """Ready without quorum: only this node's own runnable stops and demotes ordered
        before it are waited for (another node cannot be heard from, and nothing else
        runs without quorum)."""
        for first in view.before.get(action.key, ()):
            before = view.by_key.get(first)
            if (before is None or before.node != self.node or before.verb not in POLICY_VERBS
                    or not before.runnable):
                continue
            if first not in self.partition_done and not view.satisfied(first):
                return False
        return True

    def submit_without_quorum(self, call: AgentCall) -> None:
        with self.lock:
            if call.verb == "stop" and call.history_id in self.stopped_here:
                self.partition_done.add(call.action_key)   # stopped here already
                return
            if (call.history_id in self.busy
                    or self.backoff_until.get(call.history_id, 0.0) > clock.monotonic()):
                return
            self.busy[call.history_id] = call.action_key
            self.acted_without_quorum = True
            self.counts["actions"] += 1
        LOG.warning("executor on %s: %s without quorum (not recorded)", self.node,
                    call.action_key)
        self.pool.submit(self.run_without_quorum, call)

    def run_without_quorum(self, call: AgentCall) -> None:
        try:
            result = self.run_agent(call)
            self.note_outcome(call, result)
            with self.lock:
                if result.ok:
                    self.partition_done.add(call.action_key)
                else:   # tried again after a pause; the majority fences a node that fails
                    self.backoff_until[call.history_id] = (clock.monotonic()
                                                           + REJECTION_BACKOFF_S)
            if not result.ok:
                LOG.error("executor on %s: %s without quorum failed: rc=%d %s", self.node,
                          call.action_key, result.rc, exit_reason_of(result))
        finally:
            with self.lock:
                self.busy.pop(call.history_id, None)
            self.wakeup.set()

    def fence_self(self) -> None:
        """no-quorum-policy=suicide with fencing configured: this node fences itself as its
        watchdog would: the resources' process groups are killed, nothing is stopped
        cleanly, and the daemon ends at once."""
        LOG.error("executor on %s: no quorum and no-quorum-policy=suicide: killing the "
                  "resources' processes and ending the daemon", self.node)
        from raftha.daemon.fencer import fence_this_node
        fence_this_node(self.registry.path if self.registry is not None else None,
                        self.exit_process)

    def rejoin_after_partition(self) -> None:
        """The quorum is back after this node acted alone: what it did never reached the
        log, and the log may have moved on (the node lost, its resources recovered). Probe
        everything again, after a read barrier, before planning: the probes record what
        really runs here."""
        LOG.warning("executor on %s: quorum back after acting without it: probing again",
                    self.node)
        with self.lock:
            self.partition_done.clear()
            self.acted_without_quorum = False
        self.announced_policy = ""
        self.cancel_monitors(set())
        self.barrier_taken = False
        self.probed = False

    # -- recurring monitors ----------------------------------------------------------------

    def reconcile_monitors(self, view: PlanView, now: float) -> None:
        wanted: dict[tuple[str, int], AgentCall] = {}
        for action in view.own():
            if action.verb != "monitor" or not view.ready(action):
                continue
            call = view.call_for(action)
            if call is None:
                continue
            wanted[(call.history_id, call.interval_ms)] = call
        self.cancel_monitors(set(wanted))
        for key, call in wanted.items():
            with self.lock:
                timer = self.monitors.get(key)
                if timer is None or monitor_signature(timer.call) != monitor_signature(call):
                    # First run right away: it confirms the start and reaches the log.
                    timer = self.monitors[key] = MonitorTimer(call, now)
                if timer.running or timer.due > now:
                    continue
                if call.history_id in self.busy or self.result_index.get(
                        call.history_id, 0) > view.state.last_index:
                    continue
                timer.running = True
                self.busy[call.history_id] = call.action_key
                self.counts["monitor_runs"] += 1
            self.pool.submit(self.run_monitor, key, timer)

    def cancel_monitors(self, keep: set[tuple[str, int]]) -> None:
        with self.lock:
            for key in [key for key in self.monitors if key not in keep]:
                del self.monitors[key]

    def run_monitor(self, key: tuple[str, int], timer: MonitorTimer) -> None:
        try:
            result = self.run_agent(timer.call)
            observed = (int(result.rc), OP_STATUS.get(result.status, 4))
            with self.lock:
                current = self.monitors.get(key) is timer
            if current and observed != timer.last_reported and self.record(timer.call, result):
                timer.last_reported = observed
        except Exception:
            LOG.exception("monitor %s failed to run", key)
        finally:
            with self.lock:
                self.busy.pop(timer.call.history_id, None)
            timer.due = clock.monotonic() + timer.call.interval_ms / 1000
            timer.running = False
            self.wakeup.set()

    # -- shutdown --------------------------------------------------------------------------

    def stop_local_resources(self, deadline: float) -> None:
        """Demote and stop every resource the committed state shows active here, in reverse
        configuration order, then whatever else this node's agents left active (a start
        whose result was never committed); record the results while the budget lasts and
        a quorum answers. Every stop runs, recorded or not."""
        state = self.machine.state
        self.cancel_monitors(set())
        handled: set[str] = set()  # history ids stopped above, or left alone (unmanaged)
        if self.eligible(state) and stored_configuration(state).all_primitives():
            view = self.current_view(state)
            for placement in reversed(view.plan.placements):
                if not placement.managed:  # unmanaged (or in maintenance): left as it is
                    handled.add(view.history_id(placement.resource))
                if self.node not in placement.current_nodes or not placement.managed:
                    continue
                verbs = ["demote", "stop"] if placement.current_role == "Promoted" else ["stop"]
                with self.lock:
                    if view.history_id(placement.resource) in self.stopped_here:
                        continue  # stopped here already; its result did not reach the log
                for verb in verbs:
                    action = Action(key=f"{verb}:{placement.resource}:{self.node}", verb=verb,
                                    resource=placement.resource, node=self.node,
                                    runnable=True)
                    call = view.call_for(action)
                    if call is not None:
                        self.run_at_shutdown(call, deadline)
                        handled.add(call.history_id)
        with self.lock:
            leftovers = [call for history_id, call in reversed(self.active_here.items())
                         if history_id not in handled]
        for call in leftovers:
            self.run_at_shutdown(stop_call_for(call, self.node), deadline)

    def run_at_shutdown(self, call: AgentCall, deadline: float) -> None:
        """One stop (or demote) of a clean stop, or of the lease's expiry (the loop still
        runs then: the resource is held busy so the two never run agents on it at once).
        Only a clean stop records: an expired lease means no quorum, and the stops must
        all end before the watchdog fires; the re-probe on rejoin records the truth."""
        held = self.hold_resource(call.history_id, call.action_key, deadline)
        try:
            with self.lock:
                if call.verb == "stop" and call.history_id in self.stopped_here:
                    return   # stopped meanwhile (the loop's own no-quorum-policy)
            result = self.run_agent(call)
            self.note_outcome(call, result)
        finally:
            if held:
                with self.lock:
                    self.busy.pop(call.history_id, None)
        if not self.stopping.is_set():
            with self.lock:
                self.acted_without_quorum = True
            return
        remaining_ms = int((deadline - clock.monotonic()) * 1000)
        if remaining_ms > 0 and not self.shutdown_unrecorded:
            self.record(call, result, budget_ms=remaining_ms)

    def hold_resource(self, history_id: str, key: str, deadline: float) -> bool:
        """Marks the resource busy with `key`, waiting until `deadline` for an action already
        on it. False when the wait ran out: the caller goes ahead anyway (a stop must run)."""
        while True:
            with self.lock:
                if history_id not in self.busy:
                    self.busy[history_id] = key
                    return True
            if clock.monotonic() >= deadline:
                LOG.warning("executor on %s: %s runs while %s is busy", self.node, key,
                            history_id)
                return False
            time.sleep(0.02)


def stop_call_for(call: AgentCall, node: str) -> AgentCall:
    """The stop of what `call` started (same agent, parameters and meta attributes)."""
    return replace(call, action_key=f"stop:{call.instance}:{node}", verb="stop",
                   operation="stop", interval_ms=0, role="", target_rc=0, on_fail="")


def build_executor(config: Any, machine: Any, proposer: Any, raft: Any) -> Executor | None:
    """The executor of a node daemon, from its node configuration ([executor] table)."""
    settings = load_executor_settings(config.path)
    if not settings.enabled:
        return None
    runner = AgentRunner(runner_settings(settings, config.data_dir,
                                         os.fspath(config.control_socket)))
    from raftha.daemon.fencer import (
        WATCHDOG_REGISTRY_NAME,
        ProcessGroupRegistry,
        watchdog_directory,
    )
    registry = ProcessGroupRegistry(watchdog_directory(config.data_dir) / WATCHDOG_REGISTRY_NAME)
    return Executor(config.node_name, machine, proposer, raft, runner, settings, registry)
