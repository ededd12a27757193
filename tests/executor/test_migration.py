"""Real processes: live migration (allow-migrate=true) on a 3-node sandbox.

ocf:pacemaker:Dummy (Debian's, unmodified) advertises migrate_to and migrate_from: a move
runs migrate_to on the source, migrate_from on the target, then a stop on the source, and
never a start. An LSB script cannot migrate: the executor stops and starts it instead.
"""

from __future__ import annotations

from executor_cluster import wait_for

BASE = "property stonith-enabled=false\nrsc_defaults resource-stickiness=100\n"


def first_index(cluster, needle: str, after: int = 0) -> int | None:
    found = [event["index"] for event in cluster.operations()
             if needle in event["summary"] and event["index"] > after]
    return found[0] if found else None


def test_move_of_migratable_primitive_migrates_it(cluster):
    cluster.load(BASE + """
primitive m ocf:pacemaker:Dummy meta allow-migrate=true op monitor interval=3s
primitive legacy lsb:lsb-demo meta allow-migrate=true op monitor interval=3s
""")
    [source] = cluster.wait_running("m")
    target = next(name for name in cluster.names if name != source)
    cluster.call("resource_move", resource="m", node=target)
    wait_for(lambda: first_index(cluster, f"m stop on {source}: rc=0"),
             what="the source cleaned up after the migration")
    cluster.wait_running("m")
    assert cluster.where("m") == [target]
    migrate_to = first_index(cluster, f"m migrate_to on {source}: rc=0")
    migrate_from = first_index(cluster, f"m migrate_from on {target}: rc=0")
    stop = first_index(cluster, f"m stop on {source}: rc=0")
    assert migrate_to is not None and migrate_from is not None
    assert migrate_to < migrate_from < stop
    assert first_index(cluster, f"m start on {target}") is None
    # The agent's own state moved with it.
    assert (cluster.run_dir(target) / "Dummy-m.state").exists()
    assert not (cluster.run_dir(source) / "Dummy-m.state").exists()
    wait_for(lambda: first_index(cluster, f"m monitor (3000 ms) on {target}"),
             what="the monitor on the target")

    # lsb-demo has no migrate actions: stop on the source, start on the target.
    [old] = cluster.wait_running("legacy")
    new = next(name for name in cluster.names if name != old)
    moved = cluster.call("resource_move", resource="legacy", node=new)["index"]
    started = wait_for(lambda: first_index(cluster, f"legacy start on {new}: rc=0", moved),
                       what="legacy started on its new node")
    assert first_index(cluster, f"legacy stop on {old}: rc=0", moved) < started
    assert first_index(cluster, "legacy migrate") is None
