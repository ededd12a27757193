"""Control API operations for the executor and the tools agents call back (agents/shims).

    attribute_query  {"node"?, "name", "lifetime"?}  -> {"node", "name", "value": str|null}
                     lifetime "reboot" (transient, default) or "forever" (permanent)
    attribute_update {"node"?, "name", "value": str|null, "lifetime"?} -> {"index": int|null}
                     reboot: TransientAttributeSet/Unset; forever: NodeAttributeSet/Unset;
                     deleting an attribute that is not set changes nothing (index null)
    node_list        {}  -> {"local": NAME, "quorum": bool, "nodes": [{"id", "name", "state"}]}
    resource_failcount {"resource", "node"?} -> {"failcounts": [{"node", "operation",
                     "count", "last_failure"}]} (per node and operation, from the log)
    executor_status  {}  -> this node's executor: probed, busy resources, monitors, counts

A missing "node" means the node answering (crm_attribute's default, the local node).

Invariants: reads answer from the committed state; writes are one event each, through the
proposer (same deadlines and errors as every other write).
"""

from __future__ import annotations

from typing import Any

from raftha.model.reducer import stored_configuration

LIFETIMES = ("reboot", "forever")


def executor_operations(api: Any) -> dict[str, Any]:
    """The operations to add to a ControlApi's table."""
    from raftha.daemon.api import RequestError, allow, string_arg

    def node_arg(args: dict) -> str:
        node = args.get("node") or api.config.node_name
        if not isinstance(node, str) or api.machine.state.node(node) is None:
            raise RequestError(f"node {node!r} is not a member of the cluster")
        return node

    def lifetime_arg(args: dict) -> str:
        lifetime = args.get("lifetime", "reboot")
        if lifetime not in LIFETIMES:
            raise RequestError("lifetime must be 'reboot' or 'forever'")
        return lifetime

    def current_value(node: str, name: str, lifetime: str) -> str | None:
        state = api.machine.state
        if lifetime == "reboot":
            return dict(state.transient_of(node)).get(name)
        for configured in stored_configuration(state).nodes:
            if configured.name == node:
                return dict(configured.attributes).get(name)
        return None

    def op_attribute_query(args: dict, user: str) -> dict:
        allow(args, "node", "name", "lifetime")
        node, name = node_arg(args), string_arg(args, "name")
        return {"node": node, "name": name,
                "value": current_value(node, name, lifetime_arg(args))}

    def op_attribute_update(args: dict, user: str) -> dict:
        allow(args, "node", "name", "value", "lifetime")
        node, name, lifetime = node_arg(args), string_arg(args, "name"), lifetime_arg(args)
        value = args.get("value")
        if value is not None and not isinstance(value, str):
            raise RequestError("argument 'value' must be a string or null")
        if current_value(node, name, lifetime) == value:
            return {"index": None}  # already so: spare the log an entry
        prefix = "Transient" if lifetime == "reboot" else "Node"
        if value is None:
            return api.propose(f"{prefix}AttributeUnset", {"node": node, "name": name}, user)
        return api.propose(f"{prefix}AttributeSet", {"node": node, "name": name,
                                                     "value": value}, user)

    def op_node_list(args: dict, user: str) -> dict:
        allow(args)
        state = api.machine.state
        return {"local": api.config.node_name, "quorum": bool(api.raft.status().has_quorum),
                "nodes": [{"id": number, "name": record.name, "state": record.state}
                          for number, record in enumerate(state.nodes, start=1)]}

    def op_resource_failcount(args: dict, user: str) -> dict:
        allow(args, "resource", "node")
        resource = string_arg(args, "resource")
        only = node_arg(args) if args.get("node") else None
        found = []
        state = api.machine.state
        for record in state.nodes:
            if only is not None and record.name != only:
                continue
            pairs = dict(state.transient_of(record.name))
            for key, value in sorted(pairs.items()):
                if not key.startswith("fail-count-"):
                    continue
                owner, _, operation = key[len("fail-count-"):].partition("#")
                if owner.split(":")[0] != resource.split(":")[0]:
                    continue
                last = pairs.get(f"last-failure-{owner}#{operation}")
                found.append({"node": record.name, "resource": owner, "operation": operation,
                              "count": value, "last_failure": last})
        return {"failcounts": found}

    def op_executor_status(args: dict, user: str) -> dict:
        allow(args)
        executor = getattr(api, "executor", None)
        if executor is None:
            return {"enabled": False}
        return {"enabled": True, **executor.status()}

    return {
        "attribute_query": op_attribute_query,
        "attribute_update": op_attribute_update,
        "node_list": op_node_list,
        "resource_failcount": op_resource_failcount,
        "executor_status": op_executor_status,
    }
