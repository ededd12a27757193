"""attrd_updater -d against a real sandbox daemon: changes within the delay reach the log as
one TransientAttributeSet per node, with the newest value; -Q answers the held value."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from executor_cluster import wait_for

SHIMS = Path(__file__).resolve().parents[2] / "agents" / "shims"


@pytest.fixture
def attrd_updater(cluster):
    environment = {"PATH": "/usr/bin:/bin", "RAFTHA_PYTHON": sys.executable,
                   "RAFTHA_SOCKET": cluster.sandbox.node("node1").socket_path}

    def run(*arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(SHIMS / "attrd_updater"), *arguments], env=environment,
                              capture_output=True, text=True, timeout=60)
    return run


def attribute_events(cluster, name: str, after: int) -> list[str]:
    return [event["summary"] for event in cluster.history()
            if event["index"] > after and event["kind"].startswith("TransientAttribute")
            and name in event["summary"]]


def test_updates_within_the_delay_are_one_write_per_node(cluster, attrd_updater):
    start = cluster.history()[-1]["index"]
    began = time.monotonic()
    for value in ("100", "200", "300"):
        assert attrd_updater("-n", "pingd", "-U", value, "-d", "3s").returncode == 0
    assert attrd_updater("-n", "pingd", "-N", "node2", "-U", "50", "-d", "3s").returncode == 0
    held = attrd_updater("-n", "pingd", "-Q")
    assert held.stdout.strip() == 'name="pingd" host="node1" value="300"'
    assert cluster.call("attribute_query", name="pingd")["value"] is None   # not yet written
    events = wait_for(lambda: (lambda found: found if len(found) >= 2 else None)(
        attribute_events(cluster, "pingd", start)), what="the dampened writes")
    waited = time.monotonic() - began
    time.sleep(4)                                     # nothing more follows
    events = attribute_events(cluster, "pingd", start)
    assert len(events) == 2, events
    assert any("node1" in event and "300" in event for event in events), events
    assert any("node2" in event and "50" in event for event in events), events
    assert cluster.call("attribute_query", name="pingd")["value"] == "300"
    assert waited >= 3.0
    # A delete after the delay is dampened the same way (the attribute keeps its delay).
    before = cluster.history()[-1]["index"]
    assert attrd_updater("-n", "pingd", "-D").returncode == 0
    assert attrd_updater("-n", "pingd", "-Q").returncode == 105     # held: deleted
    assert cluster.call("attribute_query", name="pingd")["value"] == "300"
    wait_for(lambda: cluster.call("attribute_query", name="pingd")["value"] is None,
             what="the dampened delete")
    assert len(attribute_events(cluster, "pingd", before)) == 1


def test_a_bad_delay_is_refused_with_one_line(attrd_updater):
    refused = attrd_updater("-n", "pingd", "-U", "1", "-d", "soon")
    assert refused.returncode == 1
    assert "delay 'soon' is not a time" in refused.stderr
    assert attrd_updater("-n", "pingd", "-Y").returncode == 64        # -Y needs -d
