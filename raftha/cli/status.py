"""`raftha status` and `raftha history`: crm_mon-like views of the replicated state.

`status --output json` prints exactly the daemon's status document (DESIGN section 8);
`status --at INDEX` shows the state rebuilt from the node's history at that log index.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from raftha.cli.common import (
    call,
    format_time_ms,
    output_option,
    print_json,
    short_time_ms,
    socket_option,
)
from raftha.cli.fence import fencing_status_lines
from raftha.daemon.executor_views import render_operation_sections

NODE_STATE_WORDS = {"unclean": "UNCLEAN (offline)"}


def render_status(document: dict[str, Any]) -> str:
    cluster, nodes = document["cluster"], document["nodes"]
    lines = ["Cluster Summary:"]
    lines.append(f"  * Cluster name: {cluster['name'] or '(not created yet)'}")
    lines.append("  * Stack: raftha (Raft log)")
    lines.append(f"  * Last updated: {format_time_ms(time.time_ns() // 1_000_000)}")
    if cluster.get("at_index") is not None:
        lines.append(f"  * Rebuilt at log index {cluster['at_index']} (history view)")
    else:
        quorum = "partition with quorum" if cluster["quorum"] else "partition WITHOUT quorum"
        lines.append(f"  * Current leader: {cluster['leader'] or 'NONE'} - {quorum}")
        lines.append(f"  * Commit index: {cluster['commit_index']} "
                     f"(applied {cluster['applied_index']}, term {cluster['term']}, "
                     f"answered by {cluster['node']})")
    change = cluster.get("last_change")
    if change:
        lines.append(f"  * Last change:  {format_time_ms(change['ts_ms'])} by "
                     f"{change['user'] or 'raftha'} via {change['kind']} on {change['origin']}")
    lines.append(f"  * {len(nodes)} node{'s' if len(nodes) != 1 else ''} configured")
    resources = document.get("resources", {})
    lines.append(f"  * {len(resources)} resource instance"
                 f"{'s' if len(resources) != 1 else ''} configured")
    lines.append("")
    lines.append("Node List:")
    online = sorted(name for name, node in nodes.items() if node["state"] == "online")
    offline = sorted(name for name, node in nodes.items() if node["state"] == "offline")
    special = sorted((name, node["state"]) for name, node in nodes.items()
                     if node["state"] not in ("online", "offline"))
    if online:
        lines.append(f"  * Online: [ {' '.join(online)} ]")
    if offline:
        lines.append(f"  * OFFLINE: [ {' '.join(offline)} ]")
    lines.extend(f"  * Node {name}: {NODE_STATE_WORDS.get(state, state)}"
                 for name, state in special)
    # Nodes the committed state still calls online but this node cannot reach (the change
    # is not committed yet, or cannot be: no quorum).
    unreachable = sorted(name for name, node in nodes.items()
                         if node.get("reachable") is False and node["state"] == "online")
    if unreachable and cluster.get("at_index") is None:
        lines.append(f"  * Unreachable from {cluster['node']}: [ {' '.join(unreachable)} ]")
    lines.extend(fencing_status_lines(cluster.get("fencing")))
    properties = cluster.get("properties") or {}
    if properties:
        lines.append("")
        lines.append("Cluster Properties:")
        lines.extend(f"  * {name}={value}" for name, value in sorted(properties.items()))
    lines.append("")
    lines.append("Full List of Resources:")
    if not resources:
        lines.append("  * No resources")
    for resource_id, resource in sorted(resources.items()):
        where = f" {resource['node']}" if resource.get("node") else ""
        agent = f"\t({resource['agent']}):" if resource.get("agent") else ":"
        lines.append(f"  * {resource_id}{agent}\t {resource.get('role', 'Stopped')}{where}")
    lines.extend(render_operation_sections(document))
    return "\n".join(lines)


@click.command("status")
@socket_option
@output_option
@click.option("--at", "at_index", type=click.IntRange(min=0), default=None,
              help="Show the state as it was right after log index INDEX.")
def status_command(socket_path: str, output_format: str, at_index: int | None) -> None:
    """Show the cluster: leader, quorum, nodes, properties (like crm_mon -1)."""
    args = {} if at_index is None else {"at": at_index}
    document = call(socket_path, "status", **args)
    if output_format == "json":
        print_json(document)
    else:
        click.echo(render_status(document))


@click.command("history")
@socket_option
@output_option
@click.option("--limit", type=click.IntRange(min=1, max=100_000), default=100, show_default=True,
              help="Show at most this many of the latest events.")
@click.option("--all", "show_all", is_flag=True,
              help="Also show clock ticks (bookkeeping events).")
def history_command(socket_path: str, output_format: str, limit: int, show_all: bool) -> None:
    """List committed events: index, time, origin node, user, kind, summary."""
    result = call(socket_path, "history", limit=limit)
    events = result["events"]
    if output_format == "json":
        print_json(events)
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("INDEX", "TIME", "ORIGIN", "USER", "KIND"):
        table.add_column(column, no_wrap=True)
    table.add_column("SUMMARY", overflow="fold")
    for event in events:
        if not show_all and event["kind"] in ("ClockTicked",):
            continue
        summary = event["summary"]
        if event["status"] == "rejected":
            summary = f"{summary}  [REJECTED: {event['reason']}]"
        elif event["status"] == "duplicate":
            summary = f"{summary}  [duplicate, ignored]"
        table.add_row(str(event["index"]), short_time_ms(event["ts_ms"]), event["origin"],
                      event["user"] or "-", event["kind"] or "-", summary)
    # Piped output keeps one event per line for grep; a terminal gets its own width.
    width = None if sys.stdout.isatty() else 240
    console = Console(highlight=False, width=width)
    with console.capture() as capture:
        console.print(table)
    click.echo("\n".join(line.rstrip() for line in capture.get().splitlines()))
