"""Real namespaces, nftables and cgroups (root only): setup/teardown leaves nothing behind,
partitions cut TCP and heal restores it, loss drops, pause/freeze stops a node, kill empties
it, cleanup removes leftovers of dead runs."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import pytest

from jepsen import cgroups, hosts, net, selftest

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, nftables, cgroups)"),
    pytest.mark.skipif(shutil.which("ip") is None or shutil.which("nft") is None,
                       reason="needs iproute2 and nftables"),
]
REPO = pathlib.Path(__file__).resolve().parents[2]


def assert_nothing_new(before: dict, prefix: str) -> None:
    """Nothing the run created is left: no new root link or nft table, and no namespace or
    cgroup named with its prefix (other runs on the machine may come and go meanwhile)."""
    after = snapshot()
    assert after["root_nft_tables"] == before["root_nft_tables"]
    assert set(after["root_links"]) <= set(before["root_links"]), after["root_links"]
    assert not [name for name in after["netns"] if name.startswith(prefix)]
    assert not [path for path in after["cgroups"] if prefix in path]


def snapshot() -> dict:
    """Everything outside our namespaces that a run could leave behind."""
    cgroup_dirs = sorted(str(root) for _, root in
                         cgroups.stale_cgroup_roots(lambda name: name.startswith("rj")))
    return {
        "netns": sorted(line.split()[0] for line in
                        hosts.run_command(["ip", "netns", "list"]).splitlines() if line),
        "root_links": sorted(line.split(":")[1].strip() for line in
                             hosts.run_command(["ip", "-o", "link", "show"]).splitlines()),
        "root_nft_tables": hosts.run_command(["nft", "list", "tables"]),
        "cgroups": cgroup_dirs,
    }


@pytest.fixture
def host_set():
    created = hosts.HostSet(3)
    created.setup()
    try:
        yield created
    finally:
        created.teardown()


def start_server(host_set: hosts.HostSet, node: str, tmp_path: pathlib.Path):
    ledger = tmp_path / f"{node}.ledger"
    process = host_set.spawn(node, [sys.executable, "-m", "jepsen.selftest", "serve",
                                    "--node", node, "--ledger", str(ledger)],
                             env={"PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 20
    while probe(host_set, node, node, timeout_s=0.5) != 0:
        assert time.monotonic() < deadline, f"server on {node} did not come up"
        time.sleep(0.1)
    return process, ledger


def probe(host_set: hosts.HostSet, source: str, target: str, timeout_s: float = 1.0) -> int:
    argv = host_set.exec_argv(source, [
        sys.executable, "-m", "jepsen.selftest", "probe",
        "--to", f"{host_set.address(target)}:{selftest.PORT}", "--timeout-s", str(timeout_s)])
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    return completed.returncode


def test_setup_and_teardown_leave_nothing_behind(tmp_path):
    before = snapshot()
    created = hosts.HostSet(3)
    with created:
        assert sorted(hosts.our_namespaces()[created.prefix]) == sorted(
            [f"{created.prefix}-hub", f"{created.prefix}-n1", f"{created.prefix}-n2",
             f"{created.prefix}-n3"])
        process = created.spawn("n2", ["sleep", "60"])
        time.sleep(0.2)
        assert process.pid in created.hosts["n2"].cgroup.pids()
        assert process.pid in created.namespace_pids("n2")
        created.apply_grudge(net.isolate_grudge(created.nodes, "n1"))
        assert snapshot()["root_links"] == before["root_links"], "root netns untouched"
    assert process.poll() is not None, "processes of the run are killed"
    assert hosts.leftovers(created.prefix) == {"namespaces": [], "cgroups": [],
                                               "root_links": []}
    assert_nothing_new(before, created.prefix)


def test_partition_blocks_tcp_and_heal_restores(host_set, tmp_path):
    start_server(host_set, "n1", tmp_path)
    start_server(host_set, "n3", tmp_path)
    assert probe(host_set, "n2", "n1") == 0
    host_set.apply_grudge(net.isolate_grudge(host_set.nodes, "n1"))
    assert probe(host_set, "n2", "n1") == selftest.EXIT_TIMEOUT
    assert probe(host_set, "n1", "n3") == selftest.EXIT_TIMEOUT
    assert probe(host_set, "n2", "n3") == 0, "the majority side still talks"
    assert "ip saddr" in host_set.nft_ruleset("n1")
    host_set.heal_network()
    assert probe(host_set, "n2", "n1") == 0
    assert "ip saddr" not in host_set.nft_ruleset("n1")


def test_total_loss_blocks_and_clearing_loss_restores(host_set, tmp_path):
    start_server(host_set, "n1", tmp_path)
    host_set.set_loss("n1", 50)
    assert "numgen random mod 100 < 50" in host_set.nft_ruleset("n1")
    host_set.set_loss("n1", 100)
    assert "loss 100" in host_set.nft_ruleset("n1")
    assert probe(host_set, "n2", "n1") == selftest.EXIT_TIMEOUT
    host_set.set_loss("n1", 0)
    assert probe(host_set, "n2", "n1") == 0


def ledger_lines(path: pathlib.Path) -> int:
    return len(path.read_text().splitlines())


def grows(path: pathlib.Path, wait_s: float = 0.8) -> bool:
    before = ledger_lines(path)
    time.sleep(wait_s)
    return ledger_lines(path) > before


def test_freeze_stops_a_node_and_thaw_resumes_it(host_set, tmp_path):
    _process, ledger = start_server(host_set, "n1", tmp_path)
    group = host_set.hosts["n1"].cgroup
    assert grows(ledger)
    group.freeze()
    time.sleep(0.3)
    assert group.is_frozen()
    assert not grows(ledger), "a frozen node writes nothing"
    assert probe(host_set, "n2", "n1") == selftest.EXIT_TIMEOUT
    group.thaw()
    assert grows(ledger)
    assert probe(host_set, "n2", "n1") == 0


def test_sigstop_pauses_one_process(host_set, tmp_path):
    process, ledger = start_server(host_set, "n1", tmp_path)
    os.kill(process.pid, signal.SIGSTOP)
    try:
        time.sleep(0.3)
        assert not grows(ledger)
    finally:
        os.kill(process.pid, signal.SIGCONT)
    assert grows(ledger)


def test_kill_all_empties_the_node(host_set, tmp_path):
    process, ledger = start_server(host_set, "n1", tmp_path)
    group = host_set.hosts["n1"].cgroup
    assert group.kill_all()
    assert group.pids() == []
    process.wait(timeout=10)
    assert not grows(ledger)


def test_cleanup_removes_runs_whose_owner_died_and_spares_live_ones():
    created = hosts.HostSet(2)
    created.setup()
    try:
        assert created.prefix not in hosts.cleanup_stale(), "a live run is spared"
        assert hosts.our_namespaces().get(created.prefix)
        dead = subprocess.Popen(["true"])
        dead.wait()
        owner = hosts.STATE_DIR / f"{created.prefix}.json"
        owner.write_text(json.dumps({"pid": dead.pid, "nodes": 2}))
        created.spawn("n1", ["sleep", "60"])
        assert created.prefix in hosts.cleanup_stale()
        assert hosts.leftovers(created.prefix) == {"namespaces": [], "cgroups": [],
                                                   "root_links": []}
        assert not owner.exists()
    finally:
        created.teardown()


def test_interrupted_run_tears_everything_down(tmp_path):
    before = snapshot()
    command = [sys.executable, "-m", "jepsen", "run", "--nodes", "3", "--time", "60",
               "--quick", "--seed", "5", "--out", str(tmp_path / "run")]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    prefix = None
    try:
        deadline = time.monotonic() + 60
        assert process.stdout is not None
        for line in process.stdout:
            if "hosts rj" in line:
                prefix = line.split("hosts ")[1].split()[0]
                break
            assert time.monotonic() < deadline
        assert prefix, "run did not report its hosts"
        time.sleep(2)
        assert hosts.our_namespaces().get(prefix)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if prefix:
            hosts.cleanup_stale()
    assert hosts.leftovers(prefix) == {"namespaces": [], "cgroups": [], "root_links": []}
    assert_nothing_new(before, prefix)


def test_overlapping_network_faults_combine_and_heal_separately(host_set, tmp_path):
    from jepsen.adapter import SelfTestCluster
    from jepsen.history import HistoryRecorder
    from jepsen.nemesis import Nemesis

    address = host_set.address
    with HistoryRecorder(tmp_path / "history.jsonl") as recorder:
        nemesis = Nemesis(host_set, SelfTestCluster(), recorder)
        first = nemesis.apply({"index": 0, "family": "partition", "rule": "isolate-random",
                               "order": ["n1", "n2", "n3"]})
        second = nemesis.apply({"index": 1, "family": "partition", "rule": "isolate-random",
                                "order": ["n3", "n1", "n2"]})
        loss = nemesis.apply({"index": 2, "family": "loss", "rule": "random",
                              "order": ["n2"], "params": {"percent": 30}})
        assert first["affected"] == ["n1"] and second["affected"] == ["n3"]
        assert host_set.rules("n2").drop_addresses == {address("n1"), address("n3")}
        assert host_set.rules("n2").loss_percent == 30
        nemesis.heal(first["id"])
        assert host_set.rules("n2").drop_addresses == {address("n3")}
        assert host_set.rules("n1").drop_addresses == {address("n3")}
        assert "10.231.0.3" in host_set.nft_ruleset("n1")
        nemesis.heal(second["id"])
        assert host_set.rules("n1").empty
        assert host_set.rules("n2").loss_percent == 30
        healed = nemesis.heal_all()
        assert healed["heals"] == [loss["id"]]
        assert all(host_set.rules(node).empty for node in host_set.nodes)
        records = recorder.ops()
    assert all(op["process"] == "nemesis" for op in records)
    assert [op["type"] for op in records].count("invoke") == 6
