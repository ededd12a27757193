"""Exit-code classification, LSB mapping and the expected rc of each action."""

from __future__ import annotations

import pytest

from raftha.agents import (
    ExecStatus,
    ObservedState,
    Severity,
    classify,
    exit_code_name,
    expected_rc,
    lsb_to_ocf,
    severity_of_rc,
)


@pytest.mark.parametrize(
    ("rc", "severity"),
    [(1, Severity.SOFT), (2, Severity.HARD), (3, Severity.HARD), (4, Severity.HARD),
     (5, Severity.HARD), (6, Severity.FATAL), (7, Severity.SOFT), (9, Severity.SOFT),
     (42, Severity.SOFT), (0, Severity.NONE), (190, Severity.NONE)],
)
def test_severity_of_one_shot_failures(rc: int, severity: Severity) -> None:
    assert severity_of_rc(rc, "start", 0) is severity


def test_unimplemented_recurring_action_is_not_supported_not_hard() -> None:
    assert severity_of_rc(3, "monitor", 10_000) is Severity.NOT_SUPPORTED


def test_expected_rc_for_probe_monitor_and_promoted_monitor() -> None:
    assert expected_rc("monitor", 0) == 7
    assert expected_rc("monitor", 10_000) == 0
    assert expected_rc("monitor", 10_000, "Promoted") == 8
    assert expected_rc("start", 0) == 0


def test_probe_results_are_states_not_failures() -> None:
    for rc, state in ((7, ObservedState.STOPPED), (0, ObservedState.STARTED),
                      (8, ObservedState.PROMOTED)):
        verdict = classify("monitor", rc, ExecStatus.DONE, interval_ms=0)
        assert verdict.ok and verdict.state is state and not verdict.ban_this_node


@pytest.mark.parametrize("rc", [2, 5])
def test_probe_masking_turns_not_installed_into_stopped_with_ban(rc: int) -> None:
    verdict = classify("monitor", rc, ExecStatus.DONE, interval_ms=0)
    assert verdict.ok
    assert verdict.state is ObservedState.STOPPED
    assert verdict.ban_this_node


def test_probe_of_missing_agent_is_masked_too() -> None:
    verdict = classify("monitor", 5, ExecStatus.NOT_INSTALLED, interval_ms=0)
    assert verdict.ok and verdict.ban_this_node


def test_recurring_monitor_not_running_is_a_soft_failure() -> None:
    verdict = classify("monitor", 7, ExecStatus.DONE, interval_ms=10_000)
    assert not verdict.ok
    assert verdict.severity is Severity.SOFT
    assert verdict.state is ObservedState.STOPPED


def test_promoted_monitor_seeing_unpromoted_is_a_failure() -> None:
    verdict = classify("monitor", 0, ExecStatus.DONE, interval_ms=10_000, role="Promoted")
    assert not verdict.ok and verdict.expected_rc == 8


def test_degraded_codes_behave_as_ok_and_promoted() -> None:
    started = classify("monitor", 190, ExecStatus.DONE, interval_ms=10_000)
    promoted = classify("monitor", 191, ExecStatus.DONE, interval_ms=10_000, role="Promoted")
    assert started.ok and started.degraded and started.state is ObservedState.STARTED
    assert promoted.ok and promoted.degraded and promoted.state is ObservedState.PROMOTED


def test_fatal_and_hard_start_failures() -> None:
    fatal = classify("start", 6, ExecStatus.DONE)
    hard = classify("start", 5, ExecStatus.DONE)
    assert fatal.severity is Severity.FATAL and not fatal.ok
    assert hard.severity is Severity.HARD and hard.ban_this_node


def test_timeout_is_a_failure_whatever_the_rc() -> None:
    verdict = classify("stop", 0, ExecStatus.TIMED_OUT)
    assert not verdict.ok and verdict.state is ObservedState.UNKNOWN


def test_failed_stop_leaves_state_unknown() -> None:
    verdict = classify("stop", 1, ExecStatus.DONE)
    assert not verdict.ok and verdict.state is ObservedState.UNKNOWN


def test_notify_failures_are_ignored() -> None:
    assert classify("notify", 1, ExecStatus.DONE).ok


def test_successful_actions_report_the_state_they_leave() -> None:
    assert classify("start", 0, ExecStatus.DONE).state is ObservedState.STARTED
    assert classify("promote", 0, ExecStatus.DONE).state is ObservedState.PROMOTED
    assert classify("demote", 0, ExecStatus.DONE).state is ObservedState.STARTED
    assert classify("stop", 0, ExecStatus.DONE).state is ObservedState.STOPPED


@pytest.mark.parametrize(
    ("action", "lsb_rc", "ocf_rc"),
    [("status", 0, 0), ("status", 1, 7), ("status", 2, 7), ("status", 3, 7), ("status", 4, 1),
     ("status", 150, 5), ("status", 151, 4), ("status", 99, 1), ("monitor", 3, 7),
     ("start", 0, 0), ("start", 5, 5), ("stop", 7, 7), ("start", 150, 1)],
)
def test_lsb_exit_codes_map_to_ocf(action: str, lsb_rc: int, ocf_rc: int) -> None:
    assert lsb_to_ocf(action, lsb_rc) == ocf_rc


def test_exit_code_names() -> None:
    assert exit_code_name(7) == "not running"
    assert exit_code_name(8) == "promoted"
    assert "123" in exit_code_name(123)


def test_verdict_to_dict_is_plain_data() -> None:
    data = classify("start", 1, ExecStatus.DONE).to_dict()
    assert data["severity"] == "soft" and data["ok"] is False and data["state"] == "failed"
