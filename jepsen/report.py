"""Reports of one run: results.json, a self-contained HTML timeline (inline SVG, no
dependencies), an optional PNG timeline (only when matplotlib is importable) and a text
summary table.

The HTML is the artefact of record. It shows, on one time axis: fault windows (shaded per
family, outlined on the nodes they affected), which node ran which resource (ledger activity
intervals), overlaps found by the checker (outlined red), the leader over time, and every
client op as a short bar coloured by outcome (ok green, fail red, info orange).
"""

from __future__ import annotations

import hashlib
import html
import pathlib
from collections.abc import Sequence
from typing import Any

from jepsen import checkers, history

WIDTH_PX = 1200
LABEL_PX = 110
LANE_PX = 22
FAMILY_COLOURS = {
    "partition": "#f4a6a6", "loss": "#f7d08a", "kill": "#b9a6f4", "kill-node": "#9f8cf0",
    "pause": "#a6d8f4", "pause-node": "#84c5ee", "clock": "#c8e6a0", "restart-all": "#d9b3e6",
    "truncate": "#e6c3b3", "membership": "#b3e6d9",
}
OUTCOME_COLOURS = {"ok": "#2e9d4a", "fail": "#d23c3c", "info": "#f0a020"}


def build_results(run: checkers.RunData, names: Sequence[str], seed: int | None,
                  extra: dict | None = None) -> dict:
    """The results.json document (DESIGN §8 keys plus run metadata)."""
    merged = checkers.check_all(run, names)
    results = {"valid": merged["valid"], "checkers": merged["checkers"],
               "failover_s": merged["failover_s"], "seed": seed,
               "leader_failover_s": merged["leader_failover_s"],
               "not_checked": [name for name in checkers.CHECKERS if name not in names]}
    results.update(extra or {})
    return results


def _colour_for(name: str) -> str:
    digest = hashlib.sha256(name.encode()).digest()
    return f"hsl({digest[0] * 360 // 256}, 55%, 55%)"


def _time_range(run: checkers.RunData, leader_samples: Sequence[dict]) -> tuple[int, int]:
    stamps = [op["time_ms"] for op in run.history] + [tick.wall_ms for tick in run.ledger]
    stamps += [sample["time_ms"] for sample in leader_samples]
    if not stamps:
        return 0, 1
    return min(stamps), max(max(stamps), min(stamps) + 1)


def timeline_html(run: checkers.RunData, results: dict,
                  leader_samples: Sequence[dict] = ()) -> str:
    """One self-contained HTML page with an inline SVG timeline."""
    start, end = _time_range(run, leader_samples)
    span = end - start
    plot_px = WIDTH_PX - LABEL_PX

    def x_of(stamp: int) -> float:
        return LABEL_PX + (stamp - start) * plot_px / span

    nodes = list(run.nodes) or sorted({tick.node for tick in run.ledger})
    processes = sorted({str(op["process"]).split(".")[0] for op in history.client_ops(
        run.history)})
    lanes = ["faults", "leader", *nodes, *processes]
    lane_y = {name: 30 + index * LANE_PX for index, name in enumerate(lanes)}
    height = 30 + len(lanes) * LANE_PX + 30
    parts: list[str] = []
    for name, y in lane_y.items():
        parts.append(f'<text x="4" y="{y + 15}" font-size="12">{html.escape(name)}</text>')
        parts.append(f'<line x1="{LABEL_PX}" x2="{WIDTH_PX}" y1="{y + LANE_PX}" '
                     f'y2="{y + LANE_PX}" stroke="#eee"/>')
    for window in checkers.fault_windows(run.history, end):
        colour = FAMILY_COLOURS.get(window.family, "#ddd")
        x1, x2 = x_of(window.start_ms), max(x_of(window.end_ms), x_of(window.start_ms) + 2)
        tip = html.escape(f"{window.family} #{window.fault_id} affected "
                          f"{sorted(window.affected)} {window.start_ms - start}.."
                          f"{window.end_ms - start} ms")
        parts.append(f'<rect x="{x1:.1f}" y="{lane_y["faults"]}" width="{x2 - x1:.1f}" '
                     f'height="{height - 60}" fill="{colour}" opacity="0.35">'
                     f"<title>{tip}</title></rect>")
        parts.append(f'<text x="{x1 + 2:.1f}" y="{lane_y["faults"] + 14}" font-size="10">'
                     f"{html.escape(window.family)}</text>")
        for node in window.affected:
            if node in lane_y:
                parts.append(f'<rect x="{x1:.1f}" y="{lane_y[node] + 1}" '
                             f'width="{x2 - x1:.1f}" height="{LANE_PX - 2}" fill="none" '
                             f'stroke="{colour}" stroke-width="2"><title>{tip}</title></rect>')
    gap_ms = int(run.param("gap_threshold_ms"))
    for interval in checkers.activity_intervals(run.ledger, gap_ms):
        if interval.node not in lane_y:
            continue
        x1 = x_of(interval.start_ms)
        x2 = max(x_of(interval.end_ms), x1 + 1)
        tip = html.escape(f"{interval.resource} on {interval.node}: "
                          f"{interval.start_ms - start}..{interval.end_ms - start} ms, "
                          f"{interval.ticks} ticks")
        parts.append(f'<rect x="{x1:.1f}" y="{lane_y[interval.node] + 5}" '
                     f'width="{x2 - x1:.1f}" height="{LANE_PX - 10}" '
                     f'fill="{_colour_for(interval.resource)}"><title>{tip}</title></rect>')
    overlap = results.get("checkers", {}).get("no_overlap", {})
    for violation in overlap.get("overlaps", []):
        for item in violation["intervals"]:
            if item["node"] in lane_y:
                x1 = x_of(item["start_ms"])
                x2 = max(x_of(item["end_ms"]), x1 + 2)
                parts.append(f'<rect x="{x1:.1f}" y="{lane_y[item["node"]] + 2}" '
                             f'width="{x2 - x1:.1f}" height="{LANE_PX - 4}" fill="none" '
                             f'stroke="red" stroke-width="2"><title>overlap of '
                             f'{html.escape(violation["resource"])}</title></rect>')
    for index, sample in enumerate(leader_samples):
        leader = sample.get("leader")
        if not leader:
            continue
        following = (leader_samples[index + 1]["time_ms"] if index + 1 < len(leader_samples)
                     else end)
        x1, x2 = x_of(sample["time_ms"]), x_of(following)
        parts.append(f'<rect x="{x1:.1f}" y="{lane_y["leader"] + 5}" '
                     f'width="{max(x2 - x1, 1):.1f}" height="{LANE_PX - 10}" '
                     f'fill="{_colour_for(str(leader))}"><title>leader '
                     f'{html.escape(str(leader))}</title></rect>')
    for invoke, completion in history.pair_operations(run.history):
        lane = str(invoke["process"]).split(".")[0]
        finished = completion["time_ms"] if completion else end
        outcome = completion["type"] if completion else "info"
        x1 = x_of(invoke["time_ms"])
        x2 = max(x_of(finished), x1 + 1)
        tip = html.escape(f"{invoke['process']} {invoke['f']} {outcome} "
                          f"{invoke.get('value')}")
        parts.append(f'<rect x="{x1:.1f}" y="{lane_y[lane] + 6}" width="{x2 - x1:.1f}" '
                     f'height="{LANE_PX - 12}" fill="{OUTCOME_COLOURS[outcome]}">'
                     f"<title>{tip}</title></rect>")
    for second in range(0, span // 1000 + 1, max(1, span // 1000 // 20 or 1)):
        x = x_of(start + second * 1000)
        parts.append(f'<text x="{x:.1f}" y="{height - 10}" font-size="10">{second}s</text>')
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH_PX}" height="{height}" '
           f'font-family="sans-serif">{"".join(parts)}</svg>')
    verdict = html.escape(str(results.get("valid")))
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(str(result.get('valid')))}</td>"
        f"</tr>" for name, result in results.get("checkers", {}).items())
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>jepsen run "
            f"{verdict}</title></head><body style='font-family:sans-serif'>"
            f"<h2>Run verdict: {verdict} (seed {html.escape(str(results.get('seed')))})</h2>"
            f"<p>failover_s: {html.escape(str(results.get('failover_s')))}</p>"
            f"<table border='1' cellpadding='3'><tr><th>checker</th><th>valid</th></tr>"
            f"{rows}</table><h3>Timeline</h3>{svg}</body></html>\n")


def timeline_png(run: checkers.RunData, path: pathlib.Path,
                 leader_samples: Sequence[dict] = ()) -> bool:
    """Write a PNG timeline with matplotlib; False (and nothing written) without it."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as pyplot
    except ImportError:
        return False
    start, end = _time_range(run, leader_samples)
    nodes = list(run.nodes) or sorted({tick.node for tick in run.ledger})
    figure, axes = pyplot.subplots(figsize=(12, 1 + 0.5 * max(len(nodes), 1)))
    for window in checkers.fault_windows(run.history, end):
        axes.axvspan((window.start_ms - start) / 1000, (window.end_ms - start) / 1000,
                     color=FAMILY_COLOURS.get(window.family, "#ddd"), alpha=0.4)
        axes.text((window.start_ms - start) / 1000, len(nodes) - 0.45, window.family,
                  fontsize=7, va="top")
    gap_ms = int(run.param("gap_threshold_ms"))
    resources = sorted({tick.resource for tick in run.ledger})
    palette = pyplot.get_cmap("tab10")
    for interval in checkers.activity_intervals(run.ledger, gap_ms):
        if interval.node not in nodes:
            continue
        row = nodes.index(interval.node)
        colour = palette(resources.index(interval.resource) % 10)
        axes.broken_barh([((interval.start_ms - start) / 1000,
                           max((interval.end_ms - interval.start_ms) / 1000, 0.05))],
                         (row - 0.3, 0.6), color=colour)
    for sample_index, sample in enumerate(leader_samples):
        if sample.get("leader") in nodes:
            following = (leader_samples[sample_index + 1]["time_ms"]
                         if sample_index + 1 < len(leader_samples) else end)
            row = nodes.index(sample["leader"])
            axes.plot([(sample["time_ms"] - start) / 1000, (following - start) / 1000],
                      [row + 0.38, row + 0.38], color="black", linewidth=2)
    axes.set_yticks(range(len(nodes)), nodes)
    axes.set_ylim(-0.5, len(nodes) - 0.4)
    axes.set_xlabel("seconds since start (shaded: faults; black line: leader; "
                    "bars: resource activity)")
    axes.set_xlim(0, (end - start) / 1000)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    pyplot.close(figure)
    return True


def _detail(result: dict) -> str:
    for key in ("reason", "overlap_count", "violation_count", "lost", "blocked_probes",
                "handovers_judged", "without_ok", "distinct"):
        if key in result and result[key] not in (None, {}, []):
            return f"{key}={result[key]}"
    return ""


def summary_table(results: dict, counts: dict[str, Any] | None = None) -> str:
    """A one-screen text summary: one row per checker, then failover and op counts."""
    lines = [f"{'checker':<26} {'valid':<8} detail", "-" * 70]
    for name, result in results.get("checkers", {}).items():
        lines.append(f"{name:<26} {str(result.get('valid')):<8} {_detail(result)[:60]}")
    lines.append("-" * 70)
    if results.get("not_checked"):
        lines.append("not checked: " + ", ".join(results["not_checked"]))
    failover = results.get("failover_s", {})
    lines.append(f"failover_s p50={failover.get('p50')} p99={failover.get('p99')} "
                 f"n={failover.get('n')}")
    leader = results.get("leader_failover_s") or {}
    lines.append(f"leader_failover_s p50={leader.get('p50')} p99={leader.get('p99')} "
                 f"n={leader.get('n')}")
    if counts:
        lines.append("client ops: " + " ".join(f"{key}={value}"
                                               for key, value in sorted(counts.items())))
    lines.append(f"VERDICT: {results.get('valid')}  seed={results.get('seed')}")
    return "\n".join(lines)
