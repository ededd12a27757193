"""The environment an OCF agent is run with (Pacemaker's contract, research §1.5).

Role: build the exact variable set for one action: OCF_ROOT, OCF_RA_VERSION_*,
OCF_RESOURCE_*, OCF_RESKEY_<param>, OCF_RESKEY_CRM_meta_* (timeout and interval in ms, name,
on_node, clone and notify context), logging hints (HA_*), and a PATH with the shims first.

Invariants: pure (takes all inputs as arguments); meta names have '-' turned into '_';
promotable and notify variables are sent in both the current and the legacy spelling
(promoted/master, unpromoted/slave) because Debian agents still read the old names; an empty
notify list is sent as a single space, as Pacemaker does; parameter names that cannot be
environment variable names are refused with a one-line error.
"""

from __future__ import annotations

import re

OCF_RA_VERSION_MAJOR = "1"
OCF_RA_VERSION_MINOR = "1"
EXIT_REASON_PREFIX = "ocf-exit-reason:"

_ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")

# Current name -> legacy name; both are always sent.
_META_ALIASES = {
    "promoted_max": "master_max",
    "promoted_node_max": "master_node_max",
    "notify_promoted_resource": "notify_master_resource",
    "notify_promoted_uname": "notify_master_uname",
    "notify_unpromoted_resource": "notify_slave_resource",
    "notify_unpromoted_uname": "notify_slave_uname",
}


class AgentEnvironmentError(ValueError):
    """A parameter or meta name cannot be passed to an agent."""


def meta_key(name: str) -> str:
    """'clone-max' -> 'clone_max' (Pacemaker's CRM_meta naming)."""
    return name.strip().replace("-", "_")


def normalise_meta(meta: dict[str, str]) -> dict[str, str]:
    """Normalise meta names and add the other spelling of promoted/master style names."""
    result: dict[str, str] = {}
    for name, value in meta.items():
        key = meta_key(name)
        if key.startswith("CRM_meta_"):
            key = key[len("CRM_meta_"):]
        if not _ENV_NAME_PATTERN.match(key):
            raise AgentEnvironmentError(f"invalid meta attribute name {name!r}")
        result[key] = str(value)
    for current, legacy in _META_ALIASES.items():
        if current in result and legacy not in result:
            result[legacy] = result[current]
        elif legacy in result and current not in result:
            result[current] = result[legacy]
    if ("promoted_max" in result) and "promotable" not in result:
        result["promotable"] = "true"
    for key, value in result.items():
        if key.startswith("notify_") and key.endswith(("_resource", "_uname", "_hosts")):
            if value.strip() == "":
                result[key] = " "
    return result


def ocf_environment(
    *,
    ocf_root: str,
    resource_id: str,
    agent_type: str,
    provider: str,
    action: str,
    params: dict[str, str],
    meta: dict[str, str],
    timeout_ms: int,
    interval_ms: int,
    node_name: str,
    path: str,
    logging: dict[str, str],
    feature_set: str,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The complete environment for one OCF action (nothing inherited implicitly)."""
    environment: dict[str, str] = {
        "PATH": path,
        "LC_ALL": "C",
        "OCF_ROOT": ocf_root,
        "OCF_RA_VERSION_MAJOR": OCF_RA_VERSION_MAJOR,
        "OCF_RA_VERSION_MINOR": OCF_RA_VERSION_MINOR,
        "OCF_RESOURCE_INSTANCE": resource_id,
        "OCF_RESOURCE_TYPE": agent_type,
        "OCF_RESOURCE_PROVIDER": provider,
        "OCF_EXIT_REASON_PREFIX": EXIT_REASON_PREFIX,
        "OCF_RESKEY_crm_feature_set": feature_set,
    }
    environment.update(logging)
    for name, value in params.items():
        if not _ENV_NAME_PATTERN.match(name) or "." in name or "-" in name:
            raise AgentEnvironmentError(f"invalid parameter name {name!r}")
        environment[f"OCF_RESKEY_{name}"] = str(value)
        if name == "OCF_CHECK_LEVEL":
            environment["OCF_CHECK_LEVEL"] = str(value)
    crm_meta = normalise_meta(meta)
    # The runner's own knowledge wins over anything the caller passed for these.
    crm_meta["timeout"] = str(int(timeout_ms))
    crm_meta["interval"] = str(int(interval_ms))
    crm_meta["name"] = action
    crm_meta["on_node"] = node_name
    crm_meta.setdefault("on_node_uuid", node_name)
    for key, value in crm_meta.items():
        if "." in key or "-" in key:
            raise AgentEnvironmentError(f"invalid meta attribute name {key!r}")
        environment[f"OCF_RESKEY_CRM_meta_{key}"] = value
    if extra:
        for name, value in extra.items():
            if not _ENV_NAME_PATTERN.match(name) or "." in name or "-" in name:
                raise AgentEnvironmentError(f"invalid environment variable name {name!r}")
            environment[name] = str(value)
    return environment


def plain_environment(path: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for LSB scripts and systemctl: no OCF variables, C locale."""
    environment = {"PATH": path, "LC_ALL": "C"}
    if extra:
        environment.update({name: str(value) for name, value in extra.items()})
    return environment
