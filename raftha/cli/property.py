"""`raftha property set|unset|show`: cluster properties (Pacemaker's crm_config options)."""

from __future__ import annotations

import click

from raftha.cli.common import call, fail, output_option, print_json, report_committed, socket_option
from raftha.model.properties import PROPERTY_SPECS


@click.group("property")
def property_group() -> None:
    """Set, unset and show cluster properties (e.g. stonith-enabled=false)."""


@property_group.command("set")
@socket_option
@click.argument("assignments", nargs=-1, required=True)
def property_set(socket_path: str, assignments: tuple[str, ...]) -> None:
    """Set NAME=VALUE (several may be given; each is one committed event)."""
    pairs = []
    for assignment in assignments:
        name, separator, value = assignment.partition("=")
        if not separator or not name:
            fail(f"expected NAME=VALUE, got {assignment!r}")
        pairs.append((name, value))
    for name, value in pairs:
        result = call(socket_path, "property_set", name=name, value=value)
        report_committed(result, f"{name}={value}")


@property_group.command("unset")
@socket_option
@click.argument("name")
def property_unset(socket_path: str, name: str) -> None:
    """Remove a property, so its default applies again."""
    result = call(socket_path, "property_unset", name=name)
    report_committed(result, f"{name} unset")


@property_group.command("show")
@socket_option
@output_option
@click.option("--all", "show_all", is_flag=True,
              help="Also list every known property that is not set, with its default.")
@click.option("--local", "local", is_flag=True,
              help="Answer from this node's view at once, even without a quorum (may be "
                   "stale). By default the read is consistent: it reflects every write "
                   "acknowledged before it, and fails with 'no quorum' when it cannot.")
def property_show(socket_path: str, output_format: str, show_all: bool, local: bool) -> None:
    """Show the properties that are set (with --all, the defaults of the others too)."""
    # The daemon reads consistently unless told otherwise.
    options = {"consistent": False} if local else {}
    properties = call(socket_path, "property_show", **options)["properties"]
    if show_all:
        defaults = {name: spec.default for name, spec in PROPERTY_SPECS.items()
                    if name not in properties and not spec.read_only}
    else:
        defaults = {}
    if output_format == "json":
        print_json({**defaults, **properties} if show_all else properties)
        return
    if not properties and not show_all:
        click.echo("(no cluster properties set; Pacemaker defaults apply)")
    for name in sorted({*properties, *defaults}):
        if name in properties:
            click.echo(f"{name}={properties[name]}")
        else:
            click.echo(f"{name}={defaults[name]} (default)")
