"""OCF exit codes, execution statuses and how a result is classified.

Role: the vocabulary shared by the agent runner, the executor and the reducer. An agent's exit
code (rc) and the runner's execution status are kept apart, as Pacemaker does: a timeout or an
agent that could not be executed is an execution status, never an exit code.

Invariants: every function here is pure (no I/O); classification follows Pacemaker's
`remap_operation` semantics: rc 1 is soft, 2/4/5 hard, 3 hard for one-shot actions and "not
supported" for recurring ones, 6 fatal, 7 a state for probes and a soft failure for recurring
monitors, 190/191 behave as 0/8 but mark the resource degraded. A probe that finds the agent
not installed (rc 5, rc 2 or exec status NOT_INSTALLED) counts as "stopped here" and asks for a
ban on this node instead of a failure.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class OcfExitCode(enum.IntEnum):
    """The OCF exit codes (with Pacemaker's current names; aliases below)."""

    SUCCESS = 0
    ERR_GENERIC = 1
    ERR_ARGS = 2
    ERR_UNIMPLEMENTED = 3
    ERR_PERM = 4
    ERR_INSTALLED = 5
    ERR_CONFIGURED = 6
    NOT_RUNNING = 7
    RUNNING_PROMOTED = 8
    FAILED_PROMOTED = 9
    DEGRADED = 190
    DEGRADED_PROMOTED = 191


# Old names still used by agents and operators.
RUNNING_MASTER = OcfExitCode.RUNNING_PROMOTED
FAILED_MASTER = OcfExitCode.FAILED_PROMOTED


def exit_code_name(rc: int) -> str:
    """Human name of an exit code, e.g. 'not running' for 7; unknown codes say so."""
    names = {
        0: "ok",
        1: "error",
        2: "invalid parameter",
        3: "unimplemented feature",
        4: "insufficient privileges",
        5: "not installed",
        6: "not configured",
        7: "not running",
        8: "promoted",
        9: "promoted (failed)",
        190: "degraded",
        191: "degraded (promoted)",
    }
    return names.get(rc, f"unknown exit status {rc}")


class ExecStatus(enum.Enum):
    """How the execution itself went, independent of the agent's exit code."""

    DONE = "done"                    # the agent ran and exited; look at rc
    TIMED_OUT = "timed_out"          # the runner killed the agent's process group
    NOT_INSTALLED = "not_installed"  # no such agent, or the class is unavailable here
    NOT_SUPPORTED = "not_supported"  # the agent does not offer the requested action
    ERROR = "error"                  # could not be executed (permission, bad spec, ...)


class Severity(enum.Enum):
    """Failure class deciding recovery (Pacemaker's soft/hard/fatal)."""

    NONE = "none"                # not a failure
    SOFT = "soft"                # on-fail (default restart), bump fail-count
    HARD = "hard"                # ban the resource from this node
    FATAL = "fatal"              # stop the resource and ban it from all nodes
    NOT_SUPPORTED = "not_supported"  # recurring action the agent lacks: no recovery


class ObservedState(enum.Enum):
    """What the result says about the resource on this node."""

    STOPPED = "stopped"
    STARTED = "started"
    PROMOTED = "promoted"
    FAILED = "failed"
    UNKNOWN = "unknown"


# Actions whose success is rc 0 and that change the resource's state.
ONE_SHOT_ACTIONS = frozenset(
    {"start", "stop", "promote", "demote", "migrate_to", "migrate_from", "reload",
     "reload-agent", "validate-all", "notify", "meta-data"}
)


@dataclass(frozen=True)
class Verdict:
    """Classification of one result against what the action expected."""

    ok: bool
    severity: Severity
    state: ObservedState
    degraded: bool
    ban_this_node: bool
    expected_rc: int
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "severity": self.severity.value,
            "state": self.state.value,
            "degraded": self.degraded,
            "ban_this_node": self.ban_this_node,
            "expected_rc": self.expected_rc,
            "reason": self.reason,
        }


def is_probe(action: str, interval_ms: int) -> bool:
    """A probe is a monitor with interval 0."""
    return action == "monitor" and interval_ms == 0


def expected_rc(action: str, interval_ms: int, role: str = "") -> int:
    """The rc the cluster expects: 7 for probes, 8 for Promoted-role monitors, else 0."""
    if is_probe(action, interval_ms):
        return int(OcfExitCode.NOT_RUNNING)
    if action == "monitor" and role in ("Promoted", "Master"):
        return int(OcfExitCode.RUNNING_PROMOTED)
    return int(OcfExitCode.SUCCESS)


def severity_of_rc(rc: int, action: str, interval_ms: int) -> Severity:
    """Failure class of an unexpected rc (independent of what was expected)."""
    if rc in (0, 8, 190, 191):
        return Severity.NONE
    if rc in (2, 4, 5):
        return Severity.HARD
    if rc == 3:
        return Severity.NOT_SUPPORTED if interval_ms > 0 else Severity.HARD
    if rc == 6:
        return Severity.FATAL
    return Severity.SOFT  # 1, 7 (when unexpected), 9 and anything unknown


def state_of_rc(rc: int) -> ObservedState:
    """Resource state implied by a monitor-style rc."""
    if rc in (0, 190):
        return ObservedState.STARTED
    if rc in (8, 191):
        return ObservedState.PROMOTED
    if rc == 7:
        return ObservedState.STOPPED
    return ObservedState.FAILED


def classify(
    action: str,
    rc: int,
    status: ExecStatus,
    *,
    interval_ms: int = 0,
    role: str = "",
) -> Verdict:
    """Classify one agent result the way the cluster must react to it."""
    target = expected_rc(action, interval_ms, role)
    probe = is_probe(action, interval_ms)
    if status is ExecStatus.TIMED_OUT:
        return Verdict(False, Severity.SOFT, ObservedState.UNKNOWN, False, False, target,
                       f"{action} timed out")
    if status is ExecStatus.NOT_INSTALLED or (probe and rc in (2, 5)):
        if probe:
            # Probe masking: software missing here means "not running here" plus a ban.
            return Verdict(True, Severity.NONE, ObservedState.STOPPED, False, True, target,
                           "probe found the agent or its software not installed on this node")
        return Verdict(False, Severity.HARD, ObservedState.UNKNOWN, False, True, target,
                       f"{action}: agent not installed")
    if status is ExecStatus.NOT_SUPPORTED:
        severity = Severity.NOT_SUPPORTED if interval_ms > 0 else Severity.HARD
        return Verdict(False, severity, ObservedState.UNKNOWN, False, False, target,
                       f"{action} is not supported by the agent")
    if status is ExecStatus.ERROR:
        return Verdict(False, Severity.HARD, ObservedState.UNKNOWN, False, True, target,
                       f"{action} could not be executed")
    degraded = rc in (190, 191)
    effective = {190: 0, 191: 8}.get(rc, rc)
    if action == "monitor":
        state = state_of_rc(effective)
        if probe and effective in (0, 7, 8):
            return Verdict(True, Severity.NONE, state, degraded, False, target,
                           f"probe: {exit_code_name(rc)}")
        if effective == target:
            return Verdict(True, Severity.NONE, state, degraded, False, target,
                           exit_code_name(rc))
        severity = severity_of_rc(effective, action, interval_ms)
        if severity is Severity.NONE:
            severity = Severity.SOFT  # e.g. 0 where the Promoted role expected 8
        return Verdict(False, severity, state, degraded, severity is Severity.HARD, target,
                       f"monitor returned {exit_code_name(rc)}, expected "
                       f"{exit_code_name(target)}")
    if action == "notify":
        # Notify failures are logged and otherwise ignored.
        return Verdict(True, Severity.NONE, ObservedState.UNKNOWN, degraded, False, target,
                       exit_code_name(rc))
    if effective == 0:
        return Verdict(True, Severity.NONE, _state_after(action), degraded, False, target,
                       exit_code_name(rc))
    severity = severity_of_rc(effective, action, interval_ms)
    if severity is Severity.NONE:
        severity = Severity.SOFT  # e.g. start answering 8: not what was asked
    # A failed stop leaves the resource in an unknown state (the cluster must fence or block).
    state = ObservedState.UNKNOWN if action == "stop" else ObservedState.FAILED
    return Verdict(False, severity, state, degraded, severity is Severity.HARD, target,
                   f"{action} returned {exit_code_name(rc)}")


def _state_after(action: str) -> ObservedState:
    """State a successful one-shot action leaves the resource in."""
    return {
        "start": ObservedState.STARTED,
        "stop": ObservedState.STOPPED,
        "promote": ObservedState.PROMOTED,
        "demote": ObservedState.STARTED,
        "migrate_from": ObservedState.STARTED,
        "migrate_to": ObservedState.STOPPED,
    }.get(action, ObservedState.UNKNOWN)


# LSB init scripts: status codes differ from OCF; other actions share 0-7.
def lsb_to_ocf(action: str, lsb_rc: int) -> int:
    """Map an LSB script's exit code to OCF (Pacemaker's services__lsb2ocf)."""
    if action not in ("status", "monitor"):
        return lsb_rc if 0 <= lsb_rc <= 7 else int(OcfExitCode.ERR_GENERIC)
    if lsb_rc == 0:
        return int(OcfExitCode.SUCCESS)
    if lsb_rc in (1, 2, 3):
        return int(OcfExitCode.NOT_RUNNING)
    if lsb_rc == 150:
        return int(OcfExitCode.ERR_INSTALLED)
    if lsb_rc == 151:
        return int(OcfExitCode.ERR_PERM)
    return int(OcfExitCode.ERR_GENERIC)
