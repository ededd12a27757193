"""Proposals: turn an operator's or a duty's intent into a committed, applied event.

Invariants:
- One event id per intent. An UNKNOWN outcome (timeout, lost leader) is retried with the
  same bytes, so the reducer's dedup window makes the retry apply at most once; a
  NOT_APPLIED outcome is retried too (nothing was appended).
- Every proposal has a total deadline (`timeout_ms`); the caller gets either the applied
  outcome, a rejection with the reducer's reason, or a one-line error. Without a quorum
  the error says so ("no quorum: ...").
- Never called from the Raft tick thread (the raft layer's propose blocks).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

from raftha.daemon import clock
from raftha.daemon.machine import ReducerStateMachine
from raftha.model.events import EventError, encode_event, make_event
from raftha.model.reducer import REJECTED, Outcome
from raftha.raft.contract import ProposeOutcome

ATTEMPT_TIMEOUT_MS = 1500
MAX_PROPOSAL_BYTES = 512 * 1024  # the Raft layer's entry limit
NO_QUORUM_GRACE_MS = 2000
RETRY_PAUSE_MS = (10, 25, 50, 100, 200)


class ProposalError(Exception):
    """A proposal that did not take effect; the message is a one-line reason."""


class ProposalRejected(ProposalError):
    """Committed, but the reducer refused it (the reason is recorded in the state)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(f"rejected: {outcome.reason}")
        self.outcome = outcome


def wall_clock_ms() -> int:
    return clock.wall_ms()


class Proposer:
    def __init__(self, raft: Any, machine: ReducerStateMachine, origin: str,
                 no_quorum_grace_ms: int = NO_QUORUM_GRACE_MS) -> None:
        self.raft = raft
        self.machine = machine
        self.origin = origin
        # How long to keep retrying while this node sees no quorum: long enough to ride
        # out an election, short enough that a minority partition answers promptly.
        self.no_quorum_grace_ms = no_quorum_grace_ms

    def propose(self, kind: str, body: Mapping[str, Any], user: str = "",
                timeout_ms: int = 5000, event_id: bytes | None = None) -> Outcome:
        try:
            event = make_event(event_id or secrets.token_bytes(16), kind, self.origin, user,
                               wall_clock_ms(), body)
        except EventError as error:
            raise ProposalError(f"invalid {kind} event: {error}") from None
        return self.propose_bytes(event.id, encode_event(event), timeout_ms)

    def propose_bytes(self, event_id: bytes, data: bytes, timeout_ms: int) -> Outcome:
        if len(data) > MAX_PROPOSAL_BYTES:  # permanent: retrying could never help
            raise ProposalError(f"event of {len(data)} bytes is larger than the "
                                f"{MAX_PROPOSAL_BYTES} bytes a log entry may hold")
        started = clock.monotonic()
        deadline = started + timeout_ms / 1000
        no_quorum_since: float | None = None
        last_reason = "no attempt finished"
        attempt = 0
        while True:
            known = self.machine.outcome_of(event_id)
            if known is not None:  # an earlier UNKNOWN attempt did commit
                return self.finish(known)
            remaining_ms = int((deadline - clock.monotonic()) * 1000)
            if remaining_ms <= 0:
                raise ProposalError(self.failure_reason(timeout_ms, last_reason))
            result = self.raft.propose(data, min(remaining_ms, ATTEMPT_TIMEOUT_MS))
            if result.outcome is ProposeOutcome.COMMITTED:
                wait_s = max(0.05, deadline - clock.monotonic())
                outcome = self.machine.wait_for_outcome(event_id, wait_s)
                if outcome is None:
                    raise ProposalError(f"committed at index {result.index} but not applied "
                                        f"on this node within {timeout_ms} ms")
                return self.finish(outcome)
            last_reason = result.reason or result.outcome.value
            status = self.raft.status()
            if status.has_quorum:
                no_quorum_since = None
            elif no_quorum_since is None:
                no_quorum_since = clock.monotonic()
            elif (clock.monotonic() - no_quorum_since) * 1000 >= self.no_quorum_grace_ms:
                raise ProposalError(self.no_quorum_reason(status))
            pause_ms = RETRY_PAUSE_MS[min(attempt, len(RETRY_PAUSE_MS) - 1)]
            attempt += 1
            time.sleep(min(pause_ms / 1000, max(0.0, deadline - clock.monotonic())))

    def read_barrier(self, timeout_ms: int) -> int:
        """Commits a ReadBarrier and waits until this node applied it; returns its index.
        Afterwards the local state holds every write committed before the call (a read of it
        is linearizable). Without a quorum it fails with "no quorum: ...", never stale."""
        outcome = self.propose("ReadBarrier", {}, user="", timeout_ms=timeout_ms)
        return outcome.index

    def finish(self, outcome: Outcome) -> Outcome:
        if outcome.status == REJECTED:
            raise ProposalRejected(outcome)
        return outcome

    def failure_reason(self, timeout_ms: int, last_reason: str) -> str:
        status = self.raft.status()
        if not status.has_quorum:
            return self.no_quorum_reason(status)
        return f"not committed within {timeout_ms} ms: {last_reason}"

    def no_quorum_reason(self, status: Any) -> str:
        members = len(status.members) or 1
        reachable = len(status.connected_peers) + 1
        return (f"no quorum: this node reaches {reachable} of {members} members, "
                f"{members // 2 + 1} needed; writes are refused")
