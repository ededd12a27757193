"""Hypothesis strategies: whole configurations for the crm-language round trips, and
crm-looking text for the fuzz tests.

Generated configurations use arbitrary text for values (quotes, newlines, unicode), ids
from the XML id alphabet, and ids that either follow the parser's generated scheme or are
explicit; rule expressions and nested rules get ids the comparison blanks (crm syntax cannot
name them). Location rules always carry a score (a missing one reads back as 0).
"""

from __future__ import annotations

from hypothesis import strategies as st

from raftha.crmsh import operation_id_base, unique_id
from raftha.model.config import (
    AttributeSet,
    Clone,
    ColocationConstraint,
    Configuration,
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

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
identifiers = st.builds(str.__add__, st.sampled_from(_LETTERS),
                        st.text(alphabet=_LETTERS + "0123456789.-", max_size=6))
names = st.builds(str.__add__, st.sampled_from(_LETTERS),
                  st.text(alphabet=_LETTERS + "0123456789.#-", max_size=6))
values = st.text(max_size=12)
pairs = st.lists(st.tuples(names, values), max_size=3).map(tuple)
scores = st.sampled_from(["INFINITY", "-INFINITY", "+INFINITY", "0", "100", "-50", "+7"])
roles = st.sampled_from(["Started", "Stopped", "Promoted", "Unpromoted", "Master", "Slave"])
actions = st.sampled_from(["start", "stop", "promote", "demote"])
booleans = st.booleans()


def optional(strategy):
    return st.one_of(st.none(), strategy)


@st.composite
def expressions(draw):
    kind = draw(st.sampled_from(["binary", "unary", "source"]))
    attribute = draw(names)
    if kind == "unary":
        return Expression(attribute=attribute,
                          operation=draw(st.sampled_from(["defined", "not_defined"])))
    if kind == "source":
        return Expression(attribute=attribute, operation="eq", value=draw(identifiers),
                          value_source=draw(st.sampled_from(["param", "meta"])))
    return Expression(attribute=attribute,
                      operation=draw(st.sampled_from(["lt", "gt", "lte", "gte", "eq", "ne"])),
                      value=draw(values),
                      value_type=draw(optional(st.sampled_from(["string", "integer",
                                                                "number", "version"]))))


@st.composite
def date_expressions(draw):
    kind = draw(st.sampled_from(["gt", "lt", "in_range", "date_spec"]))
    date = st.sampled_from(["2024-01-01", "2025-06-30 12:00:00", "2019-09-23 11:00:00 -05:00"])
    if kind == "gt":
        return DateExpression("gt", start=draw(date))
    if kind == "lt":
        return DateExpression("lt", end=draw(date))
    fields = st.lists(st.tuples(st.sampled_from(["hours", "weekdays", "months", "years"]),
                                st.sampled_from(["1", "9-16", "1-5"])), max_size=2).map(tuple)
    if kind == "in_range":
        return DateExpression("in_range", start=draw(optional(date)), end=draw(optional(date)),
                              duration=draw(fields))
    return DateExpression("date_spec", date_spec=draw(fields))


def terms(depth: int):
    simple = st.one_of(expressions(), date_expressions())
    if depth <= 0:
        return simple
    nested = st.builds(lambda items, operator: Rule(terms=tuple(items), boolean_op=operator),
                       st.lists(terms(depth - 1), min_size=1, max_size=3),
                       st.sampled_from(["and", "or"]))
    return st.one_of(simple, nested)


@st.composite
def rules(draw, rule_id: str, location: bool, defaults: bool = False):
    term_strategy = terms(1)
    if defaults:
        term_strategy = st.one_of(
            term_strategy,
            st.builds(ResourceExpression, optional(st.sampled_from(["ocf", "lsb"])),
                      optional(st.sampled_from(["heartbeat", "pacemaker"])),
                      optional(st.sampled_from(["Dummy", "IPaddr2"]))),
            st.builds(OperationExpression, st.sampled_from(["monitor", "start"]),
                      optional(st.sampled_from(["10s", "0"]))))
    items = draw(st.lists(term_strategy, min_size=0 if not location else 1, max_size=3))
    score = score_attribute = None
    if location or draw(booleans):
        if draw(booleans):
            score = draw(scores)
        else:
            score_attribute = draw(names)
    return Rule(terms=tuple(items), boolean_op=draw(st.sampled_from(["and", "or"])),
                score=score, score_attribute=score_attribute, role=draw(optional(roles)),
                id=rule_id)


@st.composite
def conditional_sets(draw, canonical_id: str, defaults: bool = False):
    set_id = draw(st.one_of(st.just(canonical_id), identifiers))
    rule_id = draw(st.one_of(st.just(f"{set_id}-rule"), identifiers))
    return AttributeSet(values=draw(pairs), rule=draw(rules(rule_id, False, defaults)),
                        score=draw(optional(scores)), id=set_id)


@st.composite
def operations(draw, resource_id: str):
    found = []
    used: set[str] = set()
    reserved = {"interval", "timeout", "role", "on-fail", "enabled", "id"}
    for _ in range(draw(st.integers(0, 3))):
        attributes = draw(st.dictionaries(names.filter(lambda name: name not in reserved),
                                          values, max_size=2))
        operation = Operation(
            name=draw(st.sampled_from(["monitor", "start", "stop", "promote"])),
            interval=draw(st.sampled_from(["0", "10s", "30s", "1min"])),
            timeout=draw(optional(st.sampled_from(["20s", "60"]))),
            role=draw(optional(roles)), on_fail=draw(optional(st.sampled_from(
                ["restart", "block", "fence"]))),
            enabled=draw(booleans), attributes=tuple(sorted(attributes.items())))
        canonical = unique_id(operation_id_base(resource_id, operation), used)
        operation_id = draw(st.one_of(st.just(canonical), identifiers))
        used.add(operation_id)
        found.append(Operation(**{**operation.__dict__, "id": operation_id}))
    return tuple(found)


@st.composite
def primitives(draw, resource_id: str):
    agent = draw(st.sampled_from([("ocf", "heartbeat", "IPaddr2"), ("ocf", "pacemaker", "Dummy"),
                                  ("lsb", None, "nginx"), ("stonith", None, "fence_dummy"),
                                  ("systemd", None, "httpd"), ("ocf", None, "Odd")]))
    conditional = []
    used: set[str] = set()
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["params", "meta"]))
        base = f"{resource_id}-{'instance_attributes' if kind == 'params' else 'meta_attributes'}"
        attribute_set = draw(conditional_sets(unique_id(base, used)))
        used.add(attribute_set.id)
        conditional.append((kind, attribute_set))
    return Primitive(id=resource_id, agent_class=agent[0], provider=agent[1],
                     agent_type=agent[2], params=draw(pairs), meta=draw(pairs),
                     utilization=draw(pairs), operations=draw(operations(resource_id)),
                     conditional_sets=tuple(conditional))


@st.composite
def resource_sets(draw, constraint_id: str, index: int, suffix: str):
    other = "action" if suffix == "role" else "role"
    attributes = {
        "resources": tuple(draw(st.lists(identifiers, max_size=3))),
        "sequential": draw(optional(booleans)),
        "require_all": draw(booleans),
        "ordered": draw(optional(booleans)),
        suffix: draw(optional(roles if suffix == "role" else actions)),
        other: draw(optional(st.sampled_from(["start", "Started"]))),
        "score": draw(optional(scores)),
        "kind": draw(optional(st.sampled_from(["Mandatory", "Optional"]))),
        "id": draw(st.one_of(st.just(f"{constraint_id}-{index}"), identifiers)),
    }
    return ResourceSet(**attributes)


@st.composite
def set_lists(draw, constraint_id: str, suffix: str, minimum: int = 0):
    count = draw(st.integers(minimum, 3))
    return tuple(draw(resource_sets(constraint_id, index, suffix)) for index in range(count))


@st.composite
def constraints(draw, constraint_id: str, resource_ids: list[str]):
    resource = st.sampled_from(resource_ids) if resource_ids else identifiers
    kind = draw(st.sampled_from(["location", "colocation", "order", "ticket"]))
    use_sets = draw(booleans)
    if kind == "location":
        form = draw(st.sampled_from(["node", "rules"]))
        target = draw(st.sampled_from(["resource", "pattern", "sets"]))
        rule_list = []
        used: set[str] = set()
        if form == "rules":
            for _ in range(draw(st.integers(1, 2))):
                canonical = unique_id(f"{constraint_id}-rule", used)
                rule = draw(rules(draw(st.one_of(st.just(canonical), identifiers)), True))
                used.add(rule.id)
                rule_list.append(rule)
        return LocationConstraint(
            id=constraint_id,
            resource=draw(resource) if target == "resource" else None,
            resource_pattern=draw(st.text(alphabet="ABCxyz^.*+", min_size=1, max_size=6))
            if target == "pattern" else None,
            node=draw(names) if form == "node" else None,
            score=draw(scores) if form == "node" else None,
            role=draw(optional(roles)),
            resource_discovery=draw(st.sampled_from(["always", "never", "exclusive"])),
            rules=tuple(rule_list),
            resource_sets=draw(set_lists(constraint_id, "role", 1)) if target == "sets" else ())
    if kind == "colocation":
        common = {"id": constraint_id, "score": draw(scores),
                  "node_attribute": draw(st.sampled_from(["#uname", "rack"])),
                  "influence": draw(optional(booleans))}
        if use_sets:
            return ColocationConstraint(resource_sets=draw(set_lists(constraint_id, "role")),
                                        **common)
        return ColocationConstraint(resource=draw(resource), with_resource=draw(resource),
                                    resource_role=draw(optional(roles)),
                                    with_resource_role=draw(optional(roles)), **common)
    if kind == "order":
        choice = draw(st.sampled_from(["kind", "score", "neither"]))
        common = {"id": constraint_id,
                  "kind": draw(st.sampled_from(["Mandatory", "Optional", "Serialize"]))
                  if choice == "kind" else None,
                  "score": draw(scores) if choice == "score" else None,
                  "symmetrical": draw(optional(booleans)),
                  "require_all": draw(optional(booleans))}
        if use_sets:
            return OrderConstraint(resource_sets=draw(set_lists(constraint_id, "action")),
                                   **common)
        return OrderConstraint(first=draw(resource), then=draw(resource),
                               first_action=draw(optional(actions)),
                               then_action=draw(optional(actions)), **common)
    common = {"id": constraint_id, "ticket": draw(identifiers),
              "loss_policy": draw(optional(st.sampled_from(["stop", "demote", "fence"])))}
    if use_sets:
        return TicketConstraint(resource_sets=draw(set_lists(constraint_id, "role")), **common)
    return TicketConstraint(resource=draw(resource), role=draw(optional(roles)), **common)


@st.composite
def fencing_topologies(draw, node_names: list[str]):
    levels = []
    counters: dict[tuple, int] = {}
    used: set[str] = set()
    for _ in range(draw(st.integers(0, 4))):
        target = draw(st.sampled_from(["node", "pattern", "attribute"]))
        if target == "node":
            key: tuple = ("node", draw(st.sampled_from(node_names) if node_names else names))
        elif target == "pattern":
            pattern = draw(st.text(alphabet="0123[]+", min_size=1, max_size=4))
            key = ("pattern", f"node-{pattern}")
        else:
            key = ("attribute", draw(names), draw(identifiers))
        counters[key] = counters.get(key, 0) + 1
        level_id = unique_id("fencing", used)
        used.add(level_id)
        devices = tuple(draw(st.lists(identifiers, min_size=1, max_size=3)))
        level = FencingLevel(index=counters[key], devices=devices, id=level_id)
        if key[0] == "node":
            level = FencingLevel(index=level.index, devices=devices, target=key[1], id=level_id)
        elif key[0] == "pattern":
            level = FencingLevel(index=level.index, devices=devices, target_pattern=key[1],
                                 id=level_id)
        else:
            level = FencingLevel(index=level.index, devices=devices, target_attribute=key[1],
                                 target_value=key[2], id=level_id)
        levels.append(level)
    return tuple(levels)


@st.composite
def defaults_sets(draw, base: str):
    found = []
    used: set[str] = set()
    for _ in range(draw(st.integers(0, 2))):
        set_id = draw(st.one_of(st.just(unique_id(base, used)), identifiers))
        if set_id in used:
            continue
        used.add(set_id)
        rule = None
        if draw(booleans):
            rule = draw(rules(draw(st.one_of(st.just(f"{set_id}-rule"), identifiers)), False,
                              defaults=True))
        found.append(AttributeSet(values=draw(pairs), rule=rule, score=draw(optional(scores)),
                                  id=set_id))
    return tuple(found)


@st.composite
def configurations(draw):
    ids = draw(st.lists(identifiers, unique=True, min_size=0, max_size=12))
    node_names = draw(st.lists(names, unique=True, max_size=3))
    nodes = []
    for name in node_names:
        conditional = ()
        if draw(booleans):
            conditional = (draw(conditional_sets(f"{name}-instance_attributes")),)
        nodes.append(Node(name=name, id=draw(st.one_of(st.just(name), identifiers)),
                          node_type=draw(st.sampled_from(["member", "remote", "ping"])),
                          score=draw(optional(st.sampled_from(["0", "100"]))),
                          attributes=draw(pairs), utilization=draw(pairs),
                          conditional_attributes=conditional))
    pool = list(ids)
    resources = []
    while pool and len(resources) < 5:
        shape = draw(st.sampled_from(["primitive", "group", "clone", "clone-group"]))
        if shape == "primitive" or len(pool) < 2:
            resources.append(draw(primitives(pool.pop())))
        elif shape == "group" or len(pool) < 3:
            group_id = pool.pop()
            members = tuple(draw(primitives(pool.pop())) for _ in range(min(len(pool), 2)))
            resources.append(Group(id=group_id, members=members, meta=draw(pairs)))
        else:
            clone_id, child_id = pool.pop(), pool.pop()
            child: Primitive | Group = draw(primitives(child_id))
            if shape == "clone-group":
                child = Group(id=child_id, members=(draw(primitives(pool.pop())),))
            promotable = draw(booleans)
            meta = draw(pairs)
            meta = tuple(pair for pair in meta if pair[0] != "promotable")
            if promotable and draw(booleans):
                meta = (*meta, ("promotable", "true"))
            resources.append(Clone(id=clone_id, child=child, meta=meta, promotable=promotable))
    resource_ids = [item.id for resource in resources for item in _walk(resource)]
    constraint_ids = draw(st.lists(identifiers.map(lambda text: f"c-{text}"), unique=True,
                                   max_size=5))
    constraint_list = tuple(draw(constraints(constraint_id, resource_ids))
                            for constraint_id in constraint_ids)
    templates = ()
    if draw(booleans):
        templates = (Template(id="tpl-x", agent_class="ocf", provider="pacemaker",
                              agent_type="Dummy", params=draw(pairs),
                              operations=draw(operations("tpl-x"))),)
    tags = ()
    if resource_ids and draw(booleans):
        tags = (Tag(id="tag-x", references=tuple(draw(st.lists(st.sampled_from(resource_ids),
                                                              min_size=1, max_size=3)))),)
    conditional_properties = ()
    if draw(booleans):
        conditional_properties = (draw(conditional_sets("cib-bootstrap-options")),)
    return Configuration(
        properties=draw(pairs), nodes=tuple(nodes), resources=tuple(resources),
        constraints=constraint_list, rsc_defaults=draw(defaults_sets("rsc-options")),
        op_defaults=draw(defaults_sets("op-options")),
        fencing_topology=draw(fencing_topologies(node_names)), tags=tags, templates=templates,
        conditional_properties=conditional_properties)


def _walk(resource):
    if isinstance(resource, Clone):
        return [resource, *_walk(resource.child)]
    if isinstance(resource, Group):
        return [resource, *resource.members]
    return [resource]


VOCABULARY = [
    "primitive", "group", "clone", "ms", "location", "colocation", "order", "property",
    "rsc_defaults", "op_defaults", "fencing_topology", "tag", "node", "rsc_ticket",
    "rsc_template", "params", "meta", "op", "utilization", "attributes", "rule", "date",
    "and", "or", "defined", "not_defined", "eq", "number:lte", "in", "spec", "gt", "(", ")",
    "[", "]", "{", "}", "_rsc_set_", "inf:", "-inf:", "100:", "Mandatory:", "A", "B", "C",
    "A:Promoted", "B:start", "ocf:heartbeat:IPaddr2", "@tpl", "a=b", "$id=x", "$role=Master",
    "\\\n", "\n", '"', "'", "#", "x:", "attr:r=1", "pattern:n.*", "ip=\"1 2\"", "=", ":",
    "interval=10s", "sequential=false", "symmetrical=true", "param{x}", "start=2024",
]

crm_like_text = st.lists(st.sampled_from(VOCABULARY), max_size=40).map(" ".join)
