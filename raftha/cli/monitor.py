"""crm_mon-grade sections of `raftha status`: resources by group and clone, node attributes,
move and ban constraints, fencing history; colours for a terminal; `--watch` refresh.

Everything here renders the daemon's status document (plain data); nothing asks the daemon
itself except `watch`, which calls a given fetch function every interval. Text layout follows
crm_mon 2.1 (`* Resource Group: G:`, `* Clone Set: C [P] (promotable):`, `* Promoted: [ n1 ]`)
so operators' eyes and greps keep working; colours are added only on a terminal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.text import Text

from raftha.cli.common import format_time_ms

# Transient attributes crm_mon shows in Migration Summary, not in Node Attributes.
HIDDEN_ATTRIBUTE_PREFIXES = ("fail-count-", "last-failure-")
WATCH_MIN_INTERVAL_S = 0.5
STYLES = (
    ("FAILED", "bold red"), ("ORPHANED", "bold yellow"), ("UNCLEAN", "bold red"),
    ("OFFLINE", "red"),
    ("WITHOUT quorum", "bold red"), ("Stopped", "yellow"), ("standby", "yellow"),
    ("maintenance", "yellow"), ("(unmanaged)", "yellow"), ("(disabled)", "yellow"),
    ("(blocked)", "bold red"),
    ("Online", "green"), ("Started", "green"), ("Promoted", "bold green"),
    ("Unpromoted", "green"), ("partition with quorum", "green"), ("expires", "cyan"),
    ("failed", "red"),
)


def agent_text(resource: dict[str, Any]) -> str:
    return f"\t({resource['agent']}):" if resource.get("agent") else ":"


def state_text(resource: dict[str, Any]) -> str:
    nodes = resource.get("nodes") or ([resource["node"]] if resource.get("node") else [])
    role = resource.get("role") or "Stopped"
    if resource.get("failed"):
        role = "FAILED"
    if str(resource.get("primitive", "")).startswith("#orphan:"):
        # No longer configured but still active somewhere (crm_mon's word).
        role = f"ORPHANED {role}"
    text = f"{role} {' '.join(nodes)}".rstrip()
    pending = resource.get("pending") or []
    if pending and not resource.get("failed"):
        text = " ".join(f"{claim['text']} {claim['node']}" for claim in pending)
    if resource.get("disabled"):
        text += " (disabled)"
    if resource.get("managed") is False:
        text += " (unmanaged)"
    if resource.get("blocked"):
        text += " (blocked)"
    return text


def primitive_line(instance: str, resource: dict[str, Any], indent: str) -> str:
    return f"{indent}* {instance}{agent_text(resource)}\t {state_text(resource)}"


def clone_lines(clone: str, instances: list[tuple[str, dict[str, Any]]],
                all_nodes: list[str], indent: str) -> list[str]:
    primitives = sorted({item.get("primitive") or name.split(":")[0] for name, item in instances})
    group = next((item.get("group") for _, item in instances if item.get("group")), None)
    roles = {item.get("role") for _, item in instances}
    promotable = bool(roles & {"Promoted", "Unpromoted", "Master", "Slave"})
    head = group or (primitives[0] if len(primitives) == 1 else ",".join(primitives))
    lines = [f"{indent}* Clone Set: {clone} [{head}]{' (promotable)' if promotable else ''}:"]
    by_role: dict[str, set[str]] = {}
    running: set[str] = set()
    failed: list[str] = []
    for name, item in instances:
        nodes = item.get("nodes") or ([item["node"]] if item.get("node") else [])
        if item.get("failed"):
            failed.extend(f"{name} {node}" for node in nodes)
            continue
        for node in nodes:
            by_role.setdefault(item.get("role") or "Started", set()).add(node)
            running.add(node)
    for role in ("Promoted", "Master", "Started", "Unpromoted", "Slave"):
        if role in by_role:
            lines.append(f"{indent}  * {role}: [ {' '.join(sorted(by_role.pop(role)))} ]")
    for role, nodes in sorted(by_role.items()):
        lines.append(f"{indent}  * {role}: [ {' '.join(sorted(nodes))} ]")
    lines.extend(f"{indent}  * FAILED {text}" for text in failed)
    idle = [name for name, item in instances
            if not (item.get("nodes") or item.get("node"))]
    if idle:
        stopped = [node for node in all_nodes if node not in running]
        lines.append(f"{indent}  * Stopped: [ {' '.join(stopped)} ]" if stopped
                     else f"{indent}  * Stopped: {len(idle)} instance(s)")
    return lines


def resource_lines(resources: dict[str, dict[str, Any]], all_nodes: list[str]) -> list[str]:
    """crm_mon's "Full List of Resources": primitives, groups and clones, in the order the
    document lists them (configuration order)."""
    if not resources:
        return ["  * No resources"]
    blocks: dict[str, tuple[str, list[tuple[str, dict[str, Any]]]]] = {}
    for instance, resource in resources.items():
        if resource.get("clone"):
            key, kind = resource["clone"], "clone"
        elif resource.get("group"):
            key, kind = resource["group"], "group"
        else:
            key, kind = instance, "primitive"
        blocks.setdefault(key, (kind, []))[1].append((instance, resource))
    lines: list[str] = []
    # The daemon lists instances in configuration order, as crm_mon does.
    for key, (kind, members) in blocks.items():
        if kind == "clone":
            lines += clone_lines(key, members, all_nodes, "  ")
        elif kind == "group":
            lines.append(f"  * Resource Group: {key}:")
            lines += [primitive_line(instance, resource, "    ")
                      for instance, resource in members]
        else:
            lines += [primitive_line(instance, resource, "  ") for instance, resource in members]
    return lines


def node_attribute_lines(nodes: dict[str, dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for name, node in sorted(nodes.items()):
        values = dict(node.get("attributes") or {})
        values.update({key: value for key, value in (node.get("transient_attributes") or {}).items()
                       if not key.startswith(HIDDEN_ATTRIBUTE_PREFIXES)})
        if not values:
            continue
        lines.append(f"  * Node: {name}:")
        width = max(len(key) for key in values)
        lines += [f"    * {key:<{width}} : {value}" for key, value in sorted(values.items())]
    return ["", "Node Attributes:", *lines] if lines else []


def move_constraint_lines(constraints: list[dict[str, Any]]) -> list[str]:
    lines = []
    for item in constraints:
        if item.get("expired"):
            continue
        verb = "avoids" if str(item.get("score", "")).startswith("-") else "prefers"
        until = (f" (expires {format_time_ms(item['expires_s'] * 1000)})"
                 if item.get("expires_s") else " (until 'raftha resource clear')")
        lines.append(f"  * {item['id']}: {item['resource']} {verb} {item['node']}{until}")
    return ["", "Move and Ban Constraints:", *lines] if lines else []


def fencing_history_lines(history: list[dict[str, Any]] | None) -> list[str]:
    if not history:
        return []
    lines = ["", "Fencing History:"]
    for row in history[-10:]:
        result = row.get("result") or "pending"
        word = {"ok": "successful", "success": "successful"}.get(result, result)
        lines.append(f"  * {row.get('action', 'reboot')} of {row.get('target')} {word}: "
                     f"delegate={row.get('executor') or '-'}, device={row.get('device') or '-'}"
                     f", index={row.get('index')}, completed='"
                     f"{format_time_ms(row.get('ts_ms'))}'")
    return lines


def styled(text: str) -> Text:
    """One line with crm_mon's meaning colours; section headings bold."""
    line = Text(text)
    if text and not text.startswith(" ") and text.endswith(":"):
        line.stylize("bold")
        return line
    for word, style in STYLES:
        line.highlight_words([word], style=style)
    return line


def print_styled(console: Console, text: str) -> None:
    for line in text.splitlines():
        console.print(styled(line), soft_wrap=True)


def watch(fetch: Callable[[], str], interval_s: float, console: Console,
          iterations: int | None = None) -> None:
    """Redraws `fetch()` every interval until Ctrl-C (or `iterations` redraws, for tests).
    A failed fetch shows its error in place of the status and keeps watching."""
    from rich.live import Live

    interval_s = max(WATCH_MIN_INTERVAL_S, interval_s)
    count = 0
    if not console.is_terminal:
        # Piped: one full status per interval, separated by a blank line (a log of states).
        while iterations is None or count < iterations:
            try:
                text = fetch()
            except SystemExit:
                text = "raftha: the node did not answer; retrying"
            console.file.write(text + "\n\n")
            console.file.flush()
            count += 1
            if iterations is None or count < iterations:
                time.sleep(interval_s)
        return
    with Live(console=console, auto_refresh=False, screen=False) as live:
        while iterations is None or count < iterations:
            try:
                text = fetch()
            except SystemExit:
                text = "raftha: the node did not answer; retrying"
            body = Text()
            for line in text.splitlines():
                body.append_text(styled(line))
                body.append("\n")
            live.update(body, refresh=True)
            count += 1
            if iterations is not None and count >= iterations:
                break
            time.sleep(interval_s)
