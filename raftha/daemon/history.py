"""The node's local history journal: committed entries, kept so past states can be rebuilt.

The Raft layer compacts its log, so `raftha history` and `raftha status --at INDEX` read
this journal instead: an append-only file of msgpack frames, one per record,

    ["e", index, entry_bytes, status, reason]   a committed entry and what the reducer did
                                                with it (applied / rejected / duplicate)
    ["s", index, snapshot_bytes]                a checkpoint every `checkpoint_every`
                                                entries, or the start of a rotated file
    ["r", index, snapshot_bytes]                a snapshot restored from the leader (the
                                                entries before it were never seen here)

Invariants:
- Indexes strictly increase through the file; an entry is appended only when its index is
  above the last one written (after a restart Raft re-applies entries we already have).
- A torn tail (crash mid-write) is cut off on open; readers stop at a partial frame.
- Writes are buffered (no syscall on the apply path); queries flush first.
- Bounded: after `max_records` records the file is rotated to `history.1.msgpack` (one old
  generation kept) and the new file starts with a snapshot of the current state.
- Replay uses the same pure reducer as the live node, so a rebuilt state is exactly the
  state the node had at that index; it starts from the nearest checkpoint at or before the
  index, so `status --at` replays at most `checkpoint_every` entries. Listing the history
  needs no replay at all (outcomes are recorded beside the entries).
"""

from __future__ import annotations

import datetime
import logging
import os
import pathlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import msgpack

from raftha.model.events import EventError, decode_event, summarize
from raftha.model.reducer import Outcome, apply
from raftha.model.state import EMPTY_STATE, ClusterState, decode_snapshot, encode_snapshot

LOG = logging.getLogger(__name__)
ENTRY = "e"
SNAPSHOT = "s"        # a checkpoint: continuous with the entries before it
RESTORED = "r"        # a snapshot from the leader: entries before it were never seen here
SNAPSHOTS = (SNAPSHOT, RESTORED)
DEFAULT_MAX_RECORDS = 100_000
DEFAULT_CHECKPOINT_EVERY = 1000
MAX_FRAME_BYTES = 64 * 1024 * 1024
HIDDEN_KINDS = frozenset({"ReadBarrier"})


class HistoryError(ValueError):
    """A history query that cannot be answered; the message is a one-line reason."""


@dataclass(frozen=True)
class HistoryRow:
    index: int
    ts_ms: int
    origin: str
    user: str
    kind: str
    summary: str
    status: str
    reason: str

    def to_dict(self) -> dict:
        return {
            "index": self.index, "time": iso_time(self.ts_ms), "ts_ms": self.ts_ms,
            "origin": self.origin, "user": self.user,
            "kind": self.kind, "summary": self.summary, "status": self.status,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Record:
    record_type: str
    index: int
    payload: bytes
    status: str = ""
    reason: str = ""


def iso_time(ts_ms: int) -> str | None:
    """ISO 8601 UTC with milliseconds, or None for an entry without a time."""
    if not ts_ms:
        return None
    moment = datetime.datetime.fromtimestamp(ts_ms / 1000, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def valid_record(record: object) -> bool:
    if not isinstance(record, list) or len(record) not in (3, 5):
        return False
    if record[0] not in (ENTRY, *SNAPSHOTS) or not isinstance(record[1], int):
        return False
    if not isinstance(record[2], bytes):
        return False
    return len(record) == 3 or (isinstance(record[3], str) and isinstance(record[4], str))


def read_records(path: pathlib.Path) -> Iterator[tuple[Record, int]]:
    """Yields (record, end_offset) until the end of the file or a torn frame."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        unpacker = msgpack.Unpacker(handle, raw=False, max_buffer_size=MAX_FRAME_BYTES)
        while True:
            try:
                record = unpacker.unpack()
            except msgpack.OutOfData:
                return
            except Exception:  # a corrupt frame ends what we can trust
                LOG.warning("history file %s has a corrupt frame; reading stops there", path)
                return
            if not valid_record(record):
                LOG.warning("history file %s has a malformed record; reading stops there", path)
                return
            yield Record(*record), unpacker.tell()


class HistoryJournal:
    def __init__(self, directory: pathlib.Path, max_records: int = DEFAULT_MAX_RECORDS,
                 checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY) -> None:
        self.path = directory / "history.msgpack"
        self.old_path = directory / "history.1.msgpack"
        self.max_records = max_records
        self.checkpoint_every = checkpoint_every
        self.lock = threading.Lock()
        self.last_index, self.record_count, good_end = self.scan()
        self.entries_since_checkpoint = 0
        with self.path.open("ab") as handle:
            handle.truncate(good_end)
        self.handle = self.path.open("ab")

    def scan(self) -> tuple[int, int, int]:
        last_index, count, end = 0, 0, 0
        for record, offset in read_records(self.path):
            last_index, count, end = record.index, count + 1, offset
        if count == 0:
            for record, _ in read_records(self.old_path):
                last_index = record.index
        return last_index, count, end

    def close(self) -> None:
        with self.lock:
            self.handle.close()

    def append_entry(self, index: int, entry: bytes, state_after: ClusterState,
                     outcome: Outcome | None = None) -> None:
        """Called on the apply path: one buffered write, no fsync (Raft's journal is the
        durable copy; a lost tail is re-applied and re-appended after a restart)."""
        with self.lock:
            if index <= self.last_index:
                return
            status, reason = (outcome.status, outcome.reason) if outcome else ("", "")
            self.write([ENTRY, index, entry, status, reason])
            self.entries_since_checkpoint += 1
            if self.record_count >= self.max_records:
                self.rotate(state_after)
            elif self.entries_since_checkpoint >= self.checkpoint_every:
                self.write([SNAPSHOT, index, encode_snapshot(state_after)])
                self.entries_since_checkpoint = 0

    def append_snapshot(self, state: ClusterState) -> None:
        with self.lock:
            if state.last_index <= self.last_index and self.record_count:
                return
            self.write([RESTORED, state.last_index, encode_snapshot(state)])

    def write(self, record: list) -> None:
        # Buffered: readers flush first (see `records`), and a tail lost in a crash is
        # re-applied by Raft and written again, so no syscall is needed on the apply path.
        self.handle.write(msgpack.packb(record, use_bin_type=True))
        self.last_index = max(self.last_index, record[1])
        self.record_count += 1

    def rotate(self, state: ClusterState) -> None:
        self.handle.close()
        os.replace(self.path, self.old_path)
        self.handle = self.path.open("ab")
        self.record_count = 0
        self.entries_since_checkpoint = 0
        self.write([SNAPSHOT, state.last_index, encode_snapshot(state)])

    # -- queries (any thread) ------------------------------------------------------------

    def records(self) -> list[Record]:
        with self.lock:
            self.handle.flush()
            paths = [self.old_path, self.path]
        records: list[Record] = []
        for path in paths:
            for record, _ in read_records(path):
                if records and record.index < records[-1].index:
                    continue  # an old generation overlapping a snapshot: keep order strict
                records.append(record)
        return records

    def earliest(self, records: list[Record]) -> int:
        return records[0].index if records and records[0].record_type in SNAPSHOTS else 0

    def state_at(self, up_to_index: int | None = None) -> ClusterState:
        """The state right after `up_to_index` (or the latest), rebuilt from the nearest
        checkpoint with the pure reducer."""
        records = self.records()
        earliest = self.earliest(records)
        if up_to_index is not None and up_to_index < earliest:
            raise HistoryError(f"index {up_to_index} is older than the kept history "
                               f"(earliest {earliest})")
        limit = up_to_index if up_to_index is not None else float("inf")
        start, state = 0, EMPTY_STATE
        for position, record in enumerate(records):
            if record.index > limit:
                break
            if record.record_type in SNAPSHOTS:
                start = position
        for record in records[start:]:
            if record.index > limit:
                if record.record_type == RESTORED and limit > state.last_index:
                    raise HistoryError(
                        f"this node never saw indexes {state.last_index + 1} to "
                        f"{record.index - 1} (it caught up from a snapshot at {record.index}); "
                        "ask another node")
                break
            if record.record_type in SNAPSHOTS:
                state = decode_snapshot(record.payload)
            else:
                state = apply(state, record.index, record.payload)
        return state

    def rows(self, limit: int, since: int = 0) -> tuple[list[HistoryRow], int]:
        """The latest `limit` entries with index >= since, and the earliest kept index.
        Read barriers (one per consistent read) are left out: they change nothing."""
        records = self.records()
        rows: list[HistoryRow] = []
        for record in reversed(records):
            if len(rows) >= limit or record.index < since:
                break
            if record.record_type != ENTRY:
                continue
            row = row_for(record)
            if row.kind not in HIDDEN_KINDS:
                rows.append(row)
        return rows[::-1], self.earliest(records)


def row_for(record: Record) -> HistoryRow:
    try:
        event = decode_event(record.payload)
    except EventError:
        return HistoryRow(record.index, 0, "", "", "", "(undecodable entry)",
                          record.status or "rejected", record.reason)
    return HistoryRow(record.index, event.ts_ms, event.origin, event.user, event.kind,
                      summarize(event), record.status, record.reason)
