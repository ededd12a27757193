"""Control-socket authorisation: kernel peer credentials, roles from the replicated ACL list,
root and the admin group always admin; denied calls change nothing and say why in a line."""

from __future__ import annotations

import json
import os
import stat

import pytest
from sandbox_support import run_cli

from raftha.daemon.acl import acl_entries
from raftha.model.acl import (
    ACL_PROPERTY,
    AclError,
    Caller,
    decide,
    granted,
    parse_acl,
    render_acl,
    required_role,
)
from tests.security.conftest import call_as

ALICE = Caller(uid=1001, user="alice", groups=("alice", "ops"))


def test_roles_order_and_fail_closed_for_unknown_operations():
    entries = parse_acl("alice=read-only @ops=operator bob=admin")
    assert decide(ALICE, "resource_move", entries).allowed  # the group's role is higher
    assert not decide(ALICE, "property_set", entries).allowed
    assert not decide(ALICE, "no_such_future_op", entries).allowed
    assert required_role("no_such_future_op") == "admin"
    nobody = Caller(uid=65534, user="nobody", groups=("nogroup",))
    assert decide(nobody, "ping", entries).allowed
    refused = decide(nobody, "status", entries)
    assert refused.reason == ("permission denied: user nobody (uid 65534) may not status "
                              "(no role; needs read-only)")
    assert decide(Caller(uid=0, user="root"), "node_remove", ()).allowed
    assert decide(ALICE, "configure_load", (), admin_group="ops").allowed
    assert not decide(ALICE, "configure_load", (), admin_group="wheel").allowed
    assert decide(ALICE, "status", parse_acl("1001=read-only")).allowed  # by uid


def test_acl_text_is_validated_and_round_trips():
    entries = parse_acl("bob=admin, @ops=operator  alice=read-only")
    assert parse_acl(render_acl(entries)) == entries
    for bad, reason in (("alice", "TARGET=ROLE"), ("alice=root", "must be one of"),
                        ("a b=admin", "TARGET=ROLE"), ("al/ice=admin", "user name"),
                        ("alice=admin alice=operator", "appears twice")):
        with pytest.raises(AclError, match=reason):
            parse_acl(bad)
    assert granted(entries, "alice", None) == parse_acl("bob=admin @ops=operator")
    with pytest.raises(AclError, match="no role to revoke"):
        granted(entries, "carol", None)


def test_socket_is_open_to_local_users_by_default(served):
    _, path = served
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666


def test_user_without_acl_cannot_change_or_read_anything(served):
    node, path = served
    before = node.machine.state.last_index
    answers = call_as("nobody", path, [
        ("ping", {}),
        ("property_set", {"name": "batch-limit", "value": "7"}),
        ("acl_grant", {"target": "nobody", "role": "admin"}),
        ("node_attribute_set", {"node": "n2", "name": "standby", "value": "on"}),
        ("status", {}),
    ])
    assert answers[0]["ok"] and answers[0]["result"]["node"] == "n1"
    assert [answer["error"] for answer in answers[1:]] == [
        "permission denied: user nobody (uid 65534) may not property_set "
        "(no role; needs admin)",
        "permission denied: user nobody (uid 65534) may not acl_grant (no role; needs admin)",
        "permission denied: user nobody (uid 65534) may not node_attribute_set "
        "(no role; needs operator)",
        "permission denied: user nobody (uid 65534) may not status "
        "(no role; needs read-only)"]
    assert node.machine.state.last_index == before  # nothing reached the log
    assert node.machine.state.property("batch-limit") is None


def test_read_only_user_reads_status_but_cannot_write(served):
    node, path = served
    root = call_as("root", path, [("acl_grant", {"target": "nobody", "role": "read-only"})])
    assert root[0]["ok"], root
    answers = call_as("nobody", path, [
        ("status", {}), ("history", {}), ("acl_show", {}),
        ("property_set", {"name": "batch-limit", "value": "7"}),
    ])
    assert [answer["ok"] for answer in answers] == [True, True, True, False]
    assert answers[0]["result"]["cluster"]["name"] == "sec"
    assert answers[2]["result"]["entries"] == [{"target": "nobody", "role": "read-only"}]
    assert answers[3]["error"] == ("permission denied: user nobody (uid 65534) may not "
                                   "property_set (role read-only; needs admin)")
    assert node.machine.state.property("batch-limit") is None


def test_operator_moves_a_resource_but_cannot_change_properties(served):
    node, path = served
    setup = call_as("root", path, [
        ("configure_load", {"text": "primitive web ocf:heartbeat:Dummy\n"}),
        ("acl_grant", {"target": "@daemon", "role": "operator"}),
    ])
    assert all(answer["ok"] for answer in setup), setup
    answers = call_as("daemon", path, [
        ("resource_move", {"resource": "web", "node": "n2"}),
        ("property_set", {"name": "stonith-enabled", "value": "false"}),
        ("acl_grant", {"target": "daemon", "role": "admin"}),
    ])
    assert answers[0]["ok"], answers[0]
    assert [answer["error"] for answer in answers[1:]] == [
        "permission denied: user daemon (uid 1) may not property_set "
        "(role operator; needs admin)",
        "permission denied: user daemon (uid 1) may not acl_grant (role operator; needs admin)"]
    text = node.api.handle({"op": "configure_show", "args": {}}, "root")["result"]["text"]
    assert "cli-prefer-web" in text
    history = node.api.handle({"op": "history", "args": {}}, "root")["result"]["events"]
    assert history[-1]["user"] == "daemon"
    assert acl_entries(node.machine.state) == (("@daemon", "operator"),)


def test_revoking_the_last_entry_unsets_the_property_and_takes_the_role_away(served):
    node, path = served
    root = call_as("root", path, [("acl_grant", {"target": "nobody", "role": "operator"}),
                                  ("acl_revoke", {"target": "nobody"}),
                                  ("acl_revoke", {"target": "nobody"})])
    assert [answer["ok"] for answer in root] == [True, True, False]
    assert root[2]["error"] == "ACL target 'nobody' has no role to revoke"
    assert node.machine.state.property(ACL_PROPERTY) is None
    answers = call_as("nobody", path, [("status", {})])
    assert "may not status (no role" in answers[0]["error"]


def test_admin_group_from_node_config_is_admin(fake_nodes, tmp_path):
    from dataclasses import replace

    from raftha.daemon.api import ControlServer
    node = fake_nodes["n2"]
    node.api.config = replace(node.config, admin_group="daemon")
    (tmp_path / "admin").mkdir()
    path = str(tmp_path / "admin" / "admin.sock")
    server = ControlServer(path, 0o666, node.api)
    server.start()
    try:
        answers = call_as("daemon", path, [("property_set", {"name": "batch-limit",
                                                             "value": "3"})])
    finally:
        server.stop()
    assert answers[0]["ok"], answers
    assert node.machine.state.property("batch-limit") == "3"


def test_admin_group_is_read_from_the_security_table(tmp_path):
    from raftha.daemon.bootstrap import init_cluster
    from raftha.daemon.config import ConfigError, load_node_config
    written = init_cluster(tmp_path / "c", "c", [("a", "127.0.0.1:1")])
    path = written[0].config_path
    text = path.read_text()
    path.write_text(text + '\n[security]\nadmin_group = "haclient"\n')
    assert load_node_config(path).admin_group == "haclient"
    path.write_text(text + '\n[security]\nadmin_group = "bad group"\n')
    with pytest.raises(ConfigError, match="admin_group must be a group name"):
        load_node_config(path)


def test_acl_commands_grant_show_and_revoke(served):
    node, path = served
    granted_now = run_cli("acl", "grant", "@ops", "operator", "--socket", path)
    assert granted_now.returncode == 0, granted_now.stderr
    assert granted_now.stdout.startswith("@ops is operator (committed at index ")
    shown = run_cli("acl", "show", "--socket", path)
    assert shown.stdout.splitlines()[1].split() == ["@ops", "operator"]
    as_json = json.loads(run_cli("acl", "show", "--output", "json", "--socket", path).stdout)
    assert as_json["entries"] == [{"target": "@ops", "role": "operator"}]
    bad = run_cli("acl", "grant", "bad/name", "admin", "--socket", path)
    assert bad.returncode == 1
    assert bad.stderr == ("raftha: ACL target 'bad/name' must be a user name, a uid or "
                          "@group\n")
    revoked = run_cli("acl", "revoke", "@ops", "--socket", path)
    assert revoked.returncode == 0, revoked.stderr
    assert "no ACL entries" in run_cli("acl", "show", "--socket", path).stdout
    assert node.machine.state.property("raftha-acl") is None
