"""crmsh/pcs verbs without a running cluster: `configure edit ID` (what the edited text of one
object does to the configuration), `resource move RSC` without a node (where it is active,
crm_resource's warning and refusal), `history --resource` (which configuration loads changed
a resource, from history journal records), and the history summaries of events."""

from __future__ import annotations

import pytest

from raftha.cli.config_objects import ObjectError, edit_objects, show_objects
from raftha.cli.resource import ban_warning
from raftha.cli.status import filter_events
from raftha.crmsh import CrmSyntaxError, parse_configuration
from raftha.daemon.api import active_nodes, loads_changing
from raftha.daemon.history import ENTRY, RESTORED, Record
from raftha.model.config import Configuration, may_mention, resource_footprint
from raftha.model.events import encode_event, make_event, summarize
from raftha.model.reducer import APPLIED, with_configuration
from raftha.model.state import EMPTY_STATE, encode_snapshot

BASE = """\
primitive A ocf:heartbeat:Dummy op monitor interval=10s
primitive B ocf:heartbeat:Dummy op monitor interval=10s
primitive C ocf:heartbeat:Dummy
group G B C
location prefer-A A 100: node1
colocation b-with-a inf: B A
"""


def primitive_ids(configuration: Configuration) -> list[str]:
    return [primitive.id for primitive in configuration.all_primitives()]


def test_editing_one_object_replaces_only_that_object():
    base = parse_configuration(BASE)
    shown = show_objects(base, ("A",))
    assert shown.startswith("primitive A ") and "prefer-A" not in shown
    edited, gone = edit_objects(base, ("A",), shown.replace("interval=10s", "interval=20s"))
    assert gone == frozenset()
    assert edited.find_resource("A").operations[0].interval == "20s"
    assert edited.find_resource("B") == base.find_resource("B")
    assert edited.constraints == base.constraints


def test_editing_a_member_shows_and_takes_back_its_whole_group():
    base = parse_configuration(BASE)
    shown = show_objects(base, ("C",))
    assert "group G B C" in shown and "primitive A" not in shown
    edited, gone = edit_objects(base, ("C",), shown.replace("group G B C", "group G C B"))
    assert gone == frozenset()
    assert [member.id for member in edited.find_resource("G").members] == ["C", "B"]


def test_an_object_taken_out_of_the_edited_text_is_deleted():
    base = parse_configuration(BASE)
    edited, gone = edit_objects(base, ("prefer-A",), "")
    assert gone == {"prefer-A"}
    assert [item.id for item in edited.constraints] == ["b-with-a"]
    assert primitive_ids(edited) == primitive_ids(base)


def test_an_edited_text_may_add_objects_and_rename_one_that_nothing_names():
    base = parse_configuration(BASE)
    text = ("location prefer-A2 A 200: node2\n"
            "location avoid-C C -inf: node3\n")
    edited, gone = edit_objects(base, ("prefer-A",), text)
    assert gone == {"prefer-A"}
    assert [item.id for item in edited.constraints] == ["b-with-a", "prefer-A2", "avoid-C"]


def test_deleting_a_named_resource_by_edit_is_refused_and_bad_text_raises():
    base = parse_configuration(BASE)
    with pytest.raises(ObjectError, match="still referenced by prefer-A, b-with-a"):
        edit_objects(base, ("A",), "")
    with pytest.raises(CrmSyntaxError, match="line 1, column 1: unknown statement 'primitiv'"):
        edit_objects(base, ("A",), "primitiv A ocf:heartbeat:Dummy\n")
    with pytest.raises(ObjectError, match="no object 'nope'"):
        show_objects(base, ("nope",))


RESOURCES_VIEW = {
    "A": {"primitive": "A", "group": None, "clone": None, "nodes": ["node2"]},
    "B": {"primitive": "B", "group": "G", "clone": None, "nodes": ["node1"]},
    "C": {"primitive": "C", "group": "G", "clone": None, "nodes": ["node1"]},
    "P:0": {"primitive": "P", "group": None, "clone": "P-clone", "nodes": ["node1"]},
    "P:1": {"primitive": "P", "group": None, "clone": "P-clone", "nodes": ["node3"]},
    "S": {"primitive": "S", "group": None, "clone": None, "nodes": []},
}


@pytest.mark.parametrize(("resource", "nodes"), [
    ("A", ["node2"]), ("G", ["node1"]), ("C", ["node1"]), ("P-clone", ["node1", "node3"]),
    ("P:1", ["node3"]), ("S", []), ("unknown", []),
])
def test_active_nodes_of_a_primitive_group_clone_or_instance(resource, nodes):
    assert active_nodes(RESOURCES_VIEW, resource) == nodes


def test_a_move_without_a_node_warns_as_crm_resource_does():
    assert ban_warning("WebSite", "node1").splitlines() == [
        "WARNING: Creating rsc_location constraint 'cli-ban-WebSite-on-node1' with a score "
        "of -INFINITY for resource WebSite on node1.",
        "\tThis will prevent WebSite from running on node1 until the constraint is removed "
        "using the clear option or by editing the CIB with an appropriate tool",
        "\tThis will be the case even if node1 is the last node in the cluster",
    ]


def load_record(index: int, text: str, status: str = APPLIED) -> Record:
    configuration = parse_configuration(text)
    event = make_event(index.to_bytes(16, "big"), "ConfigurationLoaded", "node1", "root",
                       1000 * index, {"configuration": configuration.to_dict(),
                                      "base_index": 0, "mode": "replace"})
    return Record(ENTRY, index, encode_event(event), status, "")


def other_record(index: int) -> Record:
    event = make_event(index.to_bytes(16, "big"), "ClusterPropertySet", "node1", "root",
                       1000 * index, {"name": "batch-limit", "value": "5"})
    return Record(ENTRY, index, encode_event(event), APPLIED, "")


def test_history_finds_the_configuration_loads_that_changed_a_resource():
    changed_b = BASE.replace("primitive B ocf:heartbeat:Dummy op monitor interval=10s",
                             "primitive B ocf:heartbeat:Dummy op monitor interval=30s")
    records = [
        load_record(1, BASE),                                        # A defined
        other_record(2),
        load_record(3, changed_b),                                   # B only
        load_record(4, changed_b + "location avoid-A A -inf: node3\n"),  # a constraint on A
        load_record(5, BASE.replace("interval=10s", "interval=1s"), "rejected: no"),
        load_record(6, changed_b + "location avoid-A A -inf: node3\n"),  # the same again
    ]
    assert loads_changing(records, "A") == [1, 4]
    assert loads_changing(records, "B") == [1, 3]
    assert loads_changing(records, "G") == [1, 3]  # a member changed: the group did
    assert loads_changing(records, "nope") == []


def test_history_compares_the_first_load_after_a_restored_snapshot_with_the_snapshot():
    state = with_configuration(EMPTY_STATE, 7, parse_configuration(BASE))
    snapshot = Record(RESTORED, 7, encode_snapshot(state))
    moved = BASE.replace("100: node1", "100: node2")
    records = [snapshot, load_record(8, BASE), load_record(9, moved)]
    assert loads_changing(records, "A") == [9]
    assert loads_changing(records, "B") == []


def test_a_footprint_holds_the_definition_the_parent_and_the_naming_constraints():
    configuration = parse_configuration(BASE)
    definition, parent, constraints = resource_footprint(configuration, "B")
    assert definition == configuration.find_resource("B") and parent == "G"
    assert [item.id for item in constraints] == ["b-with-a"]


def test_history_filter_keeps_the_loads_that_changed_the_resource():
    events = [{"index": 4, "summary": "configuration loaded (update): 3 top-level resources",
               "origin": "node1", "user": "root", "kind": "ConfigurationLoaded", "ts_ms": 1},
              {"index": 5, "summary": "resource A moved to node2", "origin": "node1",
               "user": "root", "kind": "ConfigurationLoaded", "ts_ms": 2},
              {"index": 6, "summary": "configuration loaded (update): 3 top-level resources",
               "origin": "node1", "user": "root", "kind": "ConfigurationLoaded", "ts_ms": 3}]
    kept = filter_events(events, resource="A", resource_changes=frozenset({4}))
    assert [event["index"] for event in kept] == [4, 5]
    assert [event["index"] for event in filter_events(events, resource="A")] == [5]


@pytest.mark.parametrize(("kind", "body", "summary"), [
    ("NodeJoined", {"name": "n4", "address": "10.0.0.4:7000"}, "node n4 joined at 10.0.0.4:7000"),
    ("NodeLost", {"name": "n4"}, "node n4 offline"),
    ("ClusterPropertySet", {"name": "batch-limit", "value": "5"}, "batch-limit=5"),
    ("NodeAttributeUnset", {"node": "n1", "name": "standby"}, "node n1: standby unset"),
    ("TransientAttributeSet", {"node": "n1", "name": "standby", "value": "on"},
     "node n1: standby=on (transient)"),
    ("ResourceCleanedUp", {"resource": "A", "node": "n2"}, "A cleaned up on n2"),
    ("ClockTicked", {}, "clock tick"),
])
def test_history_summaries_per_event_kind(kind, body, summary):
    event = make_event(bytes(16), kind, "n1", "root", 1, body)
    assert summarize(event) == summary


@pytest.mark.parametrize(("plain", "text", "expected"), [
    ({"id": "web", "members": [{"id": "db"}]}, "db", True),
    ({"id": "web", "meta": [["note", 'say "db\\1"']]}, 'db\\1', True),
    ({"id": "web", "meta": [["note", "größe"]]}, "öß", True),
    ({"id": "web", "score": 5}, "db", False),
    ({"id": "web"}, "db", False),
])
def test_a_plain_object_may_mention_an_id_whenever_one_of_its_strings_holds_it(
        plain, text, expected):
    assert may_mention(plain, text) is expected


def test_edit_of_one_object_in_a_staged_batch_changes_only_the_staged_text(tmp_path,
                                                                           monkeypatch):
    from click.testing import CliRunner

    from raftha.cli import main, staging

    monkeypatch.setenv(staging.STAGE_DIR_ENV, str(tmp_path / "stage"))
    socket_path = str(tmp_path / "nowhere.sock")  # never called: the batch is local
    staging.save(socket_path, {"base_index": 3, "text": BASE})
    editor = tmp_path / "editor"
    editor.write_text('#!/bin/sh\nsed -i s/interval=10s/interval=20s/ "$1"\n')
    editor.chmod(0o755)
    result = CliRunner().invoke(main, ["configure", "edit", "B", "--socket", socket_path],
                                env={"EDITOR": str(editor), "VISUAL": ""})
    assert result.exit_code == 0, result.output
    staged = staging.current(socket_path)
    assert staged["base_index"] == 3
    configuration = parse_configuration(staged["text"])
    assert configuration.find_resource("B").operations[0].interval == "20s"
    assert configuration.find_resource("A").operations[0].interval == "10s"
    unknown = CliRunner().invoke(main, ["configure", "edit", "nope", "--socket", socket_path],
                                 env={"EDITOR": str(editor), "VISUAL": ""})
    assert unknown.exit_code == 1
    assert staging.current(socket_path)["text"] == staged["text"]
