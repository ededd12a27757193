"""Operator edits of the configuration, as crmsh and pcs make them (pure).

    move(config, rsc, node)          location cli-prefer-RSC: RSC prefers NODE (INFINITY,
                                     role Started), replacing an earlier move
    ban(config, rsc, node)           location cli-ban-RSC-on-NODE (-INFINITY, role Started)
    clear(config, rsc)               removes every cli-prefer-RSC / cli-ban-RSC-on-* constraint
    set_meta(config, rsc, name, v)   a meta attribute of a resource (target-role, is-managed
                                     ...), wherever the resource sits (group, clone)

The constraint ids are the ones operators and tools know (research/ocf-fence-cli.md: keep
`cli-prefer-<rsc>` and `cli-ban-<rsc>-on-<node>` identical). Each function returns a new
configuration or raises `EditError` with a one-line reason; nothing else changes.
"""

from __future__ import annotations

from dataclasses import replace

from raftha.model.config import Clone, Configuration, Group, LocationConstraint, Primitive

Resource = Primitive | Group | Clone


class EditError(ValueError):
    """An edit that cannot be made; the message is a one-line reason."""


def require_resource(configuration: Configuration, resource_id: str) -> None:
    if configuration.find_resource(resource_id) is None:
        raise EditError(f"no resource {resource_id!r} in the configuration")


def prefer_id(resource_id: str) -> str:
    return f"cli-prefer-{resource_id}"


def ban_id(resource_id: str, node: str) -> str:
    return f"cli-ban-{resource_id}-on-{node}"


def with_location(configuration: Configuration,
                  constraint: LocationConstraint) -> Configuration:
    others = tuple(item for item in configuration.constraints if item.id != constraint.id)
    return replace(configuration, constraints=(*others, constraint))


def move(configuration: Configuration, resource_id: str, node: str) -> Configuration:
    require_resource(configuration, resource_id)
    constraint = LocationConstraint(id=prefer_id(resource_id), resource=resource_id,
                                    node=node, score="INFINITY", role="Started")
    return with_location(configuration, constraint)


def ban(configuration: Configuration, resource_id: str, node: str) -> Configuration:
    require_resource(configuration, resource_id)
    constraint = LocationConstraint(id=ban_id(resource_id, node), resource=resource_id,
                                    node=node, score="-INFINITY", role="Started")
    return with_location(configuration, constraint)


def clear(configuration: Configuration, resource_id: str) -> Configuration:
    require_resource(configuration, resource_id)
    ban_prefix = f"cli-ban-{resource_id}-on-"
    kept = tuple(item for item in configuration.constraints
                 if item.id != prefer_id(resource_id) and not item.id.startswith(ban_prefix))
    if len(kept) == len(configuration.constraints):
        raise EditError(f"resource {resource_id!r} has no move or ban constraints")
    return replace(configuration, constraints=kept)


def with_meta_pair(meta: tuple[tuple[str, str], ...], name: str,
                   value: str | None) -> tuple[tuple[str, str], ...]:
    kept = tuple((key, old) for key, old in meta if key != name)
    return kept if value is None else (*kept, (name, value))


def resource_with_meta(resource: Resource, resource_id: str, name: str,
                       value: str | None) -> Resource:
    if resource.id == resource_id:
        return replace(resource, meta=with_meta_pair(resource.meta, name, value))
    if isinstance(resource, Group):
        return replace(resource, members=tuple(
            resource_with_meta(member, resource_id, name, value) for member in resource.members))
    if isinstance(resource, Clone):
        return replace(resource, child=resource_with_meta(resource.child, resource_id, name,
                                                          value))
    return resource


def set_meta(configuration: Configuration, resource_id: str, name: str,
             value: str | None) -> Configuration:
    """Sets (or with value None removes) a meta attribute of one resource."""
    require_resource(configuration, resource_id)
    return replace(configuration, resources=tuple(
        resource_with_meta(resource, resource_id, name, value)
        for resource in configuration.resources))
