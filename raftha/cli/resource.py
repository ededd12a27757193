"""`raftha resource move|ban|clear|start|stop|manage|unmanage|meta`: operator edits of
resources, with the constraint ids and meta attributes crmsh and pcs use.

move/ban add `cli-prefer-RSC` / `cli-ban-RSC-on-NODE` location constraints that stay until
`raftha resource clear RSC` (crmsh's behaviour); start/stop set meta target-role;
manage/unmanage set meta is-managed. Each is one committed configuration change.
"""

from __future__ import annotations

import click

from raftha.cli.common import call, socket_option


@click.group("resource")
def resource_group() -> None:
    """Move, ban, start, stop and (un)manage resources."""


def report(result: dict, what: str) -> None:
    click.echo(f"{what} (committed at index {result['index']})")


@resource_group.command("move")
@socket_option
@click.argument("resource")
@click.argument("node")
def resource_move(socket_path: str, resource: str, node: str) -> None:
    """Make RESOURCE prefer NODE (location cli-prefer-RESOURCE, INFINITY)."""
    report(call(socket_path, "resource_move", resource=resource, node=node),
           f"{resource} moves to {node}; 'raftha resource clear {resource}' removes the "
           "constraint")


@resource_group.command("ban")
@socket_option
@click.argument("resource")
@click.argument("node")
def resource_ban(socket_path: str, resource: str, node: str) -> None:
    """Keep RESOURCE off NODE (location cli-ban-RESOURCE-on-NODE, -INFINITY)."""
    report(call(socket_path, "resource_ban", resource=resource, node=node),
           f"{resource} banned from {node}")


@resource_group.command("clear")
@socket_option
@click.argument("resource")
def resource_clear(socket_path: str, resource: str) -> None:
    """Remove the move and ban constraints of RESOURCE."""
    report(call(socket_path, "resource_clear", resource=resource),
           f"move and ban constraints of {resource} removed")


def meta_command(name: str, attribute: str, value: str, help_text: str) -> click.Command:
    @click.command(name, help=help_text)
    @socket_option
    @click.argument("resource")
    def command(socket_path: str, resource: str) -> None:
        report(call(socket_path, "resource_meta", resource=resource, name=attribute,
                    value=value), f"{resource}: {attribute}={value}")
    return command


for command_name, meta_name, meta_value, text in (
    ("start", "target-role", "Started", "Let RESOURCE run (meta target-role=Started)."),
    ("stop", "target-role", "Stopped", "Stop RESOURCE (meta target-role=Stopped)."),
    ("manage", "is-managed", "true", "Manage RESOURCE again (meta is-managed=true)."),
    ("unmanage", "is-managed", "false",
     "Leave RESOURCE alone: no starts, stops or recovery (meta is-managed=false)."),
):
    resource_group.add_command(meta_command(command_name, meta_name, meta_value, text))


@resource_group.command("meta")
@socket_option
@click.argument("resource")
@click.argument("action", type=click.Choice(["set", "delete"]))
@click.argument("name")
@click.argument("value", required=False)
def resource_meta(socket_path: str, resource: str, action: str, name: str,
                  value: str | None) -> None:
    """Set or delete a meta attribute: RESOURCE set NAME VALUE | delete NAME."""
    if action == "set" and value is None:
        raise click.UsageError("set needs a VALUE")
    result = call(socket_path, "resource_meta", resource=resource, name=name,
                  value=value if action == "set" else None)
    report(result, f"{resource}: {name}={value}" if action == "set"
           else f"{resource}: {name} removed")


@resource_group.command("cleanup")
@socket_option
@click.argument("resource")
@click.option("--node", default=None, help="Only on this node (default: every node).")
def resource_cleanup(socket_path: str, resource: str, node: str | None) -> None:
    """Forget RESOURCE's failures and operation history, so it is probed again."""
    arguments = {"resource": resource} if node is None else {"resource": resource,
                                                              "node": node}
    report(call(socket_path, "resource_cleanup", **arguments),
           f"{resource} cleaned up" + (f" on {node}" if node else ""))
