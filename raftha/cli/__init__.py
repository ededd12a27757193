"""The `raftha` command line: thin renderers over the node daemon's Control API.

Every client command takes `--socket PATH` (or env RAFTHA_SOCKET); failures print one line
on stderr and exit non-zero. Command modules live beside this file, one area each; to add
one, define a click command or group there and add it to `COMMANDS` below.
"""

from __future__ import annotations

import sys

import click

import raftha
from raftha.cli.acl import acl_group
from raftha.cli.cib_commands import cib_group
from raftha.cli.cluster import cluster_group, node_group
from raftha.cli.completion import completion_command
from raftha.cli.configure import configure_group
from raftha.cli.demo import demo_command
from raftha.cli.examples import add_examples
from raftha.cli.fence import fence_group, node_fence_command
from raftha.cli.key_rotation import rotate_key_command
from raftha.cli.operator_commands import CLUSTER_COMMANDS, NODE_COMMANDS
from raftha.cli.property import property_group
from raftha.cli.resource import resource_group
from raftha.cli.resource_ops import RESOURCE_OPERATION_COMMANDS
from raftha.cli.sandbox_commands import sandbox_group
from raftha.cli.simulate import simulate_command
from raftha.cli.status import history_command, status_command
from raftha.cli.why import explain_command, why_moved_command


class OneLineErrors(click.Group):
    """A click group whose usage errors are one line on stderr, like every other error."""

    def main(self, *args, **kwargs):  # type: ignore[override]
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.UsageError as error:
            hint = f"; see '{error.ctx.command_path} --help'" if error.ctx else ""
            click.echo(f"raftha: {error.format_message().rstrip('.')}{hint}", err=True)
            sys.exit(error.exit_code)
        except click.ClickException as error:
            click.echo(f"raftha: {error.format_message()}", err=True)
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("raftha: aborted", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(raftha.__version__, prog_name="raftha")
def main() -> None:
    """raftha: a high-availability cluster resource manager over a Raft event log."""


COMMANDS: list[click.Command] = [
    status_command,
    history_command,
    property_group,
    configure_group,
    resource_group,
    cluster_group,
    node_group,
    sandbox_group,
    demo_command,
    simulate_command,
    explain_command,
    fence_group,
    why_moved_command,
    cib_group,
    completion_command,
    acl_group,
    # Further command modules (fence ...) register here: import the click
    # command or group from its module and append it to this list.
]

for command in COMMANDS:
    main.add_command(command)
for command in RESOURCE_OPERATION_COMMANDS:
    resource_group.add_command(command)
node_group.add_command(node_fence_command)
for command in NODE_COMMANDS:
    node_group.add_command(command)
for command in CLUSTER_COMMANDS:
    cluster_group.add_command(command)
cluster_group.add_command(rotate_key_command)
add_examples(main)  # last: every command is registered by now
