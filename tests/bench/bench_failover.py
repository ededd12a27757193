"""Failover time with fencing: kill -9 of the node running a Ledger resource -> the resource
ticking on another node, read from the ledger (ground truth, not from raftha's own status).

    python3 tests/bench/bench_failover.py [--runs 20] [--keep DIR]

A 3-node sandbox with `--fencing` (fence_raftha_sandbox per node, stonith-action=off so
the fenced node stays down until the script restarts it) runs one Ledger resource (100 ms
ticks). Each run: find the node ticking, kill -9 its daemon, wait for the first tick from
another node; failover = that tick's wall time - the kill's wall time. The victim is then
started again and the cluster settles before the next run. Every run also checks the ledger
for overlap (two nodes ticking at once). Prints p50/p99 beside the Pacemaker 2.1.5 +
Corosync 3 numbers measured in network namespaces (research/pacemaker-netns-anchor.md), with
the ratio. Everything started is stopped before exit.

Each run also prints where the time went, read from the committed history (each event's
proposal time, in ms after the kill): lost (the leader proposes NodeLost), fence requested,
agent started / agent done (the executor's fence request; its duration is in the NodeFenced
event), start claimed (the new owner claims the start: the fence result is committed and
the start planned), start done, first tick. The load average is printed beside each run:
numbers from a busy machine are not comparable with those of an idle one.

The helpers (ledger reading, overlap check, one failover) are shared with the real-process
tests in tests/fencing_integration.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
if str(REPOSITORY) not in sys.path:
    sys.path.insert(0, str(REPOSITORY))

from jepsen.checkers import activity_intervals, parse_ledger_lines  # noqa: E402
from raftha.daemon.client import ApiError  # noqa: E402
from raftha.daemon.config import NodeTiming  # noqa: E402
from raftha.sandbox import Sandbox, SandboxError  # noqa: E402

TICK_MS = 100
GAP_THRESHOLD_MS = 350          # a silence longer than this ends an activity interval
PACEMAKER_DEFAULT_MEDIAN_S = 8.1    # default timeouts, with fencing (netns anchor)
PACEMAKER_FAST_TOKEN_MEDIAN_S = 3.7  # token 1 s
TARGET_P50_S, TARGET_P99_S = 1.5, 3.0
WAIT_S = 90.0


@dataclass(frozen=True)
class Tick:
    wall_ms: int
    node: str
    resource: str


def read_ticks(ledger: Path) -> list:
    if not ledger.exists():
        return []
    with open(ledger, encoding="utf-8", errors="replace") as handle:
        return sorted(parse_ledger_lines(handle), key=lambda tick: tick.wall_ms)


def overlaps(ticks: list, gap_threshold_ms: int = GAP_THRESHOLD_MS) -> list[str]:
    """Pairs of activity intervals of one resource on two nodes that intersect in time."""
    found = []
    intervals = activity_intervals(ticks, gap_threshold_ms)
    for index, first in enumerate(intervals):
        for second in intervals[index + 1:]:
            if second.resource != first.resource or second.node == first.node:
                continue
            if max(first.start_ms, second.start_ms) <= min(first.end_ms, second.end_ms):
                found.append(f"{first.resource}: {first.node} [{first.start_ms}, "
                             f"{first.end_ms}] and {second.node} [{second.start_ms}, "
                             f"{second.end_ms}]")
    return found


def ledger_configuration(ledger: Path, resource: str = "led1") -> str:
    return (f"primitive {resource} ocf:raftha:Ledger params ledger_file={ledger} "
            f"tick_ms={TICK_MS} op monitor interval=2s timeout=10s\n"
            "property stonith-action=off\n")


def ticking_node(ledger: Path, since_ms: int, resource: str = "led1") -> str | None:
    """The one node that ticked for `resource` after `since_ms`, else None."""
    nodes = {tick.node for tick in read_ticks(ledger)
             if tick.wall_ms > since_ms and tick.resource == resource}
    return nodes.pop() if len(nodes) == 1 else None


def wait_until(predicate, timeout_s: float, what: str, period_s: float = 0.02):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(period_s)


def wait_ticking(ledger: Path, timeout_s: float = WAIT_S) -> str:
    """Wait until exactly one node has ticked over the last second; its name."""
    def steady() -> str | None:
        now_ms = time.time_ns() // 1_000_000
        return ticking_node(ledger, now_ms - 1000)
    return wait_until(steady, timeout_s, "one node ticking the ledger", 0.1)


def first_tick_elsewhere(ledger: Path, victim: str, after_ms: int,
                         resource: str = "led1"):
    for tick in read_ticks(ledger):
        if tick.wall_ms > after_ms and tick.node != victim and tick.resource == resource:
            return tick
    return None


@dataclass(frozen=True)
class Failover:
    victim: str
    owner: str
    seconds: float
    killed_ms: int
    tick_ms: int
    victim_led: bool          # the victim was the Raft leader (an election comes first)


def kill_and_measure(sandbox: Sandbox, ledger: Path, timeout_s: float = WAIT_S
                     ) -> tuple[str, str, float]:
    """kill -9 the node running the Ledger; (victim, new owner, seconds to its first tick)."""
    failover = kill_and_follow(sandbox, ledger, timeout_s)
    return failover.victim, failover.owner, failover.seconds


def kill_and_follow(sandbox: Sandbox, ledger: Path, timeout_s: float = WAIT_S) -> Failover:
    """kill -9 the node running the Ledger and wait for the first tick from another node."""
    victim = wait_ticking(ledger)
    leader = sandbox.leader()
    killed_ms = time.time_ns() // 1_000_000
    sandbox.kill(victim)
    tick = wait_until(lambda: first_tick_elsewhere(ledger, victim, killed_ms), timeout_s,
                      f"the Ledger ticking on a node other than {victim}")
    return Failover(victim, tick.node, (tick.wall_ms - killed_ms) / 1000, killed_ms,
                    tick.wall_ms, leader == victim)


# The steps of one failover, each read from the committed history (the proposer's wall
# clock when it proposed; every node shares the host clock): (label, event kind, summary
# pattern). {victim}, {owner} and {resource} are filled in per run.
STEPS = (
    ("lost", "NodeLost", r"^node {victim} offline"),
    ("fence requested", "FenceRequested", r"^fence {victim} "),
    ("agent started", "NodeFenced", r"^node {victim} fenced"),       # result - duration
    ("agent done", "NodeFenced", r"^node {victim} fenced"),
    ("start claimed", "OperationsPending", r"^{resource} start on {owner}"),
    ("start done", "OperationCompleted", r"^{resource} start on {owner}: rc=0"),
)
FENCE_DURATION = re.compile(r" in (\d+) ms$")
HISTORY_LIMIT = 400


def breakdown(sandbox: Sandbox, failover: Failover, resource: str = "led1",
              timeout_s: float = 10.0) -> list[tuple[str, int | None]]:
    """Milliseconds after the kill at which each step of the failover happened (None when
    the history does not show it), the first tick last. The start's result may be
    committed after the first tick: wait for it (bounded)."""
    deadline = time.monotonic() + timeout_s
    while True:
        events = sandbox.call(failover.owner, "history", limit=HISTORY_LIMIT)["events"]
        recent = [event for event in events if event["ts_ms"] >= failover.killed_ms]
        done = any(event["kind"] == "OperationCompleted"
                   and event["summary"].startswith(f"{resource} start on {failover.owner}")
                   for event in recent)
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    steps: list[tuple[str, int | None]] = []
    for label, kind, pattern in STEPS:
        matcher = re.compile(pattern.format(victim=re.escape(failover.victim),
                                            owner=re.escape(failover.owner),
                                            resource=re.escape(resource)))
        found = next((event for event in recent
                      if event["kind"] == kind and matcher.search(event["summary"])), None)
        at_ms = None if found is None else found["ts_ms"] - failover.killed_ms
        if label == "agent started" and found is not None:
            duration = FENCE_DURATION.search(found["summary"])
            at_ms = None if duration is None else at_ms - int(duration.group(1))
        steps.append((label, at_ms))
    steps.append(("first tick", failover.tick_ms - failover.killed_ms))
    return steps


def step_increments(steps: list[tuple[str, int | None]]) -> list[tuple[str, int | None]]:
    """Time spent in each step: its time minus the previous known step's."""
    increments, previous = [], 0
    for label, at_ms in steps:
        increments.append((label, None if at_ms is None else at_ms - previous))
        if at_ms is not None:
            previous = at_ms
    return increments


def load_average() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}"


def kill_leftovers(directory: Path) -> None:
    """SIGKILL every process still running from the sandbox directory (nodes restarted by a
    fence agent, Ledger tickers)."""
    marker = str(directory).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
        except OSError:
            continue


def bring_down(directory: Path) -> None:
    try:
        Sandbox(directory).down()
    except Exception as error:  # noqa: BLE001 - cleanup must go on
        print(f"sandbox down: {error}", file=sys.stderr)
    finally:
        kill_leftovers(directory)


def start_fenced_cluster(directory: Path, ledger: Path,
                         timing: dict[str, int] | None = None) -> Sandbox:
    sandbox = Sandbox(directory)
    sandbox.up(3, timeout_s=WAIT_S, timing=timing, fencing=True)
    leader = wait_until(sandbox.leader, WAIT_S, "a leader")
    sandbox.call(leader, "configure_load", text=ledger_configuration(ledger))
    return sandbox


def restart(sandbox: Sandbox, name: str) -> None:
    """Start a fenced (powered off) node again and wait until every node is online."""
    fresh = Sandbox(sandbox.directory)
    if not fresh.is_running(name):
        # No wait inside start(): it calls a node that has not exec'd yet "exited" (its
        # /proc command line is still ours); wait_ready waits for it to answer instead.
        fresh.start(name, wait=False)
    fresh.wait_ready(WAIT_S)
    sandbox.load()


def median_of(values: list[int | None]) -> str:
    known = sorted(value for value in values if value is not None)
    return "?" if not known else str(known[(len(known) - 1) // 2])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered), math.ceil(fraction * len(ordered))) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", type=Path, default=None,
                        help="Use this directory and keep it (default: a temporary one).")
    parser.add_argument("--node-lost-timeout-ms", type=int, default=None,
                        help="Node timing: how long a node's link is down before it is lost "
                             "(default: the node default).")
    arguments = parser.parse_args()
    timing = ({"node_lost_timeout_ms": arguments.node_lost_timeout_ms}
              if arguments.node_lost_timeout_ms else None)
    workdir = arguments.keep or Path(tempfile.mkdtemp(prefix="raftha-failover-"))
    directory, ledger = workdir / "sandbox", workdir / "ledger.log"
    times: list[float] = []
    spends: list[list[tuple[str, int | None]]] = []
    problems: list[str] = []
    print(f"start: {load_average()}", flush=True)
    try:
        sandbox = start_fenced_cluster(directory, ledger, timing)
        for run in range(1, arguments.runs + 1):
            try:
                failover = kill_and_follow(sandbox, ledger)
            except (TimeoutError, ApiError) as error:
                problems.append(f"run {run}: {error}")
                print(f"run {run}: FAILED {error}", flush=True)
                break
            times.append(failover.seconds)
            role = " (leader)" if failover.victim_led else ""
            print(f"run {run}: kill -9 {failover.victim}{role} -> ticking on "
                  f"{failover.owner} after {failover.seconds:.3f} s ({load_average()})",
                  flush=True)
            try:
                steps = breakdown(sandbox, failover)
                spends.append(step_increments(steps))
                print("    " + ", ".join(f"{label} +{'?' if at_ms is None else at_ms}"
                                         for label, at_ms in steps) + " ms", flush=True)
            except ApiError as error:
                print(f"    no breakdown: {error}", flush=True)
            try:
                restart(sandbox, failover.victim)
            except (SandboxError, TimeoutError, ApiError) as error:
                problems.append(f"restart after run {run}: {error}")
                break
        overlap = overlaps(read_ticks(ledger))
    finally:
        bring_down(directory)
        if arguments.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if not times:
        print("no failover measured", file=sys.stderr)
        return 1
    p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
    lost_ms = arguments.node_lost_timeout_ms or NodeTiming().node_lost_timeout_ms
    print(f"\nnode_lost_timeout_ms={lost_ms}; failover with fencing, kill -9 -> Ledger "
          f"ticking elsewhere ({len(times)} runs): "
          f"p50 {p50:.2f} s, p99 {p99:.2f} s, min {min(times):.2f} s, max {max(times):.2f} s "
          f"(target p50 <= {TARGET_P50_S} s, p99 <= {TARGET_P99_S} s)")
    print(f"Pacemaker 2.1.5 + Corosync 3 (netns, fencing): median {PACEMAKER_DEFAULT_MEDIAN_S} s "
          f"with default timeouts -> raftha is {PACEMAKER_DEFAULT_MEDIAN_S / p50:.1f}x faster; "
          f"median {PACEMAKER_FAST_TOKEN_MEDIAN_S} s with a 1 s token -> "
          f"{PACEMAKER_FAST_TOKEN_MEDIAN_S / p50:.1f}x")
    if spends:
        print("median time per step (ms): " + ", ".join(
            f"{label} {median_of([dict(spend)[label] for spend in spends])}"
            for label, _ in spends[0]))
    print(f"end: {load_average()}")
    print(f"ledger overlaps: {len(overlap)}" + "".join(f"\n  {item}" for item in overlap))
    for problem in problems:
        print(problem, file=sys.stderr)
    return 0 if not overlap and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
