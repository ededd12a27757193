"""`raftha simulate` and `raftha explain`: the scheduler over a Pacemaker CIB file.

Role: the file-reading edge of the pure scheduler: reads the CIB, takes "now" from the CIB's
execution-date or the wall clock, and renders the plan as text or JSON. Also the edge of the
conformance runner (`load_corpus`, `conformance_main`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

MAX_CIB_FILE_BYTES = 32 * 1024 * 1024


def read_text_file(path: Path) -> str:
    if path.stat().st_size > MAX_CIB_FILE_BYTES:
        raise ValueError(f"{path} is larger than {MAX_CIB_FILE_BYTES} bytes")
    return path.read_text(encoding="utf-8")


def load_corpus(directory: Path) -> tuple[dict[str, tuple[str, str]], str]:
    """Cases (name -> (xml, expected json)) and the index text of a corpus directory."""
    cases: dict[str, tuple[str, str]] = {}
    for expected_path in sorted((directory / "expected").glob("*.json")):
        name = expected_path.stem
        xml_path = directory / "xml" / f"{name}.xml"
        if xml_path.exists():
            cases[name] = (read_text_file(xml_path), read_text_file(expected_path))
    index_path = directory / "index.tsv"
    index_text = index_path.read_text(encoding="utf-8") if index_path.exists() else "name\n"
    return cases, index_text


def conformance_main(argv: list[str] | None = None) -> int:
    from raftha.scheduler.conformance import run_corpus

    arguments = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in arguments
    arguments = [a for a in arguments if a != "-v"]
    directory = Path(arguments[0] if arguments else "tests/pacemaker-cases")
    cases, index_text = load_corpus(directory)
    report = run_corpus(cases, index_text, now=int(time.time()))
    print(report.render())
    failing = report.failing()
    if failing:
        print(f"\nfailing cases ({len(failing)}):")
        for result in failing:
            detail = result.error or "; ".join(result.differences)
            print(f"  {result.name}: {detail if verbose else detail[:160]}")
    return 0


# ---------------------------------------------------------------- commands


def _load_cib(path: str):
    from raftha.cib import CibError, parse_cib
    from raftha.model.status import ClusterStatus

    try:
        config, status = parse_cib(read_text_file(Path(path)))
    except (OSError, ValueError, CibError) as error:
        raise click.ClickException(f"cannot read CIB {path}: {error}") from None
    if status.now is None:
        status = ClusterStatus(have_quorum=status.have_quorum, now=int(time.time()),
                               dc_node=status.dc_node, nodes=status.nodes,
                               tickets=status.tickets)
    return config, status


def _state_lines(plan_result, final: bool) -> list[str]:
    lines = ["  * Node List:"]
    for name, state in plan_result.node_states:
        shown = state
        if final and name in plan_result.fenced:
            shown = "offline (fenced)"
        lines.append(f"    * Node {name}: {shown}")
    lines.append("  * Full List of Resources:")
    for placement in plan_result.placements:
        nodes = placement.final_nodes if final else placement.current_nodes
        role = placement.final_role if final else placement.current_role
        if not nodes:
            text = "Stopped"
        elif len(nodes) > 1:
            text = f"{role} [ {' '.join(nodes)} ]"
        else:
            text = f"{role} {nodes[0]}"
        flags = []
        if not placement.managed:
            flags.append("unmanaged")
        if placement.failed and not final:
            flags.append("failed")
        if placement.blocked:
            flags.append("blocked")
        suffix = f" ({', '.join(flags)})" if flags else ""
        lines.append(f"    * {placement.resource}:\t{text}{suffix}")
    return lines


def _transition_lines(plan_result) -> list[str]:
    lines = []
    for node in plan_result.fenced:
        lines.append(f"  * Fence (reboot) {node}")
    # Reasons of restarts and reloads for parameter changes, and live migrations, by resource.
    reasons = {(action.resource, action.verb): action.reason for action in plan_result.actions}
    for placement in plan_result.placements:
        before = placement.current_nodes
        after = placement.final_nodes
        resource = placement.resource
        if before == after and placement.current_role == placement.final_role:
            if (resource, "reload") in reasons:
                lines.append(f"  * Reload     {resource} ( {after[0]} )  "
                             f"{reasons[(resource, 'reload')]}")
            elif reasons.get((resource, "stop"), "").startswith(("parameters changed",
                                                                 "restarted after")):
                lines.append(f"  * Restart    {resource} ( {after[0]} )  "
                             f"{reasons[(resource, 'stop')]}")
            if placement.blocked and placement.target_node not in before:
                lines.append(f"  * Start      {placement.resource} ( {placement.target_node} )"
                             "  blocked")
            continue
        if not before and after:
            lines.append(f"  * Start      {placement.resource} ( {after[0]} )")
        elif before and not after:
            lines.append(f"  * Stop       {placement.resource} ( {' '.join(before)} )")
        elif before != after:
            verb = "Migrate" if (resource, "migrate_from") in reasons else "Move"
            lines.append(f"  * {verb:<10} {placement.resource} ( {' '.join(before)} -> "
                         f"{' '.join(after)} )")
        else:
            verb = "Promote" if placement.final_role == "Promoted" else "Demote"
            lines.append(f"  * {verb:<10} {placement.resource} ( {placement.current_role} -> "
                         f"{placement.final_role} {after[0]} )")
    return lines


def _score_lines(plan_result) -> list[str]:
    from raftha.scheduler.scores import score_text

    lines = []
    for explanation in plan_result.explanations:
        for node, score in explanation.scores:
            lines.append(f"  {explanation.resource} allocation score on {node}: "
                         f"{score_text(score)}")
    return lines


def deciding_constraint(explanation) -> str:
    """The contribution that weighed most on the outcome (a ban when nothing was chosen)."""
    from raftha.scheduler.scores import score_text

    if explanation.chosen is None:
        bans = [item for item in explanation.contributions if item[2] < 0]
        if not bans:
            return "no node could run it"
        tag, node, score = min(bans, key=lambda item: item[2])
        return f"{tag} ({score_text(score)} on {node})"
    here = [item for item in explanation.contributions if item[1] == explanation.chosen]
    if not here:
        return "equal scores; tie broken by load, current node and node name"
    tag, node, score = max(here, key=lambda item: abs(item[2]))
    return f"{tag} ({score_text(score)} on {node})"


@click.command("simulate")
@click.argument("cib_file", type=click.Path(dir_okay=False))
@click.option("--output", "output_format", type=click.Choice(["text", "json"]), default="text",
              help="text: like crm_simulate -S; json: the compact final placement.")
@click.option("--show-scores", is_flag=True, help="Also print every allocation score.")
def simulate_command(cib_file: str, output_format: str, show_scores: bool) -> None:
    """Plan one transition for a Pacemaker CIB file, like `crm_simulate -x CIB -S`."""
    from raftha.scheduler import plan
    from raftha.scheduler.simulate import compact_placement

    config, status = _load_cib(cib_file)
    plan_result = plan(config, status)
    if output_format == "json":
        click.echo(json.dumps(compact_placement(plan_result), indent=1, sort_keys=False))
        return
    lines = ["Current cluster status:", *_state_lines(plan_result, final=False), ""]
    if show_scores:
        lines += ["Allocation scores:", *_score_lines(plan_result), ""]
    lines += ["Transition Summary:", *_transition_lines(plan_result), ""]
    lines += ["Revised Cluster Status:", *_state_lines(plan_result, final=True)]
    click.echo("\n".join(lines))


@click.command("explain")
@click.argument("resource")
@click.option("--cib", "cib_file", required=True, type=click.Path(dir_okay=False),
              help="Pacemaker CIB XML file to plan from.")
def explain_command(resource: str, cib_file: str) -> None:
    """Show a resource's score per node and the rule that decided its placement."""
    from raftha.scheduler import plan
    from raftha.scheduler.scores import score_text

    config, status = _load_cib(cib_file)
    plan_result = plan(config, status)
    matches = [item for item in plan_result.explanations
               if item.resource == resource or item.resource.split(":")[0] == resource]
    if not matches:
        raise click.ClickException(f"no resource {resource!r} in {cib_file}")
    for explanation in matches:
        placement = plan_result.placement(explanation.resource)
        click.echo(f"{explanation.resource}:")
        click.echo(f"  {'node':<24} score")
        for node, score in sorted(explanation.scores, key=lambda item: (-item[1], item[0])):
            click.echo(f"  {node:<24} {score_text(score)}")
        for tag, node, score in explanation.contributions:
            click.echo(f"  from {tag} on {node}: {score_text(score)}")
        final = placement.final_nodes if placement else ()
        click.echo(f"  target: {explanation.chosen or 'none'} ({explanation.decided_by})")
        click.echo(f"  decided by: {deciding_constraint(explanation)}")
        click.echo(f"  after this transition: "
                   f"{placement.final_role + ' ' + ' '.join(final) if final else 'Stopped'}")
