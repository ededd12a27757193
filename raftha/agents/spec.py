"""Agent specifications ("ocf:heartbeat:Dummy", "lsb:foo", "systemd:foo.service") and results.

Role: the plain data the executor hands to a runner (AgentSpec) and gets back (AgentResult).

Invariants: a parsed spec never names a path outside its agent directory (provider and type
are single path components, no leading dot), except an LSB script given as an absolute path,
which Pacemaker also allows. AgentResult.rc is meaningful only when status is DONE; for other
statuses it holds the nearest OCF code (timeout 1, not installed 5, not supported 3, error 1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from raftha.agents.codes import ExecStatus

STANDARDS = ("ocf", "lsb", "systemd", "service")
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_+@-][A-Za-z0-9_.+@:-]*$")
_COMPONENT_PATTERN = re.compile(r"^[A-Za-z0-9_+@-][A-Za-z0-9_.+@-]*$")


class AgentSpecError(ValueError):
    """An agent specification or request is malformed."""


@dataclass(frozen=True)
class AgentSpec:
    """Which agent runs, and for which resource instance."""

    standard: str                 # "ocf" | "lsb" | "systemd" | "service"
    agent_type: str               # Dummy, an init script name or path, a unit name
    provider: str = ""            # OCF only, e.g. "heartbeat"
    resource_id: str = ""         # OCF_RESOURCE_INSTANCE (anonymous clones: without ":N")

    def __post_init__(self) -> None:
        if self.standard not in STANDARDS:
            raise AgentSpecError(
                f"unknown agent class {self.standard!r} (expected one of {', '.join(STANDARDS)})")
        if self.standard == "ocf":
            if not _COMPONENT_PATTERN.match(self.provider or ""):
                raise AgentSpecError(f"invalid OCF provider {self.provider!r}")
            if not _COMPONENT_PATTERN.match(self.agent_type):
                raise AgentSpecError(f"invalid OCF agent type {self.agent_type!r}")
        elif self.standard == "lsb" and self.agent_type.startswith("/"):
            if "/../" in self.agent_type + "/" or "\0" in self.agent_type:
                raise AgentSpecError(f"invalid LSB script path {self.agent_type!r}")
        elif not _COMPONENT_PATTERN.match(self.agent_type):
            raise AgentSpecError(f"invalid {self.standard} name {self.agent_type!r}")
        if self.provider and self.standard != "ocf":
            raise AgentSpecError(f"class {self.standard} takes no provider")

    @classmethod
    def parse(cls, text: str, resource_id: str = "") -> AgentSpec:
        """'ocf:heartbeat:Dummy' / 'lsb:foo' / 'systemd:foo' / 'service:foo'."""
        parts = text.strip().split(":", 2)
        standard = parts[0].lower()
        if standard == "ocf":
            if len(parts) != 3:
                raise AgentSpecError(f"OCF agent {text!r} must be ocf:PROVIDER:TYPE")
            return cls("ocf", parts[2], parts[1], resource_id)
        if standard in ("lsb", "systemd", "service"):
            name = text.strip()[len(standard) + 1:]
            if len(parts) < 2 or not name:
                raise AgentSpecError(f"agent {text!r} must be {standard}:NAME")
            return cls(standard, name, "", resource_id)
        raise AgentSpecError(f"unknown agent class in {text!r}")

    def with_resource(self, resource_id: str) -> AgentSpec:
        return AgentSpec(self.standard, self.agent_type, self.provider, resource_id)

    def __str__(self) -> str:
        if self.standard == "ocf":
            return f"ocf:{self.provider}:{self.agent_type}"
        return f"{self.standard}:{self.agent_type}"


@dataclass(frozen=True)
class AgentResult:
    """The outcome of one agent action."""

    rc: int
    status: ExecStatus
    exit_reason: str
    output_tail: str
    duration_ms: int
    timed_out: bool
    action: str = ""
    interval_ms: int = 0
    stdout: str = field(default="", repr=False)   # bounded; meta-data reads it
    pid: int = 0                                   # also the agent's process group id

    @property
    def ok(self) -> bool:
        return self.status is ExecStatus.DONE and self.rc == 0

    def to_dict(self) -> dict[str, object]:
        """JSON/msgpack-safe form (stdout left out: it can be large)."""
        return {
            "rc": self.rc, "status": self.status.value, "exit_reason": self.exit_reason,
            "output_tail": self.output_tail, "duration_ms": self.duration_ms,
            "timed_out": self.timed_out, "action": self.action,
            "interval_ms": self.interval_ms, "pid": self.pid,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> AgentResult:
        return cls(
            rc=int(data["rc"]),  # type: ignore[arg-type]
            status=ExecStatus(data["status"]),
            exit_reason=str(data.get("exit_reason", "")),
            output_tail=str(data.get("output_tail", "")),
            duration_ms=int(data.get("duration_ms", 0)),  # type: ignore[arg-type]
            timed_out=bool(data.get("timed_out", False)),
            action=str(data.get("action", "")),
            interval_ms=int(data.get("interval_ms", 0)),  # type: ignore[arg-type]
            pid=int(data.get("pid", 0)),  # type: ignore[arg-type]
        )


def failed_result(status: ExecStatus, reason: str, action: str, interval_ms: int = 0,
                  duration_ms: int = 0) -> AgentResult:
    """A result for an action that never produced an agent exit code."""
    rc = {ExecStatus.NOT_INSTALLED: 5, ExecStatus.NOT_SUPPORTED: 3}.get(status, 1)
    return AgentResult(rc=rc, status=status, exit_reason=reason, output_tail="",
                       duration_ms=duration_ms, timed_out=status is ExecStatus.TIMED_OUT,
                       action=action, interval_ms=interval_ms)
