"""raftha.agents: run resource agents on this node (the exec edge) and describe the results.

Role: AgentRunner runs OCF agents (/usr/lib/ocf/resource.d/PROVIDER/TYPE and our own
agents/ocf tree), LSB init scripts and systemd units with Pacemaker's contract (environment,
timeouts that kill the whole process group, exit codes, exit reasons, meta-data);
FakeAgentRunner is its in-memory twin for daemon unit tests; `classify` turns a result into
the recovery class the cluster must apply.

Invariants: AgentRunner.run never raises for agent behaviour; everything that crosses to the
event log is plain data (AgentResult.to_dict, AgentMetadata.to_dict, Verdict.to_dict).
"""

from raftha.agents.codes import (
    ExecStatus,
    ObservedState,
    OcfExitCode,
    Severity,
    Verdict,
    classify,
    exit_code_name,
    expected_rc,
    is_probe,
    lsb_to_ocf,
    severity_of_rc,
)
from raftha.agents.environment import AgentEnvironmentError, normalise_meta, ocf_environment
from raftha.agents.fake import FakeAgentRunner, FakeCall, make_result, timed_out_result
from raftha.agents.metadata import (
    ActionInfo,
    AgentMetadata,
    MetadataError,
    ParameterInfo,
    parse_duration_ms,
    parse_metadata,
)
from raftha.agents.process import ProcessOutcome, process_group_exists, run_process
from raftha.agents.runner import (
    SYSTEMD_NOT_RUNNING,
    AgentRunner,
    AgentRunnerSettings,
    systemd_booted,
)
from raftha.agents.spec import AgentResult, AgentSpec, AgentSpecError, failed_result

__all__ = [
    "SYSTEMD_NOT_RUNNING", "ActionInfo", "AgentEnvironmentError", "AgentMetadata",
    "AgentResult", "AgentRunner", "AgentRunnerSettings", "AgentSpec", "AgentSpecError",
    "ExecStatus", "FakeAgentRunner", "FakeCall", "MetadataError", "ObservedState",
    "OcfExitCode", "ParameterInfo", "ProcessOutcome", "Severity", "Verdict", "classify",
    "exit_code_name", "expected_rc", "failed_result", "is_probe", "lsb_to_ocf",
    "make_result", "normalise_meta", "ocf_environment", "parse_duration_ms",
    "parse_metadata", "process_group_exists", "run_process", "severity_of_rc",
    "systemd_booted", "timed_out_result",
]
