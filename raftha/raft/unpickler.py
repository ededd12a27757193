"""A restricted unpickler for the Raft library's own wire frames, journal records and meta file.

pysyncobj pickles everything it sends and stores. Unpickling a hostile frame runs arbitrary
code, so every pickle the library reads goes through `restricted_loads`, whose `find_class`
allows only the globals the library emits on the paths raftha uses (recorded over elections,
commits, forwarding, membership changes, snapshot transfer and restarts): `_codecs.encode` (how
protocol 2 carries bytes), `bytes` (an empty bytes object is pickled as a call of `bytes()`; we
hand out a version that refuses integer sizes) and `pysyncobj.node.TCPNode` (membership entries).
Anything else raises `pickle.UnpicklingError`, which the library treats as a broken frame
(connection dropped).

This is defence in depth under the cluster authkey (frames are authenticated before they are
unpickled). Our own data never travels as pickle: entries are bytes, snapshots are msgpack.
"""

from __future__ import annotations

import io
import logging
import pickle
from typing import Any, BinaryIO

logger = logging.getLogger(__name__)

_BUILTIN_MODULES = ("builtins", "__builtin__")
ALLOWED_GLOBALS = frozenset({
    ("_codecs", "encode"),
    ("pysyncobj.node", "TCPNode"),
})
MAX_PICKLE_BYTES = 64 * 1024 * 1024


def _bytes_without_sizes(*arguments: Any) -> bytes:
    """`bytes` for unpickling: no `bytes(size)`, which would allocate at an attacker's will."""
    if arguments and isinstance(arguments[0], int):
        raise pickle.UnpicklingError("bytes(size) is not allowed")
    return bytes(*arguments)


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the allow-listed globals."""

    def find_class(self, module: str, name: str) -> Any:
        if module in _BUILTIN_MODULES and name == "bytes":
            return _bytes_without_sizes
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        logger.warning("raft: refused to unpickle global %s.%s", module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")


def restricted_loads(data: bytes | str) -> Any:
    """Drop-in for pysyncobj.pickle.loads."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_PICKLE_BYTES:
        raise pickle.UnpicklingError(f"pickle of {len(data)} bytes exceeds the limit")
    return RestrictedUnpickler(io.BytesIO(data)).load()


def restricted_load(file: BinaryIO) -> Any:
    """Drop-in for pysyncobj.pickle.load."""
    return RestrictedUnpickler(file).load()
