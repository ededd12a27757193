"""`raftha configure load|show|edit|verify|begin|commit|abort`: the Pacemaker
configuration in crm configure syntax.

`load` is atomic: the text is parsed, merged onto the current configuration ("update":
objects replace those with the same id, new ones are added; "replace": the text is the
whole configuration), verified, and committed as one event, or refused with one line.
`edit` opens the text in $EDITOR and commits it the same way (nothing when unchanged), and
refuses if someone else changed the configuration meanwhile; `edit ID...` does the same with
just those objects. `begin` opens a staged batch
(crm's shadow CIB, kept client-side in a file): `load` and `edit` then change the staged
text only, and `commit` applies all of it as one change, or nothing.
"""

from __future__ import annotations

import sys

import click

from raftha.cli import staging
from raftha.cli.common import call, fail, output_option, print_json, report_committed, socket_option
from raftha.cli.config_objects import ObjectError, delete_objects, edit_objects, show_objects
from raftha.crmsh import CrmSyntaxError, parse_configuration, render_configuration
from raftha.model.config import Configuration

MAX_CONFIGURATION_BYTES = 512 * 1024


@click.group("configure")
def configure_group() -> None:
    """Load and show the cluster configuration (crm configure syntax)."""


@configure_group.command("load")
@socket_option
@click.argument("words", nargs=-1, required=True, metavar="[replace|update] PATH")
@click.option("--mode", type=click.Choice(["update", "replace"]), default=None,
              help="Merge into the configuration (default), or replace all of it.")
def configure_load(socket_path: str, words: tuple[str, ...], mode: str | None) -> None:
    """Load crm configure text from PATH ('-' for stdin), atomically.

    \b
    Examples:
      raftha configure load update web.crm     # add or replace the objects in web.crm
      raftha configure load replace site.crm   # site.crm is the whole configuration
      echo 'property maintenance-mode=true' | raftha configure load -
    """
    if len(words) == 2 and words[0] in ("update", "replace"):
        mode, path = mode or words[0], words[1]
    elif len(words) == 1:
        path = words[0]
    else:
        raise click.UsageError("expected [replace|update] PATH")
    mode = mode or "update"
    text = read_text(path)
    stage = staging.current(socket_path)
    if stage is not None:
        staging.stage_load(socket_path, stage, text, mode)
        return
    result = call(socket_path, "configure_load", text=text, mode=mode)
    click.echo(f"configuration loaded ({mode}) at index {result['index']}: "
               f"{result['resources']} resources")


def read_text(path: str) -> str:
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
    return text


@configure_group.command("show")
@socket_option
@output_option
@click.option("--committed", is_flag=True,
              help="While a batch is staged: show the committed configuration instead.")
@click.option("--local", "local", is_flag=True,
              help="Answer from this node's view at once, even without a quorum (may be "
                   "stale). By default the read reflects every change acknowledged before "
                   "it, and fails with 'no quorum' when it cannot.")
@click.argument("object_ids", nargs=-1, metavar="[ID]...")
def configure_show(socket_path: str, output_format: str, committed: bool, local: bool,
                   object_ids: tuple[str, ...]) -> None:
    """Show the configuration as crm configure text (or the plain data as JSON); with IDs,
    only those resources, constraints and tags.

    While a batch is staged (`configure begin`), shows the staged text.

    \b
    Examples:
      raftha configure show > site.crm
      raftha configure show WebSite website-with-ip
      raftha configure show --output json | jq '.constraints[].id'
    """
    stage = None if committed else staging.current(socket_path)
    if stage is not None and output_format == "text":
        click.echo(f"# staged batch based on index {stage['base_index']} (not committed)",
                   err=True)
        text = stage["text"]
        if object_ids:
            text = objects_text(parse_configuration(text), object_ids)
        click.echo(text, nl=not text.endswith("\n"))
        return
    # The daemon reads consistently unless told otherwise.
    result = call(socket_path, "configure_show", **({"consistent": False} if local else {}))
    if object_ids and output_format == "text":
        text = objects_text(Configuration.from_dict(result["configuration"]), object_ids)
        click.echo(text, nl=not text.endswith("\n"))
        return
    if output_format == "json":
        print_json(result["configuration"])
    else:
        click.echo(result["text"], nl=not result["text"].endswith("\n"))


@configure_group.command("verify")
@socket_option
@click.argument("path", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--mode", type=click.Choice(["update", "replace"]), default="update",
              show_default=True, help="How PATH would be loaded.")
def configure_verify(socket_path: str, path: str | None, mode: str) -> None:
    """Check a configuration without committing anything.

    Without PATH: the staged batch if one is open, else the committed configuration.
    With PATH: the configuration PATH would give if loaded. Exit status 1 on problems.

    \b
    Examples:
      raftha configure verify
      raftha configure verify --mode replace site.crm
    """
    if path is not None:
        text = read_text(path)
    else:
        stage = staging.current(socket_path)
        if stage is not None:
            text, mode = stage["text"], "replace"
        else:
            text, mode = call(socket_path, "configure_show")["text"], "replace"
    result = call(socket_path, "configure_verify", text=text, mode=mode)
    for problem in result["problems"]:
        click.echo(f"ERROR: {problem}")
    if result["problems"]:
        fail(f"{len(result['problems'])} problem(s) found; nothing was committed")
    click.echo(f"configuration is sound ({result['resources']} resources)")


@configure_group.command("edit")
@socket_option
@click.argument("object_ids", nargs=-1, metavar="[ID]...")
def configure_edit(socket_path: str, object_ids: tuple[str, ...]) -> None:
    """Edit the configuration in $EDITOR; commit it as one change when saved. With IDs,
    edit only those resources, constraints and tags (crm configure edit ID).

    Unchanged text commits nothing. A syntax error names line and column, and the edited
    text is kept in a file so the work is not lost. With IDs, objects in the saved text
    replace those with the same id (new ones are added) and a shown object taken out of
    the text is deleted. While a batch is staged, edits the staged text instead.

    \b
    Examples:
      EDITOR=vim raftha configure edit
      EDITOR="sed -i s/interval=30s/interval=10s/" raftha configure edit
      raftha configure edit WebSite
    """
    stage = staging.current(socket_path)
    if stage is not None:
        staging.stage_edit(socket_path, stage, object_ids)
        return
    shown = call(socket_path, "configure_show")
    if object_ids:
        text, mode = edited_objects_text(
            Configuration.from_dict(shown["configuration"]), object_ids)
    else:
        text, mode = staging.edit_text(shown["text"]), "replace"
    if text is None:
        click.echo("no change; nothing committed")
        return
    problems = call(socket_path, "configure_verify", text=text, mode=mode)["problems"]
    if problems:
        kept = staging.keep_rejected(text)
        fail(f"{problems[0]}; nothing committed (your text is in {kept})")
    result = call(socket_path, "configure_load", text=text, mode=mode,
                  base_index=shown["index"])
    click.echo(f"configuration committed at index {result['index']}: "
               f"{result['resources']} resources")


def edited_objects_text(configuration: Configuration,
                        object_ids: tuple[str, ...]) -> tuple[str | None, str]:
    """(text, load mode) of an edit of just `object_ids`, or (None, ...) when unchanged.
    The edited objects load as an update, so nothing else is re-rendered; deleting one
    needs the whole configuration (a replace)."""
    shown_text = objects_text(configuration, object_ids)
    edited = staging.edit_text(shown_text)
    if edited is None:
        return None, "update"
    try:
        result, gone = edit_objects(configuration, object_ids, edited)
    except (CrmSyntaxError, ObjectError) as error:
        kept = staging.keep_rejected(edited)
        fail(f"{error}; nothing committed (your text is in {kept})")
    if gone:
        return render_configuration(result), "replace"
    return edited, "update"


@configure_group.command("begin")
@socket_option
@click.option("--force", is_flag=True, help="Throw away a batch already staged.")
def configure_begin(socket_path: str, force: bool) -> None:
    """Start a staged batch (like crm's shadow CIB): later load/edit change only the
    staged text until `configure commit`.

    \b
    Examples:
      raftha configure begin
      raftha configure load update web.crm; raftha configure edit
      raftha configure verify && raftha configure commit
    """
    if staging.current(socket_path) is not None and not force:
        fail("a batch is already staged; 'raftha configure commit' or "
             "'raftha configure abort' it first (or begin --force)")
    shown = call(socket_path, "configure_show")
    path = staging.save(socket_path, {"base_index": shown["index"], "text": shown["text"]})
    click.echo(f"batch started from configuration index {shown['index']} (staged in {path})")


@configure_group.command("commit")
@socket_option
@click.option("--force", is_flag=True,
              help="Commit even if the configuration changed since `begin`.")
def configure_commit(socket_path: str, force: bool) -> None:
    """Apply the staged batch as one atomic change (or nothing).

    Refused when the configuration changed since `begin` (someone else's change would be
    lost), unless --force.

    \b
    Example:
      raftha configure commit
    """
    stage = staging.current(socket_path)
    if stage is None:
        fail("no batch is staged ('raftha configure begin' starts one)")
    arguments = {"text": stage["text"], "mode": "replace"}
    if not force:
        arguments["base_index"] = stage["base_index"]
    result = call(socket_path, "configure_load", **arguments)
    staging.discard(socket_path)
    click.echo(f"batch committed at index {result['index']}: {result['resources']} resources")


@configure_group.command("abort")
@socket_option
def configure_abort(socket_path: str) -> None:
    """Throw the staged batch away; nothing is committed.

    \b
    Example:
      raftha configure abort
    """
    if not staging.discard(socket_path):
        fail("no batch is staged")
    click.echo("staged batch discarded")


def objects_text(configuration: Configuration, object_ids: tuple[str, ...]) -> str:
    try:
        return show_objects(configuration, object_ids)
    except ObjectError as error:
        fail(str(error))


@configure_group.command("delete")
@socket_option
@click.argument("object_ids", nargs=-1, required=True, metavar="ID...")
@click.option("--force", is_flag=True,
              help="Also delete the constraints that name a deleted resource.")
def configure_delete(socket_path: str, object_ids: tuple[str, ...], force: bool) -> None:
    """Delete resources, constraints or tags by id, as one atomic change.

    A resource still named by a constraint is refused unless --force (which deletes those
    constraints too). A group member leaves its group. While a batch is staged, deletes
    from the staged text.

    \b
    Examples:
      raftha configure delete prefer-node2
      raftha configure delete --force WebSite
    """
    stage = staging.current(socket_path)
    if stage is not None:
        try:
            configuration = delete_objects(parse_configuration(stage["text"]), object_ids,
                                           force)
        except ObjectError as error:
            fail(f"{error}; the staged batch is unchanged")
        staging.save(socket_path, {**stage, "text": render_configuration(configuration)})
        click.echo(f"deleted {' '.join(object_ids)} from the staged batch")
        return
    shown = call(socket_path, "configure_show")
    try:
        configuration = delete_objects(Configuration.from_dict(shown["configuration"]),
                                       object_ids, force)
    except ObjectError as error:
        fail(f"{error}; nothing committed")
    result = call(socket_path, "configure_load", text=render_configuration(configuration),
                  mode="replace", base_index=shown["index"])
    report_committed(result, f"deleted {' '.join(object_ids)}")
