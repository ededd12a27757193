"""Fencing duties on fakes (a real reducer, a fake Raft, the fake fence runner): the
resources' priorities reach priority-fencing-delay, the watchdog recovery wait starts again
when the target renews its lease, a fence result carries its duration and is committed at
once."""

from __future__ import annotations

import hashlib
import itertools
from types import SimpleNamespace

from raftha.crmsh import parse_configuration
from raftha.daemon.fencer import FakeFenceRunner
from raftha.daemon.fencing_duties import FencingDuties
from raftha.model.events import encode_event, make_event
from raftha.model.fencing_events import fencing_state
from raftha.model.reducer import APPLIED, apply_with_outcome
from raftha.model.state import EMPTY_STATE

COUNTER = itertools.count()
DEVICE = ("primitive fence-n3 stonith:fence_scripted params pcmk_host_list=n3 "
          "pcmk_host_check=static-list\n")


class Log:
    """The committed log of a 3-node cluster, applied with the real reducer."""

    def __init__(self) -> None:
        self.state = EMPTY_STATE
        self.index = 0

    def add(self, kind: str, body: dict, origin: str = "n1") -> SimpleNamespace:
        self.index += 1
        event_id = hashlib.sha256(f"{kind}{body}{next(COUNTER)}".encode()).digest()[:16]
        entry = encode_event(make_event(event_id, kind, origin, "", 1000, body))
        self.state, outcome = apply_with_outcome(self.state, self.index, entry)
        assert outcome.status == APPLIED, outcome.reason
        return SimpleNamespace(index=self.index)

    def configure(self, text: str) -> None:
        self.add("ConfigurationLoaded", {"configuration": parse_configuration(text).to_dict(),
                                         "base_index": self.state.configuration_index,
                                         "mode": "update"})


class LogProposer:
    """Commits at once through the log (n1 proposes)."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.proposed: list[tuple[str, dict]] = []

    def propose(self, kind, body, user="", timeout_ms=0, event_id=None):
        self.proposed.append((kind, dict(body)))
        return self.log.add(kind, body)

    def read_barrier(self, timeout_ms: int) -> int:
        self.proposed.append(("ReadBarrier", {}))
        return self.log.add("ReadBarrier", {}).index


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def cluster(configuration: str, running: dict[str, str] | None = None) -> Log:
    """n1..n3 online, `configuration` loaded, each resource of `running` started on its
    node, then n3 lost."""
    log = Log()
    log.add("ClusterCreated", {"name": "demo", "nodes": [
        {"name": f"n{number}", "address": f"127.0.0.1:700{number}"} for number in (1, 2, 3)]})
    for name in ("n1", "n2", "n3"):
        log.add("NodeReturned", {"name": name})
    log.configure(configuration)
    for resource, node in (running or {}).items():
        log.add("OperationCompleted", {
            "node": node, "resource": resource, "agent": "ocf:heartbeat:Dummy",
            "operation": "start", "interval_ms": 0, "rc": 0, "op_status": 0,
            "target_rc": None, "exit_reason": "", "duration_ms": 5}, origin=node)
    log.add("NodeLost", {"name": "n3"})
    return log


def duties_for(log: Log, clock: FakeClock | None = None,
               runner: FakeFenceRunner | None = None) -> tuple[FencingDuties, LogProposer]:
    proposer = LogProposer(log)
    config = SimpleNamespace(node_name="n1", data_dir="/nonexistent",
                             control_socket="/nonexistent/control.sock",
                             timing=SimpleNamespace(leader_duty_period_ms=100))
    raft = SimpleNamespace(status=lambda: SimpleNamespace(is_leader=True, has_quorum=True))
    duties = FencingDuties(config, raft, LiveMachine(log), proposer,
                           runner=runner or FakeFenceRunner(),
                           monotonic=clock or FakeClock())
    return duties, proposer


class LiveMachine:
    """The duties read `machine.state`: always the log's latest."""

    def __init__(self, log: Log) -> None:
        self.log = log

    @property
    def state(self):
        return self.log.state


def fence_once(log: Log, runner: FakeFenceRunner) -> FencingDuties:
    duties, _proposer = duties_for(log, runner=runner)
    log.add("FenceRequested", {"target": "n3", "action": "off", "reason": "lost"})
    duties.execute_requests(log.state)
    assert duties.requests.wait_idle(10)
    return duties


def test_priority_fencing_delay_holds_back_fencing_the_node_with_the_important_resources():
    configuration = (DEVICE + "primitive db ocf:heartbeat:Dummy meta priority=10\n"
                     "primitive web ocf:heartbeat:Dummy meta priority=1\n"
                     "property stonith-enabled=true priority-fencing-delay=5s\n")
    runner = FakeFenceRunner()
    fence_once(cluster(configuration, {"db": "n3", "web": "n2"}), runner)
    assert runner.slept_ms == [5000]          # n3 ran the highest priority: it waits
    runner = FakeFenceRunner()
    fence_once(cluster(configuration, {"db": "n2", "web": "n3"}), runner)
    assert runner.slept_ms == []              # n3 ran less: fenced at once


def test_priority_fencing_delay_reads_group_meta_and_rsc_defaults():
    configuration = (DEVICE + "primitive a ocf:heartbeat:Dummy\n"
                     "primitive b ocf:heartbeat:Dummy\n"
                     "group g a meta priority=3\n"
                     "primitive c ocf:heartbeat:Dummy\n"
                     "rsc_defaults priority=2\n"
                     "property stonith-enabled=true priority-fencing-delay=2s\n")
    runner = FakeFenceRunner()
    fence_once(cluster(configuration, {"a": "n3", "c": "n2"}), runner)
    assert runner.slept_ms == [2000]          # group priority 3 on n3 beats default 2 on n2


def test_a_fence_result_carries_its_duration_and_wakes_the_duty():
    log = cluster(DEVICE + "property stonith-enabled=true\n")
    runner = FakeFenceRunner()
    duties = fence_once(log, runner)
    assert duties.wakeup.is_set()             # the result is committed now, not a period later
    duties.commit_results(log.state)
    node_fenced = [body for kind, body in duties.proposer.proposed if kind == "NodeFenced"]
    assert len(node_fenced) == 1 and isinstance(node_fenced[0]["duration_ms"], int)
    assert fencing_state(log.state).pending == ()
    assert log.state.node("n3").expected == "down"


WATCHDOG_MODE = ("property stonith-enabled=true stonith-watchdog-timeout=5s lease-time=2s "
                 "watchdog-timeout=2s\n")


def test_the_watchdog_wait_starts_again_when_the_target_renews_its_lease():
    log = cluster(WATCHDOG_MODE)
    clock = FakeClock()
    duties, proposer = duties_for(log, clock)
    log.add("FenceRequested", {"target": "n3", "action": "off", "reason": "lost"})
    duties.execute_requests(log.state)                   # W starts now
    clock.now += 4.0
    log.add("LeaseRenewed", {"name": "n3"}, origin="n3")  # n3 still held a lease
    assert fencing_state(log.state).pending[0].lease_renewed_index == log.index
    duties.execute_requests(log.state)                   # W starts again
    clock.now += 4.5                                     # 8.5 s after the request
    duties.execute_requests(log.state)
    duties.commit_results(log.state)
    assert fencing_state(log.state).pending != ()        # not yet: 4.5 s since the renewal
    clock.now += 0.6
    duties.execute_requests(log.state)
    duties.commit_results(log.state)
    assert fencing_state(log.state).pending == ()
    fenced = [body for kind, body in proposer.proposed if kind == "NodeFenced"]
    assert fenced[0]["device"] == "watchdog" and fenced[0]["duration_ms"] >= 5000


def test_without_a_renewal_the_watchdog_confirms_after_the_wait():
    log = cluster(WATCHDOG_MODE)
    clock = FakeClock()
    duties, _proposer = duties_for(log, clock)
    log.add("FenceRequested", {"target": "n3", "action": "off", "reason": "lost"})
    duties.execute_requests(log.state)
    clock.now += 5.1
    duties.execute_requests(log.state)
    duties.commit_results(log.state)
    assert fencing_state(log.state).pending == ()


def test_a_lease_renewal_without_a_pending_request_leaves_the_state_alone():
    log = cluster(WATCHDOG_MODE)
    before = log.state.fencing_bytes
    log.add("LeaseRenewed", {"name": "n2"}, origin="n2")
    assert log.state.fencing_bytes == before


def test_a_node_with_a_fence_request_against_it_stops_renewing_its_lease():
    from raftha.daemon.fencer import Lease
    from raftha.daemon.fencing_duties import LeaseDuty
    log = cluster(WATCHDOG_MODE)
    clock = FakeClock()
    proposer = LogProposer(log)
    config = SimpleNamespace(node_name="n2", data_dir="/nonexistent")
    duty = LeaseDuty(config, LiveMachine(log), proposer, monotonic=clock)
    duty.lease = Lease(2000, clock)
    proposer.log = SimpleNamespace(add=lambda kind, body: log.add(kind, body, origin="n2"))
    duty.renew_once(0.6)
    assert duty.lease.valid()
    log.add("FenceRequested", {"target": "n2", "action": "off", "reason": "operator"})
    clock.now += 1.0
    duty.renew_once(0.6)
    clock.now += 1.1                          # 2.1 s after the last committed renewal
    assert not duty.lease.valid()
    assert [kind for kind, _body in proposer.proposed] == ["LeaseRenewed"]


class ReplayingMachine:
    """A restarted node replaying its log: it shows an old state until a read barrier has
    been applied, then the log's current one."""

    def __init__(self, old_state, log: Log) -> None:
        self.old_state, self.log, self.caught_up = old_state, log, False

    @property
    def state(self):
        return self.log.state if self.caught_up else self.old_state


def test_a_request_answered_long_ago_is_not_executed_from_a_replayed_state():
    log = cluster(DEVICE + "property stonith-enabled=true\n")
    fence = log.add("FenceRequested", {"target": "n3", "action": "off", "reason": "lost"})
    old_state = log.state                               # n1 is the pending executor here
    log.add("NodeFenced", {"target": "n3", "action": "off", "request_index": fence.index,
                           "device": "fence-n3", "level": 1})
    runner = FakeFenceRunner()
    duties, proposer = duties_for(log, runner=runner)
    machine = ReplayingMachine(old_state, log)
    duties.machine = machine
    proposer.read_barrier = lambda timeout_ms: setattr(machine, "caught_up", True) or 0
    duties.execute_requests(machine.state)
    assert duties.requests.wait_idle(10)
    assert runner.fence_calls() == []                   # answered already: nothing to do


class PreparingRunner(FakeFenceRunner):
    """Records what the duties ask the runner to ready."""

    def __init__(self) -> None:
        super().__init__()
        self.prepared: list[list[str]] = []

    def prepare(self, agents: list[str]) -> None:
        self.prepared.append(list(agents))


def test_the_runner_is_readied_for_the_configured_agents_only_while_fencing_is_on():
    log = cluster(DEVICE + "property stonith-enabled=false\n")
    runner = PreparingRunner()
    duties, _proposer = duties_for(log, runner=runner)

    def step() -> None:
        duties.prepare_runner(log.state)
        if duties.preparing is not None:
            duties.preparing.join(10)

    step()
    step()                                        # nothing changed: not readied again
    log.add("ClusterPropertySet", {"name": "stonith-enabled", "value": "true"})
    step()
    assert runner.prepared == [[], ["fence_scripted"]]


def test_the_read_barrier_is_taken_once_per_request_during_a_watchdog_wait():
    log = cluster(WATCHDOG_MODE)
    clock = FakeClock()
    duties, proposer = duties_for(log, clock)
    log.add("FenceRequested", {"target": "n3", "action": "off", "reason": "lost"})
    for _ in range(5):
        duties.execute_requests(log.state)
        clock.now += 0.5
    assert [kind for kind, _body in proposer.proposed].count("ReadBarrier") == 1
