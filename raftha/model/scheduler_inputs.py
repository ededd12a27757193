"""From the replicated cluster state to the scheduler's inputs (pure).

`scheduler_inputs(state, have_quorum)` gives the `(Configuration, ClusterStatus)` pair that
`raftha.scheduler.plan` takes, so every node derives the same plan from the same committed
state (DESIGN section 1: nothing acts on a belief that is not in the log).

Membership facts, in Pacemaker's terms (what its CIB status section would record):
- online                    -> in the membership, controller up, join/expected "member";
- offline, expected member  -> lost while a member: out of the membership but still
                               expected, which the scheduler reads as unclean (fence first);
- offline, expected down    -> never seen yet, or stopped cleanly: plain offline.
Every member appears in the configuration's node section (with its permanent attributes,
if any were set). "now" is the newest event time in the log, in seconds: the scheduler
never reads a clock.

Each node's operation history and transient attributes (fail counts) come from the
OperationCompleted events the executors reported. Claimed actions (OperationsPending) are in
the history as pending records: the scheduler counts a claimed start as possibly active (a
node lost with one pending must be fenced first, as in Pacemaker); `committed_only` leaves
them out for views of what results say (the executor's plan, the status), and
`pending_claims` lists them ("Starting", "Stopping" in crm_mon's words).
"""

from __future__ import annotations

from dataclasses import replace

from raftha.model.config import Configuration
from raftha.model.config import Node as ConfiguredNode
from raftha.model.fencing_events import for_scheduling, is_witness
from raftha.model.reducer import stored_configuration
from raftha.model.state import EXPECTED_MEMBER, NODE_ONLINE, ClusterState, NodeRecord
from raftha.model.status import ClusterStatus, NodeStatus, online_node


def node_status(state: ClusterState, record: NodeRecord) -> NodeStatus:
    if record.state == NODE_ONLINE:
        status = online_node(record.name)
    else:
        status = NodeStatus(name=record.name, id=record.name, in_membership=False,
                            controller_online=False, join="down", expected=record.expected)
    return replace(status, attributes=state.transient_of(record.name),
                   histories=state.histories_of(record.name))


def configuration_with_members(state: ClusterState) -> Configuration:
    configuration = stored_configuration(state)
    configured = {node.name for node in configuration.nodes}
    missing = tuple(ConfiguredNode(name=record.name, id=record.name)
                    for record in state.nodes if record.name not in configured)
    return for_scheduling(state, replace(configuration, nodes=configuration.nodes + missing))


def scheduler_inputs(state: ClusterState, have_quorum: bool
                     ) -> tuple[Configuration, ClusterStatus]:
    status = ClusterStatus(
        have_quorum=have_quorum,
        now=state.now_ms // 1000,
        nodes=tuple(node_status(state, record) for record in state.nodes
                    if not is_witness(state, record.name)),
        # Quorum was held once the cluster was created: losing it now is a real loss.
        quorum_panic=state.created and not have_quorum,
    )
    return configuration_with_members(state), status


def committed_only(status: ClusterStatus) -> ClusterStatus:
    """The status without pending records: an action claimed but not finished counts as not
    done (everything ordered after it keeps waiting; its outcome is not shown yet)."""
    nodes = []
    for node in status.nodes:
        histories = tuple(
            replace(history, operations=tuple(record for record in history.operations
                                              if record.op_status != -1))
            for history in node.histories)
        nodes.append(replace(node, histories=histories))
    return replace(status, nodes=tuple(nodes))


PENDING_WORDS = {"start": "Starting", "stop": "Stopping", "promote": "Promoting",
                 "demote": "Demoting", "migrate_to": "Migrating", "migrate_from": "Migrating",
                 "reload": "Reloading", "reload-agent": "Reloading"}


def pending_claims(state: ClusterState) -> dict[str, list[dict[str, str]]]:
    """Claimed actions whose results are not committed yet: history id -> [{"node",
    "operation", "text"}] in node order, text as crm_mon shows it ("Starting")."""
    claims: dict[str, list[dict[str, str]]] = {}
    for node, histories in state.operation_histories:
        for history in histories:
            for record in history.operations:
                if record.op_status != -1:
                    continue
                text = PENDING_WORDS.get(record.operation, record.operation.capitalize())
                claims.setdefault(history.resource, []).append(
                    {"node": node, "operation": record.operation, "text": text})
    return claims


def lost_members(state: ClusterState) -> tuple[str, ...]:
    """Members that went offline while expected up (candidates for fencing)."""
    return tuple(record.name for record in state.nodes
                 if record.state != NODE_ONLINE and record.expected == EXPECTED_MEMBER)
