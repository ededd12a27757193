"""Committed deadlines: the pure `next_deadline_ms` and the leader's clock tick when its wall
clock passes it (so failure-timeouts expire even where no executor runs on the leader)."""

from __future__ import annotations

import pytest
from test_daemon_unit import fake_cluster  # noqa: F401 - the fixture

from raftha.daemon import clock
from raftha.daemon.clock import FakeClock
from raftha.model.deadlines import next_deadline_ms
from raftha.model.state import EMPTY_STATE

START_MS = 1_800_000_000_000


def failed_start(resource: str) -> dict:
    return {"node": "n2", "resource": resource, "agent": "ocf:heartbeat:Dummy",
            "operation": "monitor", "interval_ms": 10_000, "rc": 7, "op_status": 0,
            "target_rc": None, "exit_reason": "not running", "duration_ms": 4}


@pytest.fixture
def fake_time():
    fake = FakeClock(wall_ms=START_MS)
    clock.use_clock(fake)
    yield fake
    clock.use_clock(None)


def leader_of(nodes):
    return next(node for node in nodes.values() if node.raft.status().is_leader)


def test_no_deadline_before_the_cluster_exists_or_without_timeouts(fake_cluster):  # noqa: F811
    _, nodes = fake_cluster
    assert next_deadline_ms(EMPTY_STATE) is None
    assert next_deadline_ms(leader_of(nodes).machine.state) is None


def test_a_failure_timeout_is_the_next_deadline_until_committed_time_passes_it(
        fake_cluster, fake_time):  # noqa: F811
    _, nodes = fake_cluster
    leader = leader_of(nodes)
    leader.call("configure_load",
                text="primitive r1 ocf:heartbeat:Dummy meta failure-timeout=60s")
    leader.proposer.propose("OperationCompleted", failed_start("r1"))
    due_ms = next_deadline_ms(leader.machine.state)
    assert due_ms == (START_MS // 1000 + 61) * 1000
    leader.duties.step(clock.monotonic())
    assert leader.machine.state.now_ms < due_ms  # not due yet: no tick
    fake_time.advance(61.5)
    leader.duties.step(clock.monotonic())
    state = leader.machine.state
    assert state.now_ms >= due_ms  # the leader committed a tick
    assert next_deadline_ms(state) is None
    count = state.applied_count
    leader.duties.step(clock.monotonic())
    assert leader.machine.state.applied_count == count  # no tick storm


def test_a_lifetime_end_is_a_deadline(fake_cluster, fake_time):  # noqa: F811
    _, nodes = fake_cluster
    leader = leader_of(nodes)
    leader.call("configure_load", text="primitive r1 ocf:heartbeat:Dummy")
    leader.call("resource_move", resource="r1", node="n2", lifetime="90s")
    assert next_deadline_ms(leader.machine.state) == (START_MS // 1000 + 90) * 1000
    fake_time.advance(91)
    leader.duties.step(clock.monotonic())
    state = leader.machine.state
    assert next_deadline_ms(state) is None
    assert "cli-prefer-r1" not in leader.call("configure_show")["text"]
