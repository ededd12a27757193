"""The fence runner against real agents: Debian's fence_dummy unmodified, and a scriptable
fixture agent for list/status host checks, failures, hangs and the stdin protocol."""

from __future__ import annotations

import json

import pytest

from raftha.daemon.fencer import (
    FakeFenceRunner,
    FenceInputError,
    FenceMetadataError,
    agent_input,
    execute_fencing,
    parse_fence_metadata,
)
from raftha.model.config import FencingLevel
from raftha.model.fencing import FenceDevice

pytestmark = pytest.mark.usefixtures("fence_dummy_installed")


def dummy(device_id, status_file, *extra, host_list=("node1", "node2")):
    return FenceDevice(device_id, "fence_dummy",
                       params=(("status_file", str(status_file)), *extra),
                       host_list=tuple(host_list))


def failing_dummy(device_id, host_list=("node1", "node2")):
    # type=fail never sees the state change; power_timeout=1 makes it give up after ~1 s.
    return FenceDevice(device_id, "fence_dummy",
                       params=(("type", "fail"), ("power_timeout", "1"),
                               ("stonith_status_sleep", "0")),
                       host_list=tuple(host_list), action_retries=(("off", 0), ("reboot", 0)))


def scripted(device_id, tmp_path, **params):
    (tmp_path / "state").mkdir(exist_ok=True)
    values = {"state_dir": str(tmp_path / "state"), "log_file": str(tmp_path / "log.jsonl")}
    values.update(params)
    return FenceDevice(device_id, "fence_scripted", params=tuple(values.items()),
                       host_check=params.pop("_check", None))


def logged(tmp_path):
    path = tmp_path / "log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# ---------------------------------------------------------------- fence_dummy


def test_fence_dummy_metadata_is_parsed(runner):
    metadata = runner.metadata("fence_dummy")
    assert metadata.name == "fence_dummy"
    assert {"on", "off", "reboot", "status", "monitor"} <= metadata.action_names
    assert "list" not in metadata.action_names
    assert "status_file" in metadata.parameter_names
    assert "port" not in metadata.parameter_names and "plug" not in metadata.parameter_names
    assert not metadata.needs_unfencing


def test_fence_dummy_status_off_on_reboot(runner, tmp_path):
    status_file = tmp_path / "node1.status"
    device = dummy("fd", status_file)
    assert runner.status(device, "node1", 20_000).rc == 2          # no file yet: off
    assert runner.fence_device(device, "node1", "on", timeout_ms=20_000).ok
    assert runner.status(device, "node1", 20_000).rc == 0
    result = runner.fence_device(device, "node1", "off", level=1, timeout_ms=20_000)
    assert (result.result, result.rc, result.device, result.level) == ("ok", 0, "fd", 1)
    assert runner.status(device, "node1", 20_000).rc == 2
    assert status_file.read_text() == "off"
    assert runner.fence_device(device, "node1", "reboot", timeout_ms=20_000).ok
    assert runner.status(device, "node1", 20_000).rc == 0
    assert runner.monitor(device, 20_000).rc == 0


def test_execute_fencing_with_fence_dummy(runner, tmp_path):
    status_file = tmp_path / "s"
    status_file.write_text("on")
    outcome = execute_fencing("node1", "off", [dummy("fd", status_file)], [], runner,
                              timeout_ms=20_000)
    assert outcome.ok and outcome.device == "fd" and outcome.level == 1
    assert [(a.device, a.action, a.result) for a in outcome.attempts] == [("fd", "off", "ok")]
    assert status_file.read_text() == "off"
    assert outcome.host_checks[0].method == "static-list" and outcome.host_checks[0].can_fence
    assert json.loads(json.dumps(outcome.to_dict()))["result"] == "ok"


def test_failing_level_hands_over_to_the_next_level(runner, tmp_path):
    status_file = tmp_path / "s"
    status_file.write_text("on")
    devices = [failing_dummy("broken"), dummy("backup", status_file)]
    levels = [FencingLevel(1, ("broken",), target="node1"),
              FencingLevel(2, ("backup",), target="node1")]
    outcome = execute_fencing("node1", "off", devices, levels, runner, timeout_ms=20_000)
    assert outcome.ok and outcome.level == 2 and outcome.device == "backup"
    assert [(a.device, a.level, a.result) for a in outcome.attempts] == [
        ("broken", 1, "failed"), ("backup", 2, "ok")]
    assert outcome.attempts[0].rc == 1
    assert "Timed out waiting to power OFF" in outcome.attempts[0].reason
    assert any("level 1 failed; trying the next level" in line for line in outcome.explanation)
    assert status_file.read_text() == "off"


def test_all_levels_failing_records_every_attempt(runner, tmp_path):
    devices = [failing_dummy("broken"),
               scripted("refuses", tmp_path, fail_actions="off", _check="none")]
    levels = [FencingLevel(1, ("broken",), target="node1"),
              FencingLevel(2, ("refuses",), target="node1")]
    outcome = execute_fencing("node1", "off", devices, levels, runner, timeout_ms=20_000)
    assert not outcome.ok and outcome.result == "failed" and outcome.device is None
    assert [(a.device, a.level, a.result) for a in outcome.attempts] == [
        ("broken", 1, "failed"), ("refuses", 2, "failed")]
    # retries: pcmk_off_retries defaults to 2, so the scripted device was run three times
    assert outcome.attempts[1].tries == 3
    assert [entry["action"] for entry in logged(tmp_path)] == ["off", "off", "off"]
    assert "scripted failure of off" in outcome.attempts[1].reason
    assert outcome.explanation[-1] == "fencing node1 (off) failed"


# ---------------------------------------------------------------- protocol and limits


def test_stdin_protocol_nodename_port_alias_and_no_pcmk_keys(runner, tmp_path):
    device = scripted("s1", tmp_path, ip="192.0.2.1")
    device = FenceDevice(device.id, device.agent, params=device.params,
                         host_map=(("node1", "vm-one"),))
    assert runner.fence_device(device, "node1", "off", timeout_ms=10_000).ok
    entry = logged(tmp_path)[-1]
    assert entry["action"] == "off" and entry["nodename"] == "node1"
    assert entry["port"] == "vm-one" and entry["ip"] == "192.0.2.1"
    assert not [key for key in entry if key.startswith("pcmk_")]
    assert (tmp_path / "state" / "vm-one").read_text() == "off"


def test_agent_input_order_and_refusals():
    device = FenceDevice("f", "fence_x", params=(("port", "dynamic"), ("login", "admin")))
    text = agent_input(device, "reboot", "node1", "port")
    assert text == "login=admin\naction=reboot\nnodename=node1\nport=node1\n"
    fixed = FenceDevice("f", "fence_x", params=(("port", "7"),))
    assert agent_input(fixed, "off", "node1", "port").endswith("port=7\n")
    with pytest.raises(FenceInputError, match="newline"):
        agent_input(FenceDevice("f", "x", params=(("login", "a\naction=on"),)), "off", "n", None)


def test_hanging_agent_times_out_and_is_killed(runner, tmp_path):
    device = scripted("slow", tmp_path, hang_actions="off")
    device = FenceDevice(device.id, device.agent, params=device.params,
                         action_timeouts_ms=(("off", 1000),))
    result = runner.fence_device(device, "node1", "off", timeout_ms=60_000)
    assert result.result == "timeout" and result.rc is None
    assert result.duration_ms < 30_000
    assert "timed out" in result.reason


def test_reboot_remapped_by_pcmk_reboot_action(runner, tmp_path):
    device = scripted("s", tmp_path)
    device = FenceDevice(device.id, device.agent, params=device.params,
                         action_overrides=(("reboot", "off"),))
    assert runner.fence_device(device, "node1", "reboot", timeout_ms=10_000).ok
    assert logged(tmp_path)[-1]["action"] == "off"


def test_reboot_on_a_two_device_level_is_off_then_on(runner, tmp_path):
    first = scripted("a", tmp_path)
    second = scripted("b", tmp_path)
    levels = [FencingLevel(1, ("a", "b"), target="node1")]
    devices = [FenceDevice("a", first.agent, params=first.params, host_check="none"),
               FenceDevice("b", second.agent, params=second.params, host_check="none")]
    outcome = execute_fencing("node1", "reboot", devices, levels, runner, timeout_ms=10_000)
    assert outcome.ok
    assert [(a.device, a.action, a.decides) for a in outcome.attempts] == [
        ("a", "off", True), ("b", "off", True), ("a", "on", False), ("b", "on", False)]


def test_missing_agent_cannot_fence(runner):
    device = FenceDevice("ghost", "fence_does_not_exist", host_check="none")
    decision = runner.check_host(device, "node1")
    assert not decision.can_fence and "not found" in decision.reason
    outcome = execute_fencing("node1", "off", [device], [], runner)
    assert not outcome.ok and outcome.attempts == ()
    assert "no fence device can fence node1" in outcome.explanation
    with pytest.raises(FenceMetadataError):
        runner.metadata("../../bin/sh")


# ---------------------------------------------------------------- host checks


def test_host_check_dynamic_list(runner, tmp_path):
    device = scripted("lister", tmp_path, targets="node1 node2")
    assert runner.check_host(device, "node1").method == "dynamic-list"
    assert runner.check_host(device, "node1").can_fence
    assert runner.check_host(device, "node2-alias").can_fence
    refused = runner.check_host(device, "node3")
    assert not refused.can_fence and "not in the list output" in refused.reason
    # the list output is cached: one list run served the four checks
    assert [entry["action"] for entry in logged(tmp_path)].count("list") == 1


def test_host_check_status_and_none_and_static(runner, tmp_path):
    status_device = scripted("st", tmp_path, _check="status")
    decision = runner.check_host(status_device, "node1")
    assert decision.method == "status" and decision.can_fence
    broken = scripted("st2", tmp_path, fail_actions="status", _check="status")
    assert not runner.check_host(broken, "node1").can_fence
    anything = scripted("any", tmp_path, _check="none")
    assert runner.check_host(anything, "whatever").can_fence
    static = FenceDevice("fd", "fence_dummy", host_list=("node1",))
    assert runner.check_host(static, "node1").can_fence
    assert not runner.check_host(static, "node2").can_fence


def test_status_check_decides_which_device_is_used(runner, tmp_path):
    able = scripted("able", tmp_path, _check="status")
    unable = scripted("unable", tmp_path, fail_actions="status", _check="status")
    outcome = execute_fencing("node1", "off", [unable, able], [], runner, timeout_ms=10_000)
    assert outcome.ok and outcome.device == "able"
    assert any("unable not used" in line for line in outcome.explanation)


# ---------------------------------------------------------------- delays


def test_delays_are_injected(runner, sleeper, tmp_path):
    device = scripted("s", tmp_path, _check="none")
    device = FenceDevice(device.id, device.agent, params=device.params, host_check="none",
                         delay_base_ms=2000, delay_max_ms=10_000)
    outcome = execute_fencing("node1", "off", [device], [], runner, timeout_ms=10_000,
                              priority_delay_ms=3000)
    assert outcome.ok
    # base 2 s + half (the injected fraction) of the 8 s left under max, + priority 3 s
    assert outcome.delay_ms == 9000
    assert sleeper.milliseconds == [9000]
    assert any("priority-fencing-delay 3000 ms" in line for line in outcome.explanation)


# ---------------------------------------------------------------- the fake twin


def test_fake_runner_topology_and_reboot_rules():
    fake = FakeFenceRunner(can_fence={"ipmi": {"node1"}, "pdu1": {"node1"}, "pdu2": {"node1"}},
                           results={("ipmi", "node1", "reboot"): ["timeout"]},
                           unsupported={("pdu2", "reboot")}, fraction=0.25)
    devices = [FenceDevice("ipmi", "fence_ipmilan", delay_max_ms=4000),
               FenceDevice("pdu1", "fence_apc"), FenceDevice("pdu2", "fence_apc")]
    levels = [FencingLevel(1, ("ipmi",), target="node1"),
              FencingLevel(2, ("pdu1", "pdu2"), target="node1")]
    outcome = execute_fencing("node1", "reboot", devices, levels, fake)
    assert outcome.ok and outcome.level == 2 and outcome.device == "pdu1,pdu2"
    assert fake.fence_calls() == [("ipmi", "reboot", 1), ("pdu1", "off", 2),
                                  ("pdu2", "off", 2), ("pdu1", "on", 2), ("pdu2", "on", 2)]
    assert fake.slept_ms == [1000]
    assert "node1" not in fake.powered_off
    refused = execute_fencing("node2", "off", devices, levels, FakeFenceRunner(
        can_fence={"ipmi": set(), "pdu1": set(), "pdu2": set()}))
    assert not refused.ok and refused.attempts == ()


def test_fake_runner_on_failure_does_not_fail_a_reboot():
    fake = FakeFenceRunner(results={("a", "n1", "on"): ["failed"]})
    devices = [FenceDevice("a", "x"), FenceDevice("b", "x")]
    outcome = execute_fencing("n1", "reboot", devices, [FencingLevel(1, ("a", "b"),
                                                                     target="n1")], fake)
    assert outcome.ok
    assert any("on failure of a ignored" in line for line in outcome.explanation)
    assert [(a.device, a.action, a.result, a.decides) for a in outcome.attempts] == [
        ("a", "off", "ok", True), ("b", "off", "ok", True), ("a", "on", "failed", False),
        ("b", "on", "ok", False)]


def test_bad_action_refused():
    with pytest.raises(ValueError, match="reboot, off or on"):
        execute_fencing("n1", "status", [], [], FakeFenceRunner())


def test_parse_metadata_errors():
    with pytest.raises(FenceMetadataError, match="not XML"):
        parse_fence_metadata("<resource-agent")
    with pytest.raises(FenceMetadataError, match="no actions"):
        parse_fence_metadata('<resource-agent name="x"><parameters/></resource-agent>')


def test_fence_node_reads_the_configuration(runner, tmp_path):
    from raftha.daemon.fencer import fence_node
    from raftha.model.config import Configuration, Primitive

    status_file = tmp_path / "s"
    status_file.write_text("on")
    config = Configuration(
        properties=(("stonith-action", "off"), ("stonith-timeout", "20s"),
                    ("priority-fencing-delay", "2s")),
        resources=(Primitive(id="fd", agent_class="stonith", agent_type="fence_dummy",
                             params=(("status_file", str(status_file)),
                                     ("pcmk_host_list", "node1 node2"))),),
        fencing_topology=(FencingLevel(1, ("fd",), target="node1"),))
    outcome = fence_node(config, "node1", runner, node_priorities={"node1": 5, "node2": 0})
    assert outcome.ok and outcome.action == "off" and outcome.level == 1
    assert outcome.delay_ms == 2000 and status_file.read_text() == "off"
    bad = Configuration(properties=(("stonith-timeout", "never"),))
    refused = fence_node(bad, "node1", FakeFenceRunner())
    assert not refused.ok and "stonith-timeout must be a time" in refused.explanation[0]


def test_default_dynamic_list_falls_back_to_status_when_list_fails(runner, tmp_path):
    device = scripted("flaky", tmp_path, fail_actions="list")
    decision = runner.check_host(device, "node1")
    assert decision.method == "status" and decision.can_fence
    explicit = scripted("strict", tmp_path, fail_actions="list", _check="dynamic-list")
    refused = runner.check_host(explicit, "node1")
    assert refused.method == "dynamic-list" and not refused.can_fence


def test_outcome_event_body_is_small_plain_data():
    import msgpack

    fake = FakeFenceRunner(results={(f"d{i}", "n1", "off"): ["failed"] for i in range(30)})
    devices = [FenceDevice(f"d{i}", "x") for i in range(30)]
    outcome = execute_fencing("n1", "off", devices, [], fake)
    body = outcome.event_body()
    assert body["result"] == "failed" and body["target"] == "n1"
    assert len(body["attempts"]) == 16 and len(outcome.attempts) == 30
    assert body["reason"] == "fencing n1 (off) failed"
    assert msgpack.unpackb(msgpack.packb(body)) == body


class BlockingFake(FakeFenceRunner):
    """A fake whose fence actions wait until released, to observe requests in flight."""

    def __init__(self) -> None:
        super().__init__()
        import threading

        self.release = threading.Event()
        self.entered = threading.Event()

    def fence_device(self, device, target, action, **keywords):
        self.entered.set()
        assert self.release.wait(30)
        return super().fence_device(device, target, action, **keywords)


def test_fence_requests_run_once_per_target_and_report():
    from raftha.daemon.fencer import FenceRequests
    from raftha.model.config import Configuration, Primitive

    config = Configuration(resources=(Primitive(id="f1", agent_class="stonith",
                                                agent_type="fence_x"),))
    done = []
    fake = BlockingFake()
    requests = FenceRequests(fake, done.append, max_parallel=1)
    assert requests.submit(config, "node1", "off")
    assert fake.entered.wait(30)
    assert not requests.submit(config, "node1", "reboot")     # joins the running request
    assert requests.in_flight() == {"node1": "off"}
    assert not requests.wait_idle(0.1)
    fake.release.set()
    assert requests.wait_idle(30)
    assert [(outcome.target, outcome.action, outcome.result) for outcome in done] == [
        ("node1", "off", "ok")]
    assert requests.submit(config, "node1")                   # stonith-action: reboot
    assert requests.wait_idle(30)
    assert done[-1].action == "reboot" and done[-1].ok
    assert fake.fence_calls() == [("f1", "off", 1), ("f1", "reboot", 1)]


def test_agent_directories_from_the_environment(monkeypatch, tmp_path):
    from raftha.daemon.fencer import FenceRunnerSettings, find_agent

    agent = tmp_path / "fence_elsewhere"
    agent.write_text("#!/bin/sh\nexit 0\n")
    agent.chmod(0o755)
    monkeypatch.setenv("RAFTHA_FENCE_AGENT_DIRS", f"{tmp_path}:/nonexistent")
    directories = FenceRunnerSettings().agent_directories
    assert directories[0] == tmp_path
    assert find_agent("fence_elsewhere", directories) == agent
    assert find_agent("not_a_fence_agent", directories) is None


def test_input_directories_left_by_a_killed_runner_are_swept(tmp_path):
    """A runner killed mid-call leaves its agent's input (device passwords) behind: the next
    runner removes it, keeping those of live processes and young unnamed ones."""
    import os
    import subprocess
    import time

    from raftha.daemon.fencer import INPUT_DIRECTORY_PREFIX, sweep_stale_input_directories

    ended = subprocess.Popen(["true"])
    ended.wait()
    dead = tmp_path / f"{INPUT_DIRECTORY_PREFIX}{ended.pid}-abc"
    alive = tmp_path / f"{INPUT_DIRECTORY_PREFIX}{os.getpid()}-def"
    old_unnamed = tmp_path / f"{INPUT_DIRECTORY_PREFIX}x1y2z3"
    young_unnamed = tmp_path / f"{INPUT_DIRECTORY_PREFIX}q9w8e7"
    other = tmp_path / "something-else"
    for directory in (dead, alive, old_unnamed, young_unnamed, other):
        directory.mkdir()
        (directory / "input").write_text("passwd=secret\n")
    two_hours_ago = time.time() - 7200
    os.utime(old_unnamed, (two_hours_ago, two_hours_ago))
    assert sweep_stale_input_directories(str(tmp_path)) == 2
    assert not dead.exists() and not old_unnamed.exists()
    assert alive.exists() and young_unnamed.exists() and other.exists()
