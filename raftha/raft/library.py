"""The one import of pysyncobj in raftha, pinned to the exact version our patches are written for.

Importing this module:
1. refuses any pysyncobj other than 0.3.17 (the durability, unpickler and transport patches
   reach into that version's private names);
2. replaces the library's pickle readers (`pysyncobj.pickle.loads/load` and the copy bound
   inside `pysyncobj.journal`) by the restricted unpickler, process-wide;
3. bounds incoming frames: a peer announcing (or streaming) a frame above `MAX_FRAME_BYTES`
   is disconnected at once, instead of being buffered up to 2 GiB before authentication;
4. frames smaller than `COMPRESS_FROM_BYTES` are packed as stored (uncompressed) zlib
   streams: the library deflates every frame at level 3, which costs about 40 us per small
   message (mostly setting up the compressor) and saves nothing on Raft's small entries and
   heartbeats. A stored stream is still a zlib stream, so any pysyncobj 0.3.17 peer reads it;
5. seals frames with `raftha.raft.sealer.FrameSealer` (the same Fernet tokens, in fewer
   steps) wherever the library (or `raftha.raft.keys`) derives a sealer from a key;
6. a message equal to the previous one on the same connection, sealed with the same sealer
   within the same second of the token timestamp, is sent as the same token without being
   pickled or sealed again (an idle leader's heartbeats, a follower's pings): pickling and
   sealing were most of what an idle heartbeat cost in Python. The receiver accepts it as
   it would a replay of that token, which the format never prevented within a second, and
   an observer learns only that the frame repeated, which its size and timing already show.

Nothing else in the project may import pysyncobj.
"""

from __future__ import annotations

import importlib.metadata
import struct
import zlib
from typing import Any

import pysyncobj
import pysyncobj.journal as pysyncobj_journal
import pysyncobj.pickle as pysyncobj_pickle
import pysyncobj.syncobj as pysyncobj_syncobj
import pysyncobj.tcp_connection as pysyncobj_tcp_connection
import pysyncobj.transport as pysyncobj_transport
import pysyncobj.version as pysyncobj_version
from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, replicated
from pysyncobj.node import TCPNode

from raftha.raft.sealer import FrameSealer
from raftha.raft.unpickler import restricted_load, restricted_loads

REQUIRED_VERSION = "0.3.17"
MAX_FRAME_BYTES = 16 * 1024 * 1024
# Frames at least this large (snapshot transfers, big batches) are still deflated.
COMPRESS_FROM_BYTES = 64 * 1024
LARGE_FRAME_COMPRESSION_LEVEL = 3  # the library's own level
STORED_WINDOW_BITS = 9  # the smallest window: a stored stream needs none
STORED_MEMORY_LEVEL = 1


def _check_version() -> None:
    installed = importlib.metadata.version("pysyncobj")
    if pysyncobj_version.VERSION != REQUIRED_VERSION or installed != REQUIRED_VERSION:
        raise ImportError(
            f"raftha.raft needs pysyncobj=={REQUIRED_VERSION} (found {installed}, module "
            f"{pysyncobj_version.VERSION}): its hardening patches target that exact version")


def _install_restricted_unpickler() -> None:
    pysyncobj_pickle.loads = restricted_loads
    pysyncobj_pickle.load = restricted_load
    pysyncobj_journal.loads = restricted_loads


def _install_frame_limit() -> None:
    connection_class = pysyncobj_tcp_connection.TcpConnection
    read_once = connection_class._TcpConnection__processRead

    def bounded_read(connection: Any) -> bool:
        more = read_once(connection)
        buffer = connection._TcpConnection__readBuffer
        if len(buffer) >= 4:
            announced = struct.unpack("i", buffer[:4])[0]
            if announced < 0 or announced > MAX_FRAME_BYTES or len(buffer) > 2 * MAX_FRAME_BYTES:
                connection.disconnect()
                return False
        return more

    connection_class._TcpConnection__processRead = bounded_read


def pack_frame(payload: bytes) -> bytes:
    """The zlib stream the library's reader expects: stored below `COMPRESS_FROM_BYTES`."""
    if len(payload) >= COMPRESS_FROM_BYTES:
        return zlib.compress(payload, LARGE_FRAME_COMPRESSION_LEVEL)
    packer = zlib.compressobj(0, zlib.DEFLATED, STORED_WINDOW_BITS, STORED_MEMORY_LEVEL)
    return packer.compress(payload) + packer.flush()


def _install_cheap_frame_packing() -> None:
    """TcpConnection.send as in pysyncobj 0.3.17, with `pack_frame` instead of level-3 deflate
    and the previous token sent again for a repeated frame (item 6 above)."""
    connection_class = pysyncobj_tcp_connection.TcpConnection
    monotonic = pysyncobj_tcp_connection.monotonicTime

    def send(connection: Any, message: Any) -> None:
        if connection.sendRandKey:
            message = (connection.sendRandKey, message)
        sealer = connection.encryptor
        if sealer:
            data = sealed_frame(connection, sealer, message, int(monotonic()))
        else:
            data = pack_frame(pysyncobj_pickle.dumps(message))
        connection._TcpConnection__writeBuffer += struct.pack("i", len(data)) + data
        connection._TcpConnection__trySendBuffer()

    connection_class.send = send


def sealed_frame(connection: Any, sealer: Any, message: Any, timestamp: int) -> bytes:
    """The token for `message` on `connection`: the previous one when the message equals the
    previous one and sealer and timestamp second are unchanged (not even pickled again),
    else a freshly pickled and sealed one (remembered). The library builds a new message
    object for every send and never changes one once sent, so holding it is safe."""
    previous = getattr(connection, "_raftha_last_frame", None)
    if previous is not None and previous[0] == timestamp and previous[1] is sealer \
            and previous[2] == message:
        return previous[3]
    token = sealer.encrypt_at_time(pack_frame(pysyncobj_pickle.dumps(message)), timestamp)
    connection._raftha_last_frame = (timestamp, sealer, message, token)
    return token


# The library's own key derivation (PBKDF2 of the cluster key) to a Fernet.
derive_fernet = pysyncobj_syncobj.getEncryptor


def frame_sealer_for(password: bytes | str) -> FrameSealer:
    return FrameSealer(derive_fernet(password))


def _install_frame_sealer() -> None:
    pysyncobj_syncobj.getEncryptor = frame_sealer_for


_check_version()
_install_restricted_unpickler()
_install_frame_limit()
_install_cheap_frame_packing()
_install_frame_sealer()

__all__ = [
    "COMPRESS_FROM_BYTES", "FAIL_REASON", "MAX_FRAME_BYTES", "REQUIRED_VERSION", "SyncObj",
    "SyncObjConf", "TCPNode",
    "pysyncobj", "pysyncobj_journal", "pysyncobj_syncobj", "pysyncobj_transport", "replicated",
]
