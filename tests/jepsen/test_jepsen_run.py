"""End-to-end runs against the harness self-test target (root only): a short run writes
results.json, history, schedule, HTML and PNG timelines and passes; `check` re-derives the
same verdict; a replay applies the recorded targets; the split-brain target is judged
invalid."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from jepsen import hosts, runner, schedule
from jepsen.adapter import SelfTestCluster
from jepsen.history import load_history

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, nftables, cgroups)"),
    pytest.mark.skipif(shutil.which("ip") is None or shutil.which("nft") is None,
                       reason="needs iproute2 and nftables"),
]
REPO = pathlib.Path(__file__).resolve().parents[2]


def quiet(*_args) -> None:
    return None


def fault_completions(run_dir: pathlib.Path) -> list[dict]:
    return [op["value"] for op in load_history(run_dir / "history.jsonl")
            if op["process"] == "nemesis" and op["type"] == "info"
            and op["value"].get("phase") == "fault"]


@pytest.fixture(scope="module")
def selftest_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("jepsen") / "run"
    options = runner.RunOptions(nodes=3, time_s=6, families=["partition", "kill", "pause-node"],
                                seed=11, out=out, quick=True)
    results = runner.execute(options, SelfTestCluster(), log=quiet)
    return out, results


def test_selftest_run_writes_every_artefact_and_passes(selftest_run):
    out, results = selftest_run
    for name in ("results.json", "history.jsonl", "schedule.json", "timeline.html",
                 "summary.txt", "run.json", "collected.json"):
        assert (out / name).exists(), name
    stored = json.loads((out / "results.json").read_text())
    assert set(stored) >= {"valid", "checkers", "failover_s", "seed"}
    assert set(stored["failover_s"]) == {"p50", "p99", "n"}
    assert stored["seed"] == 11
    assert stored["valid"] is True, json.dumps(stored["checkers"], indent=1)
    assert stored["checkers"]["no_overlap"]["interval_count"] >= 3
    assert len(list((out / "ledger").glob("*.log"))) == 3
    html = (out / "timeline.html").read_text()
    assert "<svg" in html and "n1" in html
    if stored["artefacts"]["timeline_png"]:
        assert (out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    faults = fault_completions(out)
    assert faults, "the schedule applied faults"
    assert all("targets" in value and "affected" in value for value in faults)
    prefix = json.loads((out / "run.json").read_text())["prefix"]
    assert hosts.leftovers(prefix) == {"namespaces": [], "cgroups": [], "root_links": []}


def test_png_needs_matplotlib(selftest_run):
    pytest.importorskip("matplotlib")
    out, _results = selftest_run
    assert (out / "timeline.png").stat().st_size > 1000


def test_check_command_rederives_the_verdict(selftest_run):
    out, results = selftest_run
    (out / "results.json").unlink()
    completed = subprocess.run([sys.executable, "-m", "jepsen", "check", str(out)],
                               cwd=REPO, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    again = json.loads((out / "results.json").read_text())
    assert again["valid"] == results["valid"]
    assert again["checkers"].keys() == results["checkers"].keys()
    assert "VERDICT: True" in completed.stdout


def test_replay_applies_the_recorded_targets(selftest_run, tmp_path):
    out, _results = selftest_run
    recorded = schedule.load_schedule(out)
    assert all("resolved" in op for op in recorded["ops"])
    replay_out = tmp_path / "replay"
    options = runner.RunOptions(nodes=3, time_s=recorded["time_s"], out=replay_out,
                                quick=True, replay=out / "schedule.json")
    runner.execute(options, SelfTestCluster(), log=quiet)
    original = [(value["family"], value["targets"]) for value in fault_completions(out)]
    replayed = [(value["family"], value["targets"]) for value in fault_completions(replay_out)]
    assert replayed == original
    assert json.loads((replay_out / "results.json").read_text())["seed"] == recorded["seed"]


def test_split_brain_target_is_judged_invalid(tmp_path):
    out = tmp_path / "negative"
    completed = subprocess.run(
        [sys.executable, "-m", "jepsen", "run", "--nodes", "3", "--time", "3", "--quick",
         "--nemesis", "partition", "--seed", "2", "--target", "selftest-split-brain",
         "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=180)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["valid"] is False
    assert results["checkers"]["no_overlap"]["valid"] is False
    assert results["checkers"]["no_overlap"]["overlaps"][0]["kind"] == "proven"


def test_bad_arguments_exit_2_with_one_line_reason(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "jepsen", "run", "--nemesis", "flood", "--out",
         str(tmp_path / "x")], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2
    assert completed.stderr.strip().startswith("jepsen: unknown nemesis 'flood'")
    assert len(completed.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_raftha_cluster_under_partitions_and_kills(tmp_path):
    """Real raftha daemons in the namespaces: acknowledged writes survive, nodes converge."""
    pytest.importorskip("raftha.daemon.bootstrap")
    from jepsen.raftha_target import RafthaCluster

    out = tmp_path / "raftha"
    options = runner.RunOptions(nodes=3, time_s=15, families=["partition", "kill"], seed=4,
                                out=out, quick=True)
    results = runner.execute(options, RafthaCluster(), log=quiet)
    assert results["checkers"]["acknowledged_writes"]["valid"] is True, results
    assert results["checkers"]["acknowledged_writes"]["acknowledged"] > 0
    assert results["checkers"]["convergence"]["valid"] is True, results
    assert results["checkers"]["linearizable_register"]["reads"] > 0
    assert set(results["not_checked"]) >= {"no_overlap", "recovery", "fenced_recovery"}


QUICK_RAFTHA_SEEDS = (7,)


@pytest.mark.parametrize("seed", QUICK_RAFTHA_SEEDS)
def test_raftha_quick_profile_with_fenced_ledger_resources(tmp_path, seed):
    """The CI profile against real raftha daemons (about 1 minute): 3 nodes, 35 s of
    partitions, kills and pauses, two ocf:raftha:Ledger resources, a fence_jepsen device per
    node; every checker (ledger ones included) must hold."""
    pytest.importorskip("raftha.daemon.bootstrap")
    from jepsen.raftha_target import RafthaCluster

    out = tmp_path / "raftha-quick"
    options = runner.RunOptions(nodes=3, time_s=35, families=["partition", "kill", "pause"],
                                seed=seed, out=out, quick=True)
    results = runner.execute(options, RafthaCluster(resources=2, fencing=True), log=quiet)
    assert results["valid"] is True, json.dumps(results["checkers"], indent=1)[:4000]
    assert results["checkers"]["no_overlap"]["interval_count"] >= 2
    assert results["checkers"]["acknowledged_writes"]["acknowledged"] > 0
    assert {"no_overlap", "recovery", "fenced_recovery"} <= set(results["checkers"])
    prefix = json.loads((out / "run.json").read_text())["prefix"]
    assert hosts.leftovers(prefix) == {"namespaces": [], "cgroups": [], "root_links": []}


@pytest.mark.slow
def test_five_node_selftest_with_every_fault_family(tmp_path):
    out = tmp_path / "all"
    options = runner.RunOptions(nodes=5, time_s=40, families=list(schedule.FAMILIES), seed=21,
                                out=out, quick=True)
    results = runner.execute(options, SelfTestCluster(), log=quiet)
    assert results["valid"] is True, json.dumps(results["checkers"], indent=1)
    families = {value["family"] for value in fault_completions(out)}
    assert len(families) >= 5
    prefix = json.loads((out / "run.json").read_text())["prefix"]
    assert hosts.leftovers(prefix) == {"namespaces": [], "cgroups": [], "root_links": []}
