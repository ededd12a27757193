"""Real processes: one flipped byte in a stopped node's Raft journal (damage a journal
without checksums would replay as a different command) makes its start fail with the file
and record named; `raftha node resync` rebuilds it from the cluster with nothing lost."""

from __future__ import annotations

import pathlib
import struct

from sandbox_support import converged, run_cli, wait_until

from raftha.raft.library import pysyncobj_journal

START_REFUSAL_TIMEOUT_S = 60


def flip_byte_in_a_command(journal: pathlib.Path) -> int:
    """Flips one byte inside the command of the journal's middle record; returns its
    record number (1-based)."""
    data = bytearray(journal.read_bytes())
    end = struct.unpack_from("<I", data, pysyncobj_journal.LAST_RECORD_OFFSET_OFFSET)[0]
    offsets, offset = [], pysyncobj_journal.FIRST_RECORD_OFFSET
    while offset < end:
        offsets.append(offset)
        offset += struct.unpack_from("<I", data, offset)[0] + 8
    assert len(offsets) >= 3, "the journal should hold records"
    number = len(offsets) // 2
    chosen = offsets[number]
    size = struct.unpack_from("<I", data, chosen)[0]
    data[chosen + 4 + 20 + (size - 20) // 2] ^= 0x01
    journal.write_bytes(bytes(data))
    return number + 1


def test_a_flipped_journal_byte_refuses_start_and_resync_rebuilds_the_node(trio):
    sandbox = trio
    leader = sandbox.leader()
    victim = next(name for name in sandbox.nodes if name != leader)
    config_path = sandbox.node(victim).config_path
    data_dir = pathlib.Path(config_path).parent / "data"
    with sandbox.client(leader) as client:
        for number in range(12):
            client.call("property_set", name="batch-limit", value=str(number))
    names = list(sandbox.nodes)
    wait_until(lambda: converged(sandbox, names), 60, "equal state before the damage")
    sandbox.kill(victim)
    journal = data_dir / "raft" / "raft.journal"
    record = flip_byte_in_a_command(journal)
    with sandbox.client(leader) as client:
        client.call("property_set", name="node-action-limit", value="7")  # missed by it

    refused = run_cli("node", "run", "--config", config_path, timeout_s=START_REFUSAL_TIMEOUT_S)
    assert refused.returncode == 1
    first_line = refused.stderr.splitlines()[0]
    assert first_line.startswith(f"raftha: raft journal {journal.resolve()} is unreadable: "
                                 f"record {record} at offset "), refused.stderr
    assert first_line.endswith("fails its checksum"), refused.stderr
    assert f"raftha node resync --config {config_path}" in refused.stderr

    resynced = run_cli("node", "resync", "--config", config_path)
    assert resynced.returncode == 0, resynced.stderr
    sandbox.start(victim)
    wait_until(lambda: converged(sandbox, names), 90, "equal state on every node")
    properties = sandbox.call(victim, "property_show")["properties"]
    assert properties["batch-limit"] == "11" and properties["node-action-limit"] == "7"
    # A full member again: a write through it commits and reaches everyone.
    sandbox.call(victim, "property_set", name="cluster-recheck-interval", value="5min")
    wait_until(lambda: converged(sandbox, names), 60, "equal state after a new write")
