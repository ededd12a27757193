"""`raftha resource failcount|restart`: operation results as operators know them from crm.

    raftha resource failcount RESOURCE [--node NODE]   fail counts per node and operation
    raftha resource restart RESOURCE [--timeout S]     stop (target-role=Stopped), wait
                                                       until stopped everywhere, start again

(`resource cleanup` lives with the other resource verbs.) restart waits on the committed
status, so it returns once the executors have really stopped the resource; a timeout
leaves target-role=Stopped set and says so.
"""

from __future__ import annotations

import time

import click

from raftha.cli.common import call, fail, output_option, print_json, socket_option

RESTART_TIMEOUT_S = 120.0


@click.command("failcount")
@socket_option
@output_option
@click.argument("resource")
@click.option("--node", default=None, help="Only this node.")
def resource_failcount(socket_path: str, output_format: str, resource: str,
                       node: str | None) -> None:
    """Show RESOURCE's fail counts per node and operation."""
    arguments = {"resource": resource} if node is None else {"resource": resource,
                                                              "node": node}
    rows = call(socket_path, "resource_failcount", **arguments)["failcounts"]
    if output_format == "json":
        print_json(rows)
        return
    if not rows:
        click.echo(f"No failures recorded for {resource}")
    for row in rows:
        click.echo(f"{row['resource']} on {row['node']}: {row['operation']} "
                   f"fail-count={row['count']} last-failure={row['last_failure'] or '-'}")


def instances_running(socket_path: str, resource: str) -> list[str]:
    resources = call(socket_path, "status")["resources"]
    return sorted({f"{instance}@{node}" for instance, view in resources.items()
                   if resource in (instance, view.get("primitive"), view.get("clone"),
                                   view.get("group"))
                   for node in view.get("nodes") or ([view["node"]] if view["node"] else [])})


@click.command("restart")
@socket_option
@click.argument("resource")
@click.option("--timeout", "timeout_s", type=float, default=RESTART_TIMEOUT_S,
              show_default=True, help="Seconds to wait for the stop.")
def resource_restart(socket_path: str, resource: str, timeout_s: float) -> None:
    """Stop RESOURCE everywhere, wait until it is stopped, then start it again."""
    call(socket_path, "resource_meta", resource=resource, name="target-role", value="Stopped")
    deadline = time.monotonic() + timeout_s
    while instances_running(socket_path, resource):
        if time.monotonic() > deadline:
            fail(f"{resource} did not stop within {timeout_s:.0f} s; it stays "
                 "target-role=Stopped ('raftha resource start' starts it)")
        time.sleep(0.2)
    result = call(socket_path, "resource_meta", resource=resource, name="target-role",
                  value="Started")
    click.echo(f"{resource} restarted (start committed at index {result['index']})")


RESOURCE_OPERATION_COMMANDS = (resource_failcount, resource_restart)
