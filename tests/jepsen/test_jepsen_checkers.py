"""Checker self-tests: each checker passes a good run and fails a bad one."""

from __future__ import annotations

from jepsen import checkers
from jepsen.checkers import LedgerTick, RunData


def ticks(node: str, resource: str, start_ms: int, end_ms: int, step_ms: int = 100):
    return [LedgerTick(stamp, node, resource) for stamp in range(start_ms, end_ms + 1, step_ms)]


def nemesis(time_ms: int, op_type: str, value: dict) -> dict:
    return {"time_ms": time_ms, "process": "nemesis", "type": op_type, "f": value["family"],
            "value": value}


def fault(fault_id: int, start_ms: int, affected: list[str], family: str = "partition"):
    value = {"id": fault_id, "family": family, "phase": "fault", "affected": affected}
    return [nemesis(start_ms, "invoke", value), nemesis(start_ms + 5, "info", value)]


def heal(heal_id: int, time_ms: int, heals: list[int]):
    value = {"id": heal_id, "family": "heal", "phase": "heal", "heals": heals}
    return [nemesis(time_ms, "invoke", value), nemesis(time_ms + 5, "info", value)]


def client(time_ms: int, process: str, op_type: str, f: str, value) -> dict:
    return {"time_ms": time_ms, "process": process, "type": op_type, "f": f, "value": value}


def test_merge_valid_false_beats_unknown_beats_true():
    assert checkers.merge_valid([True, True]) is True
    assert checkers.merge_valid([True, "unknown"]) == "unknown"
    assert checkers.merge_valid(["unknown", False, True]) is False
    assert checkers.merge_valid([]) is True


def test_parse_ledger_skips_torn_lines():
    parsed = checkers.parse_ledger_lines(["1000 n1 r1\n", "10", "x n1 r1", "1100 n2 r1"])
    assert parsed == [LedgerTick(1000, "n1", "r1"), LedgerTick(1100, "n2", "r1")]


def test_activity_intervals_split_at_gaps():
    series = ticks("n1", "r1", 0, 1000) + ticks("n1", "r1", 3000, 3500)
    intervals = checkers.activity_intervals(series, gap_threshold_ms=350)
    assert [(item.start_ms, item.end_ms, item.ticks) for item in intervals] == [
        (0, 1000, 11), (3000, 3500, 6)]


def test_no_overlap_passes_clean_handover():
    run = RunData(ledger=tuple(ticks("n1", "r1", 0, 5000) + ticks("n2", "r1", 6000, 9000)))
    result = checkers.check_no_overlap(run)
    assert result["valid"] is True
    assert result["interval_count"] == 2


def test_no_overlap_fails_when_two_nodes_tick_together():
    run = RunData(ledger=tuple(ticks("n1", "r1", 0, 5000) + ticks("n2", "r1", 4000, 9000, 97)))
    result = checkers.check_no_overlap(run)
    assert result["valid"] is False
    assert result["overlaps"][0]["kind"] == "proven"
    assert 900 <= result["overlaps"][0]["overlap_ms"] <= 1000


def test_no_overlap_flags_ticks_within_window():
    run = RunData(ledger=tuple(ticks("n1", "r1", 0, 1000) + ticks("n2", "r1", 1050, 2000)))
    result = checkers.check_no_overlap(run)
    assert result["valid"] is False
    assert result["overlaps"][0]["kind"] == "window"
    relaxed = RunData(ledger=run.ledger, params={"overlap_window_ms": 0})
    assert checkers.check_no_overlap(relaxed)["valid"] is True


def test_no_overlap_ignores_different_resources_and_is_unknown_without_data():
    run = RunData(ledger=tuple(ticks("n1", "r1", 0, 5000) + ticks("n2", "r2", 0, 5000)))
    assert checkers.check_no_overlap(run)["valid"] is True
    assert checkers.check_no_overlap(RunData())["valid"] == "unknown"


def status(time_ms: int, resources: dict) -> dict:
    return client(time_ms, "c1", "ok", "status", {"resources": resources})


def test_promoted_max_passes_single_promoted():
    history = (status(10, {"db:0": {"node": "n1", "role": "Promoted"},
                           "db:1": {"node": "n2", "role": "Unpromoted"}}),)
    assert checkers.check_promoted_max(RunData(history=history))["valid"] is True


def test_promoted_max_fails_two_promoted():
    history = (status(10, {"db:0": {"node": "n1", "role": "Promoted"},
                           "db:1": {"node": "n2", "role": "Promoted"}}),)
    result = checkers.check_promoted_max(RunData(history=history))
    assert result["valid"] is False
    assert result["violations"][0]["promoted_on"] == ["n1", "n2"]
    allowed = RunData(history=history, params={"promoted_max": {"db": 2}})
    assert checkers.check_promoted_max(allowed)["valid"] is True


def test_promoted_max_reads_instance_lists_and_needs_samples():
    history = (status(10, {"db": {"instances": [{"node": "n1", "role": "Promoted"},
                                                {"node": "n3", "role": "Promoted"}]}}),)
    assert checkers.check_promoted_max(RunData(history=history))["valid"] is False
    assert checkers.check_promoted_max(RunData())["valid"] == "unknown"


def writes_history():
    return (
        client(1, "c1", "invoke", "write", {"token": "w-1"}),
        client(2, "c1", "ok", "write", {"token": "w-1"}),
        client(3, "c2", "invoke", "write", {"token": "w-2"}),
        client(4, "c2", "fail", "write", {"token": "w-2"}),
        client(5, "c3", "invoke", "write", {"token": "w-3"}),
        client(6, "c3", "info", "write", {"token": "w-3"}),
    )


def test_acknowledged_writes_pass_when_everywhere():
    logs = {"n1": [{"kind": "config", "body": "w-1 w-3"}], "n2": [{"body": "w-1"}]}
    result = checkers.check_acknowledged_writes(RunData(history=writes_history(),
                                                        final_logs=logs))
    assert result["valid"] is True
    assert (result["acknowledged"], result["failed"], result["indeterminate"]) == (1, 1, 1)


def test_acknowledged_writes_fail_on_lost_and_failed_but_applied():
    lost = {"n1": [{"body": "w-1"}], "n2": [{"body": "other"}]}
    result = checkers.check_acknowledged_writes(RunData(history=writes_history(),
                                                        final_logs=lost))
    assert result["valid"] is False
    assert result["lost"] == {"n2": ["w-1"]}
    applied = {"n1": [{"body": "w-1 w-2"}]}
    result = checkers.check_acknowledged_writes(RunData(history=writes_history(),
                                                        final_logs=applied))
    assert result["valid"] is False
    assert result["failed_but_applied"] == {"n1": ["w-2"]}


def test_acknowledged_writes_unknown_without_logs():
    result = checkers.check_acknowledged_writes(RunData(history=writes_history()))
    assert result["valid"] == "unknown"


def test_convergence():
    same = RunData(state_hashes={"n1": "ab", "n2": "ab"}, nodes=("n1", "n2"))
    assert checkers.check_convergence(same)["valid"] is True
    differ = RunData(state_hashes={"n1": "ab", "n2": "cd"})
    assert checkers.check_convergence(differ)["valid"] is False
    missing = RunData(state_hashes={"n1": "ab"}, nodes=("n1", "n2"))
    assert checkers.check_convergence(missing)["valid"] == "unknown"


def test_recovery_passes_within_bound():
    history = tuple(fault(1, 1000, ["n1"]) + heal(2, 5000, [1]))
    ledger = ticks("n1", "r1", 0, 1000) + ticks("n2", "r1", 9000, 20000)
    run = RunData(history=history, ledger=tuple(ledger),
                  params={"recovery_bound_ms": 10_000, "end_ms": 20000})
    result = checkers.check_recovery(run)
    assert result["valid"] is True
    assert result["resources"]["r1"]["recovery_ms"] == 9000 - 5005


def test_recovery_fails_late_or_missing():
    history = tuple(fault(1, 1000, ["n1"]) + heal(2, 5000, [1]))
    late = RunData(history=history,
                   ledger=tuple(ticks("n1", "r1", 0, 1000) + ticks("n2", "r1", 18000, 20000)),
                   params={"recovery_bound_ms": 10_000, "end_ms": 20000})
    assert checkers.check_recovery(late)["valid"] is False
    stopped = RunData(history=history, ledger=tuple(ticks("n1", "r1", 0, 1000)),
                      params={"end_ms": 20000, "resources": ["r1"]})
    result = checkers.check_recovery(stopped)
    assert result["valid"] is False
    assert result["resources"]["r1"]["reason"] == "not running at end of run"


def test_recovery_fails_when_two_nodes_run_at_end():
    history = tuple(heal(2, 100, []))
    ledger = ticks("n1", "r1", 0, 5000) + ticks("n2", "r1", 0, 5000)
    run = RunData(history=history, ledger=tuple(ledger), params={"end_ms": 5000})
    assert checkers.check_recovery(run)["valid"] is False


def test_fenced_recovery_passes_after_wait_or_fence():
    history = tuple(fault(1, 1000, ["n1"]) + heal(2, 30000, [1]))
    ledger = tuple(ticks("n1", "r1", 0, 1000) + ticks("n2", "r1", 10000, 12000))
    waited = RunData(history=history, ledger=ledger, params={"watchdog_wait_ms": 8000})
    result = checkers.check_fenced_recovery(waited)
    assert result["valid"] is True
    assert result["handovers_judged"] == 1
    early = tuple(ticks("n1", "r1", 0, 1000) + ticks("n2", "r1", 3000, 5000))
    fence = ({"target": "n1", "action": "off", "result": "ok", "index": 9, "ts_ms": 2500},)
    fenced = RunData(history=history, ledger=early, fence_history=fence,
                     params={"watchdog_wait_ms": 8000})
    assert checkers.check_fenced_recovery(fenced)["valid"] is True


def test_fenced_recovery_fails_early_recovery_without_fence():
    history = tuple(fault(1, 1000, ["n1"]) + heal(2, 30000, [1]))
    early = tuple(ticks("n1", "r1", 0, 1000) + ticks("n2", "r1", 3000, 5000))
    failed_fence = ({"target": "n1", "action": "off", "result": "failed", "ts_ms": 2500},)
    run = RunData(history=history, ledger=early, fence_history=failed_fence,
                  params={"watchdog_wait_ms": 8000})
    result = checkers.check_fenced_recovery(run)
    assert result["valid"] is False
    assert result["violations"][0]["from"] == "n1"
    unknown_wait = RunData(history=history, ledger=early)
    assert checkers.check_fenced_recovery(unknown_wait)["valid"] == "unknown"


def test_fenced_recovery_ignores_clean_moves():
    history = tuple(fault(1, 8000, ["n3"]) + heal(2, 9000, [1]))
    moved = tuple(ticks("n1", "r1", 0, 1000) + ticks("n2", "r1", 1500, 5000))
    run = RunData(history=history, ledger=moved, params={"watchdog_wait_ms": 8000})
    result = checkers.check_fenced_recovery(run)
    assert result["valid"] is True
    assert result["handovers_judged"] == 0


def test_stats_unknown_when_an_op_never_succeeds():
    good = (client(1, "c1", "invoke", "ping", None), client(2, "c1", "ok", "ping", None))
    assert checkers.check_stats(RunData(history=good))["valid"] is True
    bad = good + (client(3, "c2", "invoke", "write", {}), client(4, "c2", "info", "write", {}))
    result = checkers.check_stats(RunData(history=bad))
    assert result["valid"] == "unknown"
    assert result["without_ok"] == ["write"]


def test_failover_summary_and_check_all():
    ledger = tuple(ticks("n1", "r1", 0, 1000) + ticks("n2", "r1", 3000, 4000)
                   + ticks("n1", "r1", 4500, 5000))
    run = RunData(ledger=ledger)
    assert checkers.failover_durations_ms(run) == [2000, 500]
    summary = checkers.failover_summary(run)
    assert summary == {"p50": 0.5, "p99": 2.0, "n": 2}
    merged = checkers.check_all(run, ["no_overlap", "convergence"])
    assert merged["valid"] == "unknown"
    assert set(merged["checkers"]) == {"no_overlap", "convergence"}


def partition_history(ping_type: str) -> tuple:
    value = {"id": 1, "family": "partition", "phase": "fault", "affected": ["n1"],
             "grudge": {"n1": ["n2", "n3"], "n2": ["n1"], "n3": ["n1"]}}
    return (nemesis(1000, "invoke", value), nemesis(1010, "info", value),
            client(1100, "c1", "invoke", "ping", {"from": "n2", "to": "n1"}),
            client(1200, "c1", ping_type, "ping", {"from": "n2", "to": "n1"}),
            client(1300, "c2", "invoke", "ping", {"from": "n2", "to": "n3"}),
            client(1310, "c2", "ok", "ping", {"from": "n2", "to": "n3"}),
            *heal(2, 5000, [1]))


def test_network_faults_effective_passes_blocked_probe():
    result = checkers.check_network_faults_effective(RunData(history=partition_history("info")))
    assert result["valid"] is True
    assert result["blocked_probes"] == 1


def test_network_faults_effective_fails_probe_through_partition():
    result = checkers.check_network_faults_effective(RunData(history=partition_history("ok")))
    assert result["valid"] is False
    assert result["violations"][0]["from"] == "n2"


def test_failover_skips_a_start_while_the_resource_still_runs_elsewhere():
    ledger = (ticks("n1", "r1", 0, 1000) + ticks("n1", "r1", 3000, 20000)
              + ticks("n2", "r1", 15000, 16000) + ticks("n3", "r1", 25000, 26000))
    run = RunData(ledger=ledger)
    # n2 started at 15 s while n1 still ran r1: an overlap, not a 14 s outage.
    assert checkers.failover_durations_ms(run) == [5000]


def test_leader_failover_ends_when_the_same_leader_is_re_elected():
    history = tuple(fault(1, 1000, ["n1", "n2", "n3"], "restart-all") + heal(2, 3000, [1]))
    samples = ({"time_ms": 0, "leader": "n1"}, {"time_ms": 1500, "leader": None},
               {"time_ms": 4000, "leader": "n1"}, {"time_ms": 60000, "leader": "n2"})
    run = RunData(history=history, leader_samples=samples)
    assert checkers.leader_failover_durations_ms(run) == [3000]


def test_leader_failover_skips_a_fault_the_leader_rode_out():
    history = tuple(fault(1, 1000, ["n1"], "clock") + heal(2, 3000, [1]))
    samples = ({"time_ms": 0, "leader": "n1"}, {"time_ms": 2000, "leader": "n1"},
               {"time_ms": 30000, "leader": "n2"})
    run = RunData(history=history, leader_samples=samples)
    assert checkers.leader_failover_durations_ms(run) == []


def test_leader_failover_counts_only_faults_that_hit_the_leader():
    history = tuple(fault(1, 1000, ["n1"]) + heal(2, 3000, [1])
                    + fault(3, 5000, ["n3"]) + heal(4, 6000, [3]))
    samples = ({"time_ms": 0, "leader": "n1"}, {"time_ms": 1200, "leader": None},
               {"time_ms": 2500, "leader": "n2"}, {"time_ms": 5500, "leader": "n2"})
    run = RunData(history=history, leader_samples=samples)
    assert checkers.leader_failover_durations_ms(run) == [1500]
    assert checkers.leader_failover_summary(run) == {"p50": 1.5, "p99": 1.5, "n": 1}
    assert checkers.leader_failover_summary(RunData(history=history))["n"] == 0


def test_timeline_html_marks_faults_activity_overlaps_and_ops():
    from jepsen import report

    history = tuple(fault(1, 1000, ["n1"]) + heal(2, 3000, [1])) + (
        client(1100, "c1", "invoke", "ping", {"from": "n2", "to": "n1"}),
        client(1200, "c1", "info", "ping", {"from": "n2", "to": "n1"}))
    run = RunData(history=history, nodes=("n1", "n2"),
                  ledger=tuple(ticks("n1", "r1", 0, 2000) + ticks("n2", "r1", 1500, 4000)),
                  leader_samples=({"time_ms": 0, "leader": "n1"},))
    results = report.build_results(run, ["no_overlap"], 7)
    assert results["valid"] is False and results["seed"] == 7
    page = report.timeline_html(run, results, run.leader_samples)
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert 'stroke="red"' in page, "the overlap is outlined"
    assert "partition #1" in page and "leader n1" in page
    assert report.OUTCOME_COLOURS["info"] in page
    table = report.summary_table(results, {"ok": 1})
    assert "no_overlap" in table and "VERDICT: False" in table


def write_op(process: str, token: str, start: int, end: int, outcome: str = "ok"):
    return [client(start, process, "invoke", "write", {"token": token}),
            client(end, process, outcome, "write", {"token": token})]


def read_op(process: str, value, start: int, end: int, outcome: str = "ok"):
    return [client(start, process, "invoke", "read", {}),
            client(end, process, outcome, "read", {"value": value})]


def register_run(*groups, **params) -> RunData:
    history = [op for group in groups for op in group]
    history.sort(key=lambda op: op["time_ms"])
    return RunData(history=tuple(history), params=params)


def test_register_sequential_and_concurrent_histories_are_linearizable():
    sequential = register_run(write_op("c1", "a", 0, 10), read_op("c2", "a", 20, 30),
                              write_op("c1", "b", 40, 50), read_op("c2", "b", 60, 70))
    result = checkers.check_linearizable_register(sequential)
    assert result["valid"] is True and result["reads"] == 2
    # A read overlapping a write may see either value.
    for seen in ("a", "b"):
        concurrent = register_run(write_op("c1", "a", 0, 10), write_op("c1", "b", 20, 60),
                                  read_op("c2", seen, 30, 40))
        assert checkers.check_linearizable_register(concurrent)["valid"] is True


def test_register_stale_read_is_not_linearizable():
    stale = register_run(write_op("c1", "a", 0, 10), write_op("c1", "b", 20, 30),
                         read_op("c2", "a", 40, 50))
    result = checkers.check_linearizable_register(stale)
    assert result["valid"] is False
    assert result["first_unplaceable"][0]["kind"] == "read"


def test_register_indeterminate_writes_may_or_may_not_take_effect():
    took_effect = register_run(write_op("c1", "a", 0, 10),
                               write_op("c2", "x", 20, 30, outcome="info"),
                               read_op("c3", "x", 100, 110), read_op("c3", "x", 120, 130))
    assert checkers.check_linearizable_register(took_effect)["valid"] is True
    never = register_run(write_op("c1", "a", 0, 10),
                         write_op("c2", "x", 20, 30, outcome="info"),
                         read_op("c3", "a", 100, 110))
    assert checkers.check_linearizable_register(never)["valid"] is True
    failed = register_run(write_op("c1", "a", 0, 10),
                          write_op("c2", "x", 20, 30, outcome="fail"),
                          read_op("c3", "x", 100, 110))
    assert checkers.check_linearizable_register(failed)["valid"] is False


def test_register_initial_value_and_budget():
    first_read = register_run(read_op("c1", "boot", 0, 10), write_op("c1", "a", 20, 30))
    assert checkers.check_linearizable_register(first_read)["valid"] is True
    known = register_run(read_op("c1", "boot", 0, 10), write_op("c1", "a", 20, 30),
                         register_initial="jepsen")
    assert checkers.check_linearizable_register(known)["valid"] is False
    assert checkers.check_linearizable_register(RunData())["valid"] == "unknown"
    many = register_run(*[write_op(f"c{index}", f"v{index}", 0, 1000) for index in range(12)],
                        read_op("r", "v3", 1100, 1200), linearizable_budget=5)
    assert checkers.check_linearizable_register(many)["valid"] == "unknown"


def test_register_unread_indeterminate_writes_leave_the_search():
    # 40 overlapping writes that never returned: without pruning the search is 2^40 wide.
    unread = [write_op(f"w{index}", f"lost{index}", 100 + index, 200 + index, outcome="info")
              for index in range(40)]
    wide = register_run(write_op("c1", "a", 0, 10), *unread, read_op("c2", "a", 300, 310),
                        write_op("c1", "b", 320, 330), read_op("c2", "b", 340, 350),
                        linearizable_budget=2_000)
    result = checkers.check_linearizable_register(wide)
    assert result["valid"] is True, result
    assert result["indeterminate_writes"] == 40 and result["indeterminate_writes_read"] == 0
    # A read of an indeterminate write's value keeps that write; a stale read stays invalid.
    seen = register_run(write_op("c1", "a", 0, 10), *unread, read_op("c2", "lost7", 300, 310),
                        read_op("c2", "a", 320, 330), linearizable_budget=20_000)
    result = checkers.check_linearizable_register(seen)
    assert result["valid"] is False and result["indeterminate_writes_read"] == 1
    early = register_run(write_op("c1", "a", 0, 10), read_op("c2", "lost3", 20, 30), *unread)
    assert checkers.check_linearizable_register(early)["valid"] is False


def restart_heal(heal_id: int, time_ms: int, heals: list[int], restarted: list[str]):
    value = {"id": heal_id, "family": "restart-all", "phase": "heal", "heals": heals,
             "restarted": restarted}
    return [nemesis(time_ms, "invoke", value), nemesis(time_ms + 5, "info", value)]


def test_fenced_recovery_accepts_a_killed_node_that_came_back_before_the_recovery():
    ledger = tuple(ticks("n1", "r1", 0, 1000) + ticks("n2", "r1", 6000, 8000))
    rejoined = RunData(history=tuple(fault(1, 1000, ["n1", "n2"], "restart-all")
                                     + restart_heal(2, 4000, [1], ["n1", "n2"])),
                       ledger=ledger, params={"watchdog_wait_ms": 8000})
    result = checkers.check_fenced_recovery(rejoined)
    assert result["valid"] is True, result
    assert result["handovers"][0]["rejoined_ms"] == 4005
    # Restarted only after the resource was already recovered elsewhere: not a proof.
    late = RunData(history=tuple(fault(1, 1000, ["n1", "n2"], "restart-all")
                                 + restart_heal(2, 7000, [1], ["n1", "n2"])),
                   ledger=ledger, params={"watchdog_wait_ms": 8000})
    assert checkers.check_fenced_recovery(late)["valid"] is False
    # A daemon-only kill leaves the resource running: a restart proves nothing.
    daemon_only = RunData(history=tuple(fault(1, 1000, ["n1"], "kill")
                                        + restart_heal(2, 4000, [1], ["n1"])),
                          ledger=ledger, params={"watchdog_wait_ms": 8000})
    assert checkers.check_fenced_recovery(daemon_only)["valid"] is False


def log_entry(index: int, kind: str, summary: str, ts_ms: int) -> dict:
    return {"index": index, "kind": kind, "summary": summary, "ts_ms": ts_ms}


def test_fenced_recovery_accepts_a_logged_clean_stop_before_the_new_claim():
    history = tuple(fault(1, 1000, ["n1"], "clock") + heal(2, 9000, [1]))
    ledger = tuple(ticks("n1", "r1", 0, 1200) + ticks("n2", "r1", 2000, 4000))
    clean = [log_entry(10, "OperationsPending", "r1 stop on n1: pending", 1100),
             log_entry(11, "OperationCompleted", "r1 stop on n1: rc=0 status=0", 1250),
             log_entry(12, "OperationsPending", "fence-n1 start, r1 start on n2: pending",
                       1900),
             log_entry(13, "OperationCompleted", "r1 start on n2: rc=0 status=0", 2000)]
    run = RunData(history=history, ledger=ledger, final_logs={"n2": clean, "n3": clean[:2]},
                  params={"watchdog_wait_ms": 8000})
    result = checkers.check_fenced_recovery(run)
    assert result["valid"] is True, result
    assert result["handovers"][0]["stopped_index"] == 11
    # The stop failed, or the previous node's last word was a monitor: no proof.
    for summary in ("r1 stop on n1: rc=1 status=0",
                    "r1 monitor (2000 ms) on n1: rc=0 status=0"):
        unclean = [*clean[:1], log_entry(11, "OperationCompleted", summary, 1250), *clean[2:]]
        run = RunData(history=history, ledger=ledger, final_logs={"n2": unclean},
                      params={"watchdog_wait_ms": 8000})
        assert checkers.check_fenced_recovery(run)["valid"] is False, summary


def test_leader_failover_counts_an_outage_once_from_the_fault_that_caused_it():
    # A clock fault the leader rides out, then a restart-all inside it takes the role.
    history = tuple(fault(1, 1000, ["n1"], "clock") + fault(3, 6000, ["n1", "n2", "n3"],
                                                             "restart-all")
                    + heal(4, 9000, [3]) + heal(2, 10000, [1]))
    samples = ({"time_ms": 0, "leader": "n1"}, {"time_ms": 6500, "leader": None},
               {"time_ms": 13000, "leader": "n2"})
    run = RunData(history=history, leader_samples=samples)
    assert checkers.leader_failover_durations_ms(run) == [7000]
