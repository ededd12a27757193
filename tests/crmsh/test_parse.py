"""Each crm configure construct parses to the expected model objects, and errors name
line, column and the problem."""

from __future__ import annotations

import pytest
from crm_samples import CLUSTERS_FROM_SCRATCH

from raftha.crmsh import CrmSyntaxError, parse_configuration, render_configuration, verify
from raftha.model.config import (
    AttributeSet,
    Clone,
    ColocationConstraint,
    DateExpression,
    Expression,
    FencingLevel,
    Group,
    LocationConstraint,
    Node,
    Operation,
    OperationExpression,
    OrderConstraint,
    Primitive,
    ResourceExpression,
    ResourceSet,
    Rule,
    Tag,
    Template,
    TicketConstraint,
)

DUMMIES = "\n".join(f"primitive {name} ocf:pacemaker:Dummy" for name in "ABCDEF") + "\n"


def constraints_of(text: str):
    return parse_configuration(DUMMIES + text).constraints


def test_clusters_from_scratch_loads_and_round_trips():
    configuration = parse_configuration(CLUSTERS_FROM_SCRATCH)
    assert [node.name for node in configuration.nodes] == ["pcmk-1", "pcmk-2"]
    assert [node.id for node in configuration.nodes] == ["1", "2"]
    fencing, address, web = configuration.resources
    assert fencing.agent == "stonith:fence_ipmilan"
    assert dict(fencing.params)["pcmk_host_list"] == "pcmk-1 pcmk-2"
    assert address == Primitive(
        id="ClusterIP", agent_class="ocf", provider="heartbeat", agent_type="IPaddr2",
        params=(("ip", "192.168.122.120"), ("cidr_netmask", "24")),
        operations=(Operation(name="monitor", interval="30s", id="ClusterIP-monitor-30s"),))
    assert dict(web.params)["statusurl"] == "http://localhost/server-status"
    assert configuration.constraints == (
        ColocationConstraint(id="website-with-ip", score="INFINITY", resource="WebSite",
                             with_resource="ClusterIP"),
        OrderConstraint(id="apache-after-ip", first="ClusterIP", then="WebSite",
                        kind="Mandatory"),
        LocationConstraint(id="prefer-pcmk-2", resource="WebSite", node="pcmk-2", score="50"),
        LocationConstraint(id="cli-prefer-WebSite", resource="WebSite", node="pcmk-1",
                           score="INFINITY", role="Started"),
    )
    assert configuration.property("stonith-enabled") == "true"
    assert configuration.rsc_defaults == (
        AttributeSet(values=(("resource-stickiness", "100"),), id="rsc-options"),)
    assert configuration.op_defaults == (
        AttributeSet(values=(("timeout", "240s"),), id="op-options"),)
    assert verify(configuration) == []
    text = render_configuration(configuration)
    assert parse_configuration(text) == configuration
    assert render_configuration(parse_configuration(text)) == text


def test_primitive_with_params_meta_utilization_and_operations():
    (primitive,) = parse_configuration(
        "primitive db ocf:heartbeat:mysql params config=/etc/my.cnf \\\n"
        "  meta target-role=Stopped utilization cpu=2 \\\n"
        "  op monitor interval=60s timeout=30s on-fail=restart \\\n"
        "  op monitor interval=300s role=Promoted OCF_CHECK_LEVEL=10 \\\n"
        "  op start interval=0 timeout=120s op_params trace_ra=1 \\\n"
        "  op stop enabled=false id=db-stop-custom\n").resources
    assert primitive == Primitive(
        id="db", agent_class="ocf", provider="heartbeat", agent_type="mysql",
        params=(("config", "/etc/my.cnf"),), meta=(("target-role", "Stopped"),),
        utilization=(("cpu", "2"),),
        operations=(
            Operation(name="monitor", interval="60s", timeout="30s", on_fail="restart",
                      id="db-monitor-60s"),
            Operation(name="monitor", interval="300s", role="Promoted",
                      attributes=(("OCF_CHECK_LEVEL", "10"),), id="db-monitor-300s"),
            Operation(name="start", interval="0", timeout="120s",
                      attributes=(("trace_ra", "1"),), id="db-start-0"),
            Operation(name="stop", enabled=False, id="db-stop-custom"),
        ))


@pytest.mark.parametrize("agent, expected", [
    ("ocf:pacemaker:Dummy", ("ocf", "pacemaker", "Dummy", None)),
    ("IPaddr2", ("ocf", "heartbeat", "IPaddr2", None)),
    ("ocf:Filesystem", ("ocf", "heartbeat", "Filesystem", None)),
    ("lsb:nginx", ("lsb", None, "nginx", None)),
    ("systemd:httpd", ("systemd", None, "httpd", None)),
    ("stonith:fence_dummy", ("stonith", None, "fence_dummy", None)),
    ("@web-template", ("", None, "", "web-template")),
])
def test_agent_spellings(agent, expected):
    (primitive,) = parse_configuration(f"primitive r {agent}\n").resources
    assert (primitive.agent_class, primitive.provider, primitive.agent_type,
            primitive.template) == expected


def test_conditional_params_keep_their_rule_and_score():
    (primitive,) = parse_configuration(
        "primitive r ocf:pacemaker:Dummy params 3: rule #uname eq node1 nic=eth1 "
        "params nic=eth0\n").resources
    assert primitive.params == (("nic", "eth0"),)
    assert primitive.conditional_sets == (("params", AttributeSet(
        values=(("nic", "eth1"),), score="3", id="r-instance_attributes",
        rule=Rule(terms=(Expression("#uname", "eq", "node1",
                                    id="r-instance_attributes-rule-expression"),),
                  id="r-instance_attributes-rule"))),)


def test_group_clone_ms_and_promotable():
    resources = parse_configuration(
        DUMMIES
        + "group g A B meta target-role=Started\n"
          "clone c-C C meta interleave=true\n"
          "ms ms-D D meta master-max=1 notify=true\n"
          "clone p-E E meta promotable=true promoted-max=2\n"
          "promotable p-F F\n").resources
    by_id = {resource.id: resource for resource in resources}
    assert [resource.id for resource in resources] == ["g", "c-C", "ms-D", "p-E", "p-F"]
    assert isinstance(by_id["g"], Group)
    assert [member.id for member in by_id["g"].members] == ["A", "B"]
    assert by_id["g"].meta == (("target-role", "Started"),)
    assert by_id["c-C"] == Clone(id="c-C", child=by_id["c-C"].child,
                                 meta=(("interleave", "true"),), promotable=False)
    assert by_id["ms-D"].promotable and by_id["ms-D"].meta == (("master-max", "1"),
                                                               ("notify", "true"))
    assert by_id["p-E"].promotable and ("promoted-max", "2") in by_id["p-E"].meta
    assert by_id["p-F"].promotable


def test_clone_of_a_group_defined_later_keeps_document_order():
    text = ("clone web-clone web-group\n"
            "primitive X ocf:pacemaker:Dummy\n"
            "group web-group X\n")
    (clone,) = parse_configuration(text).resources
    assert isinstance(clone.child, Group) and clone.child.members[0].id == "X"


def test_location_forms():
    constraints = constraints_of(
        "location l1 A 100: node1\n"
        "location l2 A role=Master -inf: node2\n"
        "location l3 A resource-discovery=exclusive \\\n"
        "    rule $role=Promoted 50: #uname eq node1 or #uname eq node2\n"
        "location l4 A rule -inf: not_defined pingd or pingd number:lte 0\n"
        "location l5 A rule pingd: defined pingd\n"
        "location l6 /^A.*/ 10: node1\n"
        "location l7 { A B } 10: node1\n"
        "location l8 A rule #uname ne node1 and ( foo gt 5 or bar version:lt 1.2 )\n")
    l1, l2, l3, l4, l5, l6, l7, l8 = constraints
    assert l1 == LocationConstraint(id="l1", resource="A", node="node1", score="100")
    assert l2.role == "Master" and l2.score == "-INFINITY"
    assert l3.resource_discovery == "exclusive"
    assert l3.rules == (Rule(
        terms=(Expression("#uname", "eq", "node1", id="l3-rule-expression"),
               Expression("#uname", "eq", "node2", id="l3-rule-expression-0")),
        boolean_op="or", score="50", role="Promoted", id="l3-rule"),)
    assert l4.rules[0].terms == (
        Expression("pingd", "not_defined", id="l4-rule-expression"),
        Expression("pingd", "lte", "0", value_type="number", id="l4-rule-expression-0"))
    assert l5.rules[0].score is None and l5.rules[0].score_attribute == "pingd"
    assert l6.resource_pattern == "^A.*" and l6.resource is None
    assert l7.resource_sets == (ResourceSet(resources=("A", "B"), id="l7-0"),)
    nested = l8.rules[0].terms[1]
    assert l8.rules[0].score == "INFINITY"
    assert isinstance(nested, Rule) and nested.boolean_op == "or"
    assert nested.terms[1] == Expression("bar", "lt", "1.2", value_type="version",
                                         id="l8-rule-rule-expression-0")


def test_date_expressions():
    (location,) = constraints_of(
        "location d A rule 10: date gt 2024-01-01 and date lt \"2025-01-01 12:00:00\" "
        "and date in start=2024-01-01 end=2025-01-01 and date in_range start=2024-01-01 "
        "years=1 and date spec hours=9-16 weekdays=1-5 and date date_spec months=12\n")
    terms = [replace_id(term) for term in location.rules[0].terms]
    assert terms == [
        DateExpression("gt", start="2024-01-01"),
        DateExpression("lt", end="2025-01-01 12:00:00"),
        DateExpression("in_range", start="2024-01-01", end="2025-01-01"),
        DateExpression("in_range", start="2024-01-01", duration=(("years", "1"),)),
        DateExpression("date_spec", date_spec=(("hours", "9-16"), ("weekdays", "1-5"))),
        DateExpression("date_spec", date_spec=(("months", "12"),)),
    ]


def replace_id(term):
    import dataclasses
    return dataclasses.replace(term, id="")


def test_value_source_expression():
    (location,) = constraints_of("location v A rule 10: threshold gt param{limit}\n")
    term = location.rules[0].terms[0]
    assert (term.value, term.value_source) == ("limit", "param")


def test_colocation_forms():
    c1, c2, c3, c4, c5 = constraints_of(
        "colocation c1 inf: A B:Promoted\n"
        "colocation c2 -1000: A B C\n"
        "colocation c3 inf: ( A B ) C:Master\n"
        "colocation c4 inf: [ A B ] C node-attribute=rack influence=false\n"
        "colocation c5 inf: _rsc_set_ A B\n")
    assert c1 == ColocationConstraint(id="c1", score="INFINITY", resource="A",
                                      with_resource="B", with_resource_role="Promoted")
    assert c2.resource_sets == (ResourceSet(resources=("A", "B", "C"), id="c2-0"),)
    assert c3.resource_sets == (
        ResourceSet(resources=("A", "B"), sequential=False, id="c3-0"),
        ResourceSet(resources=("C",), role="Master", id="c3-1"))
    assert c4.resource_sets[0] == ResourceSet(resources=("A", "B"), sequential=False,
                                              require_all=False, id="c4-0")
    assert c4.node_attribute == "rack" and c4.influence is False
    assert c5.resource is None and c5.resource_sets == (
        ResourceSet(resources=("A", "B"), id="c5-0"),)


def test_order_forms():
    o1, o2, o3, o4, o5, o6 = constraints_of(
        "order o1 Mandatory: A B\n"
        "order o2 Optional: A:promote B:start symmetrical=false\n"
        "order o3 inf: A B\n"
        "order o4 Serialize: A B C\n"
        "order o5 A ( B C ) [ D E ] F\n"
        "order o6 { A B sequential=true $id=my-set } C require-all=false\n")
    assert o1 == OrderConstraint(id="o1", first="A", then="B", kind="Mandatory")
    assert o2 == OrderConstraint(id="o2", first="A", then="B", kind="Optional",
                                 first_action="promote", then_action="start",
                                 symmetrical=False)
    assert o3.score == "INFINITY" and o3.kind is None
    assert o4.resource_sets == (ResourceSet(resources=("A", "B", "C"), id="o4-0"),)
    assert o5.kind is None and o5.resource_sets == (
        ResourceSet(resources=("A",), id="o5-0"),
        ResourceSet(resources=("B", "C"), sequential=False, id="o5-1"),
        ResourceSet(resources=("D", "E"), sequential=False, require_all=False, id="o5-2"),
        ResourceSet(resources=("F",), id="o5-3"))
    assert o6.resource_sets[0] == ResourceSet(resources=("A", "B"), sequential=True,
                                              id="my-set")
    assert o6.require_all is False


def test_sets_split_where_the_action_changes():
    (order,) = constraints_of("order o Mandatory: A:promote B:promote C D:start\n")
    assert [(s.resources, s.action) for s in order.resource_sets] == [
        (("A", "B"), "promote"), (("C",), None), (("D",), "start")]


def test_ticket_tag_and_template():
    configuration = parse_configuration(
        DUMMIES
        + "rsc_ticket t1 ticketA: A:Promoted loss-policy=demote\n"
          "rsc_ticket t2 ticketB: A B\n"
          "tag web: A B\n"
          "rsc_template tpl ocf:pacemaker:Dummy params state=/tmp/x op monitor interval=9s\n"
          "primitive T @tpl\n")
    t1, t2 = configuration.constraints
    assert t1 == TicketConstraint(id="t1", ticket="ticketA", resource="A", role="Promoted",
                                  loss_policy="demote")
    assert t2.resource_sets == (ResourceSet(resources=("A", "B"), id="t2-0"),)
    assert configuration.tags == (Tag(id="web", references=("A", "B")),)
    assert configuration.templates == (Template(
        id="tpl", agent_class="ocf", provider="pacemaker", agent_type="Dummy",
        params=(("state", "/tmp/x"),),
        operations=(Operation(name="monitor", interval="9s", id="tpl-monitor-9s"),)),)
    assert configuration.resources[-1].template == "tpl"


def test_properties_old_and_new_names_kept_as_written():
    configuration = parse_configuration(
        "property stonith-enabled=false\n"
        "property $id=cib-bootstrap-options fencing-timeout=90s no-quorum-policy=freeze\n"
        "property night: rule date spec hours=0-6 maintenance-mode=true\n")
    assert configuration.properties == (
        ("stonith-enabled", "false"), ("fencing-timeout", "90s"),
        ("no-quorum-policy", "freeze"))
    (conditional,) = configuration.conditional_properties
    assert conditional.id == "night" and conditional.values == (("maintenance-mode", "true"),)


def test_defaults_with_rules():
    configuration = parse_configuration(
        "rsc_defaults rsc-options: resource-stickiness=100 migration-threshold=3\n"
        "rsc_defaults dummies: rule resource ocf:pacemaker:Dummy resource-stickiness=0\n"
        "op_defaults op-options: timeout=240s\n"
        "op_defaults monitors: rule op monitor interval=10s timeout=30s\n")
    first, second = configuration.rsc_defaults
    assert first == AttributeSet(values=(("resource-stickiness", "100"),
                                         ("migration-threshold", "3")), id="rsc-options")
    assert second.rule.terms == (ResourceExpression("ocf", "pacemaker", "Dummy",
                                                    id="dummies-rule-expression"),)
    assert configuration.op_defaults[1].rule.terms == (
        OperationExpression("monitor", "10s", id="monitors-rule-expression"),)
    assert configuration.op_defaults[1].values == (("timeout", "30s"),)


def test_fencing_topology_both_forms():
    targeted = parse_configuration(
        "fencing_topology pcmk-1: ipmi-1 disk,net pcmk-2: ipmi-2 "
        "attr:rack=r1 pdu-1 pattern:node-[0-9]+ pdu-2\n").fencing_topology
    assert [(level.target, level.index, level.devices) for level in targeted[:3]] == [
        ("pcmk-1", 1, ("ipmi-1",)), ("pcmk-1", 2, ("disk", "net")), ("pcmk-2", 1, ("ipmi-2",))]
    assert targeted[3] == FencingLevel(index=1, devices=("pdu-1",), target_attribute="rack",
                                       target_value="r1", id="fencing-2")
    assert targeted[4].target_pattern == "node-[0-9]+"
    untargeted = parse_configuration(
        "node n1\nnode n2\nfencing_topology ipmi disk,net\n").fencing_topology
    assert [(level.target, level.index, level.devices) for level in untargeted] == [
        ("n1", 1, ("ipmi",)), ("n1", 2, ("disk", "net")),
        ("n2", 1, ("ipmi",)), ("n2", 2, ("disk", "net"))]


def test_nodes_with_attributes_utilization_and_type():
    nodes = parse_configuration(
        "node 1: pcmk-1 attributes standby=off rack=r1 utilization cpu=4 memory=2048\n"
        "node $id=2 pcmk-2\n"
        "node pcmk-3:remote\n").nodes
    assert nodes[0] == Node(name="pcmk-1", id="1", attributes=(("standby", "off"),
                                                                ("rack", "r1")),
                            utilization=(("cpu", "4"), ("memory", "2048")))
    assert (nodes[1].id, nodes[1].name) == ("2", "pcmk-2")
    assert (nodes[2].id, nodes[2].node_type) == ("pcmk-3", "remote")


def test_comments_continuations_and_quotes():
    configuration = parse_configuration(
        "# a comment\n"
        "  # indented comment\n"
        "primitive r ocf:pacemaker:Dummy \\\n"
        "    params a=\"two words\" \\\n"
        "    b='single' c=\"esc\\\"aped\" d=\"line\\nbreak\"\n"
        "\n"
        "primitive s ocf:pacemaker:Dummy\n"
        "location l s rule 10: \\\n"
        "#uname eq n1\n")
    first, second = configuration.resources
    assert first.params == (("a", "two words"), ("b", "single"), ("c", 'esc"aped'),
                            ("d", "line\nbreak"))
    assert second.id == "s"
    (location,) = configuration.constraints
    assert location.rules[0].terms[0].attribute == "#uname"


@pytest.mark.parametrize("text, line, column, words", [
    ("primitive r ocf:pacemaker:Dummy\nlocation loc1 r 100 node1\n", 2, 17,
     "expected ':' after score in location loc1"),
    ("primitive r ocf:pacemaker:Dummy\n\n\nlocation loc1 r\n", 4, 16,
     "expected 'SCORE: NODE' or 'rule' in location loc1"),
    ("primitve r Dummy\n", 1, 1, "unknown statement 'primitve'"),
    ("primitive r ocf:pacemaker:Dummy params a=\"open\n", 1, 42, "unterminated \" quote"),
    ("primitive r ocf:pacemaker:Dummy foo\n", 1, 33, "unexpected 'foo' in primitive r"),
    ("primitive r ocf:pacemaker:Dummy\ncolocation c1 inf r r\n", 2, 15,
     "expected ':' after score in colocation c1"),
    ("primitive r ocf:pacemaker:Dummy\norder o1 Sometimes: r r\n", 2, 10,
     "expected Mandatory, Optional, Serialize or a score"),
    ("primitive r ocf:pacemaker:Dummy\nlocation l r rule 5: a eq 1 and b eq 2 or c eq 3\n",
     2, 40, "mixing 'and' and 'or' needs parentheses"),
    ("primitive r ocf:pacemaker:Dummy\ncolocation c inf: r:Boss r\n", 2, 19,
     "unknown role 'Boss'"),
    ("group g missing\n", 1, 9, "group g: resource missing is not defined"),
    ("primitive a ocf:pacemaker:Dummy\nprimitive a ocf:pacemaker:Dummy\n", 2, 11,
     "primitive a: id already defined by primitive on line 1"),
    ("primitive a ocf:pacemaker:Dummy\nclone c a\nclone cc c\n", 3, 10,
     "clone cc: c is already a clone"),
    ("primitive a ocf:pacemaker:Dummy\ngroup g1 a\ngroup g2 a\n", 3, 10,
     "a is already in group g1"),
    ("primitive r ocf:pacemaker:Dummy\norder o ( r r\n", 2, 9, "unclosed '('"),
])
def test_syntax_errors_name_line_column_and_problem(text, line, column, words):
    with pytest.raises(CrmSyntaxError) as caught:
        parse_configuration(text)
    assert (caught.value.line, caught.value.column) == (line, column), str(caught.value)
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"line {line}, column {column}: ")
    assert "\n" not in str(caught.value)


def test_group_member_from_a_base_configuration():
    base = parse_configuration("primitive A ocf:pacemaker:Dummy\n")
    (group,) = parse_configuration("group g A\n", base=base).resources
    assert group.members == base.resources


def test_crmsh_show_forms_shared_operations_and_container_params():
    configuration = parse_configuration(
        "primitive A ocf:pacemaker:Dummy \\\n"
        "\toperations $id=shared-ops \\\n"
        "\top monitor interval=5s\n"
        "primitive B ocf:pacemaker:Dummy \\\n"
        "\toperations $id-ref=shared-ops\n"
        "group g A B \\\n"
        "\tparams ignored=1 \\\n"
        "\tmeta target-role=Started\n")
    (group,) = configuration.resources
    first, second = group.members
    assert second.operations == first.operations != ()
    assert group.meta == (("target-role", "Started"),)
    with pytest.raises(CrmSyntaxError, match="operations nowhere are not defined"):
        parse_configuration("primitive B ocf:pacemaker:Dummy operations $id-ref=nowhere\n")


def test_scored_sets_without_rule_and_value_less_names():
    (primitive,) = parse_configuration(
        "primitive r ocf:pacemaker:Dummy params 10: nic=eth0 params configfile\n").resources
    assert primitive.conditional_sets == (("params", AttributeSet(
        values=(("nic", "eth0"),), score="10", id="r-instance_attributes")),)
    assert primitive.params == (("configfile", ""),)
    text = render_configuration(parse_configuration(
        "primitive r ocf:pacemaker:Dummy params 10: nic=eth0 params configfile\n"))
    assert "params 10: nic=eth0" in text and 'configfile=""' in text
