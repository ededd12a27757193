"""Changing the cluster key of a running cluster, one node and one phase at a time.

The new key reaches every node out of band, as the first one did, as `<authkey_file>.next`
(mode 0600): sending it through the cluster would hand it to anyone holding the old key.
Then, on every node in turn, each phase (`raftha cluster rotate-key --phase P`):

    accept   seal frames with the old key, open frames sealed with either
    switch   seal with the new key, open either      (only once every node accepts)
    finish   the new key only; `<authkey_file>.next` replaces `<authkey_file>`

Operation (admin only): authkey_phase {"phase"} -> {"node", "phase", "keys"}.

Invariants: each pair of nodes always shares a key both can open, so quorum holds; a key
file that is missing, readable by others or not 32 bytes is refused with its name before
anything changes; "finish" on a node whose key file already holds the new key (a key file
shared by several nodes) just drops the old key. A node restarted during a rotation starts
with its key file only: run its current phase on it again.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

from raftha.daemon.config import ConfigError, read_authkey
from raftha.raft.durability import fsync_directory

PHASES = ("accept", "switch", "finish")


def next_key_path(authkey_file: pathlib.Path) -> pathlib.Path:
    return pathlib.Path(f"{authkey_file}.next")


def key_operations(api: Any) -> dict:
    from raftha.daemon.api import RequestError, allow, string_arg

    def authkey_phase(args: dict, user: str) -> dict:
        allow(args, "phase")
        phase = string_arg(args, "phase")
        if phase not in PHASES:
            raise RequestError(f"phase must be one of {', '.join(PHASES)}, not {phase!r}")
        if not hasattr(api.raft, "use_frame_keys"):
            raise RequestError("this node's Raft layer cannot change its key")
        authkey_file = pathlib.Path(api.config.authkey_file)
        upcoming = next_key_path(authkey_file)
        try:
            current = read_authkey(authkey_file)
            if phase == "finish" and not upcoming.exists():
                new = current  # already renamed (a key file shared by several nodes)
            elif not upcoming.exists():
                raise RequestError(f"no new key at {upcoming}: copy it there first (mode "
                                   "0600, from `raftha cluster rotate-key --generate`)")
            else:
                new = read_authkey(upcoming)
        except ConfigError as error:
            raise RequestError(str(error)) from None
        keys = {"accept": (current, new), "switch": (new, current), "finish": (new,)}[phase]
        api.raft.use_frame_keys(keys)
        if phase == "finish" and upcoming.exists():
            os.replace(upcoming, authkey_file)
            fsync_directory(str(authkey_file.parent))
        return {"node": api.config.node_name, "phase": phase, "keys": len(keys)}

    return {"authkey_phase": authkey_phase}
