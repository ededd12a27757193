"""Committed deadlines: when the committed time must move for a decision to change (pure).

Time inside the log moves only with committed events (DESIGN section 3). Some decisions
depend on time alone: a fail count stops counting once its resource's failure-timeout has
passed; a move or ban made with a lifetime stops holding at its END. Nothing in the log
would change then, so the leader commits a clock tick (ClockTicked) once its wall clock
passes `next_deadline_ms(state)`; replaying the log gives the same answer on every node.

Invariants: pure (no clock: "now" is `state.now_ms`, the newest committed timestamp); a
deadline is returned only while the committed time has not reached it, so after the tick
commits the next call moves on (no tick storm).
"""

from __future__ import annotations

from raftha.model import lifetimes
from raftha.model.config import Configuration, pairs_get
from raftha.model.reducer import stored_configuration
from raftha.model.state import ClusterState
from raftha.scheduler.rules import parse_interval_ms


def failure_timeout_due_ms(state: ClusterState, configuration: Configuration) -> int | None:
    """The earliest time (ms) a fail count expires by failure-timeout that the committed
    time (state.now_ms) has not passed yet; None when nothing is waiting. The scheduler
    reads time only from committed events, so someone must commit a clock tick then."""
    timeouts: dict[str, int] = {}
    defaults = 0
    for attribute_set in configuration.rsc_defaults:
        if attribute_set.rule is None:
            defaults = parse_interval_ms(pairs_get(attribute_set.values, "failure-timeout")
                                         or "0") or defaults
    for primitive in configuration.all_primitives():
        value = pairs_get(primitive.meta, "failure-timeout")
        timeouts[primitive.id] = parse_interval_ms(value) if value else defaults
    due: list[int] = []
    for _node, pairs in state.transient_attributes:
        for key, value in pairs:
            if not key.startswith("last-failure-") or not value.isdigit():
                continue
            resource = key[len("last-failure-"):].partition("#")[0].split(":")[0]
            timeout_ms = timeouts.get(resource, defaults)
            if timeout_ms > 0:
                # The scheduler forgets the failure once now > last failure + timeout (s).
                expiry_ms = (int(value) + timeout_ms // 1000 + 1) * 1000
                if expiry_ms > state.now_ms:
                    due.append(expiry_ms)
    return min(due) if due else None


def lifetime_due_ms(configuration: Configuration, now_ms: int) -> int | None:
    """The END (ms) of the earliest move or ban lifetime the committed time has not
    reached yet."""
    ends = [end_s * 1000 for end_s in lifetimes.lifetimes(configuration).values()
            if end_s * 1000 > now_ms]
    return min(ends) if ends else None


def next_deadline_ms(state: ClusterState,
                     configuration: Configuration | None = None) -> int | None:
    """The earliest committed deadline still ahead of the committed time, or None."""
    if not state.created:
        return None
    if configuration is None:
        configuration = stored_configuration(state)
    due = [moment for moment in (failure_timeout_due_ms(state, configuration),
                                 lifetime_due_ms(configuration, state.now_ms))
           if moment is not None]
    return min(due) if due else None
