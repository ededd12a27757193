"""Durable storage for pysyncobj's journal and term/vote meta file (pysyncobj 0.3.17 only).

As shipped, pysyncobj writes its journal into an mmap and never syncs it, and replaces its
meta file (term, vote, commit index) by rename without fsync: an acknowledged entry or a vote
can vanish on power loss. This module adds the missing syncs:

- `DurableFileJournal` marks itself dirty on every change; `sync()` msyncs the mapping
  (MS_SYNC: data reaches the disk). The hardened transport holds a follower's success replies
  until `sync()` ran (once per tick), and the tick loop calls it before every tick, so the
  leader never counts its own unsynced entries.
- The commit index (a hint the library keeps in the meta file and rewrites at most once a
  second) is only marked for storing when it changed.
- `DurableMetaStorer` writes the meta file to a temporary file, fsyncs it, renames it and
  fsyncs the directory; a corrupt meta file stops the node instead of silently resetting
  its term and vote.
- The journal is only cleared (compaction, or a snapshot received from the leader) after the
  snapshot file that replaces its entries and the directory holding it have been fsynced:
  pysyncobj writes a received snapshot without syncing it. Compaction writes the kept
  entries to a new file that atomically replaces the journal (the library rewrites in place).

- Every journal record carries a CRC-32 of its index, term and command (the header's format
  field says so); opening a journal verifies every record, their order and the framing, and
  a damaged one raises `CorruptJournalError` naming the file and the record, so the node
  refuses to serve until `raftha node resync` rebuilds it from the cluster. A journal
  written without checksums is accepted only when it holds no record.

Every sync is timed into `SyncStats` so the cost can be measured.
"""

from __future__ import annotations

import os
import struct
import threading
import time
import zlib
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


class CorruptJournalError(CorruptMetaError):
    """The journal fails its checks; the message names the file and the record."""


# pysyncobj writes format 1 (records [size][index, term, command][size]); ours puts a CRC-32
# between term and command: [size][index, term, crc32, command][size].
PYSYNCOBJ_JOURNAL_FORMAT = 1
CHECKSUMMED_JOURNAL_FORMAT = 0x52480001
FORMAT_OFFSET = pysyncobj_journal.NAME_SIZE + pysyncobj_journal.VERSION_SIZE
RECORD_HEAD = struct.Struct("<QQI")
SIZE = struct.Struct("<I")


def record_checksum(index: int, term: int, command: bytes) -> int:
    return zlib.crc32(command, zlib.crc32(struct.pack("<QQ", index, term)))


def encode_record(command: bytes, index: int, term: int) -> bytes:
    payload = RECORD_HEAD.pack(index, term, record_checksum(index, term, command)) + command
    size = SIZE.pack(len(payload))
    return size + payload + size


def verify_journal(path: str) -> int:
    """Checks every record of the journal file at `path`; returns how many it holds.
    Raises CorruptJournalError naming the file and the first bad record."""
    if not os.path.exists(path):
        return 0
    with open(path, "rb") as journal_file:
        data = journal_file.read()

    def damaged(reason: str) -> CorruptJournalError:
        return CorruptJournalError(f"raft journal {path} is unreadable: {reason}")

    first = pysyncobj_journal.FIRST_RECORD_OFFSET
    if len(data) < first:
        raise damaged(f"the header is cut short ({len(data)} bytes)")
    (journal_format,) = SIZE.unpack_from(data, FORMAT_OFFSET)
    (end,) = SIZE.unpack_from(data, pysyncobj_journal.LAST_RECORD_OFFSET_OFFSET)
    if not first <= end <= len(data):
        raise damaged(f"the end offset {end} lies outside the file ({len(data)} bytes)")
    if journal_format == PYSYNCOBJ_JOURNAL_FORMAT and end == first:
        return 0  # an empty journal of the plain format: records added now get checksums
    if journal_format != CHECKSUMMED_JOURNAL_FORMAT:
        raise damaged(f"unknown journal format {journal_format:#x} (records without "
                      "checksums cannot be verified)")
    offset, number, previous_index = first, 0, None
    while offset < end:
        number += 1
        where = f"record {number} at offset {offset}"
        if offset + SIZE.size + RECORD_HEAD.size + SIZE.size > end:
            raise damaged(f"{where} is cut short")
        (size,) = SIZE.unpack_from(data, offset)
        if size < RECORD_HEAD.size or offset + size + 2 * SIZE.size > end:
            raise damaged(f"{where} has an impossible size {size}")
        (trailing,) = SIZE.unpack_from(data, offset + SIZE.size + size)
        if trailing != size:
            raise damaged(f"{where}: its two size fields differ ({size} and {trailing})")
        index, term, checksum = RECORD_HEAD.unpack_from(data, offset + SIZE.size)
        command = data[offset + SIZE.size + RECORD_HEAD.size: offset + SIZE.size + size]
        if record_checksum(index, term, command) != checksum:
            raise damaged(f"{where} (log index {index}) fails its checksum")
        if previous_index is not None and index != previous_index + 1:
            raise damaged(f"{where} holds log index {index} after {previous_index}")
        previous_index = index
        offset += size + 2 * SIZE.size
    return number


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
        verify_journal(journal_path)  # before the library parses (and trusts) it
        super().__init__(journal_path)
        # The library read [crc32, command] as the command: keep the command only.
        self._FileJournal__journal = [(command[SIZE.size:], index, term)
                                      for command, index, term in self._FileJournal__journal]
        self._FileJournal__journalFile.write(FORMAT_OFFSET,
                                             SIZE.pack(CHECKSUMMED_JOURNAL_FORMAT))
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

    def _FileJournal__getDefaultHeader(self) -> bytes:  # noqa: N802 - the library's name
        header = pysyncobj_journal.FileJournal._FileJournal__getDefaultHeader(self)
        return header[:FORMAT_OFFSET] + SIZE.pack(CHECKSUMMED_JOURNAL_FORMAT) + header[
            FORMAT_OFFSET + SIZE.size:]

    def add(self, command: bytes, idx: int, term: int) -> None:
        """The library's add, with the checksummed record layout."""
        self._FileJournal__journal.append((command, idx, term))
        record = encode_record(pysyncobj_journal.to_bytes(command), idx, term)
        self._FileJournal__journalFile.write(self._FileJournal__currentOffset, record)
        self._FileJournal__currentOffset += len(record)
        self._FileJournal__setLastRecordOffset(self._FileJournal__currentOffset)
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

    def setRaftCommitIndex(self, raftCommitIndex: int) -> None:  # noqa: N802, N803
        """The library marks the meta file for rewriting (three fsyncs, once a second) on
        every call, even when the index did not move: an idle follower then rewrote it every
        second for nothing. Only a change is stored."""
        if raftCommitIndex != self.getRaftCommitIndex():
            super().setRaftCommitIndex(raftCommitIndex)

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
            record = encode_record(pysyncobj_journal.to_bytes(command), index, term)
            fresh.write(offset, record)
            offset += len(record)
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
