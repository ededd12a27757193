"""Access control for the Control API: roles, the replicated ACL list, and the decision.

The ACL list lives in the replicated configuration as the cluster property `raftha-acl`,
so every node decides alike. Its text is a space-separated list of `TARGET=ROLE` entries,
where TARGET is a user name, a numeric uid, or `@group` (like Pacemaker's acl_target and
acl_group), and ROLE is one of:

    read-only   status, history and show operations
    operator    read-only plus resource and node verbs (move, ban, cleanup, standby...)
    admin       everything (properties, configuration, membership, ACLs, keys)

Invariants (pure: no I/O): uid 0 and members of the node's configured admin group are
always admin; a caller's role is the highest role of its user entry and its groups'
entries; an operation not listed here needs admin (fail closed); `ping` needs no role.
Parsing never raises anything but `AclError` with a one-line reason; rendering then
parsing gives the same entries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ACL_PROPERTY = "raftha-acl"
ROLE_NONE = "none"
ROLE_READ_ONLY = "read-only"
ROLE_OPERATOR = "operator"
ROLE_ADMIN = "admin"
ROLES = (ROLE_READ_ONLY, ROLE_OPERATOR, ROLE_ADMIN)
ROLE_RANK = {ROLE_NONE: 0, ROLE_READ_ONLY: 1, ROLE_OPERATOR: 2, ROLE_ADMIN: 3}
MAX_ACL_ENTRIES = 256
MAX_ACL_TEXT_BYTES = 16 * 1024
TARGET_PATTERN = re.compile(r"^@?[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\$?$")

OPEN_OPERATIONS = frozenset({"ping"})
READ_OPERATIONS = frozenset({
    "status", "state_hash", "raft_status", "property_show", "history", "rejections",
    "metrics", "configure_show", "cluster_info", "attribute_query", "node_list",
    "resource_failcount", "executor_status", "fence_history", "configure_verify",
    "cib_export", "explain", "why_moved", "acl_show",
})
OPERATOR_OPERATIONS = frozenset({
    "resource_move", "resource_ban", "resource_clear", "resource_meta", "resource_cleanup",
    "node_attribute_set", "node_attribute_unset", "attribute_update", "node_utilization",
    "node_fence",
})


class AclError(ValueError):
    """An ACL list or entry that cannot be used; the message is a one-line reason."""


@dataclass(frozen=True)
class Caller:
    """Who is on the other end of the control socket (from the kernel's peer credentials)."""
    uid: int
    user: str                      # the user name, or the uid as text when it has none
    groups: tuple[str, ...] = ()   # names of the primary and supplementary groups


@dataclass(frozen=True)
class Decision:
    allowed: bool
    role: str
    required: str
    reason: str                    # one line; the error sent back when not allowed


def required_role(operation: str) -> str:
    if operation in OPEN_OPERATIONS:
        return ROLE_NONE
    if operation in READ_OPERATIONS:
        return ROLE_READ_ONLY
    if operation in OPERATOR_OPERATIONS:
        return ROLE_OPERATOR
    return ROLE_ADMIN


def check_target(target: str) -> str:
    if not isinstance(target, str) or not TARGET_PATTERN.match(target):
        raise AclError(f"ACL target {target!r} must be a user name, a uid or @group")
    return target


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AclError(f"ACL role {role!r} must be one of {', '.join(ROLES)}")
    return role


def parse_acl(text: str) -> tuple[tuple[str, str], ...]:
    """`TARGET=ROLE ...` -> sorted ((target, role), ...); AclError on any bad entry."""
    if not isinstance(text, str):
        raise AclError("ACL list must be text")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_ACL_TEXT_BYTES:
        raise AclError(f"ACL list longer than {MAX_ACL_TEXT_BYTES} bytes")
    entries: dict[str, str] = {}
    for word in text.replace(",", " ").split():
        target, separator, role = word.partition("=")
        if not separator:
            raise AclError(f"ACL entry {word!r} must read TARGET=ROLE")
        if target in entries:
            raise AclError(f"ACL target {target!r} appears twice")
        entries[check_target(target)] = check_role(role)
    if len(entries) > MAX_ACL_ENTRIES:
        raise AclError(f"ACL list has more than {MAX_ACL_ENTRIES} entries")
    return tuple(sorted(entries.items()))


def render_acl(entries: tuple[tuple[str, str], ...]) -> str:
    return " ".join(f"{target}={role}" for target, role in sorted(entries))


def acl_problem(text: str) -> str | None:
    """None if `text` is an acceptable value of the `raftha-acl` property, else why not."""
    try:
        parse_acl(text)
    except AclError as error:
        return str(error)
    return None


def granted(entries: tuple[tuple[str, str], ...], target: str,
            role: str | None) -> tuple[tuple[str, str], ...]:
    """The entries with `target` given `role` (None revokes; AclError if nothing to revoke)."""
    check_target(target)
    current = dict(entries)
    if role is None:
        if target not in current:
            raise AclError(f"ACL target {target!r} has no role to revoke")
        del current[target]
    else:
        current[target] = check_role(role)
    if len(current) > MAX_ACL_ENTRIES:
        raise AclError(f"ACL list has more than {MAX_ACL_ENTRIES} entries")
    return tuple(sorted(current.items()))


def role_of(caller: Caller, entries: tuple[tuple[str, str], ...],
            admin_group: str = "") -> tuple[str, str]:
    """(role, where it comes from) for `caller`: the highest of its grants."""
    if caller.uid == 0:
        return ROLE_ADMIN, "root"
    if admin_group and admin_group in caller.groups:
        return ROLE_ADMIN, f"admin group {admin_group}"
    best, source = ROLE_NONE, "no ACL entry"
    by_target = dict(entries)
    candidates = [caller.user, str(caller.uid), *(f"@{group}" for group in caller.groups)]
    for target in candidates:
        role = by_target.get(target)
        if role is not None and ROLE_RANK[role] > ROLE_RANK[best]:
            best, source = role, f"ACL entry {target}"
    return best, source


def decide(caller: Caller, operation: str, entries: tuple[tuple[str, str], ...],
           admin_group: str = "") -> Decision:
    """May `caller` run `operation`? The reason names user, uid, operation and role."""
    role, source = role_of(caller, entries, admin_group)
    required = required_role(operation)
    if ROLE_RANK[role] >= ROLE_RANK[required]:
        return Decision(True, role, required, f"{operation} allowed: role {role} ({source})")
    shown_role = "no role" if role == ROLE_NONE else f"role {role}"
    return Decision(False, role, required,
                    f"permission denied: user {caller.user} (uid {caller.uid}) may not "
                    f"{operation} ({shown_role}; needs {required})")
