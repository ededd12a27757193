"""Real processes: sandbox clusters whose lost nodes are fenced through the log.

kill -9 of a node -> the leader commits FenceRequested -> another node runs the fence agent
(fence_raftha_sandbox, or Debian's fence_dummy unmodified) -> NodeFenced or FenceFailed is
committed -> the node is offline-clean (or stays unclean, and status says why). Every
sandbox is brought down in a finalizer, including nodes a fence agent restarted.

Timing waits are generous (the machine is shared).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sandbox_support import wait_until

from raftha.daemon.client import ApiError
from raftha.sandbox import Sandbox

FENCE_DUMMY = Path("/usr/sbin/fence_dummy")
WAIT_S = 90




def run_cli(*args: str, socket_path: str) -> subprocess.CompletedProcess:
    environment = dict(os.environ, RAFTHA_SOCKET=socket_path)
    return subprocess.run([sys.executable, "-m", "raftha.cli", *args], capture_output=True,
                          text=True, timeout=120, env=environment)


def kill_leftovers(directory: Path) -> None:
    """SIGKILL any process still running from this sandbox directory (a node restarted by
    a fence agent is recorded in sandbox.json by that agent, not by our Sandbox object)."""
    marker = str(directory).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command_line = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker in command_line and int(entry.name) != os.getpid():
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except OSError:
                pass


def bring_down(directory: Path) -> None:
    try:
        Sandbox(directory).down()
    finally:
        kill_leftovers(directory)


def other_than(sandbox: Sandbox, avoid: str) -> str:
    return next(name for name in sandbox.running() if name != avoid)


def fence_history(sandbox: Sandbox, via: str) -> list[dict]:
    return sandbox.call(via, "fence_history")["history"]


def fencing_section(sandbox: Sandbox, via: str) -> dict:
    return sandbox.call(via, "status")["cluster"]["fencing"]


def results_for(sandbox: Sandbox, via: str, target: str, result: str,
                after: int = 0) -> list[dict]:
    """Fence history rows for target with that result, committed after index `after`."""
    try:
        rows = fence_history(sandbox, via)
    except ApiError:
        return []
    return [row for row in rows if row["target"] == target and row["result"] == result
            and row["index"] > after]


def applied_index(sandbox: Sandbox, via: str) -> int:
    return sandbox.call(via, "state_hash")["index"]


def node_state(sandbox: Sandbox, via: str, name: str) -> str:
    return sandbox.call(via, "status")["nodes"][name]["state"]


def history_kinds(sandbox: Sandbox, via: str) -> list[tuple[int, str, str]]:
    events = sandbox.call(via, "history", limit=1000)["events"]
    return [(event["index"], event["kind"], event["summary"]) for event in events]


def victim_other_than_leader(sandbox: Sandbox) -> tuple[str, str]:
    leader = wait_until(sandbox.leader, WAIT_S, "a leader")
    victim = next(name for name in sorted(sandbox.nodes) if name != leader)
    return leader, victim


@pytest.fixture
def fencing_sandbox(tmp_path):
    directory = tmp_path / "sbx"
    sandbox = Sandbox(directory)
    try:
        sandbox.up(3, timeout_s=90, fencing=True)
        yield sandbox
    finally:
        bring_down(directory)


@pytest.fixture(scope="module")
def plain_sandbox(tmp_path_factory):
    directory = tmp_path_factory.mktemp("plain") / "sbx"
    sandbox = Sandbox(directory)
    try:
        sandbox.up(3, timeout_s=90)
        yield sandbox
    finally:
        bring_down(directory)


def test_kill_9_node_is_fenced_by_another_node_and_rejoins(fencing_sandbox):
    sandbox = fencing_sandbox
    leader, victim = victim_other_than_leader(sandbox)
    sandbox.kill(victim)
    fenced = wait_until(lambda: results_for(sandbox, leader, victim, "success"), WAIT_S,
                        f"{victim} fenced")
    row = fenced[0]
    assert row["device"] == f"fence-{victim}"
    assert row["executor"] != victim
    assert set(row) >= {"target", "action", "result", "index", "ts_ms"}
    assert row["action"] == "reboot"
    kinds = history_kinds(sandbox, leader)
    lost = next(index for index, kind, summary in kinds
                if kind == "NodeLost" and victim in summary)
    requested = next(index for index, kind, summary in kinds
                     if kind == "FenceRequested" and victim in summary)
    assert lost < requested < row["index"]
    # The reboot brought the node back: it rejoins only after the result was committed.
    wait_until(lambda: node_state(sandbox, leader, victim) == "online", WAIT_S,
               f"{victim} online again")
    returned = [index for index, kind, summary in history_kinds(sandbox, leader)
                if kind == "NodeReturned" and victim in summary and index > lost]
    assert returned and min(returned) > row["index"]
    listing = run_cli("fence", "history", "--output", "json",
                      socket_path=sandbox.node(leader).socket_path)
    assert listing.returncode == 0, listing.stderr
    assert '"result": "success"' in listing.stdout
    # An operator's reboot of the live node, through the CLI: it waits for the result.
    manual = run_cli("node", "fence", victim, "--action", "reboot",
                     socket_path=sandbox.node(leader).socket_path)
    assert manual.returncode == 0, manual.stderr
    assert f"{victim} fenced (reboot)" in manual.stdout
    wait_until(lambda: node_state(sandbox, leader, victim) == "online", WAIT_S,
               f"{victim} online after the manual reboot")


def test_stonith_enabled_without_a_device_fences_nothing_and_says_why(plain_sandbox):
    sandbox = plain_sandbox
    leader, victim = victim_other_than_leader(sandbox)
    sandbox.call(leader, "configure_load", text="property stonith-enabled=true\n"
                 "primitive d1 ocf:heartbeat:Dummy op monitor interval=10s\n", mode="replace")
    section = fencing_section(sandbox, leader)
    assert "no STONITH resources have been defined" in section["problem"]
    text = run_cli("status", socket_path=sandbox.node(leader).socket_path)
    assert "error: Resource start-up disabled since no STONITH resources" in text.stdout
    refused = run_cli("node", "fence", victim, socket_path=sandbox.node(leader).socket_path)
    assert refused.returncode != 0 and "no fence device" in refused.stderr
    try:
        sandbox.kill(victim)
        wait_until(lambda: node_state(sandbox, leader, victim) == "unclean", WAIT_S,
                   f"{victim} unclean")
        time.sleep(2)
        assert not [kind for _, kind, _ in history_kinds(sandbox, leader)
                    if kind.startswith("Fence") or kind == "NodeFenced"]
        assert node_state(sandbox, leader, victim) == "unclean"
        assert sandbox.call(leader, "status")["resources"]["d1"]["role"] == "Stopped"
    finally:
        sandbox.start(victim)
        sandbox.call(leader, "configure_load", text="property stonith-enabled=false\n",
                     mode="replace")
        sandbox.wait_ready(WAIT_S)


@pytest.mark.skipif(not FENCE_DUMMY.exists(), reason="Debian fence-agents not installed")
def test_fence_dummy_runs_unmodified_and_a_failing_level_falls_through(plain_sandbox,
                                                                        tmp_path):
    sandbox = plain_sandbox
    leader, victim = victim_other_than_leader(sandbox)
    status_file = tmp_path / "dummy.status"
    status_file.write_text("on")
    names = " ".join(sorted(sandbox.nodes))
    sandbox.call(leader, "configure_load", mode="replace", text=(
        "property stonith-enabled=true stonith-action=off\n"
        f"primitive fd-broken stonith:fence_dummy params type=fail power_timeout=1 "
        f"pcmk_off_retries=0 pcmk_host_list=\"{names}\"\n"
        f"primitive fd-good stonith:fence_dummy params status_file={status_file} "
        f"pcmk_host_list=\"{names}\"\n"
        f"fencing_topology {victim}: fd-broken fd-good\n"))
    start = applied_index(sandbox, leader)
    try:
        sandbox.kill(victim)
        row = wait_until(lambda: results_for(sandbox, leader, victim, "success", start), WAIT_S,
                         f"{victim} fenced by fence_dummy")[0]
        assert (row["device"], row["action"]) == ("fd-good", "off")
        assert status_file.read_text().strip() == "off"   # fence_dummy did power it off
        assert not results_for(sandbox, leader, victim, "failed", start)
        wait_until(lambda: node_state(sandbox, leader, victim) == "offline", WAIT_S,
                   f"{victim} offline-clean")
    finally:
        sandbox.start(victim)
        sandbox.wait_ready(WAIT_S)


@pytest.mark.skipif(not FENCE_DUMMY.exists(), reason="Debian fence-agents not installed")
def test_all_levels_failing_leave_the_node_unclean_and_status_shows_it(plain_sandbox):
    sandbox = plain_sandbox
    leader, victim = victim_other_than_leader(sandbox)
    names = " ".join(sorted(sandbox.nodes))
    sandbox.call(leader, "configure_load", mode="replace", text=(
        "property stonith-enabled=true stonith-max-attempts=2\n"
        f"primitive fd-broken stonith:fence_dummy params type=fail power_timeout=1 "
        f"pcmk_off_retries=0 pcmk_host_list=\"{names}\"\n"
        f"primitive fd-broken2 stonith:fence_dummy params type=fail power_timeout=1 "
        f"pcmk_off_retries=0 pcmk_host_list=\"{names}\"\n"
        f"fencing_topology {victim}: fd-broken fd-broken2\n"
        "primitive d1 ocf:heartbeat:Dummy op monitor interval=10s\n"))
    start = applied_index(sandbox, leader)
    try:
        sandbox.kill(victim)
        wait_until(lambda: len(results_for(sandbox, leader, victim, "failed", start)) >= 2,
                   WAIT_S,
                   f"two failed attempts to fence {victim}")
        section = fencing_section(sandbox, leader)
        failure = next(item for item in section["failed"] if item["target"] == victim)
        assert failure["attempts"] == 2 and failure["gave_up"]
        assert node_state(sandbox, leader, victim) == "unclean"
        assert not results_for(sandbox, leader, victim, "success", start)
        text = run_cli("status", socket_path=sandbox.node(leader).socket_path).stdout
        assert "Failed Fencing Actions:" in text and f"of {victim} failed" in text
        time.sleep(2)   # no third attempt after stonith-max-attempts
        assert len(results_for(sandbox, leader, victim, "failed", start)) == 2
    finally:
        sandbox.call(leader, "configure_load", text="property stonith-enabled=false\n",
                     mode="replace")
        sandbox.start(victim)
        sandbox.wait_ready(WAIT_S)


# ---------------------------------------------------------------- the Ledger: ground truth


def ledger_sandbox_fixture(tmp_path):
    from bench_failover import ledger_configuration
    directory, ledger = tmp_path / "sbx", tmp_path / "ledger.log"
    sandbox = Sandbox(directory)
    sandbox.up(3, timeout_s=90, fencing=True)
    leader = wait_until(sandbox.leader, WAIT_S, "a leader")
    sandbox.call(leader, "configure_load", text=ledger_configuration(ledger))
    return sandbox, ledger


@pytest.fixture
def ledger_sandbox(tmp_path):
    try:
        yield ledger_sandbox_fixture(tmp_path)
    finally:
        bring_down(tmp_path / "sbx")


def start_index(sandbox: Sandbox, via: str, resource: str, node: str, after: int) -> int:
    for index, kind, summary in history_kinds(sandbox, via):
        if (index > after and kind == "OperationCompleted"
                and summary.startswith(f"{resource} start on {node}: rc=0")):
            return index
    return 0


def test_kill_9_of_the_ledger_node_fences_it_then_recovers_without_overlap(ledger_sandbox):
    from bench_failover import kill_and_measure, overlaps, read_ticks
    sandbox, ledger = ledger_sandbox
    victim, owner, seconds = kill_and_measure(sandbox, ledger)
    print(f"kill -9 {victim}: Ledger ticking on {owner} after {seconds:.2f} s")
    via = owner
    fenced = wait_until(lambda: results_for(sandbox, via, victim, "success"), WAIT_S,
                        f"{victim} fenced")[0]
    started = wait_until(lambda: start_index(sandbox, via, "led1", owner, 0), WAIT_S,
                         f"led1 started on {owner}")
    assert fenced["index"] < started          # recovery only after the fencing is in the log
    time.sleep(1)
    ticks = read_ticks(ledger)
    assert overlaps(ticks) == []
    first_new = min(tick.wall_ms for tick in ticks if tick.node == owner)
    last_old = max(tick.wall_ms for tick in ticks if tick.node == victim)
    assert last_old < first_new


def test_sigstop_past_the_lease_then_sigcont_never_runs_twice(ledger_sandbox):
    from bench_failover import first_tick_elsewhere, overlaps, read_ticks, wait_ticking
    sandbox, ledger = ledger_sandbox
    victim = wait_ticking(ledger)
    paused_ms = time.time_ns() // 1_000_000
    group = sandbox.pids[victim]
    os.killpg(group, signal.SIGSTOP)
    try:
        tick = wait_until(lambda: first_tick_elsewhere(ledger, victim, paused_ms), WAIT_S,
                          "the Ledger ticking elsewhere")
        time.sleep(3)   # well past the lease (2 s) while the new owner runs it
    finally:
        try:
            os.killpg(group, signal.SIGCONT)
        except ProcessLookupError:
            pass          # fenced: the paused node was powered off
    time.sleep(3)
    ticks = read_ticks(ledger)
    assert overlaps(ticks) == []
    assert not [item for item in ticks if item.node == victim and item.wall_ms >= tick.wall_ms]
    assert results_for(sandbox, tick.node, victim, "success")


# ---------------------------------------------------------------- watchdog recovery


@pytest.fixture
def watchdog_ledger_sandbox(tmp_path):
    from bench_failover import TICK_MS
    directory, ledger = tmp_path / "sbx", tmp_path / "ledger.log"
    sandbox = Sandbox(directory)
    try:
        sandbox.up(3, timeout_s=90)
        leader = wait_until(sandbox.leader, WAIT_S, "a leader")
        socket_path = sandbox.node(leader).socket_path
        refused = run_cli("property", "set", "stonith-watchdog-timeout=3s",
                          socket_path=socket_path)
        assert refused.returncode != 0
        assert "timing rule broken" in refused.stderr and "W=3000 ms" in refused.stderr
        sandbox.call(leader, "configure_load", text=(
            "property stonith-enabled=true stonith-watchdog-timeout=5s\n"
            f"primitive led1 ocf:raftha:Ledger params ledger_file={ledger} "
            f"tick_ms={TICK_MS} op monitor interval=2s timeout=10s\n"))
        # Every node's watchdog runs (and its lease is renewed) before anything is killed.
        pid_files = [Path(node.config_path).parent / "data" / "watchdog" / "watchdog.pid"
                     for node in sandbox.nodes.values()]
        wait_until(lambda: all(path.exists() for path in pid_files), WAIT_S,
                   "every node's watchdog")
        time.sleep(1.5)
        yield sandbox, ledger
    finally:
        bring_down(directory)


def test_without_a_device_the_watchdog_stops_the_lost_node_before_recovery(
        watchdog_ledger_sandbox):
    from bench_failover import kill_and_measure, overlaps, read_ticks
    sandbox, ledger = watchdog_ledger_sandbox
    victim, owner, seconds = kill_and_measure(sandbox, ledger)
    print(f"kill -9 {victim}: Ledger ticking on {owner} after {seconds:.2f} s (watchdog)")
    assert seconds >= 5.0          # not before the recovery wait W
    row = results_for(sandbox, owner, victim, "success")[0]
    assert row["device"] == "watchdog"
    time.sleep(1)
    ticks = read_ticks(ledger)
    assert overlaps(ticks) == []
    # The victim's own watchdog killed its Ledger (kill -9 does not reach the ticker,
    # which runs in a session of its own) well before the recovery.
    first_new = min(tick.wall_ms for tick in ticks if tick.node == owner)
    last_old = max(tick.wall_ms for tick in ticks if tick.node == victim)
    assert first_new - last_old >= 1000


@pytest.mark.skipif(not FENCE_DUMMY.exists(), reason="Debian fence-agents not installed")
def test_a_witness_keeps_quorum_runs_nothing_and_is_never_fenced(plain_sandbox, tmp_path):
    sandbox = plain_sandbox
    leader, _ = victim_other_than_leader(sandbox)
    witness = next(name for name in sorted(sandbox.nodes, reverse=True) if name != leader)
    names = " ".join(sorted(sandbox.nodes))
    sandbox.call(leader, "configure_load", mode="replace", text=(
        "property stonith-enabled=true stonith-action=off\n"
        f"primitive fd stonith:fence_dummy params status_file={tmp_path / 'status'} "
        f"pcmk_host_list=\"{names}\"\n"
        "primitive d1 ocf:heartbeat:Dummy op monitor interval=10s\n"
        f"location prefer-witness d1 100: {witness}\n"
        f"node {witness} attributes witness=true\n"))
    start = applied_index(sandbox, leader)
    try:
        placed = wait_until(lambda: sandbox.call(leader, "status")["resources"]["d1"]["node"],
                            WAIT_S, "d1 placed")
        assert placed != witness
        sandbox.kill(witness)
        time.sleep(4)
        assert sandbox.call(leader, "status")["cluster"]["quorum"]   # two of three vote
        assert not [kind for index, kind, summary in history_kinds(sandbox, leader)
                    if index > start and kind == "FenceRequested"]
        assert sandbox.call(leader, "status")["resources"]["d1"]["node"] == placed
    finally:
        sandbox.call(leader, "configure_load", text="property stonith-enabled=false\n",
                     mode="replace")
        sandbox.start(witness)
        sandbox.wait_ready(WAIT_S)


def fence_agents_by_parent() -> dict[int, list[int]]:
    """parent pid -> pids of its live fence_raftha_sandbox processes."""
    found: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command_line = (entry / "cmdline").read_bytes().split(b"\0")
            fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if fields[0] != "Z" and any(part.endswith(b"/fence_raftha_sandbox")
                                    for part in command_line):
            found.setdefault(int(fields[1]), []).append(int(entry.name))
    return found


def test_each_node_keeps_a_fence_agent_waiting_which_serves_once_and_never_outlives_it(
        fencing_sandbox):
    sandbox = fencing_sandbox
    leader, victim = victim_other_than_leader(sandbox)
    daemons = {name: sandbox.pids[name] for name in sandbox.nodes}

    def waiting(name: str) -> list[int]:
        return fence_agents_by_parent().get(daemons[name], [])

    wait_until(lambda: all(len(waiting(name)) == 1 for name in daemons), WAIT_S,
               "one fence agent waiting on every node")
    before = {name: waiting(name)[0] for name in daemons}
    sandbox.kill(victim)
    fenced = wait_until(lambda: results_for(sandbox, leader, victim, "success"), WAIT_S,
                        f"{victim} fenced")
    executor = fenced[0]["executor"]
    # The victim's waiting agent read an empty stdin when its daemon died: it is gone.
    wait_until(lambda: before[victim] not in {
                   pid for pids in fence_agents_by_parent().values() for pid in pids},
               WAIT_S, "the dead node's waiting agent gone")
    # The executor's waiting agent did the fencing and was replaced by a fresh one.
    replaced = wait_until(lambda: [pid for pid in waiting(executor)
                                   if pid != before[executor]], WAIT_S,
                          "a fresh waiting agent on the executor")
    assert before[executor] not in waiting(executor) and len(replaced) == 1
    Sandbox(sandbox.directory).down()
    every = {pid for pids in fence_agents_by_parent().values() for pid in pids}
    assert every.isdisjoint({*before.values(), *replaced})
