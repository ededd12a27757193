"""Durable storage for pysyncobj's journal and term/vote meta file (pysyncobj 0.3.17 only).

As shipped, pysyncobj writes its journal into an mmap and never syncs it, and replaces its
meta file (term, vote, commit index) by rename without fsync: an acknowledged entry or a vote
can vanish on power loss. This module adds the missing syncs:

- `DurableFileJournal` marks itself dirty on every change; `sync()` msyncs the mapping
  (MS_SYNC: data reaches the disk). The hardened transport holds a follower's success replies
  until `sync()` ran (once per tick), and the tick loop calls it before every tick, so the
  leader never counts its own unsynced entries.
- `DurableMetaStorer` writes the meta file to a temporary file, fsyncs it, renames it and
  fsyncs the directory; a corrupt meta file stops the node instead of silently resetting
  its term and vote.
- The journal is only cleared (compaction, or a snapshot received from the leader) after the
  snapshot file that replaces its entries and the directory holding it have been fsynced:
  pysyncobj writes a received snapshot without syncing it. Compaction writes the kept
  entries to a new file that atomically replaces the journal (the library rewrites in place).

Every sync is timed into `SyncStats` so the cost can be measured.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from raftha.raft.library import pysyncobj_journal
from raftha.raft.snapshot import SnapshotError, decode_snapshot


@dataclass
class SyncStats:
    """Counters of syncs done on the tick thread (read from other threads as a snapshot)."""

    journal_syncs: int = 0
    journal_sync_seconds: float = 0.0
    meta_syncs: int = 0
    meta_sync_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_journal(self, seconds: float) -> None:
        with self.lock:
            self.journal_syncs += 1
            self.journal_sync_seconds += seconds

    def add_meta(self, seconds: float) -> None:
        with self.lock:
            self.meta_syncs += 1
            self.meta_sync_seconds += seconds

    def as_dict(self) -> dict[str, float]:
        with self.lock:
            return {
                "journal_syncs": self.journal_syncs,
                "journal_sync_seconds": self.journal_sync_seconds,
                "meta_syncs": self.meta_syncs,
                "meta_sync_seconds": self.meta_sync_seconds,
            }


def fsync_directory(path: str) -> None:
    """Make a rename or a file creation inside `path` durable."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class CorruptMetaError(RuntimeError):
    """The term/vote meta file exists but cannot be read."""


class DurableMetaStorer:
    """Replacement for pysyncobj.journal.MetaStorer with fsync and strict reading."""

    def __init__(self, path: str, stats: SyncStats) -> None:
        self._path = path
        self._stats = stats

    def getMeta(self) -> dict[str, Any]:  # noqa: N802 - pysyncobj's method name
        if not os.path.exists(self._path):
            return {}
        try:
            with open(self._path, "rb") as meta_file:
                meta = pysyncobj_journal.loads(meta_file.read())
        except Exception as error:
            raise CorruptMetaError(f"raft meta file {self._path} is unreadable: {error}") from None
        if not isinstance(meta, dict):
            raise CorruptMetaError(f"raft meta file {self._path} does not hold a mapping")
        return meta

    def storeMeta(self, meta: dict[str, Any]) -> None:  # noqa: N802 - pysyncobj's method name
        started = time.perf_counter()
        temporary = self._path + ".tmp"
        with open(temporary, "wb") as meta_file:
            meta_file.write(pysyncobj_journal.dumps(meta))
            meta_file.flush()
            os.fsync(meta_file.fileno())
        os.replace(temporary, self._path)
        fsync_directory(os.path.dirname(os.path.abspath(self._path)))
        self._stats.add_meta(time.perf_counter() - started)

    def getPath(self) -> str:  # noqa: N802 - pysyncobj's method name
        return self._path


class DurableFileJournal(pysyncobj_journal.FileJournal):
    """pysyncobj's FileJournal plus explicit syncs (see the module docstring)."""

    def __init__(self, journal_path: str, stats: SyncStats, snapshot_path: str) -> None:
        self._dirty = False
        self._stats = stats
        self._snapshot_path = snapshot_path
        self._path = journal_path
        self._directory = os.path.dirname(os.path.abspath(journal_path))
        super().__init__(journal_path)
        storer = DurableMetaStorer(journal_path + ".meta", stats)
        # Re-read strictly: the base class treats an unreadable meta file as empty, which
        # would silently forget the current term and vote.
        self._FileJournal__metaStorer = storer
        self._FileJournal__meta = storer.getMeta()
        fsync_directory(self._directory)
        self._finish_interrupted_compaction()

    def _finish_interrupted_compaction(self) -> None:
        """Drop journal entries an existing snapshot already covers.

        Compaction renames the new snapshot into place and truncates the journal one tick
        later. After a crash in between, pysyncobj finds a journal that does not start at the
        snapshot and clears it completely, losing every entry after the snapshot (entries this
        node may have acknowledged). Completing the truncation first keeps them.
        """
        if not os.path.exists(self._snapshot_path) or len(self) < 2:
            return
        try:
            with open(self._snapshot_path, "rb") as snapshot_file:
                snapshot = decode_snapshot(snapshot_file.read())
        except (OSError, SnapshotError):
            return  # loading it later reports the problem and stops the node
        previous = snapshot["previous"]
        first_index = self[0][1]
        position = previous[1] - first_index
        if position <= 0 or position >= len(self) or self[position] != previous:
            return
        self._keep_entries_from(position)

    def add(self, command: bytes, idx: int, term: int) -> None:
        super().add(command, idx, term)
        self._dirty = True

    def clear(self) -> None:
        # Every entry is about to go: what replaces them (the snapshot file, renamed into
        # place) must be on disk first.
        self._make_snapshot_durable()
        super().clear()
        self._dirty = True

    def _make_snapshot_durable(self) -> None:
        if os.path.exists(self._snapshot_path):
            with open(self._snapshot_path, "rb") as snapshot_file:
                os.fsync(snapshot_file.fileno())
        fsync_directory(self._directory)

    def deleteEntriesFrom(self, entryFrom: int) -> None:  # noqa: N802, N803
        super().deleteEntriesFrom(entryFrom)
        self._dirty = True

    def deleteEntriesTo(self, entryTo: int) -> None:  # noqa: N802, N803
        """Drop the entries a new snapshot covers (log compaction).

        The base class rewrites the file in place (clear, then re-add): a crash in between
        leaves a journal missing acknowledged entries. Here the kept entries go to a new file
        that atomically replaces the journal, after the snapshot itself is durable.
        """
        self._keep_entries_from(entryTo)

    def _keep_entries_from(self, position: int) -> None:
        kept = list(self._FileJournal__journal[position:])
        self._make_snapshot_durable()
        self._replace_file_with(kept)

    def _replace_file_with(self, entries: list[tuple[bytes, int, int]]) -> None:
        temporary = self._path + ".rewrite"
        if os.path.exists(temporary):
            os.remove(temporary)
        fresh = pysyncobj_journal.ResizableFile(
            temporary, defaultContent=self._FileJournal__getDefaultHeader())
        offset = pysyncobj_journal.FIRST_RECORD_OFFSET
        for command, index, term in entries:
            record = struct.pack("<QQ", index, term) + pysyncobj_journal.to_bytes(command)
            length = struct.pack("<I", len(record))
            fresh.write(offset, length + record + length)
            offset += len(record) + 8
        fresh.write(pysyncobj_journal.LAST_RECORD_OFFSET_OFFSET, struct.pack("<I", offset))
        fresh._destroy()
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        self._FileJournal__journalFile._destroy()
        os.replace(temporary, self._path)
        fsync_directory(self._directory)
        self._FileJournal__journalFile = pysyncobj_journal.ResizableFile(self._path)
        self._FileJournal__journal = entries
        self._FileJournal__currentOffset = offset
        self._dirty = False

    def sync(self) -> None:
        """Write the journal to stable storage if it changed since the last sync."""
        if not self._dirty:
            return
        started = time.perf_counter()
        self.flush()
        self._dirty = False
        self._stats.add_journal(time.perf_counter() - started)
