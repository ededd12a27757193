"""Shared pieces of the CLI: the --socket/--output options, calling the daemon, errors.

Invariants: every client command takes `--socket PATH` (or env RAFTHA_SOCKET); a failure
prints one line `raftha: REASON` on stderr and exits with status 1; JSON output is the
daemon's plain data printed as-is (stable keys for scripts).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

import click

from raftha.daemon.client import DEFAULT_SOCKET_ENV, ApiError, ControlClient

DEFAULT_SOCKET_PATH = "/run/raftha/control.sock"
DEFAULT_TIMEOUT_MS = 15_000


def fail(message: str, status: int = 1) -> NoReturn:
    click.echo(f"raftha: {message}", err=True)
    sys.exit(status)


def socket_option(function: Callable) -> Callable:
    return click.option(
        "--socket", "socket_path", envvar=DEFAULT_SOCKET_ENV, default=DEFAULT_SOCKET_PATH,
        show_default=True, type=click.Path(dir_okay=False),
        help=f"Control socket of the node to talk to (env {DEFAULT_SOCKET_ENV}).",
    )(function)


def output_option(function: Callable) -> Callable:
    return click.option(
        "--output", "output_format", type=click.Choice(["text", "json"]), default="text",
        show_default=True, help="Human text or JSON for scripts.",
    )(function)


def node_set_delete_show_arguments(function: Callable) -> Callable:
    """NODE set|delete|show [NAME] [VALUE], the shape of crm's node attribute and
    utilization commands."""
    for decorator in reversed((
        click.argument("node"),
        click.argument("action", type=click.Choice(["set", "delete", "show"])),
        click.argument("name", required=False),
        click.argument("value", required=False),
    )):
        function = decorator(function)
    return function


def call(socket_path: str, op: str, timeout_ms: int = DEFAULT_TIMEOUT_MS, **args: Any) -> Any:
    """One Control API call; exits with a one-line error on failure."""
    try:
        with ControlClient(socket_path, timeout_ms) as client:
            return client.call(op, **args)
    except ApiError as error:
        fail(str(error))


def report_committed(result: dict[str, Any], what: str) -> None:
    """`WHAT (committed at index N)`: what a one-event change did, and where in the log."""
    click.echo(f"{what} (committed at index {result['index']})")


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


def format_time_ms(ts_ms: int | None) -> str:
    if not ts_ms:
        return "-"
    return time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(ts_ms / 1000))


def short_time_ms(ts_ms: int | None) -> str:
    if not ts_ms:
        return "-"
    seconds = ts_ms / 1000
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds)) + f".{ts_ms % 1000:03d}"
