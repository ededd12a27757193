"""The executor's and the duties' sleeps last a full period (no polling), so every reason
to act must wake them: a worker's result or fence result (wakeup.set()), stop(), a newly
committed entry, a change of the node's Raft status (leadership, quorum, links). Each wait
below is asked for a minute; it must end within seconds. Changes a duty does not act on
must not wake it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from raftha.crmsh import parse_configuration
from raftha.daemon import executor as executor_module
from raftha.daemon.executor import MIN_PLAN_INTERVAL_S, Executor
from raftha.daemon.fencer import FakeFenceRunner
from raftha.daemon.fencing_duties import FencingDuties, LeaseDuty, WakeupEvent
from raftha.daemon.leader import LeaderDuties
from raftha.daemon.machine import ReducerStateMachine
from raftha.model.events import encode_event, make_event

PERIOD_S = 60.0          # far longer than any test waits
WAKE_LIMIT_S = 10.0      # generous: the machine is shared
SETTLE_S = 0.2           # lets the waiter reach its wait first


def commit_cluster_created(machine: ReducerStateMachine) -> None:
    body = {"name": "demo", "nodes": [{"name": "n1", "address": "127.0.0.1:7001"}]}
    entry = encode_event(make_event(b"w" * 16, "ClusterCreated", "n1", "", 1000, body))
    machine.apply_entry(machine.state.last_index + 1, entry)


def make_executor(machine: ReducerStateMachine) -> Executor:
    return Executor("n1", machine, proposer=None, raft=None, runner=None)


def make_duties(machine: ReducerStateMachine) -> FencingDuties:
    config = SimpleNamespace(node_name="n1", data_dir="/nonexistent",
                             control_socket="/nonexistent/control.sock",
                             timing=SimpleNamespace(leader_duty_period_ms=100))
    raft = SimpleNamespace(status=lambda: SimpleNamespace(is_leader=True, has_quorum=True))
    return FencingDuties(config, raft, machine, proposer=None, runner=FakeFenceRunner())


def seconds_to_wake(wait: Callable[[], None], wake: Callable[[], None]) -> float:
    """Runs `wait` in a thread, calls `wake` once it sleeps; the seconds until it returned."""
    finished = threading.Event()

    def waiter() -> None:
        wait()
        finished.set()

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    time.sleep(SETTLE_S)
    assert not finished.is_set(), "returned before anything woke it"
    woken_at = time.monotonic()
    wake()
    finished.wait(WAKE_LIMIT_S)
    elapsed_s = time.monotonic() - woken_at
    assert finished.is_set(), "never woke"
    return elapsed_s


@pytest.mark.parametrize("reason", ["wakeup", "stop", "commit", "raft status"])
def test_the_executor_wait_ends_at_once_for_each_reason_to_act(reason):
    machine = ReducerStateMachine()
    executor = make_executor(machine)
    wakes = {"wakeup": executor.wakeup.set, "stop": executor.stop,
             "commit": lambda: commit_cluster_created(machine),
             "raft status": machine.note_raft_status_change}
    elapsed_s = seconds_to_wake(lambda: executor.wait_for_change(PERIOD_S), wakes[reason])
    print(f"executor woken by {reason} in {elapsed_s * 1000:.1f} ms")
    assert elapsed_s < WAKE_LIMIT_S
    executor.pool.shutdown(wait=False)


@pytest.mark.parametrize("reason", ["wakeup", "stop"])
def test_the_fencing_duty_wait_ends_at_once_for_a_result_or_stop(reason):
    machine = ReducerStateMachine()
    duties = make_duties(machine)
    wakes = {"wakeup": duties.wakeup.set, "stop": duties.stop}
    elapsed_s = seconds_to_wake(lambda: duties.wait_for_work(PERIOD_S), wakes[reason])
    print(f"fencing duty woken by {reason} in {elapsed_s * 1000:.1f} ms")
    assert elapsed_s < WAKE_LIMIT_S


def make_leader_duties(machine: ReducerStateMachine) -> LeaderDuties:
    config = SimpleNamespace(node_name="n1", raft_address="127.0.0.1:7001",
                             timing=SimpleNamespace(leader_duty_period_ms=100))
    return LeaderDuties(config, raft=None, machine=machine, proposer=None)


@pytest.mark.parametrize("reason", ["raft status", "stop", "node record"])
def test_the_leader_duty_wait_ends_at_once_for_each_reason_to_act(reason):
    machine = ReducerStateMachine()
    duties = make_leader_duties(machine)
    wakes = {"raft status": machine.note_raft_status_change, "stop": duties.stop,
             "node record": lambda: commit_cluster_created(machine)}
    elapsed_s = seconds_to_wake(lambda: duties.wait_for_news(PERIOD_S), wakes[reason])
    print(f"leader duty woken by {reason} in {elapsed_s * 1000:.1f} ms")
    assert elapsed_s < WAKE_LIMIT_S


def test_a_commit_that_leaves_the_node_records_alone_does_not_wake_the_leader_duty():
    machine = ReducerStateMachine()
    commit_cluster_created(machine)
    duties = make_leader_duties(machine)
    body = {"name": "batch-limit", "value": "3"}
    entry = encode_event(make_event(b"p" * 16, "ClusterPropertySet", "n1", "", 1000, body))
    started = time.monotonic()
    threading.Timer(SETTLE_S, machine.apply_entry,
                    args=(machine.state.last_index + 1, entry)).start()
    duties.wait_for_news(3 * SETTLE_S)
    assert time.monotonic() - started >= 3 * SETTLE_S - 0.01
    assert machine.state.properties   # the commit did happen meanwhile


def test_the_fencing_duty_wait_ends_at_once_when_the_raft_status_changes():
    machine = ReducerStateMachine()
    duties = make_duties(machine)
    elapsed_s = seconds_to_wake(lambda: duties.wait_for_work(PERIOD_S),
                                machine.note_raft_status_change)
    assert elapsed_s < WAKE_LIMIT_S


def test_the_fencing_duty_has_timed_work_only_while_something_waits_on_time():
    machine = ReducerStateMachine()
    duties = make_duties(machine)
    assert duties.has_timed_work(machine.state)   # no cluster yet: keep looking
    commit_cluster_created(machine)
    duties.step()
    assert not duties.has_timed_work(machine.state)
    duties.results[7] = ("NodeFenced", {"target": "n2"})   # a result still to commit
    assert duties.has_timed_work(machine.state)


def test_a_commit_right_after_a_plan_waits_for_the_pace_but_a_result_does_not(monkeypatch):
    machine = ReducerStateMachine()
    executor = make_executor(machine)
    try:
        executor.last_step_at = time.monotonic()   # a plan just now
        threading.Timer(0.001, commit_cluster_created, args=(machine,)).start()
        started = time.monotonic()
        executor.wait_for_change(PERIOD_S)
        waited_s = time.monotonic() - started
        assert MIN_PLAN_INTERVAL_S * 0.8 <= waited_s < WAKE_LIMIT_S
        monkeypatch.setattr(executor_module, "MIN_PLAN_INTERVAL_S", PERIOD_S)
        executor.last_step_at = time.monotonic()
        body = {"name": "batch-limit", "value": "3"}
        entry = encode_event(make_event(b"q" * 16, "ClusterPropertySet", "n1", "", 1000, body))
        threading.Timer(0.001, machine.apply_entry, args=(2, entry)).start()
        elapsed_s = seconds_to_wake(lambda: executor.wait_for_change(PERIOD_S),
                                    executor.wakeup.set)   # a worker's result: no pace
        assert elapsed_s < WAKE_LIMIT_S
    finally:
        executor.pool.shutdown(wait=False)


def test_the_executor_settles_only_when_nothing_waits_on_time():
    machine = ReducerStateMachine()
    executor = make_executor(machine)
    try:
        assert not executor.settled()   # not probed yet
        executor.probed = executor.barrier_taken = True
        assert executor.settled()
        executor.busy["vip"] = "start"
        assert not executor.settled()
        executor.busy.clear()
        executor.backoff_until["vip"] = time.monotonic() + 60
        assert not executor.settled()
        executor.backoff_until["vip"] = time.monotonic() - 1
        assert executor.settled()
        executor.no_quorum_since = time.monotonic()   # the quorum grace is running
        assert not executor.settled()
    finally:
        executor.pool.shutdown(wait=False)


def test_only_node_fencing_configuration_or_raft_status_changes_reach_the_duties():
    machine = ReducerStateMachine()
    notified: list[int] = []

    def listen() -> None:
        with machine.cluster_changed:
            if machine.cluster_changed.wait(WAKE_LIMIT_S):
                notified.append(machine.state.last_index)

    def notified_by(change: Callable[[], None]) -> bool:
        notified.clear()
        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        time.sleep(SETTLE_S)
        change()
        listener.join(3 * SETTLE_S)
        return bool(notified)

    assert notified_by(lambda: commit_cluster_created(machine))   # new node records
    body = {"name": "batch-limit", "value": "3"}
    entry = encode_event(make_event(b"r" * 16, "ClusterPropertySet", "n1", "", 1000, body))
    assert not notified_by(lambda: machine.apply_entry(2, entry))
    assert notified_by(machine.note_raft_status_change)
    configuration = parse_configuration("primitive vip ocf:heartbeat:Dummy")
    loaded = encode_event(make_event(b"s" * 16, "ConfigurationLoaded", "n1", "", 1000, {
        "configuration": configuration.to_dict(),
        "base_index": machine.state.configuration_index, "mode": "replace"}))
    assert notified_by(lambda: machine.apply_entry(3, loaded))   # a new configuration
    assert machine.outcome_of(b"s" * 16).status == "applied"


def test_the_lease_waits_for_the_watchdog_mode_until_its_properties_change():
    machine = ReducerStateMachine()
    commit_cluster_created(machine)
    config = SimpleNamespace(node_name="n1", data_dir="/nonexistent",
                             control_socket="/nonexistent/control.sock")
    lease = LeaseDuty(config, machine, proposer=None)

    def set_property(event_id: bytes, name: str, value: str) -> None:
        entry = encode_event(make_event(event_id, "ClusterPropertySet", "n1", "", 1000,
                                        {"name": name, "value": value}))
        machine.apply_entry(machine.state.last_index + 1, entry)

    seen = machine.cluster_version
    started = time.monotonic()
    threading.Timer(SETTLE_S, set_property, args=(b"t" * 16, "batch-limit", "3")).start()
    threading.Timer(3 * SETTLE_S, lease.stop).start()
    lease.wait_for_settings(seen)   # a property of no concern to the lease: sleeps on
    assert 3 * SETTLE_S - 0.01 <= time.monotonic() - started < WAKE_LIMIT_S
    lease.stopping.clear()
    seen = machine.cluster_version
    elapsed_s = seconds_to_wake(lambda: lease.wait_for_settings(seen),
                                lambda: set_property(b"u" * 16, "stonith-watchdog-timeout",
                                                     "10s"))
    assert elapsed_s < WAKE_LIMIT_S


def test_a_wakeup_event_notifies_its_condition_and_stays_set():
    condition = threading.Condition()
    event = WakeupEvent(condition)
    with condition:
        threading.Timer(SETTLE_S, event.set).start()
        assert condition.wait(WAKE_LIMIT_S), "set() did not notify the condition"
    assert event.is_set()
    event.clear()
    assert not event.is_set()
    WakeupEvent(None).set()   # no condition: behaves as a plain event
