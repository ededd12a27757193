"""The cluster status model: what is true right now, as frozen plain data.

Role: node membership (the raw facts Pacemaker's CIB status records: in the membership,
controller up, join state, expected state), transient node attributes (including fail counts
`fail-count-RSC#OP_INTERVAL`, `last-failure-...`, promotion scores `master-RSC`, standby,
maintenance, shutdown), the operation history of every resource on every node, quorum, and
"now" (seconds since the epoch, an input: the scheduler never reads a clock).

Invariants: frozen; tuples in document order; `to_dict`/`from_dict` round-trip through
plain data (same codec as the configuration model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from raftha.model.config import ConfigError, Pairs, from_dict, register_plain_class, to_dict


@register_plain_class
@dataclass(frozen=True)
class OperationRecord:
    """One recorded operation result (Pacemaker's lrm_rsc_op).

    rc is the agent's exit code, op_status the executor status (0 done, 1 cancelled,
    2 timed out, 4 error, -1 pending...), target_rc the expected rc (from the transition key;
    None if unknown). Times are seconds since the epoch.
    """

    operation: str
    call_id: int
    rc: int
    op_status: int = 0
    interval_ms: int = 0
    target_rc: int | None = None
    last_rc_change: int | None = None
    last_run: int | None = None
    operation_key: str = ""
    id: str = ""
    migrate_source: str | None = None
    migrate_target: str | None = None
    on_node: str | None = None
    exit_reason: str = ""
    op_digest: str | None = None
    # Set when the agent can reload: the parameters a reload cannot apply (Pacemaker's
    # op-force-restart, " a b ") and the digest of their values (op-restart-digest).
    op_restart_digest: str | None = None
    op_force_restart: str | None = None
    # A short digest of each parameter's value, to name what changed (raftha's own).
    parameter_digests: Pairs = ()
    # A post notification: the newest result (call id) it told the agent of.
    notified_through: int | None = None


@register_plain_class
@dataclass(frozen=True)
class ResourceHistory:
    """The operation history of one resource on one node."""

    resource: str
    agent_class: str = ""
    provider: str | None = None
    agent_type: str = ""
    operations: tuple[OperationRecord, ...] = ()
    container: str | None = None
    # When set (seconds since the epoch), the resource was stopped by a clean shutdown of
    # this node and stays locked to it (cluster option shutdown-lock).
    shutdown_lock: int | None = None
    # The resource was removed from the configuration (an orphan): its instance parameters
    # as last configured, so it can still be stopped with them.
    orphaned: bool = False
    parameters: Pairs = ()


@register_plain_class
@dataclass(frozen=True)
class NodeStatus:
    """Membership facts and transient attributes of one node.

    in_membership: the node is in the cluster membership (None: unknown/no record);
    controller_online: its controller process runs; join: member/pending/down/nack/banned;
    expected: the state the cluster expects (member/down).
    """

    name: str
    id: str = ""
    in_membership: bool | None = None
    controller_online: bool = False
    join: str = "down"
    expected: str = "down"
    attributes: Pairs = ()
    histories: tuple[ResourceHistory, ...] = ()
    utilization: Pairs = ()


@register_plain_class
@dataclass(frozen=True)
class Ticket:
    """A ticket's state (kept for round trips)."""

    id: str
    granted: bool = False
    standby: bool = False


@register_plain_class
@dataclass(frozen=True)
class ClusterStatus:
    """The whole status: quorum, designated controller, nodes, tickets and "now"."""

    have_quorum: bool = True
    now: int | None = None
    dc_node: str | None = None
    nodes: tuple[NodeStatus, ...] = ()
    tickets: tuple[Ticket, ...] = ()
    # The cluster had quorum before (Pacemaker's CIB no-quorum-panic): only then does
    # no-quorum-policy=fence fence the partition.
    quorum_panic: bool = False
    # Version of the status format ("" for raftha's own); CIBs older than 3.0.13 keep
    # per-resource fail counts (fail-count-RSC) instead of per-operation ones.
    feature_set: str = ""

    def node(self, name: str) -> NodeStatus | None:
        for item in self.nodes:
            if item.name == name:
                return item
        return None

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> ClusterStatus:
        value = from_dict(data)
        if not isinstance(value, ClusterStatus):
            raise ConfigError("status data does not describe a ClusterStatus")
        return value


def online_node(name: str, attributes: Pairs = ()) -> NodeStatus:
    """A node that is a healthy cluster member."""
    return NodeStatus(
        name=name, id=name, in_membership=True, controller_online=True,
        join="member", expected="member", attributes=attributes,
    )
