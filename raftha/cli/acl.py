"""`raftha acl grant|revoke|show`: who may use the control socket (raftha.model.acl).

Targets are user names, numeric uids or @group names; roles are read-only, operator and
admin. Root and the node's [security] admin_group are always admin. Changing the list
needs admin; each change is one committed event.
"""

from __future__ import annotations

import click

from raftha.cli.common import call, output_option, print_json, report_committed, socket_option
from raftha.model.acl import ROLES


@click.group("acl")
def acl_group() -> None:
    """Grant, revoke and show control-socket roles (read-only, operator, admin)."""


@acl_group.command("grant")
@socket_option
@click.argument("target")
@click.argument("role", type=click.Choice(ROLES))
def acl_grant(socket_path: str, target: str, role: str) -> None:
    """Give TARGET (USER, UID or @GROUP) the ROLE (replacing its previous one)."""
    result = call(socket_path, "acl_grant", target=target, role=role)
    report_committed(result, f"{target} is {role}")


@acl_group.command("revoke")
@socket_option
@click.argument("target")
def acl_revoke(socket_path: str, target: str) -> None:
    """Remove TARGET's role (USER, UID or @GROUP)."""
    result = call(socket_path, "acl_revoke", target=target)
    report_committed(result, f"{target} has no role")


@acl_group.command("show")
@socket_option
@output_option
def acl_show(socket_path: str, output_format: str) -> None:
    """List the ACL entries (root and the admin group are admin without one)."""
    result = call(socket_path, "acl_show")
    if output_format == "json":
        print_json(result)
        return
    admin_group = result.get("admin_group") or "(none configured)"
    click.echo(f"always admin: root, members of admin group {admin_group}")
    if not result["entries"]:
        click.echo("no ACL entries: other users may only ping")
    for entry in result["entries"]:
        click.echo(f"{entry['target']:<24} {entry['role']}")
