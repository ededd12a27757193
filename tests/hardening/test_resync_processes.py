"""Real processes: a node whose Raft journal or meta file is damaged refuses to start with a clear
message; `raftha node resync` moves its data aside and it rejoins, caught up from the
cluster (snapshot and log), with the same state hash and nothing lost."""

from __future__ import annotations

import pathlib

import pytest
from sandbox_support import converged, run_cli, running_sandbox, wait_until

START_REFUSAL_TIMEOUT_S = 60




@pytest.fixture
def compacting_trio(tmp_path):
    with running_sandbox(tmp_path / "resync", 3,
                         timing={"compaction_min_entries": 40}) as sandbox:
        yield sandbox


@pytest.mark.parametrize("damaged", ["raft.journal.meta", "raft.journal"])
def test_a_node_with_damaged_raft_data_is_resynced_from_the_cluster(compacting_trio, damaged):
    sandbox = compacting_trio
    leader = sandbox.leader()
    victim = next(name for name in sandbox.nodes if name != leader)
    config_path = sandbox.node(victim).config_path
    data_dir = pathlib.Path(config_path).parent / "data"
    with sandbox.client(leader) as client:
        for number in range(80):  # past the compaction threshold: snapshots exist
            client.call("property_set", name="batch-limit", value=str(number))
    sandbox.kill(victim)
    torn = data_dir / "raft" / damaged
    torn.write_bytes(torn.read_bytes()[:len(torn.read_bytes()) // 3])  # a torn write
    with sandbox.client(leader) as client:
        client.call("property_set", name="node-action-limit", value="7")  # missed

    refused = run_cli("node", "run", "--config", config_path, timeout_s=START_REFUSAL_TIMEOUT_S)
    assert refused.returncode == 1
    assert damaged in refused.stderr and "unreadable" in refused.stderr
    assert f"raftha node resync --config {config_path}" in refused.stderr

    resynced = run_cli("node", "resync", "--config", config_path)
    assert resynced.returncode == 0, resynced.stderr
    kept = [path for path in data_dir.iterdir() if path.name.startswith("damaged-")]
    assert len(kept) == 1 and (kept[0] / "raft" / "raft.journal.meta").exists()
    assert not (data_dir / "raft").exists()

    sandbox.start(victim)
    names = list(sandbox.nodes)
    wait_until(lambda: converged(sandbox, names), 90, "equal state on every node")
    properties = sandbox.call(victim, "property_show")["properties"]
    assert properties["batch-limit"] == "79" and properties["node-action-limit"] == "7"
    # It is a full member again: a write through it commits and reaches everyone.
    sandbox.call(victim, "property_set", name="cluster-recheck-interval", value="5min")
    wait_until(lambda: converged(sandbox, names), 60, "equal state after a new write")


def test_resync_refuses_while_the_node_runs(compacting_trio):
    sandbox = compacting_trio
    name = next(iter(sandbox.nodes))
    result = run_cli("node", "resync", "--config", sandbox.node(name).config_path)
    assert result.returncode != 0
    assert "is running" in result.stderr and "stop it first" in result.stderr
    assert (pathlib.Path(sandbox.node(name).config_path).parent / "data" / "raft").is_dir()
