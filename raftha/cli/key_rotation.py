"""`raftha cluster rotate-key`: change the cluster key while the cluster runs.

    raftha cluster rotate-key --generate authkey.next      # once; copy it beside every
                                                           # node's authkey (mode 0600)
    raftha cluster rotate-key --phase accept   (on every node, then)
    raftha cluster rotate-key --phase switch   (on every node, then)
    raftha cluster rotate-key --phase finish   (on every node)

See raftha.daemon.key_rotation for why each pair of nodes keeps a common key throughout.
"""

from __future__ import annotations

import pathlib

import click

from raftha.cli.common import call, fail, socket_option
from raftha.daemon.bootstrap import write_authkey
from raftha.daemon.config import ConfigError
from raftha.daemon.key_rotation import PHASES

PHASE_NOTES = {
    "accept": "seals with the old key, opens both; run switch once every node accepts",
    "switch": "seals with the new key, opens both; run finish once every node switched",
    "finish": "uses the new key only (its authkey file now holds it)",
}


@click.command("rotate-key")
@socket_option
@click.option("--phase", type=click.Choice(PHASES), help="Move this node to PHASE.")
@click.option("--generate", "generate_path", type=click.Path(dir_okay=False),
              help="Write a new random 256-bit key to this file (mode 0600) and exit.")
def rotate_key_command(socket_path: str, phase: str | None, generate_path: str | None) -> None:
    """Change the cluster key without losing quorum, one phase on every node at a time."""
    if generate_path:
        try:
            write_authkey(pathlib.Path(generate_path))
        except ConfigError as error:
            fail(str(error))
        click.echo(f"new key in {generate_path}: copy it to <authkey file>.next on every node "
                   "(mode 0600), then run --phase accept on each")
        return
    if phase is None:
        fail("give --phase accept|switch|finish, or --generate FILE")
    result = call(socket_path, "authkey_phase", phase=phase)
    click.echo(f"node {result['node']}: {phase} ({PHASE_NOTES[phase]})")
