"""Command-line tests that need no running cluster: bootstrap files, argument errors,
rendering of a status document, and one-line errors for an unreachable node."""

from __future__ import annotations

import stat

from click.testing import CliRunner

from raftha.cli import main
from raftha.cli.status import render_status


def test_cluster_init_writes_configs_and_a_private_authkey(tmp_path):
    result = CliRunner().invoke(main, [
        "cluster", "init", "--name", "prod", "--node", "a=10.0.0.1:7000",
        "--node", "b=10.0.0.2:7000", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((tmp_path / "authkey").stat().st_mode) == 0o600
    assert (tmp_path / "a" / "node.toml").exists() and (tmp_path / "b" / "node.toml").exists()
    assert "a " in result.output and "10.0.0.2:7000" in result.output
    again = CliRunner().invoke(main, [
        "cluster", "init", "--name", "prod", "--node", "a=10.0.0.1:7000", "--dir", str(tmp_path)])
    assert again.exit_code == 1 and "already exists" in again.output


def test_bad_member_syntax_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(main, [
        "cluster", "init", "--name", "x", "--node", "a:10.0.0.1", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == "raftha: --node: expected NAME=HOST:PORT, got 'a:10.0.0.1'\n"


def test_property_set_needs_name_equals_value(tmp_path):
    result = CliRunner().invoke(main, ["property", "set", "stonith-enabled",
                                       "--socket", str(tmp_path / "s")])
    assert result.exit_code == 1
    assert result.output == "raftha: expected NAME=VALUE, got 'stonith-enabled'\n"


def test_client_commands_take_the_socket_from_the_environment(tmp_path):
    missing = str(tmp_path / "none.sock")
    for arguments in (["status"], ["history"], ["property", "show"], ["cluster", "members"]):
        result = CliRunner().invoke(main, arguments, env={"RAFTHA_SOCKET": missing})
        assert result.exit_code == 1, arguments
        assert result.output == f"raftha: no daemon socket at {missing} (is the node running?)\n"


def test_status_rendering_looks_like_crm_mon():
    document = {
        "cluster": {"name": "c", "leader": "n1", "quorum": False, "commit_index": 9,
                    "applied_index": 9, "term": 2, "node": "n2",
                    "last_change": {"index": 9, "ts_ms": 1, "origin": "n2", "user": "root",
                                    "kind": "ClusterPropertySet"},
                    "properties": {"stonith-enabled": "false"}},
        "nodes": {"n1": {"state": "online", "reachable": False},
                  "n2": {"state": "online", "reachable": True},
                  "n3": {"state": "offline", "reachable": False},
                  "n4": {"state": "unclean", "reachable": False}},
        "resources": {"web": {"node": None, "role": "Stopped", "agent": "ocf:heartbeat:apache"},
                      "ip": {"node": "n1", "role": "Started"}},
    }
    text = render_status(document)
    assert "  * web\t(ocf:heartbeat:apache):\t Stopped\n" in text + "\n"
    assert "  * ip:\t Started n1" in text
    assert "Current leader: n1 - partition WITHOUT quorum" in text
    assert "Online: [ n1 n2 ]" in text and "OFFLINE: [ n3 ]" in text
    assert "by root via ClusterPropertySet on n2" in text
    assert "  * stonith-enabled=false" in text
    assert "4 nodes configured" in text
    assert "Node n4: UNCLEAN (offline)" in text
    assert "Unreachable from n2: [ n1 ]" in text


def test_usage_errors_are_one_line():
    result = CliRunner().invoke(main, ["status", "--bogus"])
    assert result.exit_code == 2
    assert result.output.startswith("raftha: No such option") and "--bogus" in result.output
    assert result.output.endswith("; see 'main status --help'\n")
    assert result.output.count("\n") == 1
    unknown = CliRunner().invoke(main, ["frobnicate"])
    assert unknown.exit_code == 2 and unknown.output.count("\n") == 1
    assert CliRunner().invoke(main, ["--help"]).exit_code == 0
    assert CliRunner().invoke(main, ["property", "show", "--help"]).exit_code == 0


def test_property_show_all_lists_defaults(monkeypatch):
    import raftha.cli.property as property_module
    monkeypatch.setattr(property_module, "call", lambda socket_path, op: {
        "properties": {"stonith-enabled": "false"}})
    result = CliRunner().invoke(main, ["property", "show", "--all", "--socket", "/x"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "stonith-enabled=false" in lines
    assert "no-quorum-policy=stop (default)" in lines
    assert not any(line.startswith("dc-version") for line in lines)  # read-only: not settable
