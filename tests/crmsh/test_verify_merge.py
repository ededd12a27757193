"""verify() names semantic problems one line each; load update/replace semantics."""

from __future__ import annotations

import pytest
from crm_samples import CLUSTERS_FROM_SCRATCH

from raftha.crmsh import (
    CrmSyntaxError,
    load_configuration,
    merge_replace,
    merge_update,
    parse_configuration,
    verify,
)
from raftha.model.config import Clone, Configuration, Group, Primitive

DUMMIES = "\n".join(f"primitive {name} ocf:pacemaker:Dummy" for name in "ABCD") + "\n"


def problems_of(text: str) -> list[str]:
    return verify(parse_configuration(DUMMIES + text))


def test_sound_configuration_has_no_problems():
    assert problems_of("group g A B\norder o Mandatory: g C\ncolocation c inf: C g\n") == []


def test_unknown_resources_in_constraints_and_tags():
    problems = problems_of("location l1 Ghost 10: n1\ncolocation c1 inf: A Phantom\n"
                           "order o1 ( A Nobody )\ntag t: A Missing\n")
    assert problems == [
        "tag t references unknown resource Missing",
        "location l1 references unknown resource Ghost",
        "colocation c1 references unknown resource Phantom",
        "order o1 references unknown resource Nobody",
    ]


def test_tags_are_valid_constraint_targets():
    assert problems_of("tag both: A B\nlocation l both 10: n1\n") == []


def test_duplicate_ids():
    problems = problems_of("location A A 10: n1\norder o1 A B\norder o1 B C\n")
    assert "duplicate id A: used by a resource and a constraint" in problems
    assert "duplicate id o1: used by a constraint and a constraint" in problems


def test_mandatory_order_cycles_are_reported_once():
    problems = problems_of("order o1 Mandatory: A B\norder o2 inf: B C\norder o3 C A\n"
                           "order o4 Optional: D A\norder o5 Optional: A D\n")
    assert problems == ["mandatory order cycle: A:start -> B:start -> C:start -> A:start "
                        "(order constraints o1, o2, o3)"]


def test_order_cycle_through_a_set():
    problems = problems_of("order o1 A ( B C ) D\norder o2 D C\n")
    assert len(problems) == 1 and problems[0].startswith("mandatory order cycle: ")
    assert "o1" in problems[0] and "o2" in problems[0]


def test_promote_then_start_is_not_a_cycle():
    assert problems_of("order o1 A:promote B:start\norder o2 B:start A:start\n") == []


def test_resource_in_two_groups_and_clone_of_clone_built_directly():
    member = Primitive(id="m", agent_class="ocf", provider="pacemaker", agent_type="Dummy")
    inner = Clone(id="inner", child=member)
    configuration = Configuration(resources=(
        Group(id="g1", members=(member,)), Group(id="g2", members=(member,)),
        Clone(id="outer", child=inner),  # type: ignore[arg-type]
    ))
    problems = verify(configuration)
    assert "resource m is in both group g1 and group g2" in problems
    assert ("clone outer contains clone inner; a clone holds a primitive or a group"
            in problems)


def test_invalid_roles_scores_and_fencing_devices():
    configuration = parse_configuration(
        DUMMIES
        + "primitive fence-1 stonith:fence_dummy\n"
          "location l1 A role=Boss 10: n1\n"
          "fencing_topology n1: fence-1 A n2: nothing\n")
    problems = verify(configuration)
    assert problems == [
        "location l1 uses unknown role Boss",
        "fencing level 2 for n1 names A, which is not a stonith resource",
        "fencing level 1 for n2 names unknown device nothing",
    ]


def test_update_replaces_same_ids_in_place_and_appends_new_objects():
    base = parse_configuration(CLUSTERS_FROM_SCRATCH)
    update_text = (
        "primitive WebSite ocf:heartbeat:apache params configfile=/etc/apache2/apache2.conf\n"
        "primitive WebFS ocf:heartbeat:Filesystem params device=/dev/drbd1\n"
        "location prefer-pcmk-2 WebSite 200: pcmk-2\n"
        "colocation fs-with-web inf: WebSite WebFS\n"
        "property no-quorum-policy=freeze\n"
        "rsc_defaults rsc-options: migration-threshold=3\n")
    merged = load_configuration(base, update_text, "update")
    assert [resource.id for resource in merged.resources] == [
        "ipmi-fencing", "ClusterIP", "WebSite", "WebFS"]
    website = merged.find_resource("WebSite")
    assert website.params == (("configfile", "/etc/apache2/apache2.conf"),)
    assert [constraint.id for constraint in merged.constraints] == [
        "website-with-ip", "apache-after-ip", "prefer-pcmk-2", "cli-prefer-WebSite",
        "fs-with-web"]
    assert merged.constraints[2].score == "200"
    assert merged.property("no-quorum-policy") == "freeze"
    assert merged.property("stonith-enabled") == "true"
    assert merged.rsc_defaults[0].values == (("resource-stickiness", "100"),
                                             ("migration-threshold", "3"))
    assert merged.nodes == base.nodes


def test_update_of_a_group_member_stays_in_its_group():
    base = parse_configuration(DUMMIES + "group g A B\n")
    merged = merge_update(base, parse_configuration(
        "primitive B ocf:heartbeat:IPaddr2 params ip=10.0.0.9\n"))
    group = merged.find_resource("g")
    assert isinstance(group, Group)
    assert group.members[1].agent_type == "IPaddr2"
    assert [resource.id for resource in merged.resources] == ["C", "D", "g"]


def test_update_group_referencing_base_primitives_moves_them():
    base = parse_configuration(DUMMIES)
    merged = load_configuration(base, "group g C D\n", "update")
    assert [resource.id for resource in merged.resources] == ["A", "B", "g"]
    assert [member.id for member in merged.resources[2].members] == ["C", "D"]


def test_update_with_bad_text_applies_nothing():
    base = parse_configuration(CLUSTERS_FROM_SCRATCH)
    with pytest.raises(CrmSyntaxError):
        load_configuration(base, "primitive X ocf:pacemaker:Dummy\nlocation broken X\n",
                           "update")


def test_replace_takes_the_new_configuration_but_keeps_nodes_when_none_given():
    base = parse_configuration(CLUSTERS_FROM_SCRATCH)
    replacement = parse_configuration("primitive only ocf:pacemaker:Dummy\n")
    result = merge_replace(base, replacement)
    assert [resource.id for resource in result.resources] == ["only"]
    assert result.constraints == () and result.properties == ()
    assert result.nodes == base.nodes
    with_nodes = parse_configuration("node other\n")
    assert merge_replace(base, with_nodes).nodes == with_nodes.nodes
    with pytest.raises(ValueError, match="unknown load mode"):
        load_configuration(base, "", "merge")


def test_delete_removes_objects_and_the_constraints_left_empty():
    from raftha.crmsh import delete_objects
    configuration = parse_configuration(
        DUMMIES + "group g A B\ncolocation c1 inf: C A\norder o1 ( A C ) D\n"
                  "location l1 D 10: n1\ntag t: A D\n")
    result = delete_objects(configuration, {"A", "l1"})
    group = result.find_resource("g")
    assert [member.id for member in group.members] == ["B"]
    assert [constraint.id for constraint in result.constraints] == ["o1"]
    assert result.constraints[0].resource_sets[0].resources == ("C",)
    assert result.tags[0].references == ("D",)
    emptied = delete_objects(configuration, {"A", "B"})
    assert emptied.find_resource("g") is None
    assert verify(emptied) == []


def test_show_selected_objects_only():
    from raftha.crmsh import render_configuration
    configuration = parse_configuration(CLUSTERS_FROM_SCRATCH)
    text = render_configuration(configuration, only={"WebSite", "website-with-ip"})
    assert text.startswith("primitive WebSite ocf:heartbeat:apache \\\n")
    assert text.splitlines()[-1] == "colocation website-with-ip inf: WebSite ClusterIP"
    assert len(parse_configuration(text).resources) == 1
