"""A staged configuration batch (crm's shadow CIB), kept client-side, and $EDITOR edits.

The batch is one JSON file {"base_index", "text"} per control socket, in
$RAFTHA_STAGE_DIR (default ~/.cache/raftha), written atomically with mode 0600. Loads and
edits while a batch is open parse and merge locally with the same pure functions the daemon
uses, so a syntax error is reported at once (line and column) and the staged text is left
as it was. `configure commit` sends the whole text with its base index: the daemon refuses
it if the configuration changed in between.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import click

from raftha.cli.common import fail
from raftha.cli.config_objects import ObjectError, edit_objects, show_objects
from raftha.crmsh import (
    CrmSyntaxError,
    load_configuration,
    parse_configuration,
    render_configuration,
    verify,
)

STAGE_DIR_ENV = "RAFTHA_STAGE_DIR"
MAX_STAGE_BYTES = 1024 * 1024


def stage_dir() -> Path:
    configured = os.environ.get(STAGE_DIR_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "raftha"


def stage_path(socket_path: str) -> Path:
    key = hashlib.sha256(os.path.abspath(socket_path).encode()).hexdigest()[:16]
    return stage_dir() / f"staged-{key}.json"


def current(socket_path: str) -> dict[str, Any] | None:
    path = stage_path(socket_path)
    try:
        if path.stat().st_size > MAX_STAGE_BYTES:
            fail(f"staged batch {path} is too large; 'raftha configure abort' discards it")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        fail(f"cannot read the staged batch {path}: {error}")
    if not isinstance(data, dict) or not isinstance(data.get("text"), str) or not isinstance(
            data.get("base_index"), int):
        fail(f"staged batch {path} is damaged; 'raftha configure abort' discards it")
    return data


def save(socket_path: str, stage: dict[str, Any]) -> Path:
    path = stage_path(socket_path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".staged-")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(stage, handle)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def discard(socket_path: str) -> bool:
    try:
        stage_path(socket_path).unlink()
        return True
    except FileNotFoundError:
        return False


def staged_text_after(stage_text: str, text: str, mode: str) -> str:
    """The staged text after loading `text` onto it; CrmSyntaxError leaves it unchanged."""
    base = parse_configuration(stage_text)
    return render_configuration(load_configuration(base, text, mode))


def stage_load(socket_path: str, stage: dict[str, Any], text: str, mode: str) -> None:
    try:
        new_text = staged_text_after(stage["text"], text, mode)
    except CrmSyntaxError as error:
        fail(f"{error}; the staged batch is unchanged")
    save(socket_path, {**stage, "text": new_text})
    report_problems(new_text)
    click.echo(f"staged ({mode}); 'raftha configure commit' applies the batch")


def report_problems(text: str) -> None:
    """Warns about problems of the staged text (commit would refuse them)."""
    for problem in verify(parse_configuration(text)):
        click.echo(f"WARNING: staged configuration: {problem}", err=True)


def edit_text(text: str) -> str | None:
    """The text after $EDITOR (VISUAL, EDITOR, else vi); None when it did not change."""
    edited = click.edit(text, extension=".crm", require_save=True)
    if edited is None or edited == text:
        return None
    return edited


def keep_rejected(text: str) -> Path:
    """Saves a refused edit so the operator's work is not lost."""
    directory = stage_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor, name = tempfile.mkstemp(dir=directory, prefix="rejected-", suffix=".crm")
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    return Path(name)


def stage_edit(socket_path: str, stage: dict[str, Any], object_ids: tuple[str, ...] = ()
               ) -> None:
    """`configure edit [ID...]` while a batch is staged: the staged text (or just those
    objects of it, as `edit_objects` takes them back) in $EDITOR."""
    configuration = parse_configuration(stage["text"]) if object_ids else None
    try:
        shown = stage["text"] if configuration is None else show_objects(configuration,
                                                                         object_ids)
    except ObjectError as error:
        fail(f"{error}; the staged batch is unchanged")
    edited = edit_text(shown)
    if edited is None:
        click.echo("no change to the staged batch")
        return
    try:
        if configuration is None:
            new_text = render_configuration(parse_configuration(edited))
        else:
            new_text = render_configuration(edit_objects(configuration, object_ids, edited)[0])
    except (CrmSyntaxError, ObjectError) as error:
        kept = keep_rejected(edited)
        fail(f"{error}; the staged batch is unchanged (your text is in {kept})")
    save(socket_path, {**stage, "text": new_text})
    report_problems(new_text)
    click.echo("staged; 'raftha configure commit' applies the batch")
