"""`raftha completion bash|zsh|fish`: the shell completion script (click's own).

The script asks `raftha` itself for candidates (click's _RAFTHA_COMPLETE protocol), so it
always matches the installed commands and options.
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion_command(context: click.Context, shell: str) -> None:
    """Print the completion script for SHELL.

    \b
    Examples:
      raftha completion bash > /etc/bash_completion.d/raftha
      eval "$(raftha completion bash)"          # this shell only
      raftha completion zsh > "${fpath[1]}/_raftha"
      raftha completion fish > ~/.config/fish/completions/raftha.fish
    """
    root = context.find_root()
    completion_class = get_completion_class(shell)
    if completion_class is None:  # click knows all three; kept for older click versions
        raise click.ClickException(f"no completion support for {shell}")
    script = completion_class(root.command, {}, "raftha", "_RAFTHA_COMPLETE").source()
    click.echo(script)
