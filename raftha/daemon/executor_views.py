"""Plain-data views of operation results for `raftha status`: failed actions and fail counts.

    failed_actions(state)  -> [{"node", "resource", "operation", "interval_ms", "rc",
                               "rc_text", "op_status", "status_text", "exit_reason",
                               "last_run"}]   (crm_mon's "Failed Resource Actions")
    fail_counts(state)     -> {NODE: {RESOURCE: {"count", "operations": {OP_INTERVAL: N},
                               "last_failure"}}}   (crm_mon's "Migration Summary")

Both read the committed state only. A failure shows until `raftha resource cleanup` (or a
rejoin of its node) forgets it, as in Pacemaker. A probe that found the agent or its
software missing is not a failed action (probe masking).
"""

from __future__ import annotations

import time
from typing import Any

from raftha.model.state import ClusterState

RC_TEXT = {0: "ok", 1: "error", 2: "invalid parameter", 3: "unimplemented feature",
           4: "insufficient privileges", 5: "not installed", 6: "not configured",
           7: "not running", 8: "promoted", 9: "promoted (failed)"}
STATUS_TEXT = {0: "complete", 1: "Cancelled", 2: "Timed Out", 3: "NOT SUPPORTED",
               4: "Error", 5: "Error", 6: "Error", 7: "Not installed"}


def failed_actions(state: ClusterState) -> list[dict[str, Any]]:
    found = []
    for node, histories in state.operation_histories:
        for history in histories:
            for record in history.operations:
                if not record.id.endswith("_last_failure_0"):
                    continue
                probe = record.operation == "monitor" and record.interval_ms == 0
                if probe and (record.rc in (2, 5) or record.op_status == 7):
                    continue
                found.append({
                    "node": node, "resource": history.resource,
                    "operation": record.operation, "interval_ms": record.interval_ms,
                    "rc": record.rc, "rc_text": RC_TEXT.get(record.rc, f"rc {record.rc}"),
                    "op_status": record.op_status,
                    "status_text": STATUS_TEXT.get(record.op_status, str(record.op_status)),
                    "exit_reason": record.exit_reason, "last_run": record.last_run,
                })
    return found


def fail_counts(state: ClusterState) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    for node, pairs in state.transient_attributes:
        values = dict(pairs)
        for key, value in pairs:
            if not key.startswith("fail-count-"):
                continue
            resource, _, operation = key[len("fail-count-"):].partition("#")
            entry = result.setdefault(node, {}).setdefault(
                resource, {"count": 0, "operations": {}, "last_failure": None})
            entry["operations"][operation] = value
            entry["count"] = "INFINITY" if "INFINITY" in (value, entry["count"]) else (
                int(entry["count"]) + int(value) if value.lstrip("-").isdigit()
                else entry["count"])
            last = values.get(f"last-failure-{resource}#{operation}")
            if last is not None and last.isdigit():
                entry["last_failure"] = max(int(last), entry["last_failure"] or 0)
    return result


def add_operation_views(state: ClusterState, nodes: dict[str, dict[str, Any]]) -> None:
    """Adds "failed_actions" and "fail_counts" to each node of a status document."""
    failures = failed_actions(state)
    counts = fail_counts(state)
    for name, node in nodes.items():
        node["failed_actions"] = [item for item in failures if item["node"] == name]
        node["fail_counts"] = counts.get(name, {})


def format_seconds(seconds: int | None) -> str:
    if not seconds:
        return "-"
    return time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(seconds))


def render_operation_sections(document: dict[str, Any]) -> list[str]:
    """crm_mon's Migration Summary and Failed Resource Actions, as text lines."""
    lines: list[str] = []
    nodes = document.get("nodes", {})
    summary = [(name, node["fail_counts"]) for name, node in sorted(nodes.items())
               if node.get("fail_counts")]
    if summary:
        lines += ["", "Migration Summary:"]
        for name, counts in summary:
            lines.append(f"  * Node: {name}:")
            for resource, entry in sorted(counts.items()):
                lines.append(f"    * {resource}: fail-count={entry['count']}, "
                             f"last-failure='{format_seconds(entry['last_failure'])}'")
    failures = [item for _, node in sorted(nodes.items())
                for item in node.get("failed_actions", [])]
    if failures:
        lines += ["", "Failed Resource Actions:"]
        for item in failures:
            reason = f", exit-reason='{item['exit_reason']}'" if item["exit_reason"] else ""
            lines.append(f"  * {item['resource']}_{item['operation']}_{item['interval_ms']} "
                         f"on {item['node']} '{item['rc_text']}' ({item['rc']}): "
                         f"status='{item['status_text']}'{reason}, "
                         f"last-rc-change='{format_seconds(item['last_run'])}'")
    return lines
