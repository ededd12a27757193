"""The scheduler's output: a Plan (placement, actions, orderings, explanations) as plain data.

Invariants: frozen; every instance of every configured resource has exactly one
`InstancePlacement`; nodes are None when an instance ends stopped; `actions` are the
runnable and blocked actions of one transition, `orderings` pairs of action keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from raftha.model.config import register_plain_class, to_dict


@register_plain_class
@dataclass(frozen=True)
class InstancePlacement:
    """Where one resource instance is now and where it ends after this transition."""

    resource: str
    primitive: str
    clone: str | None
    group: str | None
    anonymous: bool
    current_nodes: tuple[str, ...]
    current_role: str
    target_node: str | None
    target_role: str
    final_nodes: tuple[str, ...]
    final_role: str
    managed: bool = True
    failed: bool = False
    blocked: bool = False


@register_plain_class
@dataclass(frozen=True)
class Action:
    """One action: verb (start, stop, promote, demote, monitor, probe, fence) on a node."""

    key: str
    verb: str
    resource: str | None
    node: str | None
    runnable: bool
    reason: str = ""


@register_plain_class
@dataclass(frozen=True)
class Explanation:
    """Why a resource instance went where it did: node scores and the deciding rule."""

    resource: str
    scores: tuple[tuple[str, int], ...]
    chosen: str | None
    decided_by: str
    contributions: tuple[tuple[str, str, int], ...] = ()
    # (node, restart|reload|reschedule, reason) for parameters that changed
    parameter_changes: tuple[tuple[str, str, str], ...] = ()


@register_plain_class
@dataclass(frozen=True)
class Notification:
    """The variables of one notify action (see raftha.scheduler.notify): notify_type,
    notify_operation and the notify_* lists, as meta attribute names and values."""

    key: str
    notify_type: str
    operation: str
    variables: tuple[tuple[str, str], ...]
    through_call_id: int | None = None   # post: the newest recorded result it reports


@register_plain_class
@dataclass(frozen=True)
class Plan:
    """The scheduler's decision for one (configuration, status) pair."""

    placements: tuple[InstancePlacement, ...]
    actions: tuple[Action, ...]
    orderings: tuple[tuple[str, str], ...]
    fenced: tuple[str, ...]
    explanations: tuple[Explanation, ...]
    node_states: tuple[tuple[str, str], ...]
    warnings: tuple[str, ...] = ()
    notifications: tuple[Notification, ...] = ()

    def placement(self, resource: str) -> InstancePlacement | None:
        for item in self.placements:
            if item.resource == resource:
                return item
        return None

    def explanation(self, resource: str) -> Explanation | None:
        for item in self.explanations:
            if item.resource == resource:
                return item
        return None

    def blocked_actions(self) -> tuple[Action, ...]:
        return tuple(action for action in self.actions if not action.runnable)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)
