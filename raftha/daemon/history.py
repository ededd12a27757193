"""The node's local history journal: committed entries, kept so past states can be rebuilt.

The Raft layer compacts its log, so `raftha history` and `raftha status --at INDEX` read
this journal instead: an append-only file of msgpack frames, one per record,

    ["e", index, entry_bytes]       a committed entry, as applied
    ["s", index, snapshot_bytes]    a snapshot restored from the leader (entries before it
                                    were never seen here) or written at rotation

Invariants:
- Indexes strictly increase through the file; an entry is appended only when its index is
  above the last one written (after a restart Raft re-applies entries we already have).
- A torn tail (crash mid-write) is cut off on open; readers stop at a partial frame.
- Bounded: after `max_records` records the file is rotated to `history.1.msgpack` (one old
  generation kept) and the new file starts with a snapshot of the current state.
- Replay uses the same pure reducer as the live node, so a rebuilt state is exactly the
  state the node had at that index.
"""

from __future__ import annotations

import logging
import os
import pathlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import msgpack

from raftha.model.events import summarize
from raftha.model.reducer import apply_with_outcome
from raftha.model.state import EMPTY_STATE, ClusterState, decode_snapshot, encode_snapshot

LOG = logging.getLogger(__name__)
ENTRY = "e"
SNAPSHOT = "s"
DEFAULT_MAX_RECORDS = 100_000
MAX_FRAME_BYTES = 64 * 1024 * 1024


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
            "index": self.index, "ts_ms": self.ts_ms, "origin": self.origin, "user": self.user,
            "kind": self.kind, "summary": self.summary, "status": self.status,
            "reason": self.reason,
        }


def read_records(path: pathlib.Path) -> Iterator[tuple[str, int, bytes, int]]:
    """Yields (type, index, payload, end_offset) until the end or a torn frame."""
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
            if (not isinstance(record, list) or len(record) != 3
                    or record[0] not in (ENTRY, SNAPSHOT) or not isinstance(record[1], int)
                    or not isinstance(record[2], bytes)):
                LOG.warning("history file %s has a malformed record; reading stops there", path)
                return
            yield record[0], record[1], record[2], unpacker.tell()


class HistoryJournal:
    def __init__(self, directory: pathlib.Path, max_records: int = DEFAULT_MAX_RECORDS):
        self.path = directory / "history.msgpack"
        self.old_path = directory / "history.1.msgpack"
        self.max_records = max_records
        self.lock = threading.Lock()
        self.last_index, self.record_count, good_end = self.scan()
        with self.path.open("ab") as handle:
            handle.truncate(good_end)
        self.handle = self.path.open("ab")

    def scan(self) -> tuple[int, int, int]:
        last_index, count, end = 0, 0, 0
        for _, index, _, offset in read_records(self.path):
            last_index, count, end = index, count + 1, offset
        if count == 0:
            for _, index, _, _ in read_records(self.old_path):
                last_index = index
        return last_index, count, end

    def close(self) -> None:
        with self.lock:
            self.handle.close()

    def append_entry(self, index: int, entry: bytes, state_after: ClusterState) -> None:
        """Called on the apply path: one buffered write, no fsync (Raft's journal is the
        durable copy; a lost tail is re-applied and re-appended after a restart)."""
        with self.lock:
            if index <= self.last_index:
                return
            self.write(ENTRY, index, entry)
            if self.record_count >= self.max_records:
                self.rotate(state_after)

    def append_snapshot(self, state: ClusterState) -> None:
        with self.lock:
            if state.last_index <= self.last_index and self.record_count:
                return
            self.write(SNAPSHOT, state.last_index, encode_snapshot(state))

    def write(self, record_type: str, index: int, payload: bytes) -> None:
        self.handle.write(msgpack.packb([record_type, index, payload], use_bin_type=True))
        self.handle.flush()
        self.last_index = max(self.last_index, index)
        self.record_count += 1

    def rotate(self, state: ClusterState) -> None:
        self.handle.close()
        os.replace(self.path, self.old_path)
        self.handle = self.path.open("ab")
        self.record_count = 0
        self.write(SNAPSHOT, state.last_index, encode_snapshot(state))

    # -- queries (any thread) ------------------------------------------------------------

    def records(self) -> list[tuple[str, int, bytes]]:
        with self.lock:
            self.handle.flush()
            paths = [self.old_path, self.path]
        records: list[tuple[str, int, bytes]] = []
        for path in paths:
            for record_type, index, payload, _ in read_records(path):
                if records and index < records[-1][1]:
                    continue  # an old generation overlapping a snapshot: keep order strict
                records.append((record_type, index, payload))
        return records

    def replay(self, up_to_index: int | None = None
               ) -> tuple[ClusterState, list[HistoryRow], int]:
        """State at `up_to_index` (or the end), the rows replayed, and the earliest index
        this journal can rebuild."""
        state, rows = EMPTY_STATE, []
        records = self.records()
        earliest = records[0][1] if records and records[0][0] == SNAPSHOT else 0
        for record_type, index, payload in records:
            if up_to_index is not None and index > up_to_index:
                break
            if record_type == SNAPSHOT:
                state = decode_snapshot(payload)
                continue
            state, outcome = apply_with_outcome(state, index, payload)
            rows.append(row_for(index, payload, outcome))
        if up_to_index is not None and up_to_index < earliest:
            raise HistoryError(f"index {up_to_index} is older than the kept history "
                               f"(earliest {earliest})")
        return state, rows, earliest


def row_for(index: int, payload: bytes, outcome) -> HistoryRow:
    event = outcome.event
    if event is None:
        return HistoryRow(index, 0, "", "", "", "(undecodable entry)", outcome.status,
                          outcome.reason)
    return HistoryRow(index, event.ts_ms, event.origin, event.user, event.kind,
                      summarize(event), outcome.status, outcome.reason)
