"""Pacemaker CIB XML import and export.

Role: `parse_cib(xml_text)` turns a Pacemaker CIB (configuration + status) into the
configuration and status models; `write_cib(config, status)` renders them back as a CIB that
Pacemaker's tools (crm_simulate, cibadmin) accept.

Invariants: pure (text in, data out). Untrusted input is bounded: documents larger than
MAX_CIB_BYTES or containing a DTD or entity declaration are refused with CibError before the
XML parser sees them, so no entity expansion can happen. Errors are one line.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

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
    Pairs,
    Primitive,
    Resource,
    ResourceExpression,
    ResourceSet,
    Rule,
    Tag,
    Template,
    TicketConstraint,
    pairs_get,
)
from raftha.model.status import (
    ClusterStatus,
    NodeStatus,
    OperationRecord,
    ResourceHistory,
    Ticket,
)

MAX_CIB_BYTES = 32 * 1024 * 1024
_FORBIDDEN_MARKUP = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class CibError(ValueError):
    """The CIB cannot be read; the message is one line naming the problem."""


def _truth(value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("true", "yes", "on", "y", "1")


def _optional_truth(value: str | None) -> bool | None:
    return None if value is None else _truth(value)


def _int(value: str | None, default: int = 0) -> int:
    if value is None:
        return default
    match = re.match(r"\s*([+-]?\d+)", value)
    return int(match.group(1)) if match else default


class _Reader:
    """Reads one document; keeps an id index so `id-ref` references resolve."""

    def __init__(self, root: ElementTree.Element) -> None:
        self.root = root
        self.by_id: dict[str, ElementTree.Element] = {}
        for element in root.iter():
            element_id = element.get("id")
            if element_id and element.get("id-ref") is None and element_id not in self.by_id:
                self.by_id[element_id] = element

    def resolve(self, element: ElementTree.Element) -> ElementTree.Element:
        reference = element.get("id-ref")
        if reference is None:
            return element
        target = self.by_id.get(reference)
        if target is None:
            raise CibError(f"id-ref {reference!r} points at no element")
        return target

    # ------------------------------------------------------------ attribute sets

    def pairs(self, element: ElementTree.Element) -> Pairs:
        element = self.resolve(element)
        found: list[tuple[str, str]] = []
        for nvpair in element.findall("nvpair"):
            nvpair = self.resolve(nvpair)
            name = nvpair.get("name")
            if name is not None:
                found.append((name, nvpair.get("value", "")))
        return tuple(found)

    def attribute_set(self, element: ElementTree.Element) -> AttributeSet:
        element = self.resolve(element)
        rule_element = element.find("rule")
        return AttributeSet(
            values=self.pairs(element),
            rule=self.rule(rule_element) if rule_element is not None else None,
            score=element.get("score"),
            id=element.get("id", ""),
        )

    def plain_and_conditional(
        self, parent: ElementTree.Element, tag: str
    ) -> tuple[Pairs, tuple[AttributeSet, ...]]:
        """Unconditional pairs of every `tag` child, and the rule-guarded sets apart."""
        plain: list[tuple[str, str]] = []
        conditional: list[AttributeSet] = []
        for child in parent.findall(tag):
            attribute_set = self.attribute_set(child)
            if attribute_set.rule is None and attribute_set.score is None:
                plain.extend(attribute_set.values)
            else:
                conditional.append(attribute_set)
        return tuple(plain), tuple(conditional)

    def flat_pairs(self, parent: ElementTree.Element, tag: str) -> Pairs:
        """Pairs of every rule-free `tag` set, higher-scored sets first (first value wins)."""
        plain, conditional = self.plain_and_conditional(parent, tag)
        scored = sorted((item for item in conditional if item.rule is None),
                        key=lambda item: -_int(item.score, 0))
        found: list[tuple[str, str]] = []
        seen: set[str] = set()
        ordered = [item.values for item in scored if _int(item.score, 0) > 0] + [plain] + [
            item.values for item in scored if _int(item.score, 0) <= 0]
        for values in ordered:
            for name, value in values:
                if name not in seen:
                    seen.add(name)
                    found.append((name, value))
        return tuple(found)

    # ------------------------------------------------------------ rules

    def rule(self, element: ElementTree.Element) -> Rule:
        element = self.resolve(element)
        terms = []
        for child in element:
            child = self.resolve(child)
            if child.tag == "expression":
                terms.append(Expression(
                    attribute=child.get("attribute", ""),
                    operation=child.get("operation", ""),
                    value=child.get("value"),
                    value_type=child.get("type"),
                    value_source=child.get("value-source", "literal"),
                    id=child.get("id", ""),
                ))
            elif child.tag == "date_expression":
                duration = child.find("duration")
                spec = child.find("date_spec")
                terms.append(DateExpression(
                    operation=child.get("operation", "in_range"),
                    start=child.get("start"),
                    end=child.get("end"),
                    duration=_element_pairs(duration),
                    date_spec=_element_pairs(spec),
                    id=child.get("id", ""),
                ))
            elif child.tag == "rsc_expression":
                terms.append(ResourceExpression(
                    agent_class=child.get("class"), provider=child.get("provider"),
                    agent_type=child.get("type"), id=child.get("id", ""),
                ))
            elif child.tag == "op_expression":
                terms.append(OperationExpression(
                    name=child.get("name", ""), interval=child.get("interval"),
                    id=child.get("id", ""),
                ))
            elif child.tag == "rule":
                terms.append(self.rule(child))
        return Rule(
            terms=tuple(terms),
            boolean_op=element.get("boolean-op", "and"),
            score=element.get("score"),
            score_attribute=element.get("score-attribute"),
            role=element.get("role"),
            id=element.get("id", ""),
        )

    # ------------------------------------------------------------ resources

    def operations(self, element: ElementTree.Element) -> tuple[Operation, ...]:
        found = []
        for operations in element.findall("operations"):
            operations = self.resolve(operations)
            for op in operations.findall("op"):
                op = self.resolve(op)
                extra = {k: v for k, v in op.attrib.items()
                         if k not in ("id", "name", "interval", "timeout", "role", "on-fail",
                                      "enabled")}
                for child in op.findall("instance_attributes"):
                    extra.update(dict(self.pairs(child)))
                for child in op.findall("meta_attributes"):
                    extra.update(dict(self.pairs(child)))
                found.append(Operation(
                    name=op.get("name", ""),
                    interval=op.get("interval", "0"),
                    timeout=op.get("timeout"),
                    role=op.get("role"),
                    on_fail=op.get("on-fail", extra.pop("on-fail", None)),
                    enabled=_truth(op.get("enabled", extra.pop("enabled", None)), True),
                    attributes=tuple(sorted(extra.items())),
                    id=op.get("id", ""),
                ))
        return tuple(found)

    def primitive(self, element: ElementTree.Element) -> Primitive:
        params, conditional_params = self.plain_and_conditional(element, "instance_attributes")
        meta, conditional_meta = self.plain_and_conditional(element, "meta_attributes")
        utilization = self.flat_pairs(element, "utilization")
        conditional = tuple(("params", item) for item in conditional_params) + tuple(
            ("meta", item) for item in conditional_meta)
        return Primitive(
            id=element.get("id", ""),
            agent_class=element.get("class", ""),
            agent_type=element.get("type", ""),
            provider=element.get("provider"),
            params=params,
            meta=meta,
            utilization=utilization,
            operations=self.operations(element),
            conditional_sets=conditional,
            template=element.get("template"),
        )

    def template(self, element: ElementTree.Element) -> Template:
        base = self.primitive(element)
        return Template(
            id=base.id, agent_class=base.agent_class, agent_type=base.agent_type,
            provider=base.provider, params=base.params, meta=base.meta,
            utilization=base.utilization, operations=base.operations,
        )

    def resource(self, element: ElementTree.Element) -> Resource | None:
        if element.tag == "primitive":
            return self.primitive(element)
        if element.tag == "group":
            meta = self.flat_pairs(element, "meta_attributes")
            members = tuple(self.primitive(child) for child in element.findall("primitive"))
            return Group(id=element.get("id", ""), members=members, meta=meta)
        if element.tag in ("clone", "master"):
            meta = self.flat_pairs(element, "meta_attributes")
            child_element = None
            for child in element:
                if child.tag in ("primitive", "group"):
                    child_element = child
                    break
            if child_element is None:
                raise CibError(f"clone {element.get('id')!r} has no primitive or group")
            child = self.resource(child_element)
            assert isinstance(child, (Primitive, Group))
            promotable = element.tag == "master" or _truth(pairs_get(meta, "promotable"))
            return Clone(id=element.get("id", ""), child=child, meta=meta, promotable=promotable)
        return None

    # ------------------------------------------------------------ constraints

    def resource_sets(self, element: ElementTree.Element) -> tuple[ResourceSet, ...]:
        found = []
        for item in element.findall("resource_set"):
            item = self.resolve(item)
            found.append(ResourceSet(
                resources=tuple(ref.get("id", "") for ref in item.findall("resource_ref")),
                sequential=_optional_truth(item.get("sequential")),
                require_all=_truth(item.get("require-all"), True),
                ordered=_optional_truth(item.get("ordered")),
                role=item.get("role"),
                action=item.get("action"),
                score=item.get("score"),
                kind=item.get("kind"),
                id=item.get("id", ""),
            ))
        return tuple(found)

    def constraint(self, element: ElementTree.Element):
        element_id = element.get("id", "")
        if element.tag == "rsc_location":
            return LocationConstraint(
                id=element_id,
                resource=element.get("rsc"),
                resource_pattern=element.get("rsc-pattern"),
                node=element.get("node"),
                score=element.get("score"),
                role=element.get("role"),
                resource_discovery=element.get("resource-discovery", "always"),
                rules=tuple(self.rule(rule) for rule in element.findall("rule")),
                resource_sets=self.resource_sets(element),
            )
        if element.tag == "rsc_colocation":
            return ColocationConstraint(
                id=element_id,
                score=element.get("score", "0"),
                resource=element.get("rsc"),
                with_resource=element.get("with-rsc"),
                resource_role=element.get("rsc-role"),
                with_resource_role=element.get("with-rsc-role"),
                node_attribute=element.get("node-attribute", "#uname"),
                influence=_optional_truth(element.get("influence")),
                resource_sets=self.resource_sets(element),
            )
        if element.tag == "rsc_order":
            return OrderConstraint(
                id=element_id,
                first=element.get("first"),
                then=element.get("then"),
                kind=element.get("kind"),
                score=element.get("score"),
                first_action=element.get("first-action"),
                then_action=element.get("then-action"),
                symmetrical=_optional_truth(element.get("symmetrical")),
                resource_sets=self.resource_sets(element),
                require_all=_optional_truth(element.get("require-all")),
            )
        if element.tag == "rsc_ticket":
            return TicketConstraint(
                id=element_id,
                ticket=element.get("ticket", ""),
                resource=element.get("rsc"),
                role=element.get("rsc-role"),
                loss_policy=element.get("loss-policy"),
                resource_sets=self.resource_sets(element),
            )
        return None

    # ------------------------------------------------------------ whole sections

    def configuration(self) -> Configuration:
        configuration = self.root.find("configuration")
        if configuration is None:
            raise CibError("the CIB has no <configuration> section")
        properties: list[tuple[str, str]] = []
        conditional_properties: list[AttributeSet] = []
        crm_config = configuration.find("crm_config")
        if crm_config is not None:
            for property_set in crm_config.findall("cluster_property_set"):
                attribute_set = self.attribute_set(property_set)
                if attribute_set.rule is None:
                    properties.extend(attribute_set.values)
                else:
                    conditional_properties.append(attribute_set)
        nodes = []
        nodes_element = configuration.find("nodes")
        for node in (nodes_element.findall("node") if nodes_element is not None else []):
            attributes, conditional = self.plain_and_conditional(node, "instance_attributes")
            utilization = self.flat_pairs(node, "utilization")
            nodes.append(Node(
                name=node.get("uname") or node.get("id", ""),
                id=node.get("id", ""),
                node_type=node.get("type", "member"),
                score=node.get("score"),
                attributes=attributes,
                utilization=utilization,
                conditional_attributes=conditional,
            ))
        resources: list[Resource] = []
        templates: list[Template] = []
        resources_element = configuration.find("resources")
        for element in (list(resources_element) if resources_element is not None else []):
            if element.tag == "template":
                templates.append(self.template(element))
                continue
            resource = self.resource(element)
            if resource is not None:
                resources.append(resource)
        constraints = []
        constraints_element = configuration.find("constraints")
        for element in (list(constraints_element) if constraints_element is not None else []):
            constraint = self.constraint(element)
            if constraint is not None:
                constraints.append(constraint)
        rsc_defaults = self.defaults(configuration, "rsc_defaults")
        op_defaults = self.defaults(configuration, "op_defaults")
        levels = []
        topology = configuration.find("fencing-topology")
        for level in (topology.findall("fencing-level") if topology is not None else []):
            levels.append(FencingLevel(
                index=_int(level.get("index"), 0),
                devices=tuple(d for d in level.get("devices", "").split(",") if d),
                target=level.get("target"),
                target_pattern=level.get("target-pattern"),
                target_attribute=level.get("target-attribute"),
                target_value=level.get("target-value"),
                id=level.get("id", ""),
            ))
        tags = []
        tags_element = configuration.find("tags")
        for tag in (tags_element.findall("tag") if tags_element is not None else []):
            tags.append(Tag(id=tag.get("id", ""),
                            references=tuple(r.get("id", "") for r in tag.findall("obj_ref"))))
        return Configuration(
            properties=tuple(properties),
            nodes=tuple(nodes),
            resources=tuple(resources),
            constraints=tuple(constraints),
            rsc_defaults=rsc_defaults,
            op_defaults=op_defaults,
            fencing_topology=tuple(levels),
            tags=tuple(tags),
            templates=tuple(templates),
            conditional_properties=tuple(conditional_properties),
        )

    def defaults(self, configuration: ElementTree.Element, tag: str) -> tuple[AttributeSet, ...]:
        section = configuration.find(tag)
        if section is None:
            return ()
        return tuple(self.attribute_set(item) for item in section.findall("meta_attributes"))

    def status(self, configuration: Configuration) -> ClusterStatus:
        names_by_id = {node.id: node.name for node in configuration.nodes}
        execution_date = self.root.get("execution-date")
        dc_uuid = self.root.get("dc-uuid")
        nodes = []
        tickets = []
        status_element = self.root.find("status")
        for node_state in (status_element.findall("node_state")
                           if status_element is not None else []):
            nodes.append(self.node_status(node_state, names_by_id))
        if status_element is not None:
            for ticket_state in status_element.iter("ticket_state"):
                tickets.append(Ticket(
                    id=ticket_state.get("id", ""),
                    granted=_truth(ticket_state.get("granted")),
                    standby=_truth(ticket_state.get("standby")),
                ))
        in_membership = {item.name for item in nodes}
        return ClusterStatus(
            have_quorum=_truth(self.root.get("have-quorum"), False),
            now=_int(execution_date) if execution_date else None,
            dc_node=names_by_id.get(dc_uuid or "", dc_uuid) if dc_uuid else None,
            nodes=tuple(nodes),
            tickets=tuple(tickets),
            quorum_panic=_truth(self.root.get("no-quorum-panic")),
            feature_set=self.root.get("crm_feature_set", ""),
        ) if in_membership is not None else ClusterStatus()

    def node_status(self, element: ElementTree.Element, names_by_id: dict[str, str]) -> NodeStatus:
        node_id = element.get("id", "")
        name = element.get("uname") or names_by_id.get(node_id, node_id)
        attributes: list[tuple[str, str]] = []
        utilization: list[tuple[str, str]] = []
        for transient in element.findall("transient_attributes"):
            for attribute_set in transient.findall("instance_attributes"):
                attributes.extend(self.pairs(attribute_set))
            for attribute_set in transient.findall("utilization"):
                utilization.extend(self.pairs(attribute_set))
        histories = []
        for lrm in element.findall("lrm"):
            for lrm_resources in lrm.findall("lrm_resources"):
                for lrm_resource in lrm_resources.findall("lrm_resource"):
                    histories.append(self.history(lrm_resource))
        in_ccm = element.get("in_ccm")
        if in_ccm is None:
            in_membership = None
        else:
            in_membership = _truth(in_ccm) or in_ccm.isdigit() and int(in_ccm) > 0
        crmd = element.get("crmd", "offline")
        return NodeStatus(
            name=name,
            id=node_id,
            in_membership=in_membership,
            controller_online=crmd == "online" or (crmd.isdigit() and int(crmd) > 0),
            join=element.get("join", "down"),
            expected=element.get("expected", "down"),
            attributes=tuple(attributes),
            histories=tuple(histories),
            utilization=tuple(utilization),
        )

    def history(self, element: ElementTree.Element) -> ResourceHistory:
        operations = []
        for op in element.findall("lrm_rsc_op"):
            transition_key = op.get("transition-key") or ""
            key_parts = transition_key.split(":")
            target_rc = _int(key_parts[2], 0) if len(key_parts) >= 4 else None
            if target_rc is None and op.get("transition-magic"):
                magic_key = op.get("transition-magic", "").split(";")[-1].split(":")
                target_rc = _int(magic_key[2], 0) if len(magic_key) >= 4 else None
            operations.append(OperationRecord(
                operation=op.get("operation", ""),
                call_id=_int(op.get("call-id"), 0),
                rc=_int(op.get("rc-code"), 0),
                op_status=_int(op.get("op-status"), 0),
                interval_ms=_int(op.get("interval"), 0),
                target_rc=target_rc,
                last_rc_change=_int(op.get("last-rc-change")) if op.get("last-rc-change")
                else None,
                last_run=_int(op.get("last-run")) if op.get("last-run") else None,
                operation_key=op.get("operation_key", ""),
                id=op.get("id", ""),
                migrate_source=op.get("migrate_source"),
                migrate_target=op.get("migrate_target"),
                on_node=op.get("on_node"),
                exit_reason=op.get("exit-reason", ""),
                op_digest=op.get("op-digest"),
                op_restart_digest=op.get("op-restart-digest"),
                op_force_restart=op.get("op-force-restart"),
            ))
        return ResourceHistory(
            resource=element.get("id", ""),
            agent_class=element.get("class", ""),
            provider=element.get("provider"),
            agent_type=element.get("type", ""),
            operations=tuple(operations),
            container=element.get("container"),
            shutdown_lock=_int(element.get("shutdown-lock")) if element.get("shutdown-lock")
            else None,
        )


def _element_pairs(element: ElementTree.Element | None) -> Pairs:
    if element is None:
        return ()
    return tuple((k, v) for k, v in element.attrib.items() if k != "id")


def parse_xml(xml_text: str) -> ElementTree.Element:
    """Parse untrusted CIB text safely (size cap, no DTD or entities)."""
    if len(xml_text) > MAX_CIB_BYTES:
        raise CibError(f"CIB is larger than {MAX_CIB_BYTES} bytes")
    if _FORBIDDEN_MARKUP.search(xml_text):
        raise CibError("CIB contains a DTD or entity declaration, which is refused")
    try:
        root = ElementTree.fromstring(xml_text)
    except ElementTree.ParseError as error:
        raise CibError(f"CIB is not well-formed XML: {error}") from None
    if root.tag != "cib":
        raise CibError(f"root element is <{root.tag}>, expected <cib>")
    return root


def parse_cib(xml_text: str) -> tuple[Configuration, ClusterStatus]:
    """Configuration and status of a Pacemaker CIB document."""
    reader = _Reader(parse_xml(xml_text))
    configuration = reader.configuration()
    return configuration, reader.status(configuration)


def cib_version_info(xml_text: str) -> dict[str, str]:
    """The attributes of the <cib> element (crm_feature_set, validate-with...)."""
    return dict(parse_xml(xml_text).attrib)


# ---------------------------------------------------------------- writing


def _set_pairs(parent: ElementTree.Element, tag: str, set_id: str, pairs: Pairs) -> None:
    if not pairs:
        return
    attribute_set = ElementTree.SubElement(parent, tag, {"id": set_id})
    for index, (name, value) in enumerate(pairs):
        ElementTree.SubElement(attribute_set, "nvpair",
                               {"id": f"{set_id}-{_xml_id(name)}-{index}", "name": name,
                                "value": value})


def _write_attribute_set(parent: ElementTree.Element, tag: str, set_id: str,
                         attribute_set: AttributeSet) -> None:
    """A rule-guarded and/or scored attribute set."""
    values = {"id": attribute_set.id or set_id}
    if attribute_set.score is not None:
        values["score"] = attribute_set.score
    element = ElementTree.SubElement(parent, tag, values)
    if attribute_set.rule is not None:
        _write_rule(element, attribute_set.rule, f"{values['id']}-rule")
    for index, (name, value) in enumerate(attribute_set.values):
        ElementTree.SubElement(element, "nvpair",
                               {"id": f"{values['id']}-{_xml_id(name)}-{index}",
                                "name": name, "value": value})


def _xml_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text) or "x"


def _write_rule(parent: ElementTree.Element, rule: Rule, rule_id: str) -> None:
    attributes = {"id": rule.id or rule_id, "boolean-op": rule.boolean_op}
    if rule.score is not None:
        attributes["score"] = rule.score
    if rule.score_attribute:
        attributes["score-attribute"] = rule.score_attribute
    if rule.role:
        attributes["role"] = rule.role
    element = ElementTree.SubElement(parent, "rule", attributes)
    for index, term in enumerate(rule.terms):
        term_id = f"{attributes['id']}-{index}"
        if isinstance(term, Expression):
            values = {"id": term.id or term_id, "attribute": term.attribute,
                      "operation": term.operation}
            if term.value is not None:
                values["value"] = term.value
            if term.value_type:
                values["type"] = term.value_type
            if term.value_source != "literal":
                values["value-source"] = term.value_source
            ElementTree.SubElement(element, "expression", values)
        elif isinstance(term, DateExpression):
            values = {"id": term.id or term_id, "operation": term.operation}
            if term.start:
                values["start"] = term.start
            if term.end:
                values["end"] = term.end
            date = ElementTree.SubElement(element, "date_expression", values)
            if term.duration:
                ElementTree.SubElement(date, "duration",
                                       {"id": f"{values['id']}-duration", **dict(term.duration)})
            if term.date_spec:
                ElementTree.SubElement(date, "date_spec",
                                       {"id": f"{values['id']}-spec", **dict(term.date_spec)})
        elif isinstance(term, ResourceExpression):
            values = {"id": term.id or term_id}
            for key, value in (("class", term.agent_class), ("provider", term.provider),
                               ("type", term.agent_type)):
                if value is not None:
                    values[key] = value
            ElementTree.SubElement(element, "rsc_expression", values)
        elif isinstance(term, OperationExpression):
            values = {"id": term.id or term_id, "name": term.name}
            if term.interval is not None:
                values["interval"] = term.interval
            ElementTree.SubElement(element, "op_expression", values)
        elif isinstance(term, Rule):
            _write_rule(element, term, term_id)


def _write_primitive(parent: ElementTree.Element, primitive: Primitive | Template,
                     tag: str = "primitive") -> None:
    attributes = {"id": primitive.id}
    for key, value in (("class", primitive.agent_class), ("provider", primitive.provider),
                       ("type", primitive.agent_type)):
        if value:
            attributes[key] = value
    if isinstance(primitive, Primitive) and primitive.template:
        attributes["template"] = primitive.template
    element = ElementTree.SubElement(parent, tag, attributes)
    _set_pairs(element, "instance_attributes", f"{primitive.id}-instance_attributes",
               primitive.params)
    _set_pairs(element, "meta_attributes", f"{primitive.id}-meta_attributes", primitive.meta)
    conditional = primitive.conditional_sets if isinstance(primitive, Primitive) else ()
    for index, (kind, attribute_set) in enumerate(conditional):
        tag_name = {"params": "instance_attributes", "meta": "meta_attributes"}.get(
            kind, "utilization")
        _write_attribute_set(element, tag_name, f"{primitive.id}-{kind}-{index}", attribute_set)
    _set_pairs(element, "utilization", f"{primitive.id}-utilization", primitive.utilization)
    if primitive.operations:
        operations = ElementTree.SubElement(element, "operations")
        for index, operation in enumerate(primitive.operations):
            values = {"id": operation.id or f"{primitive.id}-{operation.name}-{index}",
                      "name": operation.name, "interval": operation.interval}
            if operation.timeout:
                values["timeout"] = operation.timeout
            if operation.role:
                values["role"] = operation.role
            if operation.on_fail:
                values["on-fail"] = operation.on_fail
            if not operation.enabled:
                values["enabled"] = "false"
            values.update(dict(operation.attributes))
            ElementTree.SubElement(operations, "op", values)


def _write_resource(parent: ElementTree.Element, resource: Resource) -> None:
    if isinstance(resource, Primitive):
        _write_primitive(parent, resource)
    elif isinstance(resource, Group):
        element = ElementTree.SubElement(parent, "group", {"id": resource.id})
        _set_pairs(element, "meta_attributes", f"{resource.id}-meta_attributes", resource.meta)
        for member in resource.members:
            _write_primitive(element, member)
    else:
        element = ElementTree.SubElement(parent, "clone", {"id": resource.id})
        meta = resource.meta
        if resource.promotable and pairs_get(meta, "promotable") is None:
            meta = meta + (("promotable", "true"),)
        _set_pairs(element, "meta_attributes", f"{resource.id}-meta_attributes", meta)
        _write_resource(element, resource.child)


def _write_sets(parent: ElementTree.Element, sets: tuple[ResourceSet, ...], owner: str) -> None:
    for index, resource_set in enumerate(sets):
        values = {"id": resource_set.id or f"{owner}-set-{index}"}
        for key, value in (("sequential", resource_set.sequential),
                           ("ordered", resource_set.ordered)):
            if value is not None:
                values[key] = "true" if value else "false"
        if not resource_set.require_all:
            values["require-all"] = "false"
        for key, value in (("role", resource_set.role), ("action", resource_set.action),
                           ("score", resource_set.score), ("kind", resource_set.kind)):
            if value is not None:
                values[key] = value
        element = ElementTree.SubElement(parent, "resource_set", values)
        for reference in resource_set.resources:
            ElementTree.SubElement(element, "resource_ref", {"id": reference})


def _write_constraint(parent: ElementTree.Element, constraint) -> None:
    def put(element_tag: str, pairs: list[tuple[str, object]]):
        values = {key: ("true" if value is True else "false" if value is False else str(value))
                  for key, value in pairs if value is not None}
        return ElementTree.SubElement(parent, element_tag, values)

    if isinstance(constraint, LocationConstraint):
        element = put("rsc_location", [
            ("id", constraint.id), ("rsc", constraint.resource),
            ("rsc-pattern", constraint.resource_pattern), ("node", constraint.node),
            ("score", constraint.score), ("role", constraint.role),
            ("resource-discovery", None if constraint.resource_discovery == "always"
             else constraint.resource_discovery)])
        for index, rule in enumerate(constraint.rules):
            _write_rule(element, rule, f"{constraint.id}-rule-{index}")
    elif isinstance(constraint, ColocationConstraint):
        element = put("rsc_colocation", [
            ("id", constraint.id), ("rsc", constraint.resource),
            ("with-rsc", constraint.with_resource), ("score", constraint.score),
            ("rsc-role", constraint.resource_role),
            ("with-rsc-role", constraint.with_resource_role),
            ("node-attribute", None if constraint.node_attribute == "#uname"
             else constraint.node_attribute), ("influence", constraint.influence)])
    elif isinstance(constraint, OrderConstraint):
        element = put("rsc_order", [
            ("id", constraint.id), ("first", constraint.first), ("then", constraint.then),
            ("kind", constraint.kind), ("score", constraint.score),
            ("first-action", constraint.first_action), ("then-action", constraint.then_action),
            ("symmetrical", constraint.symmetrical), ("require-all", constraint.require_all)])
    else:
        element = put("rsc_ticket", [
            ("id", constraint.id), ("ticket", constraint.ticket), ("rsc", constraint.resource),
            ("rsc-role", constraint.role), ("loss-policy", constraint.loss_policy)])
    _write_sets(element, constraint.resource_sets, constraint.id)


def write_cib(config: Configuration, status: ClusterStatus | None = None) -> str:
    """A CIB document Pacemaker's tools accept, for the configuration (and status)."""
    status = status or ClusterStatus()
    attributes = {"validate-with": "pacemaker-3.7", "epoch": "1", "num_updates": "0",
                  "admin_epoch": "0", "have-quorum": "1" if status.have_quorum else "0"}
    if status.feature_set:
        # Without a feature set, per-resource fail counts keep counting (old format).
        attributes["crm_feature_set"] = status.feature_set
    if status.quorum_panic:
        attributes["no-quorum-panic"] = "1"
    if status.now is not None:
        attributes["execution-date"] = str(status.now)
    names_to_ids = {node.name: node.id or node.name for node in config.nodes}
    if status.dc_node:
        attributes["dc-uuid"] = names_to_ids.get(status.dc_node, status.dc_node)
    root = ElementTree.Element("cib", attributes)
    configuration = ElementTree.SubElement(root, "configuration")
    crm_config = ElementTree.SubElement(configuration, "crm_config")
    property_set = ElementTree.SubElement(crm_config, "cluster_property_set",
                                          {"id": "cib-bootstrap-options"})
    for index, (name, value) in enumerate(config.properties):
        ElementTree.SubElement(property_set, "nvpair", {
            "id": f"cib-bootstrap-options-{_xml_id(name)}-{index}", "name": name,
            "value": value})
    nodes = ElementTree.SubElement(configuration, "nodes")
    for node in config.nodes:
        values = {"id": node.id or node.name, "uname": node.name, "type": node.node_type}
        if node.score is not None:
            values["score"] = node.score
        element = ElementTree.SubElement(nodes, "node", values)
        _set_pairs(element, "instance_attributes", f"nodes-{values['id']}", node.attributes)
        _set_pairs(element, "utilization", f"nodes-{values['id']}-utilization",
                   node.utilization)
    for node, element in zip(config.nodes, nodes.findall("node"), strict=True):
        for index, attribute_set in enumerate(node.conditional_attributes):
            _write_attribute_set(element, "instance_attributes",
                                 f"nodes-{element.get('id')}-{index}", attribute_set)
    for index, attribute_set in enumerate(config.conditional_properties):
        _write_attribute_set(crm_config, "cluster_property_set", f"properties-{index}",
                             attribute_set)
    resources = ElementTree.SubElement(configuration, "resources")
    for template in config.templates:
        _write_primitive(resources, template, "template")
    for resource in config.resources:
        _write_resource(resources, resource)
    constraints = ElementTree.SubElement(configuration, "constraints")
    for constraint in config.constraints:
        _write_constraint(constraints, constraint)
    for tag, sets in (("rsc_defaults", config.rsc_defaults), ("op_defaults", config.op_defaults)):
        if sets:
            section = ElementTree.SubElement(configuration, tag)
            for index, attribute_set in enumerate(sets):
                _write_attribute_set(section, "meta_attributes", f"{tag}-{index}",
                                     attribute_set)
    if config.tags:
        tags = ElementTree.SubElement(configuration, "tags")
        for tag_item in config.tags:
            element = ElementTree.SubElement(tags, "tag", {"id": tag_item.id})
            for reference in tag_item.references:
                ElementTree.SubElement(element, "obj_ref", {"id": reference})
    if config.fencing_topology:
        topology = ElementTree.SubElement(configuration, "fencing-topology")
        for level in config.fencing_topology:
            values = {"id": level.id or f"fencing-{level.index}", "index": str(level.index),
                      "devices": ",".join(level.devices)}
            if level.target:
                values["target"] = level.target
            if level.target_pattern:
                values["target-pattern"] = level.target_pattern
            if level.target_attribute:
                values["target-attribute"] = level.target_attribute
            if level.target_value:
                values["target-value"] = level.target_value
            ElementTree.SubElement(topology, "fencing-level", values)
    status_element = ElementTree.SubElement(root, "status")
    for node_status in status.nodes:
        values = {"id": node_status.id or names_to_ids.get(node_status.name, node_status.name),
                  "uname": node_status.name,
                  "crmd": "online" if node_status.controller_online else "offline",
                  "join": node_status.join, "expected": node_status.expected}
        if node_status.in_membership is not None:
            values["in_ccm"] = "true" if node_status.in_membership else "false"
        element = ElementTree.SubElement(status_element, "node_state", values)
        if node_status.attributes:
            transient = ElementTree.SubElement(element, "transient_attributes",
                                               {"id": values["id"]})
            _set_pairs(transient, "instance_attributes", f"status-{values['id']}",
                       node_status.attributes)
        if node_status.histories:
            lrm = ElementTree.SubElement(element, "lrm", {"id": values["id"]})
            lrm_resources = ElementTree.SubElement(lrm, "lrm_resources")
            for history in node_status.histories:
                history_values = {"id": history.resource, "class": history.agent_class,
                                  "type": history.agent_type}
                if history.provider:
                    history_values["provider"] = history.provider
                if history.shutdown_lock is not None:
                    history_values["shutdown-lock"] = str(history.shutdown_lock)
                lrm_resource = ElementTree.SubElement(lrm_resources, "lrm_resource",
                                                      history_values)
                for op in history.operations:
                    target_rc = 0 if op.target_rc is None else op.target_rc
                    key = f"1:1:{target_rc}:00000000-0000-0000-0000-000000000000"
                    op_values = {
                        "id": op.id or f"{history.resource}_{op.operation}_{op.interval_ms}",
                        "operation": op.operation, "call-id": str(op.call_id),
                        "rc-code": str(op.rc), "op-status": str(op.op_status),
                        "interval": str(op.interval_ms), "transition-key": key,
                        "transition-magic": f"{op.op_status}:{op.rc};{key}",
                        "operation_key": op.operation_key
                        or f"{history.resource}_{op.operation}_{op.interval_ms}",
                        "crm-debug-origin": "raftha", "crm_feature_set": "3.16.2",
                        "on_node": node_status.name,
                    }
                    if op.last_rc_change is not None:
                        op_values["last-rc-change"] = str(op.last_rc_change)
                    if op.op_digest:
                        op_values["op-digest"] = op.op_digest
                    if op.op_restart_digest is not None:
                        op_values["op-force-restart"] = op.op_force_restart or ""
                        op_values["op-restart-digest"] = op.op_restart_digest
                    ElementTree.SubElement(lrm_resource, "lrm_rsc_op", op_values)
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode") + "\n"
