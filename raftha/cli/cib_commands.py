"""`raftha cib import|export`: migration from and to Pacemaker's CIB XML.

import reads the configuration section of an existing Pacemaker CIB (the status section is
ignored: the new cluster probes what really runs), turns it into crm configure text and
loads it as one atomic replacement, or refuses with one line and commits nothing. Nodes of
the CIB that are not members of this cluster are dropped (their names would mean nothing
here); read-only properties (dc-version...) are dropped by the daemon.

export writes a CIB (configuration and the current status) that Pacemaker's own tools read
offline: `CIB_file=cib.xml crm_mon -1`, `CIB_file=cib.xml crm configure show`.
"""

from __future__ import annotations

from dataclasses import replace

import click

from raftha.cib import CibError, parse_cib
from raftha.cli.common import call, fail, socket_option
from raftha.crmsh import render_configuration

MAX_CIB_FILE_BYTES = 32 * 1024 * 1024


@click.group("cib")
def cib_group() -> None:
    """Move configurations between Pacemaker and raftha (CIB XML).

    \b
    Examples:
      cibadmin -Q > cib.xml; raftha cib import cib.xml    # take over a Pacemaker cluster
      raftha cib export -o cib.xml; CIB_file=cib.xml crm_mon -1
    """


def crm_text_of_cib(xml_text: str, members: set[str]) -> tuple[str, int]:
    """crm configure text of the CIB's configuration and the number of its resources."""
    configuration, _status = parse_cib(xml_text)
    configuration = replace(configuration, nodes=tuple(
        node for node in configuration.nodes if node.name in members))
    return render_configuration(configuration), len(configuration.all_primitives())


@cib_group.command("import")
@socket_option
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--mode", type=click.Choice(["replace", "update"]), default="replace",
              show_default=True, help="Replace the whole configuration, or merge into it.")
@click.option("--dry-run", is_flag=True,
              help="Only convert and verify; print the crm text, commit nothing.")
def cib_import(socket_path: str, path: str, mode: str, dry_run: bool) -> None:
    """Load the configuration section of a Pacemaker CIB file, atomically.

    \b
    Examples:
      raftha cib import /var/lib/pacemaker/cib/cib.xml
      cibadmin -Q | raftha cib import - --dry-run
    """
    try:
        with click.open_file(path, encoding="utf-8") as handle:
            xml_text = handle.read(MAX_CIB_FILE_BYTES + 1)
    except (OSError, UnicodeDecodeError) as error:
        fail(f"cannot read {path}: {getattr(error, 'strerror', None) or error}")
    if len(xml_text) > MAX_CIB_FILE_BYTES:
        fail(f"{path} is larger than {MAX_CIB_FILE_BYTES} bytes")
    members = set(call(socket_path, "status")["nodes"])
    try:
        text, count = crm_text_of_cib(xml_text, members)
    except CibError as error:
        fail(f"{path}: {error}")
    except ValueError as error:
        fail(f"{path}: cannot be expressed in crm syntax: {error}")
    if dry_run:
        result = call(socket_path, "configure_verify", text=text, mode=mode)
        click.echo(text, nl=not text.endswith("\n"))
        for problem in result["problems"]:
            click.echo(f"problem: {problem}", err=True)
        if result["problems"]:
            fail(f"{path}: {len(result['problems'])} problem(s); nothing would be committed")
        return
    result = call(socket_path, "configure_load", text=text, mode=mode)
    click.echo(f"imported {count} resources from {path} ({mode}) at index {result['index']}")


@cib_group.command("export")
@socket_option
@click.option("-o", "--output-file", "output_file", type=click.Path(dir_okay=False),
              default="-", show_default=True, help="Write the CIB here ('-': stdout).")
def cib_export(socket_path: str, output_file: str) -> None:
    """Write the configuration and status as a Pacemaker CIB.

    \b
    Examples:
      raftha cib export -o /tmp/cib.xml
      CIB_file=/tmp/cib.xml crm_mon -1        # Pacemaker's own view of this cluster
      CIB_file=/tmp/cib.xml crm configure show
    """
    result = call(socket_path, "cib_export")
    with click.open_file(output_file, "w", encoding="utf-8") as handle:
        handle.write(result["xml"])
    if output_file != "-":
        click.echo(f"CIB at index {result['index']} written to {output_file}", err=True)
