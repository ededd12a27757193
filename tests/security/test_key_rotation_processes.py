"""Real processes: `raftha cluster rotate-key` changes the cluster key of a running 3-node
cluster phase by phase, node by node, with writes committing between every step; afterwards
the key file holds the new key and a restarted node joins with it."""

from __future__ import annotations

import pathlib

from sandbox_support import converged, run_cli, wait_until

from raftha.daemon.config import load_node_config, read_authkey


def test_rotate_key_keeps_quorum_and_a_restarted_node_uses_the_new_key(trio):
    sandbox = trio
    names = list(sandbox.nodes)
    authkey_file = load_node_config(sandbox.node(names[0]).config_path).authkey_file
    old_key = read_authkey(authkey_file)
    first_socket = sandbox.node(names[0]).socket_path
    missing = run_cli("cluster", "rotate-key", "--phase", "accept", "--socket", first_socket)
    assert missing.returncode == 1
    assert missing.stderr.startswith(f"raftha: no new key at {authkey_file}.next")

    generated = run_cli("cluster", "rotate-key", "--generate", f"{authkey_file}.next")
    assert generated.returncode == 0, generated.stderr
    new_key = read_authkey(pathlib.Path(f"{authkey_file}.next"))
    assert new_key != old_key
    writes = 0
    for phase in ("accept", "switch", "finish"):
        for name in names:
            moved = run_cli("cluster", "rotate-key", "--phase", phase,
                            "--socket", sandbox.node(name).socket_path)
            assert moved.returncode == 0, moved.stderr
            assert moved.stdout.startswith(f"node {name}: {phase} (")
            writes += 1  # through another node each time: frames cross every link
            writer = names[(names.index(name) + 1) % len(names)]
            sandbox.call(writer, "property_set", name="batch-limit", value=str(writes))
    wait_until(lambda: converged(sandbox, names), 60, "equal state after the rotation")
    assert read_authkey(authkey_file) == new_key
    assert not pathlib.Path(f"{authkey_file}.next").exists()

    victim = names[1]
    sandbox.kill(victim)
    sandbox.call(names[0], "property_set", name="node-action-limit", value="3")
    sandbox.start(victim)
    wait_until(lambda: converged(sandbox, names), 90, "the restarted node caught up")
    properties = sandbox.call(victim, "property_show")["properties"]
    assert properties["batch-limit"] == str(writes) and properties["node-action-limit"] == "3"
