"""`raftha resource move|ban|clear|start|stop|manage|unmanage|meta`: operator edits of
resources, with the constraint ids and meta attributes crmsh and pcs use.

move/ban add `cli-prefer-RSC` / `cli-ban-RSC-on-NODE` location constraints that stay until
`raftha resource clear RSC` (crmsh's behaviour), or until their `--lifetime` ends (the
cluster then removes them by itself); without a node, move and ban ban RSC from the one node
it runs on, with crm_resource's warning; start/stop set meta target-role; manage/unmanage set
meta is-managed; maintenance sets meta maintenance. Each is one committed configuration
change. pcs and old crm names are aliases: migrate (move), unmigrate/unban (clear),
enable/disable (start/stop).
"""

from __future__ import annotations

from collections.abc import Callable

import click

from raftha.cli.common import call, fail, report_committed, socket_option
from raftha.model.config_edits import ban_id


@click.group("resource")
def resource_group() -> None:
    """Move, ban, start, stop and (un)manage resources."""


def location_arguments(function: Callable) -> Callable:
    """RESOURCE [NODE] [LIFETIME] and --lifetime of move and ban."""
    for decorator in reversed((
        socket_option,
        click.argument("resource"),
        click.argument("node", required=False),
        click.argument("lifetime_word", required=False, metavar="[LIFETIME]"),
        click.option("--lifetime", default=None, metavar="DURATION",
                     help="The constraint expires by itself after this long (PT1H, 90s, 10m, "
                          "2h, 1d)."),
    )):
        function = decorator(function)
    return function


def lifetime_arguments(lifetime_word: str | None, lifetime: str | None) -> dict[str, str]:
    """The lifetime argument of a move or ban: --lifetime, or crm's trailing word."""
    lifetime = lifetime or lifetime_word
    return {"lifetime": lifetime} if lifetime else {}


def ban_warning(resource: str, node: str) -> str:
    """What crm_resource prints when it bans a resource from the node it runs on."""
    return (f"WARNING: Creating rsc_location constraint '{ban_id(resource, node)}' with a "
            f"score of -INFINITY for resource {resource} on {node}.\n"
            f"\tThis will prevent {resource} from running on {node} until the constraint is "
            f"removed using the clear option or by editing the CIB with an appropriate tool\n"
            f"\tThis will be the case even if {node} is the last node in the cluster")


def ban_from_current_node(socket_path: str, operation: str, resource: str,
                          arguments: dict[str, str]) -> None:
    result = call(socket_path, operation, resource=resource, **arguments)
    node = result["banned_node"]
    click.echo(ban_warning(resource, node))
    until = f" for {arguments['lifetime']}" if arguments else ""
    report_committed(result, f"{resource} banned from {node}{until}")


@resource_group.command("move")
@location_arguments
def resource_move(socket_path: str, resource: str, node: str | None, lifetime_word: str | None,
                  lifetime: str | None) -> None:
    """Make RESOURCE prefer NODE (location cli-prefer-RESOURCE, INFINITY).

    Without NODE, move RESOURCE away from the node it runs on: ban it there (location
    cli-ban-RESOURCE-on-NODE, -INFINITY), as crm_resource --move does; refused when it
    runs on no node or on several.

    The constraint stays until `resource clear`, or until its lifetime ends. Alias: migrate.

    \b
    Examples:
      raftha resource move WebSite node2
      raftha resource move WebSite node2 --lifetime 30m    # or: ... node2 PT30M (crm)
      raftha resource move WebSite                         # away from where it runs
    """
    arguments = lifetime_arguments(lifetime_word, lifetime)
    if node is None:
        ban_from_current_node(socket_path, "resource_move", resource, arguments)
        return
    until = f" for {arguments['lifetime']} (then the constraint goes away by itself)" if (
        arguments) else f"; 'raftha resource clear {resource}' removes the constraint"
    report_committed(call(socket_path, "resource_move", resource=resource, node=node, **arguments),
           f"{resource} moves to {node}{until}")


@resource_group.command("ban")
@location_arguments
def resource_ban(socket_path: str, resource: str, node: str | None, lifetime_word: str | None,
                 lifetime: str | None) -> None:
    """Keep RESOURCE off NODE (location cli-ban-RESOURCE-on-NODE, -INFINITY).

    The ban holds even if NODE is the last node left. Without NODE, the node RESOURCE runs
    on (crm_resource --ban). Lifetime as for move.

    \b
    Examples:
      raftha resource ban WebSite node1
      raftha resource ban WebSite node1 --lifetime 1h
    """
    arguments = lifetime_arguments(lifetime_word, lifetime)
    if node is None:
        ban_from_current_node(socket_path, "resource_ban", resource, arguments)
        return
    until = f" for {arguments['lifetime']}" if arguments else ""
    report_committed(call(socket_path, "resource_ban", resource=resource, node=node, **arguments),
           f"{resource} banned from {node}{until}")


@resource_group.command("clear")
@socket_option
@click.argument("resource")
def resource_clear(socket_path: str, resource: str) -> None:
    """Remove the move and ban constraints of RESOURCE. Aliases: unmigrate, unban.

    \b
    Example:
      raftha resource clear WebSite
    """
    report_committed(call(socket_path, "resource_clear", resource=resource),
           f"move and ban constraints of {resource} removed")


def meta_command(name: str, attribute: str, value: str, help_text: str) -> click.Command:
    help_text += f"\n\n\b\nExample:\n  raftha resource {name} WebSite"

    @click.command(name, help=help_text)
    @socket_option
    @click.argument("resource")
    def command(socket_path: str, resource: str) -> None:
        report_committed(call(socket_path, "resource_meta", resource=resource, name=attribute,
                    value=value), f"{resource}: {attribute}={value}")
    return command


for command_name, meta_name, meta_value, text in (
    ("start", "target-role", "Started", "Let RESOURCE run (meta target-role=Started)."),
    ("stop", "target-role", "Stopped", "Stop RESOURCE (meta target-role=Stopped)."),
    ("manage", "is-managed", "true", "Manage RESOURCE again (meta is-managed=true)."),
    ("unmanage", "is-managed", "false",
     "Leave RESOURCE alone: no starts, stops or recovery (meta is-managed=false)."),
    ("enable", "target-role", "Started", "pcs name of start (meta target-role=Started)."),
    ("disable", "target-role", "Stopped", "pcs name of stop (meta target-role=Stopped)."),
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
    """Set or delete a meta attribute: RESOURCE set NAME VALUE | delete NAME.

    \b
    Examples:
      raftha resource meta WebSite set resource-stickiness 200
      raftha resource meta WebSite delete resource-stickiness
    """
    if action == "set" and value is None:
        raise click.UsageError("set needs a VALUE")
    result = call(socket_path, "resource_meta", resource=resource, name=name,
                  value=value if action == "set" else None)
    report_committed(result, f"{resource}: {name}={value}" if action == "set"
           else f"{resource}: {name} removed")


@resource_group.command("cleanup")
@socket_option
@click.argument("resource")
@click.option("--node", default=None, help="Only on this node (default: every node).")
def resource_cleanup(socket_path: str, resource: str, node: str | None) -> None:
    """Forget RESOURCE's failures and operation history, so it is probed again.

    \b
    Examples:
      raftha resource cleanup WebSite
      raftha resource cleanup WebSite --node node2
    """
    arguments = {"resource": resource} if node is None else {"resource": resource,
                                                              "node": node}
    report_committed(call(socket_path, "resource_cleanup", **arguments),
           f"{resource} cleaned up" + (f" on {node}" if node else ""))


@resource_group.command("refresh")
@socket_option
@click.argument("resource")
@click.option("--node", default=None, help="Only on this node (default: every node).")
@click.pass_context
def resource_refresh(context: click.Context, socket_path: str, resource: str,
                     node: str | None) -> None:
    """Forget all of RESOURCE's operation history and probe it again (crm_resource -R).

    raftha keeps no other history than what cleanup forgets, so refresh and cleanup do the
    same thing.

    \b
    Example:
      raftha resource refresh WebSite
    """
    context.invoke(resource_cleanup, socket_path=socket_path, resource=resource, node=node)


@resource_group.command("maintenance")
@socket_option
@click.argument("resource")
@click.argument("state", type=click.Choice(["on", "off"]), default="on", required=False)
def resource_maintenance(socket_path: str, resource: str, state: str) -> None:
    """Put RESOURCE in maintenance (on) or take it out (off): monitors pause and the
    cluster neither starts nor stops it (meta maintenance).

    \b
    Examples:
      raftha resource maintenance WebSite
      raftha resource maintenance WebSite off
    """
    value = "true" if state == "on" else None
    report_committed(call(socket_path, "resource_meta", resource=resource, name="maintenance",
                value=value), f"{resource}: maintenance {state}")


@resource_group.command("describe")
@click.argument("agent")
def resource_describe(agent: str) -> None:
    """Describe a resource agent from its meta-data: parameters and default timeouts.

    \b
    Examples:
      raftha resource describe ocf:heartbeat:IPaddr2
      raftha resource describe IPaddr2          # ocf:heartbeat is assumed
    """
    from raftha.agents.metadata import MetadataError
    from raftha.agents.runner import AgentRunner
    from raftha.agents.spec import AgentSpec, AgentSpecError

    text = agent if ":" in agent else f"ocf:heartbeat:{agent}"
    try:
        metadata = AgentRunner().metadata(AgentSpec.parse(text, "describe"))
    except (AgentSpecError, MetadataError) as error:
        fail(f"{text}: {error}")
    click.echo(f"{text} - {metadata.shortdesc}".rstrip(" -"))
    if metadata.longdesc:
        import textwrap
        click.echo("")
        click.echo(textwrap.fill(" ".join(metadata.longdesc.split()), width=80))
    click.echo("")
    click.echo("Resource options:")
    for parameter in metadata.parameters:
        flags = " (required)" if parameter.required else ""
        default = f" [default: {parameter.default}]" if parameter.default else ""
        click.echo(f"  {parameter.name}{flags}{default}")
        description = getattr(parameter, "shortdesc", "") or ""
        if description:
            click.echo(f"      {description.strip()}")
    click.echo("")
    click.echo("Default operations:")
    for action in metadata.actions:
        timing = []
        if action.interval_ms:
            timing.append(f"interval={action.interval_ms // 1000}s")
        if action.timeout_ms:
            timing.append(f"timeout={action.timeout_ms // 1000}s")
        role = f" role={action.role}" if action.role else ""
        click.echo(f"  {action.name}{role} {' '.join(timing)}".rstrip())


for alias, target in (("migrate", resource_move), ("unmigrate", resource_clear),
                      ("unban", resource_clear)):
    resource_group.add_command(target, alias)
