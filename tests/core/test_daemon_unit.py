"""Unit tests of the daemon's pieces over the in-process fake Raft layer.

Proposals with retries and dedup, the Control API operations, leader duties, the history
journal, configuration loading, and the Unix socket transport with SO_PEERCRED.
"""

from __future__ import annotations

import os
import pathlib
import stat

import pytest
from fake_daemon import started_fake_nodes

from raftha.daemon.api import ControlServer
from raftha.daemon.bootstrap import init_cluster
from raftha.daemon.client import ApiError, ControlClient
from raftha.daemon.config import ConfigError, load_node_config, read_authkey
from raftha.daemon.history import HistoryError, HistoryJournal
from raftha.daemon.machine import ReducerStateMachine
from raftha.daemon.proposer import ProposalError, ProposalRejected
from raftha.raft.contract import ProposeOutcome

ADDRESSES = ("127.0.0.1:7101", "127.0.0.1:7102", "127.0.0.1:7103")


@pytest.fixture
def fake_cluster(tmp_path):
    yield from started_fake_nodes(tmp_path, "unit", ADDRESSES)


def test_leader_creates_the_cluster_and_marks_connected_nodes_online(fake_cluster):
    _, nodes = fake_cluster
    for node in nodes.values():
        state = node.machine.state
        assert state.name == "unit"
        assert {record.name: record.state for record in state.nodes} == {
            "n1": "online", "n2": "online", "n3": "online"}


def test_leader_marks_a_disconnected_node_offline_only_after_the_timeout(fake_cluster):
    cluster, nodes = fake_cluster
    leader = next(node for node in nodes.values() if node.raft.status().is_leader)
    victim = next(node for node in nodes.values() if node is not leader)
    cluster.disconnect(victim.config.raft_address)
    leader.duties.step(100.0)
    assert leader.machine.state.node(victim.config.node_name).state == "online"
    leader.duties.step(100.5)  # 500 ms < node_lost_timeout_ms (1000)
    assert leader.machine.state.node(victim.config.node_name).state == "online"
    leader.duties.step(101.2)
    assert leader.machine.state.node(victim.config.node_name).state == "offline"
    # Lost while expected a member: unclean until fenced, unless fencing is disabled.
    assert leader.call("status")["nodes"][victim.config.node_name]["state"] == "unclean"
    leader.call("property_set", name="stonith-enabled", value="false")
    assert leader.call("status")["nodes"][victim.config.node_name]["state"] == "offline"


def test_property_set_through_a_follower_is_seen_everywhere_with_user(fake_cluster):
    _, nodes = fake_cluster
    follower = next(node for node in nodes.values() if not node.raft.status().is_leader)
    result = follower.call("property_set", user="carol", name="stonith-enabled", value="false")
    hashes = {node.call("state_hash")["hash"] for node in nodes.values()}
    assert len(hashes) == 1
    for node in nodes.values():
        assert node.call("property_show")["properties"] == {"stonith-enabled": "false"}
    events = follower.call("history")["events"]
    assert events[-1]["index"] == result["index"]
    assert (events[-1]["user"], events[-1]["origin"], events[-1]["kind"]) == (
        "carol", follower.config.node_name, "ClusterPropertySet")


def test_invalid_property_is_refused_before_reaching_the_log(fake_cluster):
    cluster, nodes = fake_cluster
    before = cluster.commit_index()
    with pytest.raises(ApiError, match="unknown cluster property 'nope'"):
        nodes["n1"].call("property_set", name="nope", value="1")
    with pytest.raises(ApiError, match="no-quorum-policy must be one of"):
        nodes["n1"].call("property_set", name="no-quorum-policy", value="sometimes")
    assert cluster.commit_index() == before


def test_unknown_commit_is_retried_with_the_same_id_and_applied_once(fake_cluster):
    cluster, nodes = fake_cluster
    node = nodes["n2"]
    applied_before = node.machine.state.applied_count
    cluster.inject_outcome(ProposeOutcome.UNKNOWN, commit=True, reason="leader lost")
    outcome = node.proposer.propose("ClusterPropertySet", {"name": "batch-limit", "value": "4"},
                                    user="dave", timeout_ms=2000)
    assert outcome.status == "applied"
    assert node.machine.state.applied_count == applied_before + 1
    assert node.machine.state.property("batch-limit") == "4"


def test_not_applied_is_retried_until_it_commits(fake_cluster):
    cluster, nodes = fake_cluster
    cluster.inject_outcome(ProposeOutcome.NOT_APPLIED, commit=False, reason="no leader yet")
    outcome = nodes["n3"].proposer.propose("ClockTicked", {}, timeout_ms=2000)
    assert outcome.status == "applied"


def test_rejected_event_raises_with_the_reducers_reason(fake_cluster):
    _, nodes = fake_cluster
    with pytest.raises(ProposalRejected, match="is not set"):
        nodes["n1"].proposer.propose("ClusterPropertyUnset", {"name": "batch-limit"})


def test_a_minority_node_refuses_writes_with_no_quorum(fake_cluster):
    cluster, nodes = fake_cluster
    cluster.disconnect(nodes["n3"].config.raft_address)
    with pytest.raises(ProposalError, match="^no quorum: this node reaches 1 of 3 members"):
        nodes["n3"].proposer.propose("ClockTicked", {}, timeout_ms=3000)
    assert nodes["n3"].call("status")["cluster"]["quorum"] is False


def test_status_document_has_the_documented_shape(fake_cluster):
    _, nodes = fake_cluster
    document = nodes["n1"].call("status")
    assert list(document) == ["cluster", "nodes", "resources"]
    assert {"name", "leader", "quorum", "commit_index"} <= set(document["cluster"])
    assert document["cluster"]["leader"] in {"n1", "n2", "n3"}
    assert document["nodes"]["n2"]["state"] == "online"
    assert document["resources"] == {}


def test_status_at_an_index_rebuilds_the_past(fake_cluster):
    _, nodes = fake_cluster
    first = nodes["n1"].call("property_set", name="maintenance-mode", value="true")["index"]
    nodes["n1"].call("property_set", name="maintenance-mode", value="false")
    past = nodes["n1"].call("status", at=first)
    assert past["cluster"]["properties"] == {"maintenance-mode": "true"}
    assert past["cluster"]["at_index"] == first
    assert nodes["n1"].call("status")["cluster"]["properties"] == {"maintenance-mode": "false"}


def test_api_refuses_malformed_requests(fake_cluster):
    _, nodes = fake_cluster
    api = nodes["n1"].api
    assert api.handle({"op": "explode"}, "u") == {"ok": False,
                                                  "error": "unknown operation 'explode'"}
    assert api.handle([], "u")["ok"] is False
    assert api.handle({"op": "status", "args": {"at": -1}}, "u")["ok"] is False
    assert "unknown argument 'color'" in api.handle(
        {"op": "property_show", "args": {"color": 1}}, "u")["error"]


def test_membership_operations_record_join_and_leave(fake_cluster):
    _, nodes = fake_cluster
    with pytest.raises(ApiError, match="already a member"):
        nodes["n1"].call("node_add", name="n2", address="127.0.0.1:7999")
    with pytest.raises(ApiError, match="not a member"):
        nodes["n1"].call("node_remove", name="ghost")


# ---------------------------------------------------------------------------
# History journal

def make_entries(count: int):
    from raftha.model.events import Event, encode_event
    created = encode_event(Event(b"c" * 16, "ClusterCreated", "n1", "", 1, {
        "name": "h", "nodes": [{"name": "n1", "address": "h:1"}]}))
    ticks = [encode_event(Event(bytes([number % 256]) * 15 + b"t", "ClockTicked", "n1", "",
                                number, {})) for number in range(count)]
    return [created, *ticks]


def test_history_skips_replayed_entries_and_survives_a_torn_tail(tmp_path):
    from raftha.model.reducer import apply
    journal = HistoryJournal(tmp_path)
    state = None
    from raftha.model.state import EMPTY_STATE
    state = EMPTY_STATE
    for index, entry in enumerate(make_entries(5), start=1):
        state = apply(state, index, entry)
        journal.append_entry(index, entry, state)
        journal.append_entry(index, entry, state)  # a replay after restart: ignored
    journal.close()
    with (tmp_path / "history.msgpack").open("ab") as handle:
        handle.write(b"\x93\xa1e")  # a frame cut short by a crash
    reopened = HistoryJournal(tmp_path)
    assert reopened.last_index == 6
    rows, earliest = reopened.rows(100)
    assert [row.index for row in rows] == [1, 2, 3, 4, 5, 6] and earliest == 0
    assert rows[0].kind == "ClusterCreated" and rows[1].summary == "clock tick"
    assert reopened.state_at() == state
    entry = make_entries(7)[-1]
    reopened.append_entry(7, entry, apply(state, 7, entry))
    assert [row.index for row in reopened.rows(2)[0]] == [6, 7]


def test_history_rotation_keeps_rebuilding_past_states(tmp_path):
    from raftha.model.reducer import apply
    from raftha.model.state import EMPTY_STATE
    journal = HistoryJournal(tmp_path, max_records=4)
    state = EMPTY_STATE
    states = {}
    for index, entry in enumerate(make_entries(12), start=1):
        state = apply(state, index, entry)
        states[index] = state
        journal.append_entry(index, entry, state)
    assert journal.state_at() == state
    assert (tmp_path / "history.1.msgpack").exists()
    earliest = journal.rows(100)[1]
    assert earliest > 1
    assert journal.state_at(earliest + 1) == states[earliest + 1]
    with pytest.raises(HistoryError, match="older than the kept history"):
        journal.state_at(1)


def test_history_checkpoints_rebuild_every_past_state(tmp_path):
    from raftha.model.reducer import apply_with_outcome
    from raftha.model.state import EMPTY_STATE
    journal = HistoryJournal(tmp_path, checkpoint_every=3)
    state = EMPTY_STATE
    states = {}
    for index, entry in enumerate([*make_entries(10), b"junk"], start=1):
        state, outcome = apply_with_outcome(state, index, entry)
        states[index] = state
        journal.append_entry(index, entry, state, outcome)
    for index, expected in states.items():
        assert journal.state_at(index) == expected
    last = journal.rows(1)[0][0]
    assert (last.status, last.summary) == ("rejected", "(undecodable entry)")


# ---------------------------------------------------------------------------
# Configuration and bootstrap files

def test_init_writes_private_authkey_and_loadable_configs(tmp_path):
    written = init_cluster(tmp_path, "c1", [("a", "127.0.0.1:1"), ("b", "127.0.0.1:2")])
    key_mode = stat.S_IMODE((tmp_path / "authkey").stat().st_mode)
    assert key_mode == 0o600
    assert len(read_authkey(tmp_path / "authkey")) == 32
    config = load_node_config(written[1].config_path)
    assert (config.node_name, config.raft_address, config.peers) == (
        "b", "127.0.0.1:2", (("a", "127.0.0.1:1"),))
    assert config.initial_nodes == (("a", "127.0.0.1:1"), ("b", "127.0.0.1:2"))
    with pytest.raises(ConfigError, match="already exists"):
        init_cluster(tmp_path, "c1", [("a", "127.0.0.1:1")])


def test_config_errors_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_node_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text('[node]\nname = "x y"\n[cluster]\n')
    with pytest.raises(ConfigError, match="not a valid name"):
        load_node_config(bad)
    init_cluster(tmp_path / "c", "c", [("a", "127.0.0.1:1")])
    os.chmod(tmp_path / "c" / "authkey", 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        read_authkey(tmp_path / "c" / "authkey")


def test_duplicate_members_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="names must be unique"):
        init_cluster(tmp_path, "c", [("a", "127.0.0.1:1"), ("a", "127.0.0.1:2")])


# ---------------------------------------------------------------------------
# Transport: a real Unix socket, SO_PEERCRED

def test_socket_is_private_and_records_the_callers_os_user(fake_cluster, tmp_path):
    import pwd
    _, nodes = fake_cluster
    path = str(tmp_path / "api.sock")
    server = ControlServer(path, 0o600, nodes["n1"].api)
    server.start()
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with ControlClient(path, 5000) as client:
            assert client.call("ping")["node"] == "n1"
            client.call("property_set", name="stonith-enabled", value="true")
            with pytest.raises(ApiError, match="unknown operation"):
                client.call("nope")
            events = client.call("history")["events"]
        assert events[-1]["user"] == pwd.getpwuid(os.getuid()).pw_name
    finally:
        server.stop()
    assert not os.path.exists(path)
    with pytest.raises(ApiError, match="is the node running"):
        ControlClient(path, 1000).call("ping")


def test_a_failing_history_disk_does_not_stop_the_node(fake_cluster, monkeypatch):
    _, nodes = fake_cluster
    node = nodes["n1"]

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(node.history, "append_entry", disk_full)
    node.call("property_set", name="batch-limit", value="2")
    assert node.machine.state.property("batch-limit") == "2"
    with pytest.raises(ApiError, match="history journal failed at index .*No space left"):
        node.call("history")


# ---------------------------------------------------------------------------
# Configuration (crm configure syntax)

WEB_CONFIGURATION = """\
property stonith-enabled=false
primitive ip ocf:heartbeat:IPaddr2 params ip=192.0.2.10 op monitor interval=30s
primitive web ocf:heartbeat:apache op monitor interval=1min
colocation web-with-ip inf: web ip
order ip-then-web Mandatory: ip web
"""


def test_configure_load_commits_the_whole_configuration_atomically(fake_cluster):
    cluster, nodes = fake_cluster
    result = nodes["n2"].call("configure_load", user="erin", text=WEB_CONFIGURATION)
    assert result["resources"] == 2
    for node in nodes.values():
        shown = node.call("configure_show")
        assert "primitive web ocf:heartbeat:apache" in shown["text"]
        assert "colocation web-with-ip inf: web ip" in shown["text"]
        assert node.call("property_show")["properties"] == {"stonith-enabled": "false"}
        resources = node.call("status")["resources"]
        ip = resources["ip"]
        # Nothing has reported running it: stopped now, placed by the scheduler.
        assert (ip["node"], ip["role"], ip["agent"]) == (None, "Stopped",
                                                         "ocf:heartbeat:IPaddr2")
        assert ip["target_role"] == "Started" and ip["target_node"] in ("n1", "n2", "n3")
        assert resources["web"]["target_node"] == ip["target_node"]  # colocated
    event = nodes["n1"].call("history")["events"][-1]
    assert (event["kind"], event["user"], event["status"]) == (
        "ConfigurationLoaded", "erin", "applied")
    before = cluster.commit_index()
    with pytest.raises(ApiError, match="configuration refused: .*ghost"):
        nodes["n1"].call("configure_load", text="order o1 Mandatory: ip ghost\n")
    with pytest.raises(ApiError, match="line 1"):
        nodes["n1"].call("configure_load", text="primitive\n")
    with pytest.raises(ApiError, match="unknown cluster property 'nonsense'"):
        nodes["n1"].call("configure_load", text="property nonsense=1\n")
    assert cluster.commit_index() == before


def test_a_configuration_exported_from_pacemaker_loads(fake_cluster):
    _, nodes = fake_cluster
    exported = ("property cib-bootstrap-options: have-watchdog=false "
                "dc-version=2.1.5-a3f44794f94 cluster-infrastructure=corosync "
                "cluster-name=mycluster last-lrm-refresh=1700000000 "
                "default-resource-stickiness=100\n"
                "primitive ClusterIP IPaddr2 params ip=192.0.2.120 cidr_netmask=24\n")
    nodes["n1"].call("configure_load", text=exported)
    assert nodes["n2"].call("property_show")["properties"] == {
        "cluster-name": "mycluster", "default-resource-stickiness": "100"}


def test_configure_update_merges_and_replace_replaces(fake_cluster):
    _, nodes = fake_cluster
    node = nodes["n1"]
    node.call("configure_load", text=WEB_CONFIGURATION)
    node.call("property_set", name="no-quorum-policy", value="freeze")
    node.call("configure_load", text="primitive db ocf:heartbeat:Dummy\n")
    text = node.call("configure_show")["text"]
    assert "primitive db" in text and "primitive web" in text
    assert "no-quorum-policy=freeze" in text and "stonith-enabled=false" in text
    node.call("configure_load", mode="replace", text="primitive only ocf:heartbeat:Dummy\n")
    assert set(node.call("status")["resources"]) == {"only"}
    assert node.call("property_show")["properties"] == {}


def test_a_load_based_on_a_stale_configuration_is_rejected(fake_cluster):
    _, nodes = fake_cluster
    node = nodes["n1"]
    from raftha.model.config import Configuration
    stale_base = node.machine.state.configuration_index
    node.call("property_set", name="batch-limit", value="1")
    with pytest.raises(ProposalRejected, match="changed at index .* load it again"):
        node.proposer.propose("ConfigurationLoaded", {
            "configuration": Configuration().to_dict(), "base_index": stale_base,
            "mode": "replace"})
    assert node.machine.state.property("batch-limit") == "1"


def test_connections_beyond_the_limit_get_a_one_line_refusal(fake_cluster, tmp_path,
                                                             monkeypatch):
    import time

    import raftha.daemon.api as api_module
    monkeypatch.setattr(api_module, "MAX_CONNECTIONS", 2)
    _, nodes = fake_cluster
    path = str(tmp_path / "limit.sock")
    server = ControlServer(path, 0o600, nodes["n1"].api)
    server.start()
    clients = [ControlClient(path, 5000) for _ in range(3)]
    try:
        assert clients[0].call("ping")["node"] == "n1"
        assert clients[1].call("ping")["node"] == "n1"
        with pytest.raises(ApiError, match="too many open connections"):
            clients[2].call("ping")
        clients[0].close()
        deadline = time.monotonic() + 5
        while True:  # the slot frees once the server notices the closed connection
            try:
                with ControlClient(path, 5000) as late:
                    assert late.call("ping")["node"] == "n1"
                break
            except ApiError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        for client in clients:
            client.close()
        server.stop()


def test_history_knows_what_a_restored_snapshot_skipped(tmp_path):
    from raftha.model.reducer import apply
    from raftha.model.state import EMPTY_STATE
    journal = HistoryJournal(tmp_path)
    entries = make_entries(8)
    state = EMPTY_STATE
    states = {}
    for index, entry in enumerate(entries, start=1):
        state = apply(state, index, entry)
        states[index] = state
        if index <= 3 or index >= 8:
            journal.append_entry(index, entry, state)
        elif index == 7:
            journal.append_snapshot(state)  # caught up from the leader at index 7
    assert journal.state_at(3) == states[3]
    assert journal.state_at(7) == states[7] and journal.state_at(9) == states[9]
    with pytest.raises(HistoryError, match="never saw indexes 4 to 6"):
        journal.state_at(5)
    assert [row.index for row in journal.rows(100)[0]] == [1, 2, 3, 8, 9]


def test_standby_and_maintenance_are_node_attributes_in_the_configuration(fake_cluster):
    _, nodes = fake_cluster
    node = nodes["n1"]
    node.call("node_attribute_set", node="n2", name="standby", value="on")
    node.call("node_attribute_set", node="n3", name="maintenance", value="true")
    node.call("node_attribute_set", node="n3", name="rack", value="r7")
    states = {name: item["state"] for name, item in node.call("status")["nodes"].items()}
    assert states == {"n1": "online", "n2": "standby", "n3": "maintenance"}
    assert "node n2" in node.call("configure_show")["text"]
    with pytest.raises(ApiError, match="must be a boolean"):
        node.call("node_attribute_set", node="n2", name="standby", value="sometimes")
    with pytest.raises(ApiError, match="not a member"):
        node.call("node_attribute_set", node="ghost", name="standby", value="on")
    node.call("node_attribute_set", node="n2", name="standby", value="off")
    node.call("node_attribute_unset", node="n3", name="maintenance")
    view = node.call("status")["nodes"]
    assert (view["n2"]["state"], view["n3"]["state"]) == ("online", "online")
    assert view["n3"]["attributes"] == {"rack": "r7"}
    with pytest.raises(ApiError, match="has no attribute 'maintenance'"):
        node.call("node_attribute_unset", node="n3", name="maintenance")


def test_resource_move_ban_clear_and_meta_edit_the_configuration(fake_cluster):
    _, nodes = fake_cluster
    node = nodes["n1"]
    node.call("configure_load", text="primitive web ocf:heartbeat:Dummy\n"
                                     "primitive db ocf:heartbeat:Dummy\ngroup g db\n")
    node.call("resource_move", user="frank", resource="web", node="n2")
    node.call("resource_ban", resource="web", node="n3")
    node.call("resource_meta", resource="db", name="target-role", value="Stopped")
    text = nodes["n3"].call("configure_show")["text"]
    assert "location cli-prefer-web web role=Started inf: n2" in text
    assert "location cli-ban-web-on-n3 web role=Started -inf: n3" in text
    assert "meta target-role=Stopped" in text
    event = node.call("history")["events"][-3]
    assert (event["summary"], event["user"]) == ("resource web moved to n2", "frank")
    node.call("resource_clear", resource="web")
    assert "cli-" not in node.call("configure_show")["text"]
    with pytest.raises(ApiError, match="has no move or ban constraints"):
        node.call("resource_clear", resource="web")
    with pytest.raises(ApiError, match="no resource 'nope'"):
        node.call("resource_move", resource="nope", node="n2")
    with pytest.raises(ApiError, match="not a member"):
        node.call("resource_move", resource="web", node="n9")
    node.call("resource_meta", resource="db", name="target-role", value=None)
    assert "target-role" not in node.call("configure_show")["text"]


def test_a_cleanly_stopped_node_is_not_brought_back_by_its_lingering_connection(fake_cluster):
    cluster, nodes = fake_cluster
    leader = next(node for node in nodes.values() if node.raft.status().is_leader)
    stopping = next(node for node in nodes.values() if node is not leader)
    name = stopping.config.node_name
    stopping.proposer.propose("NodeStopped", {"name": name})
    for now in (20.0, 20.5, 21.0):  # still connected: it is shutting down
        leader.duties.step(now)
    assert leader.machine.state.node(name).state == "offline"
    assert leader.machine.state.node(name).expected == "down"
    cluster.disconnect(stopping.config.raft_address)
    leader.duties.step(22.0)
    cluster.reconnect(stopping.config.raft_address)  # it restarted
    leader.duties.step(23.0)
    leader.duties.step(23.5)
    assert leader.machine.state.node(name).state == "online"


def test_status_shows_where_resources_run_from_reported_results(fake_cluster):
    _, nodes = fake_cluster
    node = nodes["n1"]
    node.call("configure_load", text="property stonith-enabled=false\n"
                                     "primitive d1 ocf:heartbeat:Dummy\n")
    body = {"node": "n2", "resource": "d1", "agent": "ocf:heartbeat:Dummy",
            "operation": "start", "interval_ms": 0, "rc": 0, "op_status": 0, "target_rc": None,
            "exit_reason": "", "duration_ms": 30}
    node.proposer.propose("OperationCompleted", body)
    resource = nodes["n3"].call("status")["resources"]["d1"]
    assert (resource["node"], resource["role"]) == ("n2", "Started")
    failed = dict(body, operation="monitor", interval_ms=10_000, rc=7, target_rc=0,
                  exit_reason="not running")
    node.proposer.propose("OperationCompleted", failed)
    assert node.call("status")["resources"]["d1"]["failed"] is True
    node.call("resource_cleanup", resource="d1", node="n2")
    assert node.call("status")["resources"]["d1"]["node"] is None
    with pytest.raises(ApiError, match="no resource 'zz'"):
        node.call("resource_cleanup", resource="zz")


def test_daemon_threads_carry_their_names_at_the_os_level():
    import threading

    from raftha.daemon.node import name_os_threads

    release = threading.Event()
    thread = threading.Thread(target=release.wait, args=(30,), name="raft-tick-for-a-test")
    thread.start()
    try:
        assert name_os_threads() >= 1
        comm = pathlib.Path(f"/proc/{os.getpid()}/task/{thread.native_id}/comm").read_text()
        assert comm.strip() == "raft-tick-for-a"  # 15 bytes: the OS limit
        main_comm = pathlib.Path(f"/proc/{os.getpid()}/comm").read_text()
        assert main_comm.strip() != "MainThread"  # the process keeps its name
    finally:
        release.set()
        thread.join(5)


def test_readers_of_the_state_wake_once_per_tick_when_the_raft_layer_asks():
    """With per-tick announcements an apply wakes nobody until the tick announces it (the
    proposer, woken by its own callback, replies before the executor re-plans)."""
    import threading
    import time

    from raftha.model.events import encode_event, make_event

    machine = ReducerStateMachine()
    announce = machine.announce_after_ticks()
    answers: list[bool] = []
    reader = threading.Thread(target=lambda: answers.append(machine.wait_for_index(1, 10)))
    reader.start()
    entry = encode_event(make_event(b"\x01" * 16, "ReadBarrier", "n1", "", 1_000, {}))
    machine.apply_entry(1, entry)
    assert machine.state.last_index == 1
    assert machine.outcome_of(b"\x01" * 16) is not None  # a proposer sees it at once
    time.sleep(0.3)
    assert reader.is_alive() and answers == []
    announce()
    reader.join(5)
    assert answers == [True]
    announce()  # nothing new: no-op
