"""`raftha explain RSC` and `raftha why-moved RSC`: the scheduler's recorded decisions on the
live cluster (or, with --cib, on a Pacemaker CIB file).

explain shows each instance's score per node, the contributions (which constraint, stickiness
or default gave which score on which node), the deciding constraint and the log index the
decision was made at (with the last change before it). why-moved walks the node's history
back and lists each committed event after which RESOURCE's target node changed, with the
decision right after it.
"""

from __future__ import annotations

from typing import Any

import click

from raftha.cli.common import call, output_option, print_json, short_time_ms, socket_option
from raftha.scheduler.scores import score_text


def deciding_text(explanation: dict[str, Any]) -> str:
    """The constraint (or rule) that decided: the strongest contribution on the chosen node,
    or the ban that excluded the others."""
    chosen = explanation["chosen"]
    if chosen is None:
        bans = [item for item in explanation["contributions"] if item[2] < 0]
        if bans:
            tag, node, score = min(bans, key=lambda item: item[2])
            return f"{tag} ({score_text(score)} on {node})"
        return explanation["decided_by"]
    here = [item for item in explanation["contributions"] if item[1] == chosen]
    if not here:
        return f"{explanation['decided_by']} (equal scores: tie broken by load, current node " \
               "and node name)"
    tag, node, score = max(here, key=lambda item: abs(item[2]))
    return f"{tag} ({score_text(score)} on {node})"


def explanation_lines(explanation: dict[str, Any], indent: str = "") -> list[str]:
    where = " on " + " ".join(explanation["current_nodes"]) if explanation["current_nodes"] \
        else ""
    lines = [f"{indent}{explanation['resource']}: now {explanation['current_role']}{where}"
             f"; target {explanation['target_role']} on "
             f"{explanation['target_node'] or 'no node'}"]
    lines.append(f"{indent}  {'NODE':<20} SCORE")
    for node, score in sorted(explanation["scores"], key=lambda item: (-item[1], item[0])):
        mark = "  <- chosen" if node == explanation["chosen"] else ""
        lines.append(f"{indent}  {node:<20} {score_text(score)}{mark}")
    for tag, node, score in explanation["contributions"]:
        lines.append(f"{indent}  {score_text(score):>9} on {node:<12} from {tag}")
    lines.append(f"{indent}  decided by: {deciding_text(explanation)}")
    for node, kind, reason in explanation.get("parameter_changes", ()):
        lines.append(f"{indent}  {kind} on {node}: {reason}")
    return lines


@click.command("explain")
@socket_option
@output_option
@click.argument("resource")
@click.option("--at", "at_index", type=click.IntRange(min=0), default=None,
              help="Explain the decision as it was right after log index INDEX.")
@click.option("--cib", "cib_file", type=click.Path(dir_okay=False), default=None,
              help="Explain from a Pacemaker CIB file instead of the live cluster.")
@click.pass_context
def explain_command(context: click.Context, socket_path: str, output_format: str,
                    resource: str, at_index: int | None, cib_file: str | None) -> None:
    """Why RESOURCE is where it is: scores per node and the deciding constraint.

    \b
    Examples:
      raftha explain WebSite
      raftha explain WebSite --at 42          # the decision after log index 42
      raftha explain WebSite --cib cib.xml    # a Pacemaker CIB file, offline
    """
    if cib_file is not None:
        from raftha.cli.simulate import explain_command as file_explain
        context.invoke(file_explain, resource=resource, cib_file=cib_file)
        return
    arguments: dict[str, Any] = {"resource": resource}
    if at_index is not None:
        arguments["at"] = at_index
    result = call(socket_path, "explain", **arguments)
    if output_format == "json":
        print_json(result)
        return
    change = result["last_change"]
    heading = f"Decision at log index {result['index']}"
    if change:
        heading += (f" (last change: index {change['index']}, {change['kind']} by "
                    f"{change['user'] or 'raftha'} on {change['origin']})")
    lines = [heading]
    for explanation in result["explanations"]:
        lines += explanation_lines(explanation)
    click.echo("\n".join(lines))


@click.command("why-moved")
@socket_option
@output_option
@click.argument("resource")
@click.option("--depth", type=click.IntRange(1, 5000), default=200, show_default=True,
              help="How many of the latest log entries to look through.")
def why_moved_command(socket_path: str, output_format: str, resource: str,
                      depth: int) -> None:
    """The events after which RESOURCE's placement changed, newest first, each with the
    decision it led to.

    \b
    Examples:
      raftha why-moved WebSite
      raftha why-moved WebSite --depth 1000 --output json
    """
    result = call(socket_path, "why_moved", resource=resource, depth=depth,
                  timeout_ms=120_000)
    if output_format == "json":
        print_json(result)
        return
    moves = result["moves"]
    if not moves:
        click.echo(f"{resource} kept its placement through the last {result['scanned']} "
                   "log entries")
        return
    for move in moves:
        before = describe_targets(move["before"])
        after = describe_targets(move["after"])
        click.echo(f"index {move['index']} {short_time_ms(move['ts_ms'])} {move['kind']} by "
                   f"{move['user'] or 'raftha'} on {move['origin']}: {move['summary']}")
        click.echo(f"  placement: {before} -> {after}")
        for explanation in move["explanations"]:
            click.echo("\n".join(explanation_lines(explanation, indent="  ")))
        click.echo("")


def describe_targets(targets: dict[str, str | None]) -> str:
    if not targets:
        return "(not configured)"
    return ", ".join(f"{instance}@{node or 'stopped'}"
                     for instance, node in sorted(targets.items()))
