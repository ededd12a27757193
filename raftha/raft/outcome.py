"""Turning pysyncobj's callback codes into `ProposeResult`s, and the hand-off from the tick thread.

Classification (pysyncobj 0.3.17, measured and read in the research notes):
  SUCCESS                                  -> COMMITTED (applied locally, index known)
  QUEUE_FULL, MISSING_LEADER, NOT_LEADER,
  REQUEST_DENIED                           -> NOT_APPLIED (never appended by a leader)
  DISCARDED                                -> NOT_APPLIED (a different entry was committed at
                                              the index our entry had; the library never
                                              re-proposes, so ours cannot commit elsewhere)
  LEADER_CHANGED, UNKNOWN_OUTCOME, any
  unrecognised code, no answer in time     -> UNKNOWN (may still commit: retry same event id)

Callbacks run on the tick thread. A callback that raises makes pysyncobj apply the entry a
second time on that node, so `guarded` wraps every callback: it never raises, never blocks,
and only stores the answer for the waiting caller.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from raftha.raft.contract import ProposeOutcome, ProposeResult
from raftha.raft.library import FAIL_REASON

logger = logging.getLogger(__name__)

_NOT_APPLIED_REASONS = {
    FAIL_REASON.QUEUE_FULL: "local proposal queue full",
    FAIL_REASON.MISSING_LEADER: "no leader known",
    FAIL_REASON.NOT_LEADER: "forwarded to a node that is no longer leader",
    FAIL_REASON.REQUEST_DENIED: "request denied by the leader",
    FAIL_REASON.DISCARDED: "superseded by another entry after a leader change",
}
_UNKNOWN_REASONS = {
    FAIL_REASON.LEADER_CHANGED: "leader changed while the proposal was in flight",
    FAIL_REASON.UNKNOWN_OUTCOME: "outcome lost (index already applied when the answer came)",
}


def classify(code: Any, result: Any) -> ProposeResult:
    """Map a pysyncobj (result, code) callback pair to a ProposeResult."""
    if code == FAIL_REASON.SUCCESS:
        index = result if isinstance(result, int) else None
        return ProposeResult(ProposeOutcome.COMMITTED, index, "committed")
    if code in _NOT_APPLIED_REASONS:
        return ProposeResult(ProposeOutcome.NOT_APPLIED, None, _NOT_APPLIED_REASONS[code])
    if code in _UNKNOWN_REASONS:
        return ProposeResult(ProposeOutcome.UNKNOWN, None, _UNKNOWN_REASONS[code])
    return ProposeResult(ProposeOutcome.UNKNOWN, None, f"unrecognised raft outcome code {code!r}")


class PendingProposal:
    """One proposal's answer, written once by the tick thread, read by the caller."""

    def __init__(self) -> None:
        self._answered = threading.Event()
        self._lock = threading.Lock()
        self._code: Any = None
        self._result: Any = None

    def deliver(self, result: Any, code: Any) -> None:
        """Tick-thread callback: store the first answer, ignore later ones."""
        with self._lock:
            if self._answered.is_set():
                return
            self._result, self._code = result, code
            self._answered.set()

    def wait(self, timeout_ms: int) -> ProposeResult:
        if not self._answered.wait(timeout_ms / 1000.0):
            return ProposeResult(ProposeOutcome.UNKNOWN, None,
                                 f"no outcome within {timeout_ms} ms")
        with self._lock:
            return classify(self._code, self._result)


def guarded(callback: Callable[[Any, Any], None],
            abandon_after: float | None = None) -> Callable[[Any, Any], None]:
    """Wrap a tick-thread callback so that it can never raise into pysyncobj.

    `abandon_after` (a time.monotonic() value) marks when nobody waits for the answer any
    more, so the library may forget the callback (see `engine.prune_abandoned_callbacks`).
    """

    def call(result: Any, code: Any) -> None:
        try:
            callback(result, code)
        except Exception:
            logger.exception("raft: a proposal callback raised; the answer is dropped")

    call.abandon_after = abandon_after  # type: ignore[attr-defined]
    return call
