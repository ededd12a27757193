"""Consistent reads: `property show` and `configure show` commit a read barrier before they
answer, so a node cut off from the majority refuses instead of serving an old value; the
local view stays available on request (and is what `status` shows by default)."""

from __future__ import annotations

import pytest
from test_daemon_unit import fake_cluster  # noqa: F401 - the fixture

from raftha.daemon.client import ApiError
from raftha.model.events import Event, encode_event
from raftha.model.reducer import apply_with_outcome
from raftha.model.state import APPLIED_ID_WINDOW


def leader_and_follower(nodes):
    leader = next(node for node in nodes.values() if node.raft.status().is_leader)
    follower = next(node for node in nodes.values() if node is not leader)
    return leader, follower


def test_an_isolated_node_refuses_a_read_instead_of_serving_a_stale_value(
        fake_cluster):  # noqa: F811
    cluster, nodes = fake_cluster
    leader, follower = leader_and_follower(nodes)
    leader.call("property_set", name="cluster-name", value="old")
    assert follower.call("property_show")["properties"]["cluster-name"] == "old"
    cluster.disconnect(follower.config.raft_address)
    leader.call("property_set", name="cluster-name", value="new")  # acknowledged
    with pytest.raises(ApiError, match="no quorum"):
        follower.call("property_show")
    with pytest.raises(ApiError, match="no quorum"):
        follower.call("configure_show")
    # The local view answers at once and says what it is: possibly stale.
    local = follower.call("property_show", consistent=False)
    assert local["properties"]["cluster-name"] == "old"
    cluster.reconnect(follower.config.raft_address)
    assert follower.call("property_show")["properties"]["cluster-name"] == "new"


def test_a_consistent_read_is_at_least_as_new_as_the_last_acknowledged_write(
        fake_cluster):  # noqa: F811
    _, nodes = fake_cluster
    leader, follower = leader_and_follower(nodes)
    written = leader.call("property_set", name="batch-limit", value="9")["index"]
    answer = follower.call("property_show")
    assert answer["index"] > written
    assert answer["properties"]["batch-limit"] == "9"
    shown = follower.call("configure_show")
    assert shown["index"] == written  # the configuration epoch of the last change


def test_status_is_the_local_view_unless_asked_to_be_consistent(fake_cluster):  # noqa: F811
    cluster, nodes = fake_cluster
    _, follower = leader_and_follower(nodes)
    cluster.disconnect(follower.config.raft_address)
    assert follower.call("status")["cluster"]["node"] == follower.config.node_name
    with pytest.raises(ApiError, match="no quorum"):
        follower.call("status", consistent=True)
    with pytest.raises(ApiError, match="true or false"):
        follower.call("property_show", consistent="yes")


def test_read_barriers_stay_out_of_the_history_listing_and_the_dedup_window(
        fake_cluster):  # noqa: F811
    _, nodes = fake_cluster
    leader, follower = leader_and_follower(nodes)
    leader.call("property_set", name="batch-limit", value="1")
    before = leader.machine.state
    for _ in range(5):
        follower.call("property_show")
    after = leader.machine.state
    assert after.last_index == before.last_index + 5
    assert after.applied_id_count() == before.applied_id_count()
    kinds = [row["kind"] for row in leader.call("history", limit=3)["events"]]
    assert "ReadBarrier" not in kinds and kinds[-1] == "ClusterPropertySet"


def test_many_reads_do_not_evict_a_writes_id_from_the_dedup_window(fake_cluster):  # noqa: F811
    """A retried write must still be recognised after a burst of consistent reads."""
    _, nodes = fake_cluster
    leader, _ = leader_and_follower(nodes)
    write_id = bytes(range(16))
    leader.proposer.propose("ClusterPropertySet", {"name": "batch-limit", "value": "2"},
                            event_id=write_id)
    state = leader.machine.state
    index = state.last_index
    for number in range(APPLIED_ID_WINDOW + 10):
        index += 1
        barrier = encode_event(Event(number.to_bytes(16, "big"), "ReadBarrier", "n1", "",
                                     1, {}))
        state, outcome = apply_with_outcome(state, index, barrier)
        assert outcome.status == "applied"
    assert state.has_applied(write_id)
