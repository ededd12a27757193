"""Single objects of a configuration: `configure show|edit|delete ID...`.

    show_objects(configuration, ids)   crm text of just those objects (resources, constraints,
                                       tags), in configuration order
    edit_objects(configuration, ids, edited_text)
                                       the configuration after that text was edited: objects
                                       in it replace or join the configuration, shown objects
                                       taken out of it are deleted
    delete_objects(configuration, ids, force)
                                       the configuration without them; a resource still named
                                       by a constraint is refused unless force, which also
                                       removes those constraints (crm's `delete --force`)

A group member is taken out of its group (a group left empty goes too); the child of a clone
goes with its clone. Errors are one-line ObjectError messages.
"""

from __future__ import annotations

from dataclasses import replace

from raftha.crmsh import (
    merge_update,
    parse_configuration,
    render_configuration,
    resources_without,
)
from raftha.model.config import (
    Configuration,
    constraint_resources,
    walk_resource,
)


class ObjectError(ValueError):
    """An object request that cannot be served; the message is one line."""


def known_ids(configuration: Configuration) -> set[str]:
    ids = {item.id for resource in configuration.resources for item in walk_resource(resource)}
    ids |= {constraint.id for constraint in configuration.constraints}
    ids |= {tag.id for tag in configuration.tags}
    return ids


def require_known(configuration: Configuration, ids: tuple[str, ...]) -> None:
    unknown = [item for item in ids if item not in known_ids(configuration)]
    if unknown:
        raise ObjectError(f"no object {unknown[0]!r} in the configuration")


def selected_objects(configuration: Configuration, ids: tuple[str, ...]) -> Configuration:
    """Just the named objects; a nested resource brings the group or clone holding it."""
    require_known(configuration, ids)
    wanted = set(ids)
    return replace(
        Configuration(),
        resources=tuple(resource for resource in configuration.resources
                        if wanted & {item.id for item in walk_resource(resource)}),
        constraints=tuple(item for item in configuration.constraints if item.id in wanted),
        tags=tuple(tag for tag in configuration.tags if tag.id in wanted),
    )


def show_objects(configuration: Configuration, ids: tuple[str, ...]) -> str:
    return render_configuration(selected_objects(configuration, ids))


def edit_objects(configuration: Configuration, ids: tuple[str, ...],
                 edited_text: str) -> tuple[Configuration, frozenset[str]]:
    """`configure edit ID...`: the configuration after the edited text of the objects
    `show_objects` printed, and the ids of the shown objects the text no longer defines.
    Objects in the text replace those with the same id (new ones are added, as with
    `load update`); shown objects left out of the text are deleted (refused while a
    constraint still names them). Raises CrmSyntaxError or ObjectError."""
    shown = known_ids(selected_objects(configuration, ids))
    edited = parse_configuration(edited_text, base=configuration)
    gone = frozenset(shown - known_ids(edited))
    merged = merge_update(configuration, edited)
    # A member left out of its edited group is gone already; delete what is still there.
    remaining = tuple(sorted(gone & known_ids(merged)))
    if remaining:
        merged = delete_objects(merged, remaining, force=False)
    return merged, gone


def delete_objects(configuration: Configuration, ids: tuple[str, ...],
                   force: bool) -> Configuration:
    require_known(configuration, ids)
    gone = set(ids)
    for resource in configuration.resources:
        if resource.id in gone:  # a clone or group takes what it holds with it
            gone.update(item.id for item in walk_resource(resource))
    constraints = [item for item in configuration.constraints if item.id not in gone]
    dependent = [item for item in constraints if set(constraint_resources(item)) & gone]
    if dependent and not force:
        names = ", ".join(item.id for item in dependent)
        raise ObjectError(f"still referenced by {names}; delete those first or use --force")
    return replace(
        configuration,
        resources=resources_without(configuration.resources, gone),
        constraints=tuple(item for item in constraints if item not in dependent),
        tags=tuple(tag for tag in configuration.tags if tag.id not in gone),
    )
