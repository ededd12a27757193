"""Real processes: parameter changes on a running cluster with Debian's agents, unmodified.

A change of a reloadable parameter reloads the resource in place (ocf:pacemaker:Dummy's
OCF 1.1 reload-agent; ocf:heartbeat:Dummy's legacy reload); a change of a parameter the agent
cannot reload restarts it, and the group members after it, in order; a changed monitor op
re-schedules that monitor only. Every result carries the digest of its parameters.
"""

from __future__ import annotations

from executor_cluster import wait_for

BASE = "property stonith-enabled=false\n"
GROUP = BASE + """
primitive a ocf:pacemaker:Dummy params fake=1 state={state} op monitor interval={interval}
primitive b ocf:pacemaker:Dummy params fake=1
primitive legacy ocf:heartbeat:Dummy params fake={legacy}
group g a b
colocation legacy-with-g inf: legacy g
"""


def configuration(fake: str = "1", state: str = "/tmp/raftha-reload-a.state",
                  interval: str = "3s", legacy: str = "1") -> str:
    return GROUP.format(state=state, interval=interval, legacy=legacy).replace(
        "params fake=1 state", f"params fake={fake} state")


def events_after(cluster, index: int, needle: str) -> list[dict]:
    return [event for event in cluster.history()
            if event["index"] > index and needle in event["summary"]]


def settled(cluster, node: str) -> None:
    for resource in ("a", "b", "legacy"):
        cluster.wait_running(resource)
    wait_for(lambda: not cluster.call("executor_status", via=node)["busy"],
             what="nothing running on the node")


def test_reloadable_change_reloads_and_other_change_restarts_group_in_order(cluster, tmp_path):
    state_file = str(tmp_path / "a.state")
    cluster.load(configuration(state=state_file), mode="replace")
    [node] = cluster.wait_running("a")
    settled(cluster, node)
    # Every result records its parameters' digests; Dummy (OCF 1.1) can reload all but state.
    exported = cluster.call("cib_export")["xml"]
    assert 'id="a_last_0"' in exported and 'op-force-restart=" state "' in exported
    assert exported.count("op-digest=") >= 3

    # 1. fake is reloadable="1" (OCF 1.1): reload-agent, no stop of a or b.
    index = cluster.load(configuration(fake="2", state=state_file), mode="replace")
    wait_for(lambda: events_after(cluster, index, f"a start on {node}: rc=0"),
             what="a reloaded (recorded as a start)")
    assert events_after(cluster, index, f"a reload on {node}: pending")
    assert not events_after(cluster, index, "a stop")
    assert not events_after(cluster, index, "b stop")
    assert not events_after(cluster, index, "b start")
    settled(cluster, node)
    # The plan is empty again: the recorded start carries the new parameters.
    later = cluster.history()[-1]["index"]
    wait_for(lambda: cluster.call("executor_status", via=node)["planned_index"] >= later,
             what="a plan from the latest state")
    assert not events_after(cluster, later, "a reload")

    # 2. state is not reloadable: a restarts in place, b (after it in the group) too.
    index = cluster.load(configuration(fake="2", state=state_file + ".2"), mode="replace")
    wait_for(lambda: events_after(cluster, index, f"b start on {node}: rc=0"),
             what="b started again")
    first = {name: events_after(cluster, index, f"{name} on {node}: rc=0")[0]["index"]
             for name in ("b stop", "a stop", "a start", "b start")}
    assert first["b stop"] < first["a stop"] < first["a start"] < first["b start"]
    # Explain, right after the change, says why (the decision at that log index).
    explained = cluster.call("explain", resource="a", at=index)["explanations"]
    assert [node, "restart", "parameters changed: state"] in explained[0]["parameter_changes"]
    explained = cluster.call("explain", resource="b", at=index)["explanations"]
    assert [node, "restart", "restarted after a"] in explained[0]["parameter_changes"]
    assert not events_after(cluster, index, "a reload")
    settled(cluster, node)

    # 3. a changed monitor interval: the new monitor runs, nothing restarts.
    index = cluster.load(configuration(fake="2", state=state_file + ".2", interval="4s"),
                         mode="replace")
    wait_for(lambda: events_after(cluster, index, "a monitor (4000 ms)"),
             what="the 4 s monitor")
    assert not events_after(cluster, index, "a stop")
    assert not events_after(cluster, index, "a start")
    monitors = cluster.call("executor_status", via=node)["monitors"]
    assert "a:4000" in monitors and "a:3000" not in monitors

    # 4. ocf:heartbeat:Dummy (OCF 1.0): fake is unique="0", so the legacy reload applies it.
    index = cluster.load(configuration(fake="2", state=state_file + ".2", interval="4s",
                                       legacy="2"), mode="replace")
    wait_for(lambda: events_after(cluster, index, f"legacy start on {node}: rc=0"),
             what="legacy reloaded")
    assert events_after(cluster, index, f"legacy reload on {node}: pending")
    assert not events_after(cluster, index, "legacy stop")
