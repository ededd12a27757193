"""Control-socket authorisation: who is calling (kernel peer credentials) and may they.

The socket is connectable by every local user; each request is authorised on its own by
`raftha.model.acl.decide` against the replicated `raftha-acl` list in this node's state and
the node's `[security] admin_group`. The ACL operations live here too:

    acl_show   {}                          -> {"entries": [{target, role}], "admin_group"}
    acl_grant  {"target", "role"}          -> {"index"}   (ClusterPropertySet raftha-acl)
    acl_revoke {"target"}                  -> {"index"}

Invariants: the caller's identity comes only from the kernel (SO_PEERCRED, SO_PEERGROUPS),
never from the request; a caller whose credentials cannot be read is uid -1 with no groups
and gets no role; a denied request changes nothing and is answered with one line naming
user, uid, operation and role.
"""

from __future__ import annotations

import grp
import os
import pwd
import socket
import struct
from typing import Any

from raftha.model.acl import (
    ACL_PROPERTY,
    AclError,
    Caller,
    Decision,
    decide,
    granted,
    parse_acl,
    render_acl,
)

SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59)  # Linux >= 4.13
MAX_PEER_GROUPS = 1024
UNKNOWN_CALLER = Caller(uid=-1, user="unknown", groups=())


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def peer_caller(connection: socket.socket) -> Caller:
    """The caller at the other end of a Unix socket, as the kernel reports it."""
    try:
        credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                            struct.calcsize("3i"))
        _, uid, gid = struct.unpack("3i", credentials)
    except OSError:
        return UNKNOWN_CALLER
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    return Caller(uid=uid, user=user, groups=peer_groups(connection, user, gid))


def peer_groups(connection: socket.socket, user: str, gid: int) -> tuple[str, ...]:
    """The peer process's own group list (what it really holds), else the user database's."""
    gids: list[int]
    try:
        raw = connection.getsockopt(socket.SOL_SOCKET, SO_PEERGROUPS, 4 * MAX_PEER_GROUPS)
        gids = [gid, *struct.unpack(f"{len(raw) // 4}I", raw[: len(raw) // 4 * 4])]
    except OSError:
        try:
            gids = os.getgrouplist(user, gid)
        except (OSError, KeyError):
            gids = [gid]
    return tuple(sorted({group_name(item) for item in gids}))


def acl_entries(state: Any) -> tuple[tuple[str, str], ...]:
    """The ACL list in `state`; an unreadable list (never accepted by the reducer) grants
    nothing."""
    text = state.property(ACL_PROPERTY) or ""
    try:
        return parse_acl(text)
    except AclError:
        return ()


def authorise(api: Any, caller: Caller, operation: str) -> Decision:
    admin_group = getattr(api.config, "admin_group", "")
    return decide(caller, operation, acl_entries(api.machine.state), admin_group)


def denial(api: Any, request: Any, caller: Caller) -> dict | None:
    """The error response for a request `caller` may not make, else None (malformed
    requests pass through: the API answers those itself, and they change nothing)."""
    if not isinstance(request, dict) or not isinstance(request.get("op"), str):
        return None
    decision = authorise(api, caller, request["op"])
    if decision.allowed:
        return None
    return {"ok": False, "error": decision.reason}


def acl_operations(api: Any) -> dict:
    """The acl_* operations, bound to a ControlApi."""
    from raftha.daemon.api import RequestError, allow, string_arg

    def change(target: str, role: str | None, user: str) -> dict:
        state = api.read_state({}, consistent_by_default=True)
        try:
            entries = granted(acl_entries(state), target, role)
        except AclError as error:
            raise RequestError(str(error)) from None
        if not entries:
            return api.propose("ClusterPropertyUnset", {"name": ACL_PROPERTY}, user)
        return api.propose("ClusterPropertySet",
                           {"name": ACL_PROPERTY, "value": render_acl(entries)}, user)

    def acl_grant(args: dict, user: str) -> dict:
        allow(args, "target", "role")
        return change(string_arg(args, "target"), string_arg(args, "role"), user)

    def acl_revoke(args: dict, user: str) -> dict:
        allow(args, "target")
        return change(string_arg(args, "target"), None, user)

    def acl_show(args: dict, user: str) -> dict:
        allow(args)
        entries = acl_entries(api.machine.state)
        return {"entries": [{"target": target, "role": role} for target, role in entries],
                "admin_group": getattr(api.config, "admin_group", "")}

    return {"acl_grant": acl_grant, "acl_revoke": acl_revoke, "acl_show": acl_show}
