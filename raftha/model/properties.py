"""Pacemaker cluster properties (crm_config options): names, value types and validation.

The table follows Pacemaker 2.1's cluster options (`pacemaker-schedulerd metadata`,
`pacemaker-controld metadata`, `pacemaker-fenced metadata`) plus `fencing-enabled`, the
newer spelling of `stonith-enabled`. Values are stored as the operator typed them (as
Pacemaker does); validation only decides whether a value is acceptable, so every node
accepts and rejects the same `ClusterPropertySet` events.

Invariant: `validate_property(name, value)` returns None when acceptable, else a one-line
reason naming the problem; it never raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from raftha.model.acl import acl_problem

BOOLEAN_WORDS = frozenset(
    {"true", "false", "yes", "no", "on", "off", "y", "n", "1", "0"}
)
TRUE_WORDS = frozenset({"true", "yes", "on", "y", "1"})
TIME_PATTERN = re.compile(
    r"^\s*[0-9]+\s*(ms|msec|us|usec|s|sec|m|min|h|hr)?\s*$", re.IGNORECASE
)
ISO_DURATION_PATTERN = re.compile(
    r"^P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$"
)
INTEGER_PATTERN = re.compile(r"^[+-]?[0-9]{1,18}$")
SCORE_PATTERN = re.compile(r"^([+-]?[0-9]{1,18}|[+-]?INFINITY|[+-]?inf|red|green|yellow)$",
                           re.IGNORECASE)
PERCENTAGE_PATTERN = re.compile(r"^[0-9]{1,3}(\.[0-9]+)?%$")


@dataclass(frozen=True)
class PropertySpec:
    name: str
    value_type: str           # boolean | time | integer | score | percentage | enum | text
    default: str
    choices: tuple[str, ...] = ()
    read_only: bool = False


def spec(name: str, value_type: str, default: str, choices: tuple[str, ...] = (),
         read_only: bool = False) -> PropertySpec:
    return PropertySpec(name, value_type, default, choices, read_only)


PROPERTY_SPECS: dict[str, PropertySpec] = {
    item.name: item
    for item in (
        spec("batch-limit", "integer", "0"),
        spec("cluster-delay", "time", "60s"),
        spec("cluster-infrastructure", "text", "raftha", read_only=True),
        spec("cluster-ipc-limit", "integer", "500"),
        spec("cluster-name", "text", ""),
        spec("cluster-recheck-interval", "time", "15min"),
        spec("concurrent-fencing", "boolean", "true"),
        spec("dc-deadtime", "time", "20s"),
        spec("dc-version", "text", "", read_only=True),
        spec("election-timeout", "time", "2min"),
        spec("enable-acl", "boolean", "false"),
        spec("enable-startup-probes", "boolean", "true"),
        spec("fence-reaction", "enum", "stop", ("stop", "panic")),
        spec("fencing-enabled", "boolean", "true"),
        spec("have-watchdog", "boolean", "false", read_only=True),
        spec("join-finalization-timeout", "time", "30min"),
        spec("join-integration-timeout", "time", "3min"),
        spec("load-threshold", "percentage", "80%"),
        spec("maintenance-mode", "boolean", "false"),
        spec("migration-limit", "integer", "-1"),
        spec("no-quorum-policy", "enum", "stop", ("stop", "freeze", "ignore", "demote",
                                                   "suicide")),
        spec("node-action-limit", "integer", "0"),
        spec("node-health-base", "integer", "0"),
        spec("node-health-green", "score", "0"),
        spec("node-health-red", "score", "-INFINITY"),
        spec("node-health-strategy", "enum", "none", ("none", "migrate-on-red", "only-green",
                                                       "progressive", "custom")),
        spec("node-health-yellow", "score", "0"),
        spec("node-pending-timeout", "time", "0"),
        spec("pe-error-series-max", "integer", "-1"),
        spec("pe-input-series-max", "integer", "4000"),
        spec("pe-warn-series-max", "integer", "5000"),
        spec("placement-strategy", "enum", "default", ("default", "utilization", "minimal",
                                                        "balanced")),
        spec("priority-fencing-delay", "time", "0"),
        spec("remove-after-stop", "boolean", "false"),
        spec("shutdown-escalation", "time", "20min"),
        spec("shutdown-lock", "boolean", "false"),
        spec("shutdown-lock-limit", "time", "0"),
        spec("start-failure-is-fatal", "boolean", "true"),
        spec("startup-fencing", "boolean", "true"),
        spec("stonith-action", "enum", "reboot", ("reboot", "off", "poweroff")),
        spec("stonith-enabled", "boolean", "true"),
        spec("stonith-max-attempts", "integer", "10"),
        spec("stonith-timeout", "time", "60s"),
        spec("stonith-watchdog-timeout", "time", "0"),
        spec("stop-all-resources", "boolean", "false"),
        # The lease and watchdog timing of watchdog-only recovery (DESIGN section 7).
        spec("lease-time", "time", "2s"),
        spec("watchdog-timeout", "time", "2s"),
        spec("watchdog-margin", "time", "500ms"),
        spec("clock-rate-error", "percentage", "1%"),
        spec("stop-orphan-actions", "boolean", "true"),
        spec("stop-orphan-resources", "boolean", "true"),
        spec("symmetric-cluster", "boolean", "true"),
        spec("transition-delay", "time", "0s"),
        # Pacemaker 1.1 spellings still found in real CIBs (accepted, as Pacemaker does).
        spec("crmd-finalization-timeout", "time", "30min"),
        spec("crmd-integration-timeout", "time", "3min"),
        spec("crmd-transition-delay", "time", "0s"),
        spec("default-action-timeout", "time", "20s"),
        spec("default-resource-stickiness", "score", "0"),
        spec("expected-quorum-votes", "integer", "2"),
        spec("is-managed-default", "boolean", "true"),
        spec("notification-agent", "text", ""),
        spec("notification-recipient", "text", ""),
        # Who may use the control socket (raftha.model.acl): TARGET=ROLE entries.
        spec("raftha-acl", "acl", ""),
        # Written by Pacemaker's controller, never by operators.
        spec("last-lrm-refresh", "text", "", read_only=True),
    )
}

# Properties the cluster maintains itself: a configuration exported from Pacemaker carries
# them, so loading one drops them with a note instead of refusing the whole load.
READ_ONLY_PROPERTIES = frozenset(name for name, item in PROPERTY_SPECS.items()
                                 if item.read_only)


def is_boolean(value: str) -> bool:
    return value.strip().lower() in BOOLEAN_WORDS


def is_time(value: str) -> bool:
    return bool(TIME_PATTERN.match(value) or ISO_DURATION_PATTERN.match(value.strip()))


def is_integer(value: str) -> bool:
    return bool(INTEGER_PATTERN.match(value.strip()))


def is_score(value: str) -> bool:
    return bool(SCORE_PATTERN.match(value.strip()))


def is_percentage(value: str) -> bool:
    return bool(PERCENTAGE_PATTERN.match(value.strip()))


TYPE_CHECKS: dict[str, tuple[Callable[[str], bool], str]] = {
    "boolean": (is_boolean, "a boolean (true/false, yes/no, on/off, 1/0)"),
    "time": (is_time, "a time (e.g. 30s, 5min, 500ms, 1h)"),
    "integer": (is_integer, "an integer"),
    "score": (is_score, "a score (integer or [-]INFINITY)"),
    "percentage": (is_percentage, "a percentage (e.g. 80%)"),
    "acl": (lambda value: acl_problem(value) is None,
            "a list of TARGET=ROLE entries (TARGET user, uid or @group; ROLE read-only, "
            "operator or admin)"),
}


def validate_property(name: str, value: str) -> str | None:
    """None if `name=value` is an acceptable cluster property, else the reason why not."""
    property_spec = PROPERTY_SPECS.get(name)
    if property_spec is None:
        return f"unknown cluster property {name!r}"
    if property_spec.read_only:
        return f"cluster property {name!r} is read-only"
    if property_spec.value_type == "enum":
        if value not in property_spec.choices:
            allowed = ", ".join(property_spec.choices)
            return f"{name} must be one of {allowed}, not {value!r}"
        return None
    if property_spec.value_type == "text":
        return None
    check, description = TYPE_CHECKS[property_spec.value_type]
    if not check(value):
        return f"{name} must be {description}, not {value!r}"
    return None


def validate_property_name(name: str) -> str | None:
    """None if `name` may be unset, else the reason why not."""
    property_spec = PROPERTY_SPECS.get(name)
    if property_spec is None:
        return f"unknown cluster property {name!r}"
    if property_spec.read_only:
        return f"cluster property {name!r} is read-only"
    return None


def boolean_value(value: str) -> bool:
    """Pacemaker's reading of a boolean word (anything not true-like is false)."""
    return value.strip().lower() in TRUE_WORDS
