"""The raftha target's own machinery: the frozen source copy the daemons and the CLI run from,
the truncate heal that goes through `restart_after_damage`, and (root only) a real 3-node
cluster in namespaces where a node whose term/vote file was cut is rebuilt with
`raftha node resync` and catches up."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import time

import pytest

from jepsen import raftha_target
from jepsen.nemesis import Nemesis, damage_file

NEEDS_ROOT = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, nftables, cgroups)"),
    pytest.mark.skipif(shutil.which("ip") is None or shutil.which("nft") is None,
                       reason="needs iproute2 and nftables"),
]


def test_frozen_source_is_what_the_cli_imports(tmp_path):
    source = raftha_target.freeze_source(tmp_path / "source")
    assert (source / "raftha" / "cli" / "__main__.py").exists()
    assert os.access(source / "jepsen" / "fence_jepsen", os.X_OK)
    assert not list(source.rglob("__pycache__"))
    # Run from the repository root: without -P the working tree would win.
    target = raftha_target.RafthaCluster()
    target.source_dir = source
    probe = [*target._cli_command()[:4], "-c", "import raftha; print(raftha.__file__)"]
    completed = subprocess.run(probe, cwd=raftha_target.REPOSITORY_ROOT, capture_output=True,
                               text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert pathlib.Path(completed.stdout.strip()).is_relative_to(source)
    completed = subprocess.run(target._cli_command("--help"), capture_output=True, text=True,
                               timeout=60, cwd=raftha_target.REPOSITORY_ROOT)
    assert completed.returncode == 0 and "Usage" in completed.stdout, completed.stderr


def test_refusal_reason_is_the_line_before_the_resync_hint(tmp_path):
    log = tmp_path / "n1.log"
    log.write_text("old run\n")
    offset = log.stat().st_size
    with open(log, "a") as stream:
        stream.write("raftha: raft meta file x is unreadable: Ran out of input\n"
                     "raftha: to rebuild this node from the cluster: raftha node resync "
                     "--config c.toml\n")
    output = raftha_target.read_from(log, offset)
    assert "old run" not in output
    assert raftha_target.refusal_reason(output) == \
        "raftha: raft meta file x is unreadable: Ran out of input"
    assert raftha_target.read_from(tmp_path / "missing.log", 0) == ""
    assert raftha_target.last_line("a\nb\n\n") == "b"


class RecordingAdapter:
    """Records which restart path the nemesis took."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def start_node(self, node: str) -> None:
        self.calls.append(("start_node", node))

    def restart_after_damage(self, node: str) -> dict:
        self.calls.append(("restart_after_damage", node))
        return {"started": True, "resynced": True}


def test_truncate_heal_restarts_through_the_damage_recovery():
    adapter = RecordingAdapter()
    nemesis = Nemesis(hosts=None, adapter=adapter, recorder=None)
    detail = nemesis._restart(["n2"], after_damage=True)()
    assert adapter.calls == [("restart_after_damage", "n2")]
    assert detail["recoveries"] == {"n2": {"started": True, "resynced": True}}
    nemesis._restart(["n3"])()
    assert adapter.calls[-1] == ("start_node", "n3")


@pytest.fixture
def raftha_cluster(tmp_path):
    pytest.importorskip("raftha.daemon.bootstrap")
    from jepsen.hosts import HostSet

    hosts = HostSet(3)
    target = raftha_target.RafthaCluster()
    try:
        hosts.setup()
        target.start(hosts, tmp_path)
        yield hosts, target
    finally:
        try:
            target.stop()
        finally:
            hosts.teardown()


def state_indices(target) -> dict[str, int | None]:
    answers = {node: target._api(node, "state_hash", timeout_ms=1000)
               for node in ("n1", "n2", "n3")}
    return {node: answer["index"] if answer else None for node, answer in answers.items()}


def test_damage_lands_before_the_journal_data_end(tmp_path):
    journal = tmp_path / "raft.journal"
    header = b"P" * raftha_target.JOURNAL_END_OFFSET_AT + (100).to_bytes(4, "little")
    journal.write_bytes(header + b"r" * 60 + b"\0" * 900)  # records end at 100, then padding
    target = raftha_target.RafthaCluster()
    assert target.data_end(journal) == 100
    assert target.data_end(tmp_path / "raft.journal.meta") is None
    detail = damage_file(journal, 8, "zero", target.data_end(journal))
    data = journal.read_bytes()
    assert data[92:100] == b"\0" * 8 and data[91:92] == b"r" and len(data) == 1000
    assert detail["data_end"] == 100 and detail["size_before"] == 1000
    damage_file(journal, 10, "truncate", 100)
    assert journal.stat().st_size == 90


@NEEDS_ROOT[0]
@NEEDS_ROOT[1]
@NEEDS_ROOT[2]
@pytest.mark.parametrize("damaged_file", ["raft.journal.meta", "raft.journal"])
def test_node_with_damaged_raft_data_is_resynced_and_catches_up(raftha_cluster, damaged_file):
    hosts, target = raftha_cluster
    path = target._files["n3"].config_path.parent / "data" / "raft" / damaged_file
    deadline = time.monotonic() + 60
    while not path.exists():  # the meta file comes at the node's first term or vote change
        assert time.monotonic() < deadline, target.data_files("n3")
        time.sleep(0.3)
    hosts.hosts["n3"].cgroup.kill_all()
    damage_file(path, 64, "zero" if damaged_file == "raft.journal" else "truncate",
                target.data_end(path))
    detail = target.restart_after_damage("n3")
    assert detail.get("resynced") is True, detail
    assert "unreadable" in detail["refused"] and damaged_file in detail["refused"], detail
    data_dir = target._files["n3"].config_path.parent / "data"
    assert list(data_dir.glob("damaged-*/raft")), list(data_dir.iterdir())
    written = subprocess.run(target._cli("n1", "property", "set", "cluster-name=after-resync"),
                             capture_output=True, text=True, timeout=60)
    assert written.returncode == 0, written.stderr
    deadline = time.monotonic() + 60
    while True:
        indices = state_indices(target)
        if None not in indices.values() and len(set(indices.values())) == 1:
            break
        assert time.monotonic() < deadline, f"n3 did not catch up: {indices}"
        time.sleep(0.5)
    shown = subprocess.run(target._cli("n3", "property", "show", "--output", "json"),
                           capture_output=True, text=True, timeout=60)
    assert '"after-resync"' in shown.stdout, shown.stdout + shown.stderr


@NEEDS_ROOT[0]
@NEEDS_ROOT[1]
@NEEDS_ROOT[2]
def test_power_on_right_after_power_off_starts_the_node_again(raftha_cluster):
    """A fence reboot: power-off (every process of the node killed) then power-on at once,
    while the killed daemon may not be reaped yet; the node must come back."""
    hosts, target = raftha_cluster
    old_pid = target.daemon_pids("n2")
    for _attempt in range(3):
        assert hosts.hosts["n2"].cgroup.kill_all()
        target.start_node("n2")
        new_pid = target.daemon_pids("n2")
        assert new_pid and new_pid != old_pid, (old_pid, new_pid)
        old_pid = new_pid
        deadline = time.monotonic() + 60
        while target._api("n2", "ping", timeout_ms=500) is None:
            assert time.monotonic() < deadline, "n2 did not come back after its power-on"
            time.sleep(0.3)


class ListRecorder:
    def __init__(self) -> None:
        self.records: list[tuple[str, str, dict]] = []

    def record(self, process: str, op_type: str, f: str, value: dict) -> None:
        self.records.append((op_type, f, value))


class NoHosts:
    """A host set with no nodes: the final heal's host steps have nothing to do."""

    nodes: list[str] = []
    hosts: dict = {}

    def heal_network(self) -> None:
        return None


def flaky_undo(failures: int):
    calls = {"count": 0}

    def undo() -> dict:
        calls["count"] += 1
        if calls["count"] <= failures:
            raise RuntimeError("node_add failed on every member")
        return {"added": ["n2"]}

    return undo, calls


def test_a_failed_heal_is_tried_again_after_the_next_heal():
    recorder = ListRecorder()
    nemesis = Nemesis(hosts=NoHosts(), adapter=RecordingAdapter(), recorder=recorder)
    undo, calls = flaky_undo(failures=1)
    nemesis._open[1] = ("membership", undo)
    assert "error" in nemesis.heal(1)
    nemesis._open[2] = ("kill", lambda: {"restarted": ["n3"]})
    nemesis.heal(2)
    assert calls["count"] == 2
    retries = [value for op_type, _f, value in recorder.records
               if op_type == "info" and value.get("retry")]
    assert retries == [{"id": 3, "family": "membership", "phase": "heal", "heals": [1],
                        "retry": True, "added": ["n2"]}]


def test_the_final_heal_retries_a_failed_heal(monkeypatch):
    monkeypatch.setattr("jepsen.nemesis.FINAL_HEAL_RETRY_PAUSE_S", 0.0)
    nemesis = Nemesis(hosts=NoHosts(), adapter=RecordingAdapter(), recorder=ListRecorder())
    undo, calls = flaky_undo(failures=3)
    nemesis._open[1] = ("membership", undo)
    nemesis.heal(1)
    completion = nemesis.heal_all()
    assert calls["count"] == 4
    assert completion["retried"] == [1] and completion["errors"] == []
