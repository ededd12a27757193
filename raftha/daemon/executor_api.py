"""Control API operations for the executor and the tools agents call back (agents/shims).

    attribute_query  {"node"?, "name", "lifetime"?, "buffered"?}
                     -> {"node", "name", "value": str|null}
                     lifetime "reboot" (transient, default) or "forever" (permanent);
                     buffered: a dampened value not written yet counts (attrd_updater -Q)
    attribute_update {"node"?, "name", "value": str|null, "lifetime"?, "delay"?}
                     -> {"index": int|null, "dampened"?: true}
                     reboot: TransientAttributeSet/Unset; forever: NodeAttributeSet/Unset;
                     deleting an attribute that is not set changes nothing (index null).
                     delay (attrd_updater -d, "5s", "500ms", a plain number is seconds):
                     the attribute's dampening; a reboot-lifetime change is then held and
                     written once the attribute has been quiet that long (see
                     AttributeDampener). delay without value only sets the dampening (-Y).
    node_list        {}  -> {"local": NAME, "quorum": bool, "nodes": [{"id", "name", "state"}]}
    resource_failcount {"resource", "node"?} -> {"failcounts": [{"node", "operation",
                     "count", "last_failure"}]} (per node and operation, from the log)
    executor_status  {}  -> this node's executor: probed, busy resources, monitors, counts,
                     no_quorum_policy (carried out alone while without quorum, else null)
                     and done_without_quorum (its action keys, never recorded)

A missing "node" means the node answering (crm_attribute's default, the local node).

Invariants: reads answer from the committed state; writes are one event each, through the
proposer (same deadlines and errors as every other write).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from raftha.daemon import clock
from raftha.daemon.proposer import ProposalError, ProposalRejected
from raftha.model.reducer import stored_configuration
from raftha.scheduler.rules import parse_interval_ms

LOG = logging.getLogger(__name__)
LIFETIMES = ("reboot", "forever")
MAX_DAMPENING_MS = 3_600_000
# A held change is written at the latest this many dampening delays after it was first held,
# even while changes keep coming (Pacemaker's timer restarts on every change, unbounded).
MAX_HOLD_DELAYS = 4
WRITE_RETRY_S = 1.0


@dataclass
class HeldChange:
    """The newest value of one node's attribute, waiting for its dampening to pass."""

    value: str | None
    user: str
    due: float          # monotonic seconds: written then, unless another change comes first
    latest: float       # ... and never later than this


class AttributeDampener:
    """attrd's dampening (attrd_updater -d): a change of a transient attribute is held, and
    every further change within the attribute's delay replaces the held value and restarts
    the wait; when the attribute has been quiet for the delay (or MAX_HOLD_DELAYS delays
    after the first held change) one write per node carries the newest value. A write that
    fails (no quorum) is tried again after WRITE_RETRY_S, with whatever value is newest.

    Invariants: one held change per (node, attribute); the writer runs on one thread of its
    own, started on first use; every wait is bounded."""

    def __init__(self, write: Callable[[str, str, str | None, str], None],
                 monotonic: Callable[[], float] = clock.monotonic) -> None:
        self.write = write
        self.monotonic = monotonic
        self.lock = threading.Lock()
        self.delays_ms: dict[str, int] = {}          # attribute name -> dampening
        self.held: dict[tuple[str, str], HeldChange] = {}
        self.wakeup = threading.Event()
        self.thread: threading.Thread | None = None

    def delay_ms(self, name: str) -> int:
        with self.lock:
            return self.delays_ms.get(name, 0)

    def set_delay(self, name: str, delay_ms: int) -> None:
        with self.lock:
            if delay_ms > 0:
                self.delays_ms[name] = delay_ms
            else:
                self.delays_ms.pop(name, None)

    def hold(self, node: str, name: str, value: str | None, user: str) -> None:
        now = self.monotonic()
        with self.lock:
            delay_s = self.delays_ms.get(name, 0) / 1000
            previous = self.held.get((node, name))
            latest = previous.latest if previous else now + MAX_HOLD_DELAYS * delay_s
            self.held[(node, name)] = HeldChange(value, user, min(now + delay_s, latest),
                                                 latest)
            if self.thread is None:
                self.thread = threading.Thread(target=self.loop, name="attribute-dampening",
                                               daemon=True)
                self.thread.start()
        self.wakeup.set()

    def held_value(self, node: str, name: str) -> tuple[bool, str | None]:
        """(True, value) while a change of the attribute is held, else (False, None)."""
        with self.lock:
            change = self.held.get((node, name))
        return (True, change.value) if change is not None else (False, None)

    def flush_due(self) -> float | None:
        """Writes every held change that is due; seconds until the next one (None: none)."""
        now = self.monotonic()
        with self.lock:
            due = [(key, change) for key, change in self.held.items() if change.due <= now]
            for key, _change in due:
                del self.held[key]
        for (node, name), change in due:
            try:
                self.write(node, name, change.value, change.user)
            except ProposalRejected as rejection:
                LOG.warning("dampened attribute %s of %s refused: %s", name, node, rejection)
            except ProposalError as error:   # kept, unless a newer change came meanwhile
                LOG.info("dampened attribute %s of %s not written yet: %s", name, node, error)
                with self.lock:
                    if (node, name) not in self.held:
                        retry = self.monotonic() + WRITE_RETRY_S
                        self.held[(node, name)] = HeldChange(change.value, change.user,
                                                             retry, retry)
        with self.lock:
            if not self.held:
                return None
            return max(0.0, min(change.due for change in self.held.values()) - self.monotonic())

    def loop(self) -> None:
        while True:
            try:
                wait_s = self.flush_due()
            except Exception:   # the writer never dies: log, and try again later
                LOG.exception("writing dampened attributes failed")
                wait_s = WRITE_RETRY_S
            self.wakeup.wait(WRITE_RETRY_S if wait_s is None else min(wait_s, WRITE_RETRY_S))
            self.wakeup.clear()


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

    def write(node: str, name: str, value: str | None, lifetime: str, user: str) -> dict:
        if current_value(node, name, lifetime) == value:
            return {"index": None}  # already so: spare the log an entry
        prefix = "Transient" if lifetime == "reboot" else "Node"
        if value is None:
            return api.propose(f"{prefix}AttributeUnset", {"node": node, "name": name}, user)
        return api.propose(f"{prefix}AttributeSet", {"node": node, "name": name,
                                                     "value": value}, user)

    dampener = AttributeDampener(
        lambda node, name, value, user: write(node, name, value, "reboot", user))
    api.attribute_dampener = dampener

    def delay_arg(args: dict) -> int | None:
        if "delay" not in args:
            return None
        text = string_arg(args, "delay")
        delay_ms = parse_interval_ms(text)
        if (delay_ms == 0 and text.strip() not in ("0", "0s", "0ms")) or not (
                0 <= delay_ms <= MAX_DAMPENING_MS):
            raise RequestError(f"delay {text!r} is not a time of at most 1 hour "
                               "(like 5s or 500ms)")
        return delay_ms

    def op_attribute_query(args: dict, user: str) -> dict:
        allow(args, "node", "name", "lifetime", "buffered")
        node, name, lifetime = node_arg(args), string_arg(args, "name"), lifetime_arg(args)
        if args.get("buffered") and lifetime == "reboot":
            held, value = dampener.held_value(node, name)
            if held:
                return {"node": node, "name": name, "value": value}
        return {"node": node, "name": name, "value": current_value(node, name, lifetime)}

    def op_attribute_update(args: dict, user: str) -> dict:
        allow(args, "node", "name", "value", "lifetime", "delay")
        node, name, lifetime = node_arg(args), string_arg(args, "name"), lifetime_arg(args)
        delay_ms = delay_arg(args)
        if delay_ms is not None:
            dampener.set_delay(name, delay_ms)
            if "value" not in args:
                return {"index": None}   # attrd_updater -Y: the dampening alone
        value = args.get("value")
        if value is not None and not isinstance(value, str):
            raise RequestError("argument 'value' must be a string or null")
        if lifetime == "reboot" and dampener.delay_ms(name) > 0:
            dampener.hold(node, name, value, user)
            return {"index": None, "dampened": True}
        return write(node, name, value, lifetime, user)

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
