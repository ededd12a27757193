"""The cluster configuration model: Pacemaker's configuration as frozen plain data.

Role: one immutable description of everything an operator configures (resources, groups,
clones, promotable clones, constraints with rules and sets, cluster properties, resource and
operation defaults, utilization, fencing topology). The CIB importer and the crm-syntax parser
produce it; the reducer stores it; the scheduler reads it.

Invariants:
- Every object is a frozen dataclass; collections are tuples in document order (document
  order is meaningful to the scheduler: it breaks ties between equal priorities).
- Name/value lists are tuples of (name, value) string pairs, kept as written; a later pair
  with the same name wins when read through `pairs_get` (as in Pacemaker).
- `to_dict()` / `from_dict()` round-trip exactly through msgpack/JSON-safe plain data
  (dicts with string keys in a stable order, lists, strings, ints, bools, None). Every
  object dict carries a "type" key naming its class, so unions decode without guessing.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, replace
from typing import Any, Union

Pairs = tuple[tuple[str, str], ...]

ROLE_NAMES = ("Stopped", "Started", "Unpromoted", "Promoted")
LEGACY_ROLE_NAMES = {"Master": "Promoted", "Slave": "Unpromoted"}


class ConfigError(ValueError):
    """Raised for configuration that cannot be represented; the message is one line."""


def pairs_get(pairs: Pairs, name: str, default: str | None = None) -> str | None:
    """Value of `name` in a pair list; the last occurrence wins."""
    found = default
    for key, value in pairs:
        if key == name:
            found = value
    return found


def pairs_dict(pairs: Pairs) -> dict[str, str]:
    """Pair list as a dict (last occurrence wins)."""
    return {key: value for key, value in pairs}


def normalize_role(role: str | None) -> str | None:
    """Canonical role name (Promoted/Unpromoted/Started/Stopped) or None for 'any'."""
    if role is None or role == "":
        return None
    role = LEGACY_ROLE_NAMES.get(role, role)
    for name in ROLE_NAMES:
        if name.lower() == role.lower():
            return name
    return None


# ---------------------------------------------------------------- rules


@dataclass(frozen=True)
class Expression:
    """A node-attribute test: `attribute operation value` (operation lt gt lte gte eq ne
    defined not_defined; value_type string/integer/number/version; value_source
    literal/param/meta)."""

    attribute: str
    operation: str
    value: str | None = None
    value_type: str | None = None
    value_source: str = "literal"
    id: str = ""


@dataclass(frozen=True)
class DateExpression:
    """A date test: operation in_range/gt/lt/date_spec; dates are ISO 8601 strings;
    duration and date_spec are (field, value) pairs such as ("hours", "9-16")."""

    operation: str
    start: str | None = None
    end: str | None = None
    duration: Pairs = ()
    date_spec: Pairs = ()
    id: str = ""


@dataclass(frozen=True)
class ResourceExpression:
    """Matches a resource by agent (used in rsc_defaults rules)."""

    agent_class: str | None = None
    provider: str | None = None
    agent_type: str | None = None
    id: str = ""


@dataclass(frozen=True)
class OperationExpression:
    """Matches an operation by name and interval (used in op_defaults rules)."""

    name: str
    interval: str | None = None
    id: str = ""


RuleTerm = Union[Expression, DateExpression, ResourceExpression, OperationExpression, "Rule"]


@dataclass(frozen=True)
class Rule:
    """A rule: terms combined with boolean_op ("and"/"or"). In a location constraint it
    gives `score` (or the value of node attribute `score_attribute`) to matching nodes;
    `role` restricts it to a resource role."""

    terms: tuple[RuleTerm, ...] = ()
    boolean_op: str = "and"
    score: str | None = None
    score_attribute: str | None = None
    role: str | None = None
    id: str = ""


@dataclass(frozen=True)
class AttributeSet:
    """A set of name/value pairs (instance or meta attributes, properties, defaults),
    optionally conditional on a rule; sets with a higher score are considered first."""

    values: Pairs = ()
    rule: Rule | None = None
    score: str | None = None
    id: str = ""


# ---------------------------------------------------------------- resources


@dataclass(frozen=True)
class Operation:
    """A configured operation (monitor, start, stop, promote, demote...)."""

    name: str
    interval: str = "0"
    timeout: str | None = None
    role: str | None = None
    on_fail: str | None = None
    enabled: bool = True
    attributes: Pairs = ()
    id: str = ""


@dataclass(frozen=True)
class Primitive:
    """A single resource: agent `class:provider:type` with parameters, meta attributes,
    utilization demand and operations. `conditional_sets` holds rule-guarded attribute sets
    as ("params"|"meta"|"utilization", AttributeSet)."""

    id: str
    agent_class: str
    agent_type: str
    provider: str | None = None
    params: Pairs = ()
    meta: Pairs = ()
    utilization: Pairs = ()
    operations: tuple[Operation, ...] = ()
    conditional_sets: tuple[tuple[str, AttributeSet], ...] = ()
    template: str | None = None

    @property
    def agent(self) -> str:
        if self.provider:
            return f"{self.agent_class}:{self.provider}:{self.agent_type}"
        return f"{self.agent_class}:{self.agent_type}"


@dataclass(frozen=True)
class Group:
    """An ordered, colocated list of primitives; meta attributes are inherited by members."""

    id: str
    members: tuple[Primitive, ...]
    meta: Pairs = ()


@dataclass(frozen=True)
class Clone:
    """A clone of a primitive or a group. `promotable` marks a promotable clone (the old
    `master` element); clone-max, clone-node-max, globally-unique, interleave, ordered,
    notify, promoted-max and promoted-node-max (or master-max...) live in `meta`."""

    id: str
    child: Primitive | Group
    meta: Pairs = ()
    promotable: bool = False


Resource = Primitive | Group | Clone


@dataclass(frozen=True)
class Template:
    """A resource template: defaults for primitives that reference it."""

    id: str
    agent_class: str
    agent_type: str
    provider: str | None = None
    params: Pairs = ()
    meta: Pairs = ()
    utilization: Pairs = ()
    operations: tuple[Operation, ...] = ()


# ---------------------------------------------------------------- constraints


@dataclass(frozen=True)
class ResourceSet:
    """A resource set inside a constraint."""

    resources: tuple[str, ...]
    sequential: bool | None = None
    require_all: bool = True
    ordered: bool | None = None
    role: str | None = None
    action: str | None = None
    score: str | None = None
    kind: str | None = None
    id: str = ""


@dataclass(frozen=True)
class LocationConstraint:
    """Node preference of a resource: a fixed node and score, or rules; `resource` may be
    replaced by `resource_pattern` (regex) or by resource sets."""

    id: str
    resource: str | None = None
    resource_pattern: str | None = None
    node: str | None = None
    score: str | None = None
    role: str | None = None
    resource_discovery: str = "always"
    rules: tuple[Rule, ...] = ()
    resource_sets: tuple[ResourceSet, ...] = ()


@dataclass(frozen=True)
class ColocationConstraint:
    """`resource` (dependent) placed relative to `with_resource` (primary) by `score`."""

    id: str
    score: str
    resource: str | None = None
    with_resource: str | None = None
    resource_role: str | None = None
    with_resource_role: str | None = None
    node_attribute: str = "#uname"
    influence: bool | None = None
    resource_sets: tuple[ResourceSet, ...] = ()


@dataclass(frozen=True)
class OrderConstraint:
    """`first` then `then`; kind Mandatory/Optional/Serialize; `score` is the legacy form;
    require_all=False (legacy) lets one instance of a cloned `first` satisfy the order."""

    id: str
    first: str | None = None
    then: str | None = None
    kind: str | None = None
    score: str | None = None
    first_action: str | None = None
    then_action: str | None = None
    symmetrical: bool | None = None
    resource_sets: tuple[ResourceSet, ...] = ()
    require_all: bool | None = None


@dataclass(frozen=True)
class TicketConstraint:
    """Dependency of resources on a ticket (kept for round trips; not scheduled)."""

    id: str
    ticket: str
    resource: str | None = None
    role: str | None = None
    loss_policy: str | None = None
    resource_sets: tuple[ResourceSet, ...] = ()


Constraint = (
    LocationConstraint | ColocationConstraint | OrderConstraint | TicketConstraint
)


def constraint_simple_resources(constraint: Constraint) -> tuple[str | None, ...]:
    """The resources a constraint names outside its resource sets (None where unset):
    colocation (resource, with_resource), order (first, then), else (resource,)."""
    if isinstance(constraint, ColocationConstraint):
        return (constraint.resource, constraint.with_resource)
    if isinstance(constraint, OrderConstraint):
        return (constraint.first, constraint.then)
    return (constraint.resource,)


def constraint_resources(constraint: Constraint) -> list[str]:
    """Every resource id a constraint names, members of its resource sets included, in
    document order."""
    found = [name for name in constraint_simple_resources(constraint) if name]
    for resource_set in constraint.resource_sets:
        found.extend(resource_set.resources)
    return found


# ---------------------------------------------------------------- nodes and the whole


@dataclass(frozen=True)
class Node:
    """A configured cluster node with its permanent attributes and capacity."""

    name: str
    id: str = ""
    node_type: str = "member"
    score: str | None = None
    attributes: Pairs = ()
    utilization: Pairs = ()
    conditional_attributes: tuple[AttributeSet, ...] = ()


@dataclass(frozen=True)
class FencingLevel:
    """One fencing-topology level: devices tried in order for matching targets."""

    index: int
    devices: tuple[str, ...]
    target: str | None = None
    target_pattern: str | None = None
    target_attribute: str | None = None
    target_value: str | None = None
    id: str = ""


@dataclass(frozen=True)
class Tag:
    """A named list of resource ids usable in constraints."""

    id: str
    references: tuple[str, ...]


@dataclass(frozen=True)
class Configuration:
    """The whole configuration. `properties` holds the crm_config cluster options."""

    properties: Pairs = ()
    nodes: tuple[Node, ...] = ()
    resources: tuple[Resource, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    rsc_defaults: tuple[AttributeSet, ...] = ()
    op_defaults: tuple[AttributeSet, ...] = ()
    fencing_topology: tuple[FencingLevel, ...] = ()
    tags: tuple[Tag, ...] = ()
    templates: tuple[Template, ...] = ()
    conditional_properties: tuple[AttributeSet, ...] = field(default=())

    def property(self, name: str, default: str | None = None) -> str | None:
        return pairs_get(self.properties, name, default)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Configuration:
        return from_dict_as(data, Configuration, "configuration")

    def all_primitives(self) -> list[Primitive]:
        """Every primitive, nested ones included, in document order."""
        found: list[Primitive] = []
        for resource in self.resources:
            found.extend(primitives_of(resource))
        return found

    def find_resource(self, resource_id: str) -> Resource | None:
        for resource in self.resources:
            for candidate in walk_resource(resource):
                if candidate.id == resource_id:
                    return candidate
        return None


def walk_resource(resource: Resource) -> list[Resource]:
    """The resource and everything nested in it, parents first."""
    if isinstance(resource, Clone):
        return [resource, *walk_resource(resource.child)]
    if isinstance(resource, Group):
        return [resource, *resource.members]
    return [resource]


def primitives_of(resource: Resource) -> list[Primitive]:
    return [item for item in walk_resource(resource) if isinstance(item, Primitive)]


def parent_of(configuration: Configuration, resource_id: str) -> str | None:
    """The id of the group or clone that holds `resource_id` directly, or None."""
    for resource in configuration.resources:
        for item in walk_resource(resource):
            children = (item.child,) if isinstance(item, Clone) else (
                item.members if isinstance(item, Group) else ())
            if any(child.id == resource_id for child in children):
                return item.id
    return None


def may_mention(plain: Any, text: str) -> bool:
    """False only when no string in plain data contains `text`. JSON escapes character by
    character, so text inside a string stays a substring of the escaped document."""
    escaped = json.dumps(text, ensure_ascii=False)[1:-1]
    return escaped in json.dumps(plain, ensure_ascii=False)


class PlainFootprints:
    """`resource_footprint` of successive plain configurations (the loads of a history):
    only resources and constraints that may mention the resource are decoded (no other one
    can hold or name it), and an object equal to its previous version is not looked at
    again."""

    def __init__(self, resource_id: str) -> None:
        self.resource_id = resource_id
        # (section, object id) -> (its plain data last seen, decoded if it may mention)
        self.seen: dict[tuple[str, Any], tuple[Any, Any]] = {}

    def footprint(self, plain: Any) -> tuple[Any, ...]:
        if not isinstance(plain, dict):
            raise ConfigError("configuration data must be a map")
        sections = {key: tuple(value for item in plain.get(key) or ()
                               if (value := self.decoded(key, item)) is not None)
                    for key in ("resources", "constraints")}
        return resource_footprint(replace(Configuration(), **sections), self.resource_id)

    def decoded(self, section: str, item: Any) -> Any:
        identity = (section, item.get("id") if isinstance(item, dict) else None)
        previous = self.seen.get(identity)
        if previous is not None and previous[0] == item:
            return previous[1]
        value = from_dict(item) if may_mention(item, self.resource_id) else None
        self.seen[identity] = (item, value)
        return value


def resource_footprint(configuration: Configuration, resource_id: str) -> tuple[Any, ...]:
    """What a configuration says about one resource: its definition (with everything nested
    in it), the group or clone holding it, and the constraints naming it. A change of the
    configuration touched the resource exactly when the footprints before and after differ."""
    constraints = tuple(constraint for constraint in configuration.constraints
                        if resource_id in constraint_resources(constraint))
    return (configuration.find_resource(resource_id), parent_of(configuration, resource_id),
            constraints)


# ---------------------------------------------------------------- plain-data codec

_CLASSES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        Expression, DateExpression, ResourceExpression, OperationExpression, Rule,
        AttributeSet, Operation, Primitive, Group, Clone, Template, ResourceSet,
        LocationConstraint, ColocationConstraint, OrderConstraint, TicketConstraint,
        Node, FencingLevel, Tag, Configuration,
    )
}


def register_plain_class(cls: type) -> type:
    """Make another frozen dataclass (e.g. of the status model) known to the codec."""
    _CLASSES[cls.__name__] = cls
    return cls


def to_dict(value: Any) -> Any:
    """Plain-data form of a model object (dicts carry "type"; tuples become lists)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {"type": type(value).__name__}
        for item in dataclasses.fields(value):
            out[item.name] = to_dict(getattr(value, item.name))
        return out
    if isinstance(value, (tuple, list)):
        return [to_dict(item) for item in value]
    if value is None or isinstance(value, (str, int, bool, float)):
        return value
    raise ConfigError(f"cannot encode value of type {type(value).__name__}")


def from_dict_as(data: Any, cls: type, what: str) -> Any:
    """`from_dict(data)`, which must be a `cls`; ConfigError names `what` otherwise."""
    value = from_dict(data)
    if not isinstance(value, cls):
        raise ConfigError(f"{what} data does not describe a {cls.__name__}")
    return value


def from_dict(data: Any) -> Any:
    """Inverse of `to_dict`; raises ConfigError with a one-line reason on bad data."""
    if isinstance(data, dict):
        kind = data.get("type")
        cls = _CLASSES.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise ConfigError(f"unknown object kind {kind!r} in configuration data")
        names = {item.name for item in dataclasses.fields(cls)}
        arguments = {}
        for key, value in data.items():
            if key == "type":
                continue
            if key not in names:
                raise ConfigError(f"unknown field {key!r} for {kind}")
            arguments[key] = from_dict(value)
        try:
            return cls(**arguments)
        except TypeError as error:
            raise ConfigError(f"incomplete {kind}: {error}") from None
    if isinstance(data, list):
        return tuple(from_dict(item) for item in data)
    if data is None or isinstance(data, (str, int, bool, float)):
        return data
    raise ConfigError(f"unexpected value of type {type(data).__name__} in configuration data")
