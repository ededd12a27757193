"""`raftha configure load|show`: the Pacemaker configuration in crm configure syntax.

`load` is atomic: the text is parsed, merged onto the current configuration ("update":
objects replace those with the same id, new ones are added; "replace": the text is the
whole configuration), verified, and committed as one event, or refused with one line.
"""

from __future__ import annotations

import sys

import click

from raftha.cli.common import call, fail, output_option, print_json, socket_option

MAX_CONFIGURATION_BYTES = 512 * 1024


@click.group("configure")
def configure_group() -> None:
    """Load and show the cluster configuration (crm configure syntax)."""


@configure_group.command("load")
@socket_option
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--mode", type=click.Choice(["update", "replace"]), default="update",
              show_default=True, help="Merge into the configuration, or replace all of it.")
def configure_load(socket_path: str, path: str, mode: str) -> None:
    """Load crm configure text from PATH ('-' for stdin), atomically."""
    try:
        if path == "-":
            text = sys.stdin.read(MAX_CONFIGURATION_BYTES + 1)
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read(MAX_CONFIGURATION_BYTES + 1)
    except (OSError, UnicodeDecodeError) as error:
        fail(f"cannot read {path}: {getattr(error, 'strerror', None) or error}")
    if len(text) > MAX_CONFIGURATION_BYTES:
        fail(f"{path} is larger than {MAX_CONFIGURATION_BYTES} bytes")
    result = call(socket_path, "configure_load", text=text, mode=mode)
    click.echo(f"configuration loaded ({mode}) at index {result['index']}: "
               f"{result['resources']} resources")


@configure_group.command("show")
@socket_option
@output_option
def configure_show(socket_path: str, output_format: str) -> None:
    """Show the configuration as crm configure text (or the plain data as JSON)."""
    result = call(socket_path, "configure_show")
    if output_format == "json":
        print_json(result["configuration"])
    else:
        click.echo(result["text"], nl=not result["text"].endswith("\n"))
