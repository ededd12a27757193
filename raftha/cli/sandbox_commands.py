"""`raftha sandbox up|down|status|kill|start`: a local cluster of real daemons on loopback."""

from __future__ import annotations

import click

from raftha.cli.common import fail
from raftha.daemon.config import ConfigError
from raftha.sandbox import Sandbox, SandboxError

dir_option = click.option("--dir", "directory", required=True,
                          type=click.Path(file_okay=False),
                          help="The sandbox directory (configs, data, sockets, logs).")


@click.group("sandbox")
def sandbox_group() -> None:
    """Run a local N-node cluster on loopback (no root needed)."""


@sandbox_group.command("up")
@dir_option
@click.option("--nodes", "node_count", type=click.IntRange(1, 15), default=3, show_default=True)
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=1), default=60.0,
              show_default=True, help="Seconds to wait for quorum and every node online.")
@click.option("--fencing", is_flag=True, default=False,
              help="Configure a fence_raftha_sandbox device for every node, enable fencing.")
def sandbox_up(directory: str, node_count: int, timeout_s: float, fencing: bool) -> None:
    """Start the nodes; print NAME SOCKET RAFT_HOST:PORT per node once ready."""
    try:
        sandbox = Sandbox(directory)
        sandbox.up(node_count, timeout_s, fencing=fencing)
    except (SandboxError, ConfigError) as error:
        fail(str(error))
    for line in sandbox.describe():
        click.echo(line)


@sandbox_group.command("down")
@dir_option
def sandbox_down(directory: str) -> None:
    """Stop every node of the sandbox (the files stay)."""
    try:
        Sandbox(directory).down()
    except SandboxError as error:
        fail(str(error))


@sandbox_group.command("status")
@dir_option
def sandbox_status(directory: str) -> None:
    """Show each node: running or stopped, socket, Raft address."""
    try:
        sandbox = Sandbox(directory)
        if not sandbox.exists:
            fail(f"no sandbox in {directory}")
        for name, node in sandbox.nodes.items():
            running = sandbox.is_running(name)
            pid = sandbox.pids.get(name) if running else None
            state = f"running (pid {pid})" if running else "stopped"
            click.echo(f"{name} {node.socket_path} {node.address} {state}")
    except SandboxError as error:
        fail(str(error))


def sandbox_node_command(action: str, help_text: str) -> click.Command:
    """`sandbox ACTION --dir DIR NAME`: the Sandbox method of that name on one node."""
    @click.command(action, help=help_text)
    @dir_option
    @click.argument("node", metavar="NAME")
    def command(directory: str, node: str) -> None:
        try:
            getattr(Sandbox(directory), action)(node)
        except SandboxError as error:
            fail(str(error))
    return command


for action_name, action_help in (
    ("kill", "kill -9 the node's process group."),
    ("start", "Start a stopped or killed node again (waits until its socket answers)."),
):
    sandbox_group.add_command(sandbox_node_command(action_name, action_help))
