"""Operation digests: which parameters an operation ran with, and what a change requires.

Role: Pacemaker's op-digest and op-restart-digest, as pure functions. The executor records,
with every operation result, the digest of the parameters the agent was called with; when
the agent can reload, also the names of the parameters a reload cannot apply (its "force
restart" list: OCF 1.1 parameters not marked `reloadable="1"`, or OCF 1.0 `unique="1"` ones)
and the digest of their values; and a short digest per parameter, so an explanation can
name what changed. The scheduler computes the same digests from the configuration and
compares (`compare_record`):

- restart digest differs                    -> restart (stop, start, and the dependents);
- only the all-parameters digest differs    -> recurring op: re-schedule that op only;
                                               one-shot op: reload when the record says the
                                               agent reloads, else restart;
- no digest recorded                        -> unknown: nothing is done (a history from
                                               before digests were recorded is trusted).

Digest format (Pacemaker's v1 operation digest, so digests recorded in a Pacemaker CIB
compare equal): MD5 of ` <parameters NAME="VALUE" .../>\\n`, attributes sorted by name,
values XML-escaped. The parameters are the resource's instance attributes, the op's own
instance attributes, and for a recurring op its timeout as CRM_meta_timeout (milliseconds).

Invariants: pure and deterministic; no I/O, no clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from raftha.model.config import Configuration, Operation, Primitive, pairs_dict, pairs_get
from raftha.model.status import OperationRecord
from raftha.scheduler.rules import parse_interval_ms

DEFAULT_OPERATION_TIMEOUT_MS = 20_000
PARAMETER_DIGEST_CHARS = 8
# Operations whose parameters are compared with those of the start (Pacemaker's rule: a
# probe, a promote and a migrate_from ran with the parameters the resource started with).
START_LIKE_TASKS = ("monitor", "promote", "migrate_from")
CHECKED_TASKS = ("start", "monitor", "promote", "migrate_from")
# Operation attributes that are meta attributes of the op (Pacemaker passes them as
# CRM_meta_*, which no digest covers); the other op attributes are agent parameters.
OPERATION_META_NAMES = frozenset((
    "start-delay", "interval-origin", "record-pending", "requires", "description",
    "on-fail", "enabled", "role", "timeout", "interval", "name", "id",
))

MATCH = "match"
UNKNOWN = "unknown"
RESTART = "restart"
RELOAD = "reload"
RESCHEDULE = "reschedule"


@dataclass(frozen=True)
class RecordDigests:
    """The digests one operation result carries (event fields of OperationCompleted)."""

    op_digest: str
    op_restart_digest: str | None
    op_force_restart: str | None
    parameter_digests: tuple[tuple[str, str], ...]

    def to_body(self) -> dict[str, object]:
        body: dict[str, object] = {"op_digest": self.op_digest,
                                   "parameter_digests": dict(self.parameter_digests)}
        if self.op_restart_digest is not None:
            body["op_restart_digest"] = self.op_restart_digest
            body["op_force_restart"] = self.op_force_restart or ""
        return body


@dataclass(frozen=True)
class DigestCheck:
    """What a recorded operation's parameters say against the configuration now."""

    kind: str                       # match | unknown | restart | reload | reschedule
    operation: str
    interval_ms: int
    changed: tuple[str, ...] = ()   # parameter names that differ (when the record tells)

    def reason(self) -> str:
        names = ", ".join(self.changed)
        return f"parameters changed: {names}" if names else "parameters changed"


def _escape(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;")
            .replace("\t", "&#9;"))


def operation_digest(parameters: Mapping[str, str]) -> str:
    """Pacemaker's v1 operation digest of a parameter set."""
    attributes = "".join(f' {name}="{_escape(str(value))}"'
                         for name, value in sorted(parameters.items()))
    text = f" <parameters{attributes}/>\n"
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def parameter_digests(parameters: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """A short digest of each parameter's value: enough to name what changed, without
    putting the values themselves (passwords, for instance) into the log."""
    return tuple((name, hashlib.sha256(f"{name}={value}".encode()).hexdigest()
                  [:PARAMETER_DIGEST_CHARS]) for name, value in sorted(parameters.items()))


def recurring_timeout_ms(configuration: Configuration, operation: Operation | None) -> int:
    """A recurring op's timeout: its own, else op_defaults', else 20 s (Pacemaker's)."""
    if operation is not None and operation.timeout:
        return max(1, parse_interval_ms(operation.timeout))
    return default_timeout_ms(configuration)


def default_timeout_ms(configuration: Configuration) -> int:
    """An operation's timeout when it sets none: op_defaults' (without rules), else 20 s."""
    for attribute_set in configuration.op_defaults:
        if attribute_set.rule is None:
            value = pairs_get(attribute_set.values, "timeout")
            if value:
                return max(1, parse_interval_ms(value))
    return DEFAULT_OPERATION_TIMEOUT_MS


def digest_parameters(params: Mapping[str, str], operation_attributes: Mapping[str, str],
                      interval_ms: int, timeout_ms: int) -> dict[str, str]:
    """The parameter set an operation's digest covers."""
    parameters = {name: value for name, value in params.items()
                  if not name.startswith("CRM_meta_")}
    parameters.update({name: value for name, value in operation_attributes.items()
                       if name not in OPERATION_META_NAMES})
    if interval_ms > 0:
        parameters["CRM_meta_timeout"] = str(timeout_ms)
    return parameters


def find_configured_operation(primitive: Primitive, name: str,
                              interval_ms: int) -> Operation | None:
    for operation in primitive.operations:
        if operation.name == name and parse_interval_ms(operation.interval) == interval_ms:
            return operation
    return None


def task_for_digest(operation: str, interval_ms: int) -> str:
    if interval_ms == 0 and operation in START_LIKE_TASKS:
        return "start"
    return operation


def configured_parameters(configuration: Configuration, primitive: Primitive,
                          params: Mapping[str, str], operation: str,
                          interval_ms: int) -> dict[str, str]:
    """The digest parameters the configuration gives `operation` now."""
    configured = find_configured_operation(primitive, task_for_digest(operation, interval_ms),
                                           interval_ms)
    attributes = pairs_dict(configured.attributes) if configured is not None else {}
    timeout_ms = recurring_timeout_ms(configuration, configured) if interval_ms else 0
    return digest_parameters(params, attributes, interval_ms, timeout_ms)


def force_restart_list(names: Iterable[str]) -> str:
    """Pacemaker's op-force-restart format: space-separated, with a space at both ends."""
    listed = [name for name in names]
    return f" {' '.join(listed)} " if listed else ""


def restart_digest(parameters: Mapping[str, str], force_restart: str) -> str:
    """The digest of the parameters named in the force-restart list only."""
    names = set(force_restart.split())
    return operation_digest({name: value for name, value in parameters.items()
                             if name in names})


def record_digests(parameters: Mapping[str, str], interval_ms: int,
                   non_reloadable: Iterable[str] | None) -> RecordDigests:
    """The digests to record with a result. `non_reloadable` is None when the agent has no
    reload action (then no restart digest is recorded: any change means a restart), else
    the agent's parameters a reload cannot apply. Recurring ops never reload."""
    restart = force = None
    if non_reloadable is not None and interval_ms == 0:
        force = force_restart_list(non_reloadable)
        restart = restart_digest(parameters, force)
    return RecordDigests(op_digest=operation_digest(parameters), op_restart_digest=restart,
                         op_force_restart=force,
                         parameter_digests=parameter_digests(parameters))


def changed_names(record: OperationRecord, parameters: Mapping[str, str]) -> tuple[str, ...]:
    recorded = dict(record.parameter_digests)
    if not recorded:
        return ()
    current = dict(parameter_digests(parameters))
    names = sorted(set(recorded) | set(current))
    return tuple(name for name in names if recorded.get(name) != current.get(name))


def compare_record(record: OperationRecord, parameters: Mapping[str, str]) -> DigestCheck:
    """Pacemaker's digest comparison of one recorded operation with the parameters the
    configuration gives it now (`configured_parameters`)."""
    check = DigestCheck(MATCH, record.operation, record.interval_ms)
    if record.op_restart_digest is not None and record.op_force_restart is not None:
        if restart_digest(parameters, record.op_force_restart) != record.op_restart_digest:
            names = tuple(name for name in changed_names(record, parameters)
                          if f" {name} " in record.op_force_restart
                          or name not in dict(record.parameter_digests))
            return DigestCheck(RESTART, record.operation, record.interval_ms,
                               names or changed_names(record, parameters))
    if record.op_digest is None:
        return DigestCheck(UNKNOWN, record.operation, record.interval_ms)
    if operation_digest(parameters) == record.op_digest:
        return check
    names = changed_names(record, parameters)
    if record.interval_ms > 0:
        return DigestCheck(RESCHEDULE, record.operation, record.interval_ms, names)
    if record.op_restart_digest is not None:
        return DigestCheck(RELOAD, record.operation, record.interval_ms, names)
    return DigestCheck(RESTART, record.operation, record.interval_ms, names)


def active_records(operations: Iterable[OperationRecord]) -> list[OperationRecord]:
    """The records whose parameters matter for a resource active on a node: its recurring
    operations and its last one-shot operation when that was a start (or a probe, promote,
    migrate_from, which ran with the start's parameters). Claims and cancellations are left
    out. Order: by call id."""
    found = []
    for record in sorted(operations, key=lambda item: item.call_id):
        if record.op_status in (-1, 1) or record.id.endswith("_last_failure_0"):
            continue
        if record.interval_ms > 0 or record.operation in CHECKED_TASKS:
            found.append(record)
    return found


def strongest(checks: Iterable[DigestCheck]) -> DigestCheck | None:
    """The check that decides: a restart over a reload over a re-schedule."""
    rank = {RESTART: 3, RELOAD: 2, RESCHEDULE: 1}
    best = None
    for check in checks:
        if check.kind not in rank:
            continue
        if best is None or rank[check.kind] > rank[best.kind]:
            best = check
    return best


def failure_parameters_changed(record: OperationRecord, parameters: Mapping[str, str]) -> bool:
    """A recorded failure of a start or monitor whose parameters have changed since: its
    fail count no longer bans the resource from the node (Pacemaker clears it)."""
    if record.operation not in ("start", "monitor"):
        return False
    return compare_record(record, parameters).kind not in (MATCH, UNKNOWN)
