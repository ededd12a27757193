"""`raftha node fence NODE` and `raftha fence history`: fencing through the log.

`node fence` commits a FenceRequested event (the cluster chooses which other node runs the
fence agents) and by default waits until the result, NodeFenced or FenceFailed, is
committed too, like `stonith_admin --fence`. `fence history --output json` prints the list
DESIGN section 8 promises: `{"target", "action", "result", "index", "ts_ms"}` per entry
(plus `request_index`, `executor`, `device`, `reason`).
"""

from __future__ import annotations

import time
from typing import Any

import click

from raftha.cli.common import call, fail, format_time_ms, output_option, print_json, socket_option

WAIT_POLL_S = 0.2


@click.command("fence")
@socket_option
@output_option
@click.argument("node")
@click.option("--action", type=click.Choice(["reboot", "off", "on"]), default=None,
              help="Fence action (default: the stonith-action property, reboot).")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait until the result is committed.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=1), default=180.0,
              show_default=True, help="Seconds to wait for the result.")
def node_fence_command(socket_path: str, output_format: str, node: str, action: str | None,
                       wait: bool, timeout_s: float) -> None:
    """Fence NODE now (a node other than NODE runs the fence agents)."""
    args: dict[str, Any] = {"node": node}
    if action:
        args["action"] = action
    request_index = call(socket_path, "node_fence", **args)["index"]
    if not wait:
        click.echo(f"fencing of {node} requested at index {request_index}")
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = call(socket_path, "fence_history")["history"]
        row = next((item for item in rows if item["request_index"] == request_index
                    and item["result"] != "pending"), None)
        if row is not None:
            if output_format == "json":
                print_json(row)
            elif row["result"] == "success":
                click.echo(f"{node} fenced ({row['action']}) by {row['executor']} with "
                           f"{row['device']} at index {row['index']}")
            if row["result"] != "success":
                fail(f"fencing {node} failed: {row['reason']}")
            return
        time.sleep(WAIT_POLL_S)
    fail(f"fencing of {node} (request at index {request_index}) has no result after "
         f"{timeout_s:g} s")


@click.group("fence")
def fence_group() -> None:
    """Fencing: what was fenced, by whom, with which result."""


@fence_group.command("history")
@socket_option
@output_option
def fence_history_command(socket_path: str, output_format: str) -> None:
    """Every fence request and result committed in the log (recent ones)."""
    answer = call(socket_path, "fence_history")
    rows = answer["history"]
    if output_format == "json":
        print_json(rows)
        return
    if not rows:
        click.echo("No fencing history")
    for row in rows:
        click.echo(history_line(row))
    for line in fencing_status_lines(answer["status"]):
        click.echo(line.strip())


def history_line(row: dict[str, Any]) -> str:
    """One line in the manner of `stonith_admin --history`."""
    when = format_time_ms(row["ts_ms"])
    if row["result"] == "pending":
        return (f"{row['action']} of {row['target']} pending: delegate={row['executor']}, "
                f"requested at index {row['index']} ({when})")
    if row["result"] == "success":
        return (f"{row['action']} of {row['target']} successful: delegate={row['executor']}, "
                f"device={row['device']}, index={row['index']}, completed='{when}'")
    return (f"{row['action']} of {row['target']} failed: delegate={row['executor']}, "
            f"index={row['index']}, last-failed='{when}': {row['reason']}")


def fencing_status_lines(fencing: dict[str, Any] | None) -> list[str]:
    """Lines `raftha status` shows about fencing: why nothing can start, what is pending,
    and crm_mon's "Failed Fencing Actions"."""
    if not fencing:
        return []
    lines = []
    if fencing.get("problem"):
        lines.append(f"  * error: {fencing['problem']}")
    for item in fencing.get("pending", []):
        lines.append(f"  * Fencing {item['target']} ({item['action']}) in progress on "
                     f"{item['executor']}")
    failed = fencing.get("failed", [])
    if failed:
        lines.append("")
        lines.append("Failed Fencing Actions:")
        for item in failed:
            gave_up = ", giving up (stonith-max-attempts)" if item["gave_up"] else ""
            lines.append(f"  * {item['action']} of {item['target']} failed: "
                         f"delegate={item['executor']}, attempts={item['attempts']}"
                         f"{gave_up}, last-failed='{format_time_ms(item['ts_ms'])}': "
                         f"{item['reason']}")
    return lines
