"""`raftha cluster init|join|remove|members` and `raftha node run`.

`cluster init` writes every node's configuration and the authkey; the nodes then start
with `raftha node run --config DIR/NAME/node.toml`, and the first leader records the
cluster's creation in the log. `cluster join` writes a new node's configuration and adds it
through a running member (Raft membership change + NodeJoined event); `cluster remove` is
the reverse (NodeLeft).
"""

from __future__ import annotations

import pathlib
import sys

import click

from raftha.cli.common import (
    call,
    fail,
    node_set_delete_show_arguments,
    output_option,
    print_json,
    report_committed,
    socket_option,
)
from raftha.daemon.bootstrap import AUTHKEY_FILE_NAME, init_cluster, write_joining_node
from raftha.daemon.config import ConfigError, parse_member


@click.group("cluster")
def cluster_group() -> None:
    """Create a cluster, add and remove nodes."""


def parse_members(values: tuple[str, ...], option: str) -> list[tuple[str, str]]:
    try:
        return [parse_member(value, option) for value in values]
    except ConfigError as error:
        fail(str(error))


@cluster_group.command("init")
@click.option("--name", "cluster_name", required=True, help="Cluster name.")
@click.option("--node", "nodes", multiple=True, required=True, metavar="NAME=HOST:PORT",
              help="A member and its Raft address (repeat for every node).")
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False),
              help="Where to write DIR/authkey and DIR/NAME/node.toml.")
def cluster_init(cluster_name: str, nodes: tuple[str, ...], directory: str) -> None:
    """Write per-node configuration files and a new 256-bit authkey (mode 0600)."""
    members = parse_members(nodes, "--node")
    try:
        written = init_cluster(pathlib.Path(directory), cluster_name, members)
    except ConfigError as error:
        fail(str(error))
    click.echo(f"authkey: {pathlib.Path(directory) / AUTHKEY_FILE_NAME} (keep it secret; "
               "copy it to every node)")
    for files in written:
        click.echo(f"{files.name} {files.config_path} {files.address}")
    click.echo("start each node with: raftha node run --config DIR/NAME/node.toml")


@cluster_group.command("join")
@socket_option
@click.argument("member", metavar="NAME=HOST:PORT")
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False),
              help="Where to write DIR/NAME/node.toml for the new node.")
@click.option("--authkey", "authkey_file", type=click.Path(dir_okay=False), default=None,
              help="The cluster's authkey file (default DIR/authkey).")
def cluster_join(socket_path: str, member: str, directory: str, authkey_file: str | None) -> None:
    """Add a new node through the running member at --socket, then start it."""
    name, address = parse_members((member,), "NAME=HOST:PORT")[0]
    info = call(socket_path, "cluster_info")
    members = [(item["name"], item["address"]) for item in info["members"]]
    key_path = pathlib.Path(authkey_file) if authkey_file else (
        pathlib.Path(directory) / AUTHKEY_FILE_NAME)
    try:
        files = write_joining_node(pathlib.Path(directory), name, address, info["name"],
                                   info["id"], members, key_path)
    except ConfigError as error:
        fail(str(error))
    result = call(socket_path, "node_add", name=name, address=address)
    click.echo(f"{name} joined at index {result['index']}; start it with: "
               f"raftha node run --config {files.config_path}")


@cluster_group.command("remove")
@socket_option
@click.argument("name")
@click.option("--force", is_flag=True,
              help="Remove it even though its committed history says it may still run "
                   "resources (they may then run twice).")
def cluster_remove(socket_path: str, name: str, force: bool) -> None:
    """Remove node NAME from the cluster. Stop its daemon first (its resources stop
    cleanly) or fence it: a node that may still run resources is refused."""
    arguments = {"force": True} if force else {}
    result = call(socket_path, "node_remove", name=name, **arguments)
    click.echo(f"{name} removed at index {result['index']}")


@cluster_group.command("members")
@socket_option
@output_option
def cluster_members(socket_path: str, output_format: str) -> None:
    """List members and their Raft addresses."""
    info = call(socket_path, "cluster_info")
    if output_format == "json":
        print_json(info)
        return
    for item in info["members"]:
        click.echo(f"{item['name']} {item['address']}")


@click.group("node")
def node_group() -> None:
    """Run a node daemon; standby, maintenance and other node attributes."""


def set_node_attribute(socket_path: str, node: str, name: str, value: str) -> None:
    result = call(socket_path, "node_attribute_set", node=node, name=name, value=value)
    report_committed(result, f"node {node}: {name}={value}")


def unset_node_attribute(socket_path: str, node: str, name: str) -> None:
    result = call(socket_path, "node_attribute_unset", node=node, name=name)
    report_committed(result, f"node {node}: {name} removed")


STANDBY_LIFETIMES = ("reboot", "forever")


@node_group.command("standby")
@socket_option
@click.argument("node")
@click.argument("lifetime_word", required=False, metavar="[reboot|forever]",
                type=click.Choice(STANDBY_LIFETIMES))
@click.option("--lifetime", type=click.Choice(STANDBY_LIFETIMES), default=None,
              help="forever (default): until `node online`; reboot: until `node online` "
                   "or until NODE rejoins the cluster.")
def node_standby(socket_path: str, node: str, lifetime_word: str | None,
                 lifetime: str | None) -> None:
    """Put NODE in standby: it may run no resources (node attribute standby=on).

    Lifetime as in crm node standby: forever sets the permanent node attribute; reboot a
    transient one (crm_attribute -l reboot), forgotten when NODE rejoins the cluster.

    \b
    Examples:
      raftha node standby node2
      raftha node standby node2 reboot      # or: --lifetime reboot
    """
    if (lifetime or lifetime_word or "forever") == "forever":
        set_node_attribute(socket_path, node, "standby", "on")
        return
    result = call(socket_path, "attribute_update", node=node, name="standby", value="on",
                  lifetime="reboot")
    click.echo(f"node {node}: standby=on until it rejoins the cluster "
               f"({committed_words(result['index'])})")


@node_group.command("online")
@socket_option
@click.argument("node")
def node_online(socket_path: str, node: str) -> None:
    """Take NODE out of standby, whatever its lifetime."""
    set_node_attribute(socket_path, node, "standby", "off")
    result = call(socket_path, "attribute_update", node=node, name="standby", value=None,
                  lifetime="reboot")
    if result["index"] is not None:
        click.echo(f"node {node}: standby until reboot removed "
                   f"({committed_words(result['index'])})")


def committed_words(index: int | None) -> str:
    return "already so" if index is None else f"committed at index {index}"


def node_attribute_command(name: str, attribute: str, value: str,
                           help_text: str) -> click.Command:
    @click.command(name, help=help_text)
    @socket_option
    @click.argument("node")
    def command(socket_path: str, node: str) -> None:
        set_node_attribute(socket_path, node, attribute, value)
    return command


for command_name, attribute_name, attribute_value, text in (
    ("maintenance", "maintenance", "true",
     "Put NODE in maintenance: its resources are left alone (maintenance=true)."),
    ("ready", "maintenance", "false", "Take NODE out of maintenance."),
):
    node_group.add_command(node_attribute_command(command_name, attribute_name,
                                                  attribute_value, text))


@node_group.command("attribute")
@socket_option
@node_set_delete_show_arguments
def node_attribute(socket_path: str, node: str, action: str, name: str | None,
                   value: str | None) -> None:
    """Permanent node attributes: NODE set NAME VALUE | delete NAME | show [NAME]."""
    if action == "set":
        if name is None or value is None:
            fail("usage: raftha node attribute NODE set NAME VALUE")
        set_node_attribute(socket_path, node, name, value)
    elif action == "delete":
        if name is None or value is not None:
            fail("usage: raftha node attribute NODE delete NAME")
        unset_node_attribute(socket_path, node, name)
    else:
        nodes = call(socket_path, "status")["nodes"]
        if node not in nodes:
            fail(f"node {node!r} is not a member of the cluster")
        attributes = nodes[node].get("attributes", {})
        for key in sorted(attributes):
            if name is None or key == name:
                click.echo(f"{key}={attributes[key]}")


@node_group.command("run")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="The node's TOML configuration.")
def node_run(config_path: str) -> None:
    """Run this node's daemon in the foreground (until SIGTERM/SIGINT)."""
    from raftha.daemon.node import run_node
    sys.exit(run_node(config_path))


@node_group.command("resync")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="The node's TOML configuration.")
def node_resync(config_path: str) -> None:
    """Rebuild a stopped node whose Raft data is damaged: its data is moved aside (kept for
    inspection) and the next start catches up from the cluster. One node at a time, while
    the others have a quorum."""
    from raftha.daemon.config import load_node_config
    from raftha.daemon.resync import ResyncError, resync_data
    try:
        result = resync_data(load_node_config(config_path))
    except (ConfigError, ResyncError) as error:
        fail(str(error))
    click.echo(f"moved {' '.join(result.moved)} to {result.moved_to}")
    click.echo(f"start the node (raftha node run --config {config_path}); it catches up "
               "from the cluster")
