"""Frame keys of a running Raft node, for changing the cluster key without losing quorum.

The library derives one Fernet sealer from the cluster key at start and hands it to every
connection. `frame_sealer(keys)` builds a sealer that seals with keys[0] and opens frames
sealed with any of the keys (cryptography's MultiFernet has the interface the library
uses: encrypt_at_time, extract_timestamp, decrypt); `install_frame_sealer` puts it into a
running node and into each of its open connections. A rolling rotation goes through
(old, new) -> (new, old) -> (new,) one node at a time, so every pair of nodes always shares
a key both can open.

Invariants: `install_frame_sealer` runs only on the node's tick thread (the library reads
these attributes there); keys are exactly 32 bytes; deriving a sealer (PBKDF2, 100 000
rounds per key) happens on the caller's thread, never the tick thread.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import MultiFernet

from raftha.raft.contract import AUTHKEY_BYTES
from raftha.raft.library import pysyncobj_syncobj

MAX_FRAME_KEYS = 3


def frame_sealer(keys: tuple[bytes, ...]) -> Any:
    if not 1 <= len(keys) <= MAX_FRAME_KEYS:
        raise ValueError(f"give 1 to {MAX_FRAME_KEYS} frame keys")
    if any(not isinstance(key, bytes) or len(key) != AUTHKEY_BYTES for key in keys):
        raise ValueError(f"frame keys must be exactly {AUTHKEY_BYTES} bytes")
    sealers = [pysyncobj_syncobj.getEncryptor(key) for key in keys]
    return sealers[0] if len(sealers) == 1 else MultiFernet(sealers)


def install_frame_sealer(node: Any, sealer: Any) -> None:
    """Seal and open this node's frames with `sealer` from now on, open connections too."""
    node._SyncObj__encryptor = sealer
    transport = node._SyncObj__transport
    for connection in [*transport._connections.values(), *transport._unknownConnections]:
        if connection.encryptor is not None:
            connection.encryptor = sealer
