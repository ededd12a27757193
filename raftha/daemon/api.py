"""The Control API: a Unix socket speaking one JSON object per line each way.

    request  {"op": str, "args": {...}}
    response {"ok": true, "result": ...}  |  {"ok": false, "error": "one-line reason"}

A connection may carry any number of requests, answered in order. The socket is created
with mode 0666 (configurable); the caller's OS user comes from SO_PEERCRED and is recorded
as "user" in every event the request causes, and each request is authorised on its own
(raftha.daemon.acl: root and the admin group may do everything, others what their ACL role
allows; acl_grant, acl_revoke, acl_show are documented there).

Operations (args -> result):
    ping             {}                     -> {"node", "cluster", "version"}
    status           {"at": INDEX?, "consistent"?} -> the `raftha status --output json`
                                               document (local view unless consistent);
                                               with "at", the state rebuilt at that index
    state_hash       {}                     -> {"index", "hash", "format"} (hashes compare only
                                               between nodes of equal state format)
    raft_status      {}                     -> this node's Raft view (leader, term, members...)
    property_set     {"name", "value"}      -> {"index"}   (ClusterPropertySet)
    property_unset   {"name"}               -> {"index"}   (ClusterPropertyUnset)
    property_show    {"consistent"?}        -> {"properties": {NAME: VALUE}, "index"}
                                               (consistent by default: a committed read
                                               barrier first, "no quorum" without one;
                                               consistent=false reads the local view)
    history          {"limit"?, "since"?, "resource"?} -> {"events": [{index, time, ts_ms,
                                               origin, user, kind, summary, status, reason}],
                                               "earliest"}; with "resource", also "changed":
                                               the indexes of the kept configuration loads
                                               that changed it (its definition, its group or
                                               clone, or a constraint naming it)
    rejections       {}                     -> {"rejections": [...]} (recent, from the state)
    metrics          {}                     -> {"apply_count", "apply_mean_us", "raft": {...}}
    configure_load   {"text", "mode"?, "base_index"?} -> {"index", "resources"}  (crm
                                               configure text; mode "update" (default) or
                                               "replace"; verified, then one
                                               ConfigurationLoaded event; with base_index,
                                               refused if the configuration changed since)
    configure_show   {"consistent"?}        -> {"text", "configuration", "index"}
                                               (consistent by default, as property_show)
    resource_move    {"resource", "node"?, "lifetime"?} -> {"index"}  (location
                                               cli-prefer-RSC; a lifetime ("PT1H", "10m")
                                               makes it expire by itself). Without a node:
                                               cli-ban-RSC-on-NODE for the one node RSC is
                                               active on, and "banned_node" (crm_resource
                                               --move without --node); refused when it is
                                               active on no node or on several
    resource_ban     {"resource", "node"?, "lifetime"?} -> {"index"}  (cli-ban-RSC-on-NODE;
                                               without a node as resource_move)
    resource_clear   {"resource"}           -> {"index"}  (removes both kinds)
    resource_meta    {"resource", "name", "value"|null} -> {"index"}  (target-role,
                                               is-managed ...; null removes it)
    resource_cleanup {"resource", "node"?}  -> {"index"}  (forget history and fail counts:
                                               ResourceCleanedUp; it is probed again)
    node_attribute_set   {"node", "name", "value"} -> {"index"}  (permanent node attribute,
                                               e.g. standby=on; NodeAttributeSet)
    node_attribute_unset {"node", "name"}          -> {"index"}  (NodeAttributeUnset)
    cluster_info     {}                     -> {"name", "id", "members": [{name, address}]}
    node_add         {"name", "address"}    -> {"index"}   (Raft add_member, then NodeJoined)
    node_remove      {"name"}               -> {"index"}   (Raft remove_member, then NodeLeft)
    attribute_query, attribute_update, node_list, resource_failcount, executor_status:
                     see raftha.daemon.executor_api
    configure_verify, cib_export, explain, why_moved: see raftha.daemon.operator_api

Invariants: every request is bounded (line length, connection idle timeout, proposal
deadline, at most 64 connections served at once); a handler error becomes
{"ok": false, "error": ...}, never a dropped connection or a crashed daemon; a failed
write has changed nothing that reports success.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import socket
import socketserver
import struct
import threading
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

import raftha
from raftha.crmsh import CrmSyntaxError, load_configuration, render_configuration, verify
from raftha.daemon import clock
from raftha.daemon.acl import acl_operations, denial, peer_caller
from raftha.daemon.config import NodeConfig
from raftha.daemon.executor_api import executor_operations
from raftha.daemon.fencing_duties import fencing_operations
from raftha.daemon.history import (
    RESTORED,
    SNAPSHOTS,
    HistoryError,
    HistoryJournal,
    Record,
)
from raftha.daemon.key_rotation import key_operations
from raftha.daemon.machine import ReducerStateMachine
from raftha.daemon.operator_api import operator_operations
from raftha.daemon.proposer import ProposalError, ProposalRejected, Proposer
from raftha.daemon.views import rejections_view, resources_view, status_view
from raftha.model import config_edits, lifetimes
from raftha.model.config import (
    ConfigError,
    Configuration,
    PlainFootprints,
    resource_footprint,
)
from raftha.model.config_edits import EditError
from raftha.model.events import Event, EventError, decode_event
from raftha.model.properties import (
    READ_ONLY_PROPERTIES,
    validate_property,
    validate_property_name,
)
from raftha.model.reducer import APPLIED, history_inactive, stored_configuration
from raftha.model.state import STATE_FORMAT, decode_snapshot, state_hash

LOG = logging.getLogger(__name__)
MAX_REQUEST_BYTES = 1024 * 1024
CONNECTION_IDLE_TIMEOUT_S = 300.0
MEMBERSHIP_TIMEOUT_MS = 10_000
CONFIGURE_ATTEMPTS = 3
ACCEPT_POLL_INTERVAL_S = 2.0
MAX_CONNECTIONS = 64
DEFAULT_HISTORY_LIMIT = 100
MAX_HISTORY_LIMIT = 100_000


class RequestError(Exception):
    """A request that cannot be served; the message is the one-line error sent back."""


def peer_user(connection: socket.socket) -> str:
    """The OS user name of the process at the other end of a Unix socket."""
    try:
        credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                            struct.calcsize("3i"))
        _, uid, _ = struct.unpack("3i", credentials)
    except OSError:
        return ""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


class ControlApi:
    """The operations, independent of the transport (unit-testable with a fake raft)."""

    def __init__(self, config: NodeConfig, raft: Any, machine: ReducerStateMachine,
                 proposer: Proposer, history: HistoryJournal | None) -> None:
        self.config = config
        self.raft = raft
        self.machine = machine
        self.proposer = proposer
        self.history = history
        self.operations: dict[str, Callable[[dict, str], Any]] = {
            "ping": self.op_ping,
            "status": self.op_status,
            "state_hash": self.op_state_hash,
            "raft_status": self.op_raft_status,
            "property_set": self.op_property_set,
            "property_unset": self.op_property_unset,
            "property_show": self.op_property_show,
            "history": self.op_history,
            "rejections": self.op_rejections,
            "metrics": self.op_metrics,
            "configure_load": self.op_configure_load,
            "configure_show": self.op_configure_show,
            "resource_move": self.op_resource_move,
            "resource_ban": self.op_resource_ban,
            "resource_clear": self.op_resource_clear,
            "resource_meta": self.op_resource_meta,
            "resource_cleanup": self.op_resource_cleanup,
            "node_attribute_set": self.op_node_attribute_set,
            "node_attribute_unset": self.op_node_attribute_unset,
            "cluster_info": self.op_cluster_info,
            "node_add": self.op_node_add,
            "node_remove": self.op_node_remove,
        }
        self.operations.update(fencing_operations(self))
        self.executor = None  # the node daemon sets it
        self.operations.update(executor_operations(self))
        self.operations.update(operator_operations(self))
        self.operations.update(acl_operations(self))
        self.operations.update(key_operations(self))

    def handle(self, request: Any, user: str) -> dict[str, Any]:
        try:
            if not isinstance(request, dict) or not isinstance(request.get("op"), str):
                raise RequestError("request must be a JSON object with a string 'op'")
            args = request.get("args", {})
            if not isinstance(args, dict):
                raise RequestError("'args' must be a JSON object")
            operation = self.operations.get(request["op"])
            if operation is None:
                raise RequestError(f"unknown operation {request['op']!r}")
            return {"ok": True, "result": operation(args, user)}
        except (RequestError, ProposalError, HistoryError) as error:
            return {"ok": False, "error": str(error)}
        except Exception as error:
            LOG.exception("control request failed")
            return {"ok": False, "error": f"internal error: {type(error).__name__}: {error}"}

    # -- helpers ---------------------------------------------------------------------------

    def fallback_names(self) -> dict[str, str]:
        names = {address: name for name, address in (*self.config.peers,
                                                     *self.config.initial_nodes)}
        names[self.config.raft_address] = self.config.node_name
        return names

    def propose(self, kind: str, body: dict, user: str) -> dict[str, Any]:
        outcome = self.proposer.propose(kind, body, user=user,
                                        timeout_ms=self.config.timing.propose_timeout_ms)
        return {"index": outcome.index}

    # -- operations ------------------------------------------------------------------------

    def require_history(self) -> None:
        if self.machine.history_error:
            raise RequestError(self.machine.history_error)
        if self.history is None:
            raise RequestError("this node keeps no history journal")

    def op_ping(self, args: dict, user: str) -> dict:
        allow(args)
        return {"node": self.config.node_name, "cluster": self.machine.state.name or None,
                "version": raftha.__version__}

    def op_status(self, args: dict, user: str) -> dict:
        allow(args, "at", "consistent")
        at = args.get("at")
        if at is None:
            state = self.read_state(args, consistent_by_default=False)
            return status_view(state, self.raft.status(), self.config.node_name,
                               self.fallback_names())
        at = integer_arg(args, "at", minimum=0)
        self.require_history()
        state = self.history.state_at(at)
        view = status_view(state, None, self.config.node_name, self.fallback_names())
        view["cluster"]["at_index"] = at
        return view

    def op_state_hash(self, args: dict, user: str) -> dict:
        allow(args)
        state = self.machine.state
        return {"index": state.last_index, "hash": state_hash(state), "format": STATE_FORMAT}

    def op_raft_status(self, args: dict, user: str) -> dict:
        allow(args)
        view = asdict(self.raft.status())
        view["members"] = list(view["members"])
        view["connected_peers"] = list(view["connected_peers"])
        return view

    def op_property_set(self, args: dict, user: str) -> dict:
        allow(args, "name", "value")
        name, value = string_arg(args, "name"), string_arg(args, "value")
        problem = validate_property(name, value)
        if problem is not None:  # the reducer would reject it the same way; save a log entry
            raise RequestError(problem)
        return self.propose("ClusterPropertySet", {"name": name, "value": value}, user)

    def op_property_unset(self, args: dict, user: str) -> dict:
        allow(args, "name")
        problem = validate_property_name(string_arg(args, "name"))
        if problem is not None:
            raise RequestError(problem)
        return self.propose("ClusterPropertyUnset", {"name": string_arg(args, "name")}, user)

    def read_state(self, args: dict, consistent_by_default: bool):
        """The state to answer a read from. Consistent (a committed read barrier first):
        nothing older than a write acknowledged before the read; fails without a quorum.
        Local: this node's view at once, possibly stale (what crm_mon shows)."""
        consistent = args.get("consistent", consistent_by_default)
        if not isinstance(consistent, bool):
            raise RequestError("argument 'consistent' must be true or false")
        if consistent:
            try:
                self.proposer.read_barrier(self.config.timing.propose_timeout_ms)
            except ProposalError as error:
                raise RequestError(f"consistent read failed: {error} (a local, possibly "
                                   "stale read needs --local)") from None
        return self.machine.state

    def op_property_show(self, args: dict, user: str) -> dict:
        allow(args, "consistent")
        state = self.read_state(args, consistent_by_default=True)
        return {"properties": dict(state.properties), "index": state.last_index}

    def op_history(self, args: dict, user: str) -> dict:
        allow(args, "limit", "since", "resource")
        limit = integer_arg(args, "limit", minimum=1, default=DEFAULT_HISTORY_LIMIT,
                            maximum=MAX_HISTORY_LIMIT)
        since = integer_arg(args, "since", minimum=0, default=0)
        self.require_history()
        rows, earliest = self.history.rows(limit, since)
        answer = {"events": [row.to_dict() for row in rows], "earliest": earliest}
        if args.get("resource") is not None:
            answer["changed"] = loads_changing(self.history.records(),
                                               string_arg(args, "resource"))
        return answer

    def op_rejections(self, args: dict, user: str) -> dict:
        allow(args)
        return {"rejections": rejections_view(self.machine.state)}

    def op_metrics(self, args: dict, user: str) -> dict:
        allow(args)
        count = self.machine.apply_count
        mean_us = 1e6 * self.machine.apply_seconds_total / count if count else 0.0
        raft_metrics = self.raft.metrics() if hasattr(self.raft, "metrics") else {}
        return {"apply_count": count, "apply_mean_us": round(mean_us, 1),
                "raft": json.loads(json.dumps(raft_metrics, default=str))}

    def op_configure_load(self, args: dict, user: str) -> dict:
        allow(args, "text", "mode", "base_index")
        text = string_arg(args, "text")
        mode = args.get("mode", "update")
        if mode not in ("update", "replace"):
            raise RequestError("mode must be 'update' or 'replace'")
        base_index = None if args.get("base_index") is None else integer_arg(
            args, "base_index", minimum=0)

        def build(state):
            if base_index is not None and state.configuration_index != base_index:
                # A staged or edited text is based on what the operator saw: never
                # overwrite a change made in the meantime (crm's commit does the same).
                raise RequestError(
                    f"the configuration changed since index {base_index} (now at "
                    f"{state.configuration_index}); look at it again and redo the change")
            return merged_configuration(state, text, mode)
        return self.propose_configuration(build, mode, "", user)

    def propose_configuration(self, build, mode: str, description: str, user: str) -> dict:
        """Commits the configuration `build(state)` returns, checked against the epoch it
        was built from; a concurrent change makes it rebuild on the new state (bounded)."""
        for _ in range(CONFIGURE_ATTEMPTS):
            state = self.machine.state
            configuration = build(state)
            body = {"configuration": configuration.to_dict(),
                    "base_index": state.configuration_index, "mode": mode}
            if description:
                body["description"] = description
            try:
                result = self.propose("ConfigurationLoaded", body, user)
            except ProposalRejected as rejection:
                if "load it again" in str(rejection):
                    continue  # a concurrent change won: build again on top of it
                raise
            return {"index": result["index"], "resources": len(configuration.all_primitives())}
        raise RequestError(f"the configuration kept changing; gave up after "
                           f"{CONFIGURE_ATTEMPTS} attempts")

    def edit_configuration(self, edit, description: str, user: str) -> dict:
        def build(state):
            try:
                configuration = edit(stored_configuration(state))
            except EditError as error:
                raise RequestError(str(error)) from None
            return verified(configuration)
        return self.propose_configuration(build, "replace", description, user)

    def lifetime_end_s(self, args: dict) -> int | None:
        """END (s since the epoch) of a move or ban with a "lifetime", from this node's
        clock; the committed time decides when it has passed."""
        if args.get("lifetime") is None:
            return None
        try:
            seconds = lifetimes.parse_lifetime_s(string_arg(args, "lifetime"))
        except lifetimes.LifetimeError as error:
            raise RequestError(str(error)) from None
        return clock.wall_s() + seconds

    def location_edit(self, args: dict, user: str, kind: str, resource: str,
                      node: str) -> dict:
        """Commits the move (cli-prefer) or ban (cli-ban) location constraint `kind` of
        `resource` for `node`, expiring at the end of args' lifetime if it has one."""
        permanent_edit, lasting_edit, words = LOCATION_EDITS[kind]
        self.require_member(node)
        end_s = self.lifetime_end_s(args)
        description = f"resource {resource} {words} {node}"
        if end_s is None:
            return self.edit_configuration(
                lambda config: permanent_edit(config, resource, node), description, user)
        return self.edit_configuration(
            lambda config: lasting_edit(config, resource, node, end_s),
            f"{description} until {lifetimes.iso_utc(end_s)}", user)

    def ban_from_current_node(self, args: dict, user: str, resource: str) -> dict:
        """crm_resource --move/--ban without a node: ban the resource from the one node it
        is active on, refused (crm_resource's words) when that is not exactly one node."""
        state = self.machine.state
        try:
            config_edits.require_resource(stored_configuration(state), resource)
        except EditError as error:
            raise RequestError(str(error)) from None
        nodes = active_nodes(resources_view(state), resource)
        if len(nodes) != 1:
            raise RequestError(
                f"Resource '{resource}' not moved: active in {len(nodes)} locations. "
                f"To prevent '{resource}' from running on a specific location, specify a node.")
        result = self.location_edit(args, user, "ban", resource, nodes[0])
        return {**result, "banned_node": nodes[0]}

    def location_request(self, args: dict, user: str, kind: str) -> dict:
        """resource_move (kind "move") and resource_ban ("ban"); both ban from the current
        node when no node is given."""
        allow(args, "resource", "node", "lifetime")
        resource = string_arg(args, "resource")
        if args.get("node") is None:
            return self.ban_from_current_node(args, user, resource)
        return self.location_edit(args, user, kind, resource, string_arg(args, "node"))

    def op_resource_move(self, args: dict, user: str) -> dict:
        return self.location_request(args, user, "move")

    def op_resource_ban(self, args: dict, user: str) -> dict:
        return self.location_request(args, user, "ban")

    def op_resource_clear(self, args: dict, user: str) -> dict:
        allow(args, "resource")
        resource = string_arg(args, "resource")
        return self.edit_configuration(lambda config: config_edits.clear(config, resource),
                                       f"move and ban constraints of {resource} cleared", user)

    def op_resource_meta(self, args: dict, user: str) -> dict:
        allow(args, "resource", "name", "value")
        resource, name = string_arg(args, "resource"), string_arg(args, "name")
        value = args.get("value")
        if value is not None and not isinstance(value, str):
            raise RequestError("argument 'value' must be a string or null")
        words = f"{name}={value}" if value is not None else f"{name} removed"
        return self.edit_configuration(
            lambda config: config_edits.set_meta(config, resource, name, value),
            f"resource {resource}: {words}", user)

    def op_configure_show(self, args: dict, user: str) -> dict:
        allow(args, "consistent")
        state = self.read_state(args, consistent_by_default=True)
        configuration = stored_configuration(state)
        return {"text": render_configuration(configuration),
                "configuration": configuration.to_dict(),
                "index": state.configuration_index}

    def op_node_attribute_set(self, args: dict, user: str) -> dict:
        allow(args, "node", "name", "value")
        body = {"node": string_arg(args, "node"), "name": string_arg(args, "name"),
                "value": string_arg(args, "value")}
        self.require_member(body["node"])
        return self.propose("NodeAttributeSet", body, user)

    def op_node_attribute_unset(self, args: dict, user: str) -> dict:
        allow(args, "node", "name")
        body = {"node": string_arg(args, "node"), "name": string_arg(args, "name")}
        self.require_member(body["node"])
        return self.propose("NodeAttributeUnset", body, user)

    def op_resource_cleanup(self, args: dict, user: str) -> dict:
        allow(args, "resource", "node")
        resource = string_arg(args, "resource")
        node = args.get("node")
        if node is not None:
            self.require_member(string_arg(args, "node"))
        if stored_configuration(self.machine.state).find_resource(resource) is None and not any(
                history.resource == resource
                for _, histories in self.machine.state.operation_histories
                for history in histories):
            raise RequestError(f"no resource {resource!r} in the configuration or history")
        return self.propose("ResourceCleanedUp", {"resource": resource, "node": node}, user)

    def require_member(self, name: str) -> None:
        if self.machine.state.node(name) is None:
            raise RequestError(f"node {name!r} is not a member of the cluster")

    def op_cluster_info(self, args: dict, user: str) -> dict:
        allow(args)
        state = self.machine.state
        return {"name": state.name or self.config.cluster_name, "id": self.config.cluster_id,
                "members": [{"name": node.name, "address": node.address}
                            for node in state.nodes]}

    def op_node_add(self, args: dict, user: str) -> dict:
        allow(args, "name", "address")
        name, address = string_arg(args, "name"), string_arg(args, "address")
        state = self.machine.state
        if state.node(name) is not None:
            raise RequestError(f"node {name!r} is already a member")
        if address not in self.raft.status().members:
            result = self.raft.add_member(address, MEMBERSHIP_TIMEOUT_MS)
            if result.outcome.value != "committed":
                raise RequestError(f"cannot add {address} to the Raft membership: "
                                   f"{result.reason or result.outcome.value}")
        return self.propose("NodeJoined", {"name": name, "address": address}, user)

    def op_node_remove(self, args: dict, user: str) -> dict:
        allow(args, "name", "force")
        name = string_arg(args, "name")
        record = self.machine.state.node(name)
        if record is None:
            raise RequestError(f"node {name!r} is not a member of the cluster")
        active = resources_active_on(self.machine.state, name)
        if active and not args.get("force"):
            # A removed node never sees the log again: whatever it still runs would run
            # twice once the scheduler places it elsewhere (crm_node -R expects it down).
            raise RequestError(
                f"node {name} may still run {', '.join(active)}: stop its daemon first "
                f"(its resources stop cleanly) or fence it (raftha node fence {name}); "
                "--force removes it anyway")
        if record.address in self.raft.status().members:
            result = self.raft.remove_member(record.address, MEMBERSHIP_TIMEOUT_MS)
            if result.outcome.value != "committed":
                raise RequestError(f"cannot remove {name} from the Raft membership: "
                                   f"{result.reason or result.outcome.value}")
        return self.propose("NodeLeft", {"name": name}, user)


def resources_active_on(state, node: str) -> list[str]:
    """Resources whose committed history on `node` does not show them stopped there."""
    return sorted(history.resource for history in state.histories_of(node)
                  if not history_inactive(history))


def merged_configuration(state, text: str, mode: str):
    """The configuration after loading `text`: parsed, merged and verified, or a
    RequestError naming the first problem (nothing is proposed then). Read-only properties
    (dc-version, cluster-infrastructure... as exported by Pacemaker) are dropped."""
    try:
        configuration = load_configuration(stored_configuration(state), text, mode)
    except CrmSyntaxError as error:
        raise RequestError(str(error)) from None
    configuration = replace(configuration, properties=tuple(
        (name, value) for name, value in configuration.properties
        if name not in READ_ONLY_PROPERTIES))
    return verified(configuration)


def verified(configuration):
    """The configuration if it is sound, else a RequestError naming the first problem."""
    problems = verify(configuration)
    for name, value in configuration.properties:
        problem = validate_property(name, value)
        if problem is not None:
            problems.append(problem)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RequestError(f"configuration refused: {problems[0]}{more}")
    return configuration


# A location edit of `resource move|ban`: (without a lifetime, with one, history words).
LOCATION_EDITS = {
    "move": (config_edits.move, lifetimes.move_until, "moved to"),
    "ban": (config_edits.ban, lifetimes.ban_until, "banned from"),
}


def loads_changing(records: list[Record], resource: str) -> list[int]:
    """Indexes of the applied configuration loads among `records` (the history journal, in
    order) that changed what the configuration says about `resource`. A load carries the
    whole configuration; the one before the first load comes from the latest snapshot."""
    changed: list[int] = []
    footprints = PlainFootprints(resource)
    before = None  # the resource's footprint before the next load; None: not read yet
    snapshot: Record | None = None
    for record in records:
        if record.record_type in SNAPSHOTS:
            snapshot = record
            if record.record_type == RESTORED:
                before = None  # entries before it were never seen: start from it
            continue
        event = applied_configuration_load(record)
        if event is None:
            continue
        if before is None:
            configuration = (Configuration() if snapshot is None
                             else stored_configuration(decode_snapshot(snapshot.payload)))
            before = resource_footprint(configuration, resource)
        try:
            after = footprints.footprint(event.body["configuration"])
        except ConfigError:
            continue  # the reducer refused it too: nothing changed
        if after != before:
            changed.append(record.index)
        before = after
    return changed


def applied_configuration_load(record: Record) -> Event | None:
    # msgpack keeps strings as their UTF-8 bytes: an entry without the kind's name is not a
    # load, and most entries (operation results) are skipped without decoding.
    if record.status not in (APPLIED, "") or b"ConfigurationLoaded" not in record.payload:
        return None
    try:
        event = decode_event(record.payload)
    except EventError:
        return None
    return event if event.kind == "ConfigurationLoaded" else None


def active_nodes(resources: dict[str, dict[str, Any]], resource: str) -> list[str]:
    """The nodes where `resource` (a primitive, group or clone, or one instance) is active,
    from a resources view."""
    found: set[str] = set()
    for instance_id, instance in resources.items():
        if resource in (instance_id, instance.get("primitive"), instance.get("group"),
                        instance.get("clone")):
            found.update(instance.get("nodes") or ())
    return sorted(found)


def allow(args: dict, *names: str) -> None:
    unknown = sorted(set(args) - set(names))
    if unknown:
        raise RequestError(f"unknown argument {unknown[0]!r}")


def string_arg(args: dict, name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str):
        raise RequestError(f"argument {name!r} must be a string")
    return value


def integer_arg(args: dict, name: str, minimum: int, default: int | None = None,
                maximum: int = 2**62) -> int:
    value = args.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise RequestError(f"argument {name!r} must be an integer from {minimum} to {maximum}")
    return value


# ---------------------------------------------------------------------------
# Transport

class ControlRequestHandler(socketserver.StreamRequestHandler):
    server: ControlServer

    def handle(self) -> None:
        self.connection.settimeout(CONNECTION_IDLE_TIMEOUT_S)
        user = peer_user(self.connection)
        caller = peer_caller(self.connection)  # every request is authorised on its own
        while True:
            try:
                line = self.rfile.readline(MAX_REQUEST_BYTES + 1)
            except (TimeoutError, OSError):
                return
            if not line:
                return
            if len(line) > MAX_REQUEST_BYTES:
                self.send({"ok": False, "error": f"request longer than {MAX_REQUEST_BYTES} "
                                                 "bytes"})
                return
            try:
                request = json.loads(line)
            except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
                response = {"ok": False, "error": "request is not valid JSON"}
            else:
                response = (denial(self.server.api, request, caller)
                            or self.server.api.handle(request, user))
            if not self.send(response):
                return

    def send(self, response: dict) -> bool:
        try:
            self.wfile.write(json.dumps(response, separators=(",", ":")).encode() + b"\n")
            self.wfile.flush()
            return True
        except OSError:
            return False


class ControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = False
    request_queue_size = 128  # listen backlog: bursts of CLI calls must not see EAGAIN

    def __init__(self, path: str, mode: int, api: ControlApi) -> None:
        self.api = api
        self.socket_path = path
        remove_stale_socket(path)
        previous_umask = os.umask(0o177)  # the socket file is born private
        try:
            super().__init__(path, ControlRequestHandler)
        finally:
            os.umask(previous_umask)
        os.chmod(path, mode)
        self.connection_slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        # The accept loop wakes for connections; its poll interval only bounds how long a
        # shutdown request could go unseen, and stop() wakes it with a connection.
        self.thread = threading.Thread(target=self.serve_forever,
                                       kwargs={"poll_interval": ACCEPT_POLL_INTERVAL_S},
                                       name="control-api", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def process_request(self, request, client_address) -> None:
        """One thread per connection, at most MAX_CONNECTIONS at a time; beyond that the
        caller gets a one-line error instead of an unbounded pile of threads."""
        if not self.connection_slots.acquire(blocking=False):
            try:
                request.sendall(b'{"ok":false,"error":"too many open connections to this '
                                b'node; try again"}\n')
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connection_slots.release()

    def stop(self) -> None:
        if self.thread.is_alive():
            stopper = threading.Thread(target=self.shutdown, name="control-api-stop",
                                       daemon=True)
            stopper.start()
            self.wake_accept_loop()
            stopper.join(ACCEPT_POLL_INTERVAL_S + 1.0)
        self.server_close()
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass


    def wake_accept_loop(self) -> None:
        """A connection ends the accept loop's wait at once (it then sees the shutdown)."""
        poke = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        poke.settimeout(1.0)
        try:
            poke.connect(self.socket_path)
        except OSError:
            pass
        finally:
            poke.close()


def remove_stale_socket(path: str) -> None:
    """Removes a socket file left by a killed daemon; refuses if a daemon still answers."""
    if not os.path.exists(path):
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)
        return
    finally:
        probe.close()
    raise RuntimeError(f"another daemon is already listening on {path}")
