"""`raftha status` and `raftha history`: crm_mon-like views of the replicated state.

`status --output json` prints exactly the daemon's status document (DESIGN section 8);
`status --at INDEX|TIME` shows the state rebuilt from the node's history at that log index
(or at the last entry committed by that time); `--watch` redraws until Ctrl-C. `history`
filters by resource (the events naming it and the configuration loads that changed it), node,
user, kind and time.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from raftha.cli.common import (
    DEFAULT_TIMEOUT_MS,
    call,
    fail,
    format_time_ms,
    output_option,
    print_json,
    short_time_ms,
    socket_option,
)
from raftha.cli.fence import fencing_status_lines
from raftha.cli.monitor import (
    fencing_history_lines,
    move_constraint_lines,
    node_attribute_lines,
    print_styled,
    resource_lines,
    watch,
)
from raftha.daemon.client import ApiError, ControlClient
from raftha.daemon.executor_views import render_operation_sections

NODE_STATE_WORDS = {"unclean": "UNCLEAN (offline)"}
HISTORY_RESOURCE_TIMEOUT_MS = 120_000


def render_status(document: dict[str, Any],
                  fence_history: list[dict[str, Any]] | None = None) -> str:
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
    disabled = sum(1 for resource in resources.values() if resource.get("disabled"))
    lines.append(f"  * {len(resources)} resource instance"
                 f"{'s' if len(resources) != 1 else ''} configured"
                 + (f" ({disabled} DISABLED)" if disabled else ""))
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
    active = {node for resource in resources.values()
              for node in resource.get("nodes") or ([resource["node"]] if resource.get("node")
                                                     else [])}
    lines.extend(f"  * Node {name}: {NODE_STATE_WORDS.get(state, state)}"
                 + (" (with active resources)" if state == "standby" and name in active else "")
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
    lines.extend(resource_lines(resources, sorted(nodes)))
    lines.extend(move_constraint_lines(cluster.get("move_constraints") or []))
    lines.extend(node_attribute_lines(nodes))
    lines.extend(render_operation_sections(document))
    lines.extend(fencing_history_lines(fence_history))
    return "\n".join(lines)


def index_at(socket_path: str, moment: str) -> int:
    """The log index of the last entry committed at or before `moment` (an index, an ISO
    time "2026-11-25T01:50:00", "01:50" today, or "-10m" for ten minutes ago)."""
    if moment.isdigit():
        return int(moment)
    limit_ms = parse_moment_ms(moment)
    events = call(socket_path, "history", limit=100_000)["events"]
    earlier = [event["index"] for event in events if event["ts_ms"] and event["ts_ms"] <= limit_ms]
    if not earlier:
        fail(f"no kept history entry at or before {moment}")
    return max(earlier)


def parse_moment_ms(moment: str) -> int:
    """Milliseconds since the epoch of an operator's time: ISO date and time (local time
    unless it ends in Z or an offset), HH:MM[:SS] today, or -N{s,m,h,d} ago."""
    import datetime
    import re

    relative = re.fullmatch(r"-(\d+)(s|m|h|d)", moment.strip())
    if relative:
        seconds = int(relative[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[relative[2]]
        return int((time.time() - seconds) * 1000)
    text = moment.strip().replace("Z", "+00:00")
    try:
        if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", text):
            today = datetime.date.today().isoformat()
            value = datetime.datetime.fromisoformat(f"{today}T{text}")
        else:
            value = datetime.datetime.fromisoformat(text)
    except ValueError:
        fail(f"cannot read the time {moment!r} (examples: 2026-11-25T01:50:00, 01:50, -10m, "
             "or a log index)")
    return int(value.timestamp() * 1000)


@click.command("status")
@socket_option
@output_option
@click.option("--at", "at_moment", default=None, metavar="INDEX|TIME",
              help="Time travel: the state right after log index INDEX, or as it was at TIME "
                   "(2026-11-25T01:50:00, 01:50, -10m).")
@click.option("-1", "--one-shot", "one_shot", is_flag=True,
              help="Print once and exit (the default; accepted as crm_mon's -1).")
@click.option("-w", "--watch", "watch_mode", is_flag=True,
              help="Redraw every --interval seconds until Ctrl-C.")
@click.option("-i", "--interval", "interval_s", type=click.FloatRange(min=0.5), default=2.0,
              show_default=True, help="Seconds between redraws with --watch.")
@click.option("--color/--no-color", "color", default=None,
              help="Colours (default: on a terminal only).")
@click.option("--consistent", "consistent", is_flag=True,
              help="Reflect every change acknowledged before the call (a committed read "
                   "barrier first; fails with 'no quorum' when it cannot). By default the "
                   "status is this node's own view, as crm_mon shows it, even without a "
                   "quorum.")
def status_command(socket_path: str, output_format: str, at_moment: str | None,
                   one_shot: bool, watch_mode: bool, interval_s: float,
                   color: bool | None, consistent: bool) -> None:
    """Show the cluster like crm_mon -1: summary with leader, quorum and last change, nodes,
    resources with groups and clones, move constraints, node attributes, fail counts,
    failed actions and fencing history.

    \b
    Examples:
      raftha status
      raftha status --watch -i 1
      raftha status --output json | jq .resources
      raftha status --at 120            # right after log index 120
      raftha status --at -15m           # as it was 15 minutes ago
    """
    args = {}
    if at_moment is not None:
        args["at"] = index_at(socket_path, at_moment)
        latest = call(socket_path, "status")["cluster"]["applied_index"]
        if args["at"] > latest:
            fail(f"index {args['at']} is in the future: this node has applied up to {latest}")
    if consistent and at_moment is None:
        args["consistent"] = True
    if output_format == "json":
        print_json(call(socket_path, "status", **args))
        return

    def fetch() -> str:
        document = call(socket_path, "status", **args)
        history = None
        if "at" not in args:
            # Fencing history is an extra section: a node that cannot answer it (an older
            # daemon, a refusal) still gets its status shown, without a second error line.
            try:
                with ControlClient(socket_path, DEFAULT_TIMEOUT_MS) as client:
                    history = client.call("fence_history").get("history")
            except ApiError:
                history = None
        return render_status(document, history)

    console = Console(highlight=False, force_terminal=color, no_color=color is False)
    if watch_mode and not one_shot:
        try:
            watch(fetch, interval_s, console)
        except KeyboardInterrupt:
            return
        return
    if console.is_terminal:
        print_styled(console, fetch())
    else:
        click.echo(fetch())


def mentions(text: str, word: str) -> bool:
    """`word` appears in `text` as a whole name (ids hold letters, digits, - _ . :), or
    inside the id of its move or ban constraint (cli-prefer-WORD, cli-ban-WORD-on-NODE)."""
    import re
    name = re.escape(word)
    return re.search(rf"(?<![\w.:-]){name}(?![\w.-])|cli-prefer-{name}(?![\w.-])|"
                     rf"cli-ban-{name}-on-", text) is not None


def filter_events(events: list[dict[str, Any]], *, resource: str | None = None,
                  node: str | None = None, user: str | None = None, kind: str | None = None,
                  since_ms: int | None = None, until_ms: int | None = None,
                  resource_changes: frozenset[int] = frozenset()) -> list[dict[str, Any]]:
    """The events every given filter keeps. An event is about `resource` when its summary
    names it or its index is among `resource_changes` (loads that changed the resource)."""
    kept = []
    for event in events:
        if resource is not None and event["index"] not in resource_changes and not mentions(
                event["summary"], resource):
            continue
        if node is not None and event["origin"] != node and not mentions(event["summary"], node):
            continue
        if user is not None and (event["user"] or "") != user:
            continue
        if kind is not None and event["kind"] != kind:
            continue
        if since_ms is not None and (event["ts_ms"] or 0) < since_ms:
            continue
        if until_ms is not None and (event["ts_ms"] or 0) > until_ms:
            continue
        kept.append(event)
    return kept


@click.command("history")
@socket_option
@output_option
@click.option("--limit", type=click.IntRange(min=1, max=100_000), default=100, show_default=True,
              help="Show at most this many of the latest events.")
@click.option("--all", "show_all", is_flag=True,
              help="Also show clock ticks (bookkeeping events).")
@click.option("--resource", "resource", default=None,
              help="Only events naming this resource, and configuration loads that changed "
                   "it (its definition, its group or clone, or a constraint naming it).")
@click.option("--node", "node", default=None,
              help="Only events about this node or proposed from it.")
@click.option("--user", "user", default=None, help="Only events caused by this OS user.")
@click.option("--kind", "kind", default=None, help="Only events of this kind (e.g. "
              "ConfigurationLoaded).")
@click.option("--since", "since", default=None, metavar="TIME",
              help="Only events at or after TIME (2026-11-25T01:50:00, 01:50, -10m).")
@click.option("--until", "until", default=None, metavar="TIME",
              help="Only events at or before TIME.")
def history_command(socket_path: str, output_format: str, limit: int, show_all: bool,
                    resource: str | None, node: str | None, user: str | None,
                    kind: str | None, since: str | None, until: str | None) -> None:
    """List committed events: index, time, origin node, user, kind, summary.

    Filters combine (all must match); --limit applies after filtering.

    \b
    Examples:
      raftha history --limit 20
      raftha history --resource WebSite --since -1h
      raftha history --user alice --kind ConfigurationLoaded --output json
    """
    filtering = any(value is not None for value in (resource, node, user, kind, since, until))
    arguments = {"resource": resource} if resource is not None else {}
    # Finding the loads that changed a resource reads every kept load: allow it longer.
    timeout_ms = HISTORY_RESOURCE_TIMEOUT_MS if resource is not None else DEFAULT_TIMEOUT_MS
    result = call(socket_path, "history", timeout_ms=timeout_ms,
                  limit=100_000 if filtering else limit, **arguments)
    events = filter_events(result["events"], resource=resource, node=node, user=user,
                           kind=kind,
                           since_ms=parse_moment_ms(since) if since else None,
                           until_ms=parse_moment_ms(until) if until else None,
                           resource_changes=frozenset(result.get("changed", ())))[-limit:]
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
