"""attrd's dampening in the daemon (AttributeDampener) on a fake clock: changes within the
delay become one write per node with the newest value; the wait is bounded; a failed write
is tried again."""

from __future__ import annotations

from raftha.daemon.executor_api import MAX_HOLD_DELAYS, WRITE_RETRY_S, AttributeDampener
from raftha.daemon.proposer import ProposalError


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def make(failures: int = 0):
    clock = FakeClock()
    writes: list[tuple[str, str, str | None]] = []
    left = [failures]

    def write(node, name, value, user):
        if left[0]:
            left[0] -= 1
            raise ProposalError("no quorum")
        writes.append((node, name, value))
    dampener = AttributeDampener(write, monotonic=clock)
    dampener.thread = object()        # stepped by hand: no writer thread
    dampener.set_delay("pingd", 5000)
    return dampener, clock, writes


def test_changes_within_the_delay_are_one_write_per_node_with_the_newest_value():
    dampener, clock, writes = make()
    for value in ("100", "200", "300"):
        dampener.hold("n1", "pingd", value, "agent")
        clock.now += 1
    dampener.hold("n2", "pingd", "7", "agent")
    assert dampener.held_value("n1", "pingd") == (True, "300")
    clock.now += 4.5                  # n1 quiet for 5.5 s, n2 for 4.5 s
    assert dampener.flush_due() is not None
    assert writes == [("n1", "pingd", "300")]
    clock.now += 1
    assert dampener.flush_due() is None
    assert writes == [("n1", "pingd", "300"), ("n2", "pingd", "7")]
    assert dampener.held_value("n1", "pingd") == (False, None)


def test_a_steady_stream_of_changes_is_written_within_the_bound():
    dampener, clock, writes = make()
    for step in range(40):            # a change every second, forever quiet never
        dampener.hold("n1", "pingd", str(step), "agent")
        dampener.flush_due()
        clock.now += 1
    # Written 4 delays after the first held change, with the newest value then.
    assert writes == [("n1", "pingd", str(MAX_HOLD_DELAYS * 5))]
    clock.now += 5                    # then quiet: the last value follows
    dampener.flush_due()
    assert writes[-1] == ("n1", "pingd", "39") and len(writes) == 2


def test_without_a_delay_nothing_is_held_and_a_delete_is_dampened_too():
    dampener, clock, writes = make()
    dampener.set_delay("pingd", 0)
    assert dampener.delay_ms("pingd") == 0
    dampener.set_delay("pingd", 2000)
    dampener.hold("n1", "pingd", None, "agent")
    clock.now += 2
    dampener.flush_due()
    assert writes == [("n1", "pingd", None)]


def test_a_failed_write_is_tried_again_with_the_newest_value():
    dampener, clock, writes = make(failures=1)
    dampener.hold("n1", "pingd", "1", "agent")
    clock.now += 5
    dampener.flush_due()
    assert writes == [] and dampener.held_value("n1", "pingd") == (True, "1")
    dampener.hold("n1", "pingd", "2", "agent")   # a newer change while waiting
    clock.now += max(5, WRITE_RETRY_S)
    dampener.flush_due()
    assert writes == [("n1", "pingd", "2")]
