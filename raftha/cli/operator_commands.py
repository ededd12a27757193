"""Node and cluster verbs operators know from crmsh and pcs, beside the core ones:

    raftha node utilization NODE set|delete|show [NAME] [VALUE]   node capacity (cpu, memory)
    raftha node unstandby|unmaintenance NODE                      pcs names of online|ready
    raftha cluster status                                         the Raft membership view
                                                                  (corosync-cfgtool -s)
    raftha cluster start|stop [NODE|--all] --sandbox DIR          start or stop node daemons
                                                                  of a local sandbox, or the
                                                                  raftha systemd unit here

Each change is one committed event; `cluster stop` is a clean stop (the node records it and
its resources move away before it leaves).
"""

from __future__ import annotations

import shutil
import subprocess

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

SYSTEMCTL_TIMEOUT_S = 120
SYSTEMD_UNIT = "raftha.service"


@click.command("utilization")
@socket_option
@node_set_delete_show_arguments
def node_utilization(socket_path: str, node: str, action: str, name: str | None,
                     value: str | None) -> None:
    """Set, delete or show a node's utilization (capacity for placement-strategy).

    \b
    Examples:
      raftha node utilization node1 set cpu 8
      raftha node utilization node1 show
      raftha node utilization node1 delete cpu
    """
    if action == "show":
        configuration = call(socket_path, "configure_show")["configuration"]
        for item in configuration.get("nodes", []):
            if item["name"] == node:
                for key, old in item.get("utilization", []):
                    if name is None or key == name:
                        click.echo(f"{key}={old}")
        return
    if name is None or (action == "set" and value is None):
        raise click.UsageError("expected NODE set NAME VALUE or NODE delete NAME")
    result = call(socket_path, "node_utilization", node=node, name=name,
                  value=value if action == "set" else None)
    words = f"{name}={value}" if action == "set" else f"{name} removed"
    report_committed(result, f"node {node} utilization {words}")


def attribute_alias(alias: str, target: str, help_text: str) -> click.Command:
    @click.command(alias, help=f"{help_text}\n\n\b\nExample:\n  raftha node {alias} node2")
    @socket_option
    @click.argument("node")
    @click.pass_context
    def command(context: click.Context, socket_path: str, node: str) -> None:
        from raftha.cli.cluster import node_group
        context.invoke(node_group.commands[target], socket_path=socket_path, node=node)
    return command


NODE_COMMANDS = (
    node_utilization,
    attribute_alias("unstandby", "online", "pcs name of `node online`: standby off."),
    attribute_alias("unmaintenance", "ready", "pcs name of `node ready`: maintenance off."),
)


@click.command("status")
@socket_option
@output_option
def cluster_status(socket_path: str, output_format: str) -> None:
    """The membership and Raft view of the node answering (like corosync-cfgtool -s and
    pcs status corosync): leader, term, members and which of them it reaches.

    \b
    Example:
      raftha cluster status
    """
    raft = call(socket_path, "raft_status")
    info = call(socket_path, "cluster_info")
    if output_format == "json":
        print_json({"raft": raft, "cluster": info})
        return
    connected = set(raft.get("connected_peers") or [])
    self_address = raft.get("self_address")
    names = {member["address"]: member["name"] for member in info["members"]}
    leader = names.get(raft.get("leader"), raft.get("leader"))
    click.echo(f"Cluster {info['name']} (id {info['id']})")
    click.echo(f"  leader: {leader or 'NONE'}  term: {raft.get('term')}  "
               f"commit index: {raft.get('commit_index')}  "
               f"quorum: {'yes' if raft.get('has_quorum') else 'NO'}")
    click.echo("Members:")
    for member in info["members"]:
        address = member["address"]
        if address == self_address:
            link = "this node"
        else:
            link = "connected" if address in connected else "NOT connected"
        click.echo(f"  * {member['name']:<16} {address:<24} {link}")


def sandbox_nodes(directory: str, node: str | None, all_nodes: bool):
    from raftha.sandbox import Sandbox, SandboxError
    try:
        sandbox = Sandbox(directory)
    except SandboxError as error:
        fail(str(error))
    if not sandbox.exists:
        fail(f"no sandbox in {directory}")
    if all_nodes or node is None:
        return sandbox, list(sandbox.nodes)
    if node not in sandbox.nodes:
        fail(f"no node {node!r} in the sandbox {directory}")
    return sandbox, [node]


def systemctl(verb: str) -> None:
    if shutil.which("systemctl") is None:
        fail("systemctl not found: start the node with 'raftha node run --config FILE', or "
             "give --sandbox DIR")
    try:
        finished = subprocess.run(["systemctl", verb, SYSTEMD_UNIT], capture_output=True,
                                  text=True, timeout=SYSTEMCTL_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        fail(f"systemctl {verb} {SYSTEMD_UNIT} did not finish in {SYSTEMCTL_TIMEOUT_S} s")
    if finished.returncode != 0:
        fail(f"systemctl {verb} {SYSTEMD_UNIT}: "
             f"{(finished.stderr or finished.stdout).strip().splitlines()[-1:] or ['failed']}")


def lifecycle_command(verb: str) -> click.Command:
    @click.command(verb)
    @click.argument("node", required=False)
    @click.option("--all", "all_nodes", is_flag=True, help="Every node (of the sandbox).")
    @click.option("--sandbox", "directory", default=None, type=click.Path(file_okay=False),
                  help="Act on the node daemons of this local sandbox.")
    def command(node: str | None, all_nodes: bool, directory: str | None) -> None:
        from raftha.sandbox import SandboxError
        if directory is None:
            if node is not None or all_nodes:
                fail("without --sandbox, start/stop act on this machine's raftha unit only")
            systemctl(verb)
            click.echo(f"{SYSTEMD_UNIT}: {verb} done")
            return
        sandbox, names = sandbox_nodes(directory, node, all_nodes)
        for name in names:
            try:
                if verb == "start":
                    sandbox.start(name)
                else:
                    sandbox.stop(name)
            except SandboxError as error:
                fail(f"{name}: {error}")
            click.echo(f"{name}: {'started' if verb == 'start' else 'stopped'}")

    command.help = (f"{verb.capitalize()} node daemons: this machine's {SYSTEMD_UNIT}, or with "
                    f"--sandbox DIR a node (or --all) of a local sandbox."
                    f"\n\n\b\nExamples:\n  raftha cluster {verb} --sandbox /tmp/sb node2\n"
                    f"  raftha cluster {verb} --sandbox /tmp/sb --all\n"
                    f"  raftha cluster {verb}                  # systemctl {verb} raftha")
    return command


CLUSTER_COMMANDS = (cluster_status, lifecycle_command("start"), lifecycle_command("stop"))
