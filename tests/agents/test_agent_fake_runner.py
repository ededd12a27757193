"""FakeAgentRunner: simulated states, scripted and pinned results, recorded calls."""

from __future__ import annotations

from raftha.agents import (
    AgentSpec,
    ExecStatus,
    FakeAgentRunner,
    make_result,
    timed_out_result,
)

SPEC = AgentSpec.parse("ocf:heartbeat:Dummy", "r1")


def run(fake: FakeAgentRunner, action: str, interval_ms: int = 0, spec: AgentSpec = SPEC):
    return fake.run(spec, action, params={"p": "1"}, meta={"m": "2"}, timeout_ms=1000,
                    interval_ms=interval_ms, node_name="n1")


def test_simulated_lifecycle() -> None:
    fake = FakeAgentRunner()
    assert run(fake, "monitor").rc == 7
    assert run(fake, "start").rc == 0
    assert run(fake, "monitor", 10_000).rc == 0
    assert run(fake, "promote").rc == 0
    assert run(fake, "monitor", 10_000).rc == 8
    assert run(fake, "demote").rc == 0
    assert run(fake, "stop").rc == 0
    assert fake.state("r1") == "stopped"
    assert run(fake, "frobnicate").rc == 3


def test_scripted_results_are_consumed_in_order_then_simulation_resumes() -> None:
    fake = FakeAgentRunner()
    fake.script("r1", "start", 1, make_result(6, exit_reason="bad config"))
    first, second, third = run(fake, "start"), run(fake, "start"), run(fake, "start")
    assert (first.rc, second.rc, third.rc) == (1, 6, 0)
    assert second.exit_reason == "bad config"
    assert fake.state("r1") == "started"          # only the ok start changed the state


def test_pinned_results_repeat_and_can_be_removed() -> None:
    fake = FakeAgentRunner()
    fake.set_state("r1", "started")
    fake.pin("r1", "monitor", make_result(1, exit_reason="smoke"))
    assert [run(fake, "monitor", 10_000).rc for _ in range(3)] == [1, 1, 1]
    fake.pin("r1", "monitor", None)
    assert run(fake, "monitor", 10_000).rc == 0


def test_timeouts_and_not_installed() -> None:
    fake = FakeAgentRunner()
    fake.script("r1", "stop", timed_out_result(2000))
    stop = run(fake, "stop")
    assert stop.timed_out and stop.status is ExecStatus.TIMED_OUT
    fake.mark_not_installed("r2")
    other = AgentSpec.parse("ocf:heartbeat:Dummy", "r2")
    probe = fake.probe(other, timeout_ms=1000, node_name="n1")
    assert probe.status is ExecStatus.NOT_INSTALLED and probe.rc == 5
    assert fake.available(other)


def test_calls_are_recorded_with_their_arguments() -> None:
    fake = FakeAgentRunner()
    fake.monitor(SPEC, timeout_ms=500, interval_ms=10_000, node_name="n2", role="Promoted")
    run(fake, "start")
    assert [call.action for call in fake.calls] == ["monitor", "start"]
    first = fake.calls_for("r1", "monitor")[0]
    assert first.meta == {"role": "Promoted"} and first.interval_ms == 10_000
    assert first.node_name == "n2" and first.agent == "ocf:heartbeat:Dummy"
    assert fake.calls_for("r1", "start")[0].params == {"p": "1"}


def test_reload_uses_the_advertised_action() -> None:
    fake = FakeAgentRunner()
    result = fake.reload(SPEC, timeout_ms=1000, node_name="n1")
    assert result.ok and result.action == "reload-agent"


def test_results_carry_action_and_interval() -> None:
    fake = FakeAgentRunner()
    fake.script("r1", "monitor", 0)
    result = run(fake, "monitor", 5000)
    assert (result.action, result.interval_ms) == ("monitor", 5000)
