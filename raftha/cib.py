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
            if attribute_set.rule is None:
                plain.extend(attribute_set.values)
            else:
                conditional.append(attribute_set)
        return tuple(plain), tuple(conditional)

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
        utilization, _ = self.plain_and_conditional(element, "utilization")
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
            meta, _ = self.plain_and_conditional(element, "meta_attributes")
            members = tuple(self.primitive(child) for child in element.findall("primitive"))
            return Group(id=element.get("id", ""), members=members, meta=meta)
        if element.tag in ("clone", "master"):
            meta, _ = self.plain_and_conditional(element, "meta_attributes")
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
            utilization, _ = self.plain_and_conditional(node, "utilization")
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
            ))
        return ResourceHistory(
            resource=element.get("id", ""),
            agent_class=element.get("class", ""),
            provider=element.get("provider"),
            agent_type=element.get("type", ""),
            operations=tuple(operations),
            container=element.get("container"),
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
