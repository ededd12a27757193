"""FakeAgentRunner: the in-memory twin of AgentRunner for unit tests of the daemon.

Role: answer the same calls as AgentRunner without processes. Each resource has a simulated
state (stopped / started / promoted) that successful start, stop, promote, demote and
migrate actions change, and monitor reports it (7 / 0 / 8). Tests script exact results per
(resource id, action), consumed first in, first out, or pin a result that repeats.

Invariants: deterministic (no clock, no randomness); every call is recorded in `calls` in
order; a scripted result is returned as given except that `action`/`interval_ms` are filled
in; state changes only when the returned result is ok.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, replace

from raftha.agents.codes import ExecStatus
from raftha.agents.metadata import AgentMetadata, MetadataError, parse_metadata
from raftha.agents.spec import AgentResult, AgentSpec, failed_result

_GENERIC_METADATA = """<?xml version="1.0"?>
<resource-agent name="Fake" version="1.0">
  <version>1.1</version>
  <shortdesc lang="en">fake agent</shortdesc><longdesc lang="en">fake agent</longdesc>
  <parameters/>
  <actions>
    <action name="start" timeout="20s"/><action name="stop" timeout="20s"/>
    <action name="monitor" timeout="20s" interval="10s"/>
    <action name="promote" timeout="10s"/><action name="demote" timeout="10s"/>
    <action name="reload-agent" timeout="10s"/>
    <action name="meta-data" timeout="5s"/><action name="validate-all" timeout="20s"/>
  </actions>
</resource-agent>
"""


@dataclass(frozen=True)
class FakeCall:
    """One recorded call."""

    resource_id: str
    agent: str
    action: str
    params: dict[str, str]
    meta: dict[str, str]
    timeout_ms: int
    interval_ms: int
    node_name: str


def make_result(rc: int = 0, *, status: ExecStatus = ExecStatus.DONE, exit_reason: str = "",
                output_tail: str = "", duration_ms: int = 0) -> AgentResult:
    """Shorthand for a scripted result."""
    return AgentResult(rc=rc, status=status, exit_reason=exit_reason, output_tail=output_tail,
                       duration_ms=duration_ms, timed_out=status is ExecStatus.TIMED_OUT)


def timed_out_result(duration_ms: int = 0) -> AgentResult:
    return make_result(1, status=ExecStatus.TIMED_OUT, exit_reason="timed out",
                       duration_ms=duration_ms)


class FakeAgentRunner:
    """Scriptable stand-in for AgentRunner (same run/probe/monitor/validate/reload API)."""

    def __init__(self, *, installed: bool = True, metadata_xml: str = _GENERIC_METADATA) -> None:
        self.installed = installed
        self.metadata_xml = metadata_xml
        self.calls: list[FakeCall] = []
        self._scripted: dict[tuple[str, str], deque[AgentResult]] = {}
        self._pinned: dict[tuple[str, str], AgentResult] = {}
        self._states: dict[str, str] = {}
        self._not_installed: set[str] = set()
        self._lock = threading.Lock()

    # ----- scripting ----------------------------------------------------------------------

    def script(self, resource_id: str, action: str, *results: AgentResult | int) -> None:
        """Queue results for the next calls of (resource, action), first in first out."""
        queue = self._scripted.setdefault((resource_id, action), deque())
        for item in results:
            queue.append(make_result(item) if isinstance(item, int) else item)

    def pin(self, resource_id: str, action: str, result: AgentResult | int | None) -> None:
        """Answer every call of (resource, action) with this result (None removes the pin)."""
        key = (resource_id, action)
        if result is None:
            self._pinned.pop(key, None)
        else:
            self._pinned[key] = make_result(result) if isinstance(result, int) else result

    def set_state(self, resource_id: str, state: str) -> None:
        """'stopped' | 'started' | 'promoted' (e.g. a resource found running by a probe)."""
        if state not in ("stopped", "started", "promoted"):
            raise ValueError(f"invalid fake state {state!r}")
        self._states[resource_id] = state

    def state(self, resource_id: str) -> str:
        return self._states.get(resource_id, "stopped")

    def mark_not_installed(self, resource_id: str) -> None:
        self._not_installed.add(resource_id)

    def calls_for(self, resource_id: str, action: str | None = None) -> list[FakeCall]:
        return [call for call in self.calls if call.resource_id == resource_id
                and (action is None or call.action == action)]

    # ----- the AgentRunner API ------------------------------------------------------------

    def available(self, spec: AgentSpec) -> str:
        if not self.installed or spec.resource_id in self._not_installed:
            return f"agent {spec} is not installed on this node"
        return ""

    def run(self, spec: AgentSpec, action: str, *, params: dict[str, str] | None = None,
            meta: dict[str, str] | None = None, timeout_ms: int, interval_ms: int = 0,
            node_name: str, environment_extra: dict[str, str] | None = None) -> AgentResult:
        resource_id = spec.resource_id
        with self._lock:
            self.calls.append(FakeCall(resource_id, str(spec), action, dict(params or {}),
                                       dict(meta or {}), timeout_ms, interval_ms, node_name))
            result = self._next_result(spec, action, interval_ms)
            result = replace(result, action=action, interval_ms=interval_ms)
            if result.ok or (action == "monitor" and result.status is ExecStatus.DONE):
                self._apply(resource_id, action, result.rc)
            return result

    def probe(self, spec: AgentSpec, *, params: dict[str, str] | None = None,
              meta: dict[str, str] | None = None, timeout_ms: int, node_name: str,
              environment_extra: dict[str, str] | None = None) -> AgentResult:
        return self.run(spec, "monitor", params=params, meta=meta, timeout_ms=timeout_ms,
                        interval_ms=0, node_name=node_name)

    def monitor(self, spec: AgentSpec, *, params: dict[str, str] | None = None,
                meta: dict[str, str] | None = None, timeout_ms: int, interval_ms: int,
                node_name: str, role: str = "",
                environment_extra: dict[str, str] | None = None) -> AgentResult:
        full_meta = dict(meta or {})
        if role:
            full_meta["role"] = role
        return self.run(spec, "monitor", params=params, meta=full_meta, timeout_ms=timeout_ms,
                        interval_ms=interval_ms, node_name=node_name)

    def validate(self, spec: AgentSpec, *, params: dict[str, str] | None = None,
                 meta: dict[str, str] | None = None, timeout_ms: int,
                 node_name: str) -> AgentResult:
        return self.run(spec, "validate-all", params=params, meta=meta,
                        timeout_ms=timeout_ms, node_name=node_name)

    def reload(self, spec: AgentSpec, *, params: dict[str, str] | None = None,
               meta: dict[str, str] | None = None, timeout_ms: int,
               node_name: str) -> AgentResult:
        action = self.metadata(spec).reload_action()
        if action is None:
            return failed_result(ExecStatus.NOT_SUPPORTED,
                                 f"agent {spec} advertises no reload action", "reload")
        return self.run(spec, action, params=params, meta=meta, timeout_ms=timeout_ms,
                        node_name=node_name)

    def metadata(self, spec: AgentSpec, *, node_name: str = "") -> AgentMetadata:
        reason = self.available(spec)
        if reason:
            raise MetadataError(reason)
        return parse_metadata(self.metadata_xml)

    # ----- internals ----------------------------------------------------------------------

    def _next_result(self, spec: AgentSpec, action: str, interval_ms: int) -> AgentResult:
        key = (spec.resource_id, action)
        queue = self._scripted.get(key)
        if queue:
            return queue.popleft()
        if key in self._pinned:
            return self._pinned[key]
        reason = self.available(spec)
        if reason:
            return failed_result(ExecStatus.NOT_INSTALLED, reason, action, interval_ms)
        return make_result(self._simulated_rc(spec.resource_id, action))

    def _simulated_rc(self, resource_id: str, action: str) -> int:
        state = self.state(resource_id)
        if action == "monitor":
            return {"stopped": 7, "started": 0, "promoted": 8}[state]
        if action in ("promote", "demote") and state == "stopped":
            return 7
        if action in ("start", "stop", "promote", "demote", "migrate_to", "migrate_from",
                      "reload", "reload-agent", "validate-all", "notify", "meta-data"):
            return 0
        return 3

    def _apply(self, resource_id: str, action: str, rc: int) -> None:
        if action == "monitor":
            state = {7: "stopped", 0: "started", 8: "promoted", 190: "started",
                     191: "promoted"}.get(rc)
            if state:
                self._states[resource_id] = state
            return
        transitions = {"start": "started", "stop": "stopped", "promote": "promoted",
                       "demote": "started", "migrate_from": "started",
                       "migrate_to": "stopped"}
        if action in transitions:
            self._states[resource_id] = transitions[action]
