"""Pure parts of the harness: grudges, nft rendering, schedules, clock hook, history, client."""

from __future__ import annotations

import json
import random
import sys
import threading

import pytest

from jepsen import clockhook, net, schedule
from jepsen.client import CliClient, ClientCall
from jepsen.history import HistoryRecorder, load_history, pair_operations

NODES = ["n1", "n2", "n3", "n4", "n5"]


def test_isolate_grudge_cuts_one_node_both_ways():
    grudge = net.isolate_grudge(NODES[:3], "n2")
    assert grudge == {"n2": {"n1", "n3"}, "n1": {"n2"}, "n3": {"n2"}}
    assert net.minority_nodes(NODES[:3], grudge) == ["n2"]
    with pytest.raises(ValueError, match="cannot isolate"):
        net.isolate_grudge(NODES[:3], "n9")


def test_halves_put_the_smaller_half_in_minority():
    grudge = net.halves_grudge(NODES, random.Random(4))
    minority = net.minority_nodes(NODES, grudge)
    assert len(minority) == 2
    for node in minority:
        assert grudge[node] == frozenset(NODES) - set(minority)


def test_bridge_node_sees_everyone_and_halves_do_not_see_each_other():
    grudge = net.bridge_grudge(NODES)
    assert grudge["n3"] == frozenset()
    assert grudge["n1"] == {"n4", "n5"}
    assert net.minority_nodes(NODES, grudge) == []
    with pytest.raises(ValueError):
        net.bridge_grudge(["n1", "n2"])


def test_majorities_ring_every_node_sees_a_distinct_majority():
    grudge = net.majorities_ring_grudge(NODES, random.Random(1))
    reachable = net.reachable_sets(NODES, grudge)
    assert all(len(peers) == 3 for peers in reachable.values())
    assert len({frozenset(peers) for peers in reachable.values()}) == 5
    assert net.symmetric(grudge) == grudge


def test_symmetric_adds_reverse_drops():
    assert net.symmetric({"n1": {"n2"}}) == {"n1": {"n2"}, "n2": {"n1"}}


def test_render_nft_contains_drops_and_loss():
    script = net.render_nft("rjabcdef", "eth0",
                            net.NodeRules(frozenset({"10.231.0.2"}), loss_percent=30))
    assert 'iifname "eth0" ip saddr { 10.231.0.2 } drop' in script
    assert 'oifname "eth0" ip daddr { 10.231.0.2 } drop' in script
    assert "numgen random mod 100 < 30 drop" in script
    assert script.startswith("table inet rjabcdef\ndelete table inet rjabcdef\n")
    with pytest.raises(ValueError):
        net.render_nft("rjabcdef", "eth0", net.NodeRules(loss_percent=101))


def test_schedule_is_determined_by_seed():
    first = schedule.plan(7, NODES[:3], 30, ["partition", "kill"], schedule.STANDARD_TIMING)
    again = schedule.plan(7, NODES[:3], 30, ["partition", "kill"], schedule.STANDARD_TIMING)
    other = schedule.plan(8, NODES[:3], 30, ["partition", "kill"], schedule.STANDARD_TIMING)
    assert first == again
    assert first != other
    assert first["ops"], "a 30 s run plans at least one fault"
    end_ms = (first["warmup_s"] + 30) * 1000
    for op in first["ops"]:
        assert op["family"] in ("partition", "kill")
        assert op["at_ms"] + op["duration_ms"] <= end_ms
        assert sorted(op["order"]) == NODES[:3]


def test_parse_families_and_schedule_roundtrip(tmp_path):
    assert schedule.parse_families("partition, kill,partition") == ["partition", "kill"]
    assert len(schedule.parse_families("all")) == len(schedule.FAMILIES)
    with pytest.raises(ValueError, match="unknown nemesis 'flood'"):
        schedule.parse_families("partition,flood")
    planned = schedule.plan(1, NODES[:3], 10, ["clock"], schedule.QUICK_TIMING)
    schedule.write_schedule(tmp_path / "schedule.json", planned)
    assert schedule.load_schedule(tmp_path) == planned
    (tmp_path / "bad.json").write_text('{"version": 1}')
    with pytest.raises(ValueError, match="lacks"):
        schedule.load_schedule(tmp_path / "bad.json")


class FakeTime:
    def __init__(self) -> None:
        self.now_ns = 1_000_000_000

    def __call__(self) -> int:
        return self.now_ns


def test_hooked_clock_offset_and_rate(tmp_path):
    path = tmp_path / "clock.json"
    ticks = FakeTime()
    clock = clockhook.HookedClock(path, real_monotonic_ns=ticks, real_wall_ns=lambda: 5_000_000)
    assert clock.wall_ms() == 5
    clockhook.write_clock_file(path, offset_ms=2000, rate=2.0)
    ticks.now_ns += 200_000_000
    before = clock.monotonic_ns()
    assert clock.wall_ms() == 2005
    ticks.now_ns += 1_000_000_000
    assert clock.monotonic_ns() - before == 2_000_000_000
    clockhook.write_clock_file(path)
    ticks.now_ns += 200_000_000
    after_reset = clock.monotonic_ns()
    assert after_reset > before, "monotonic time never goes backwards across rate changes"
    assert clockhook.parse_clock_file("garbage") == (0.0, 1.0)
    assert clockhook.parse_clock_file('{"rate": 1000}') == (0.0, clockhook.RATE_MAX)
    assert clockhook.read_offset_ms({clockhook.ENVIRONMENT_VARIABLE: str(path)}) == 0.0


def test_history_recorder_is_thread_safe_and_skips_torn_lines(tmp_path):
    path = tmp_path / "history.jsonl"
    with HistoryRecorder(path) as recorder:
        def write(worker: int) -> None:
            for index in range(200):
                recorder.record(f"c{worker}", "invoke", "ping", {"i": index})
                recorder.record(f"c{worker}", "ok", "ping", {"i": index})

        threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    with open(path, "a") as handle:
        handle.write('{"time_ms": 1, "proc')
    ops = load_history(path)
    assert len(ops) == 1600
    pairs = pair_operations(ops)
    assert len(pairs) == 800
    assert all(completion is not None and completion["value"] == invoke["value"]
               for invoke, completion in pairs)
    with pytest.raises(ValueError, match="op type"):
        HistoryRecorder(tmp_path / "other.jsonl").record("c1", "done", "ping")


def shell(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_client_maps_exit_status_and_timeout_to_ok_fail_info(tmp_path):
    with HistoryRecorder(tmp_path / "h.jsonl") as recorder:
        client = CliClient(recorder, "c1")
        ok = client.perform(ClientCall("read", {"k": 1}, shell("print('{\"v\": 5}')"),
                                       parse_ok=lambda out, value: {**value, **json.loads(out)}))
        assert ok["type"] == "ok" and ok["value"]["v"] == 5
        fail = client.perform(ClientCall("write", {"k": 1}, shell("import sys; sys.exit(3)"),
                                         fail_codes=frozenset({3})))
        assert fail["type"] == "fail" and fail["process"] == "c1"
        info = client.perform(ClientCall("write", {"k": 2}, shell("import sys; sys.exit(4)"),
                                         fail_codes=frozenset({3})))
        assert info["type"] == "info"
        timeout = client.perform(ClientCall("write", {"k": 3},
                                            shell("import time; time.sleep(5)"),
                                            timeout_s=0.3))
        assert timeout["type"] == "info" and "timed out" in timeout["value"]["error"]
        assert timeout["process"] == "c1.1", "a process whose op was info is replaced"
        assert client.process == "c1.2"
        missing = client.perform(ClientCall("write", {}, ["/nonexistent/command"]))
        assert missing["type"] == "info"
    ops = load_history(tmp_path / "h.jsonl")
    assert [op["type"] for op in ops] == ["invoke", "ok", "invoke", "fail", "invoke", "info",
                                          "invoke", "info", "invoke", "info"]


def test_schedule_overlaps_faults_sometimes_and_events_heal_in_time():
    from jepsen.nemesis import schedule_events

    timing = schedule.Timing(gap_s=(1, 2), fault_s=(2, 4), warmup_s=1, recovery_s=1,
                             overlap_probability=0.5)
    planned = schedule.plan(3, NODES[:3], 120, ["partition", "loss"], timing)
    overlapping = [op for op in planned["ops"] if op["overlaps"]]
    assert overlapping, "with probability 0.5 some fault overlaps the previous one"
    for op in overlapping:
        previous = planned["ops"][op["index"] - 1]
        assert previous["at_ms"] < op["at_ms"] < previous["at_ms"] + previous["duration_ms"]
    events = schedule_events(planned)
    assert [event[0] for event in events] == sorted(event[0] for event in events)
    applied: set[int] = set()
    for _time_ms, _order, kind, op in events:
        if kind == "apply":
            applied.add(op["index"])
        else:
            assert op["index"] in applied, "a fault is healed only after it was applied"
    never = schedule.plan(3, NODES[:3], 120, ["partition"],
                          schedule.Timing((1, 2), (2, 4), 1, 1, overlap_probability=0.0))
    assert not any(op["overlaps"] for op in never["ops"])


def test_check_refuses_a_directory_that_is_not_a_run(tmp_path):
    import pathlib
    import subprocess

    completed = subprocess.run([sys.executable, "-m", "jepsen", "check", str(tmp_path)],
                               capture_output=True, text=True, timeout=60,
                               cwd=pathlib.Path(__file__).resolve().parents[2])
    assert completed.returncode == 2
    assert completed.stderr.strip() == f"jepsen: {tmp_path} is not a run directory " \
                                       "(no history.jsonl)"
