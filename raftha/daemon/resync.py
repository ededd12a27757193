"""`raftha node resync --config FILE`: rebuild a node whose Raft data is damaged from the cluster.

A node whose journal or term/vote file cannot be read refuses to start (a node that guessed
would risk a diverged state). Resync moves the node's replicated data aside (never deletes
it: it stays for inspection) and leaves an empty data directory, so the next start joins as
an empty member that the leader catches up with a snapshot and the log.

Invariants:
- Refuses while the node's daemon answers on its control socket or holds the data
  directory's lock (it would pull its data away from under a running process); holds that
  lock itself while it moves data, so no daemon starts meanwhile.
- Moves only what is replicated or derived from the log (`raft/`, the history journal);
  the node's local runtime files stay. One rename per item into `damaged-<UTC time>/`
  inside the data directory, so nothing is half-moved across file systems.
- Safety: an empty member has forgotten its term and vote. Resync one node at a time, and
  only while the rest of the cluster has a quorum: the others then hold every committed
  entry, and the node cannot become leader before it has caught up (its log is empty).
"""

from __future__ import annotations

import datetime
import os
import pathlib
from dataclasses import dataclass

from raftha.daemon.client import ApiError, ControlClient
from raftha.daemon.config import NodeConfig
from raftha.raft.durability import fsync_directory

REPLICATED_ITEMS = ("raft", "history.msgpack", "history.1.msgpack")
PING_TIMEOUT_MS = 1000


class ResyncError(Exception):
    """Resync cannot proceed; the message is a one-line reason."""


@dataclass(frozen=True)
class ResyncResult:
    moved_to: pathlib.Path
    moved: tuple[str, ...]


def daemon_answers(config: NodeConfig) -> bool:
    try:
        with ControlClient(str(config.control_socket), PING_TIMEOUT_MS) as client:
            client.call("ping")
        return True
    except (ApiError, OSError):
        return False


def resync_data(config: NodeConfig, now: datetime.datetime | None = None) -> ResyncResult:
    if daemon_answers(config):
        raise ResyncError(f"node {config.node_name} is running (its control socket "
                          f"{config.control_socket} answers); stop it first")
    data_dir = config.data_dir
    if not data_dir.is_dir():
        raise ResyncError(f"data directory {data_dir} does not exist; nothing to resync "
                          "(an empty node catches up by itself)")
    present = [name for name in REPLICATED_ITEMS if (data_dir / name).exists()]
    if not present:
        raise ResyncError(f"data directory {data_dir} holds no Raft data; start the node "
                          "and it catches up by itself")
    from raftha.daemon.node import NodeStartError, lock_data_dir
    try:
        lock = lock_data_dir(data_dir)
    except NodeStartError as error:
        raise ResyncError(f"{error}; stop that daemon first") from None
    try:
        return move_aside(data_dir, present, now)
    finally:
        os.close(lock)


def move_aside(data_dir: pathlib.Path, present: list[str],
               now: datetime.datetime | None) -> ResyncResult:
    moment = (now or datetime.datetime.now(datetime.UTC)).strftime("%Y%m%dT%H%M%SZ")
    target = data_dir / f"damaged-{moment}"
    try:
        target.mkdir(mode=0o700)
    except FileExistsError:
        raise ResyncError(f"{target} already exists; try again in a second") from None
    for name in present:
        os.replace(data_dir / name, target / name)
    # Durable renames: a crash must not bring the damaged data back.
    fsync_directory(str(data_dir))
    return ResyncResult(target, tuple(present))

