"""Raft journal integrity: every record carries a CRC-32; a damaged journal is refused on
open with the file and the record named, and compaction and truncation keep valid records."""

from __future__ import annotations

import struct

import pytest

from raftha.raft.durability import (
    FORMAT_OFFSET,
    PYSYNCOBJ_JOURNAL_FORMAT,
    CorruptJournalError,
    DurableFileJournal,
    SyncStats,
    verify_journal,
)
from raftha.raft.library import pysyncobj_journal

ENTRIES = [(f"command number {number}".encode() * 3, number, 1) for number in range(1, 9)]


def journal_at(tmp_path, entries=ENTRIES) -> tuple[str, DurableFileJournal]:
    path = str(tmp_path / "raft.journal")
    journal = DurableFileJournal(path, SyncStats(), str(tmp_path / "raft.snapshot"))
    for entry in entries:
        journal.add(*entry)
    journal.sync()
    return path, journal


def reopen(tmp_path) -> DurableFileJournal:
    return DurableFileJournal(str(tmp_path / "raft.journal"), SyncStats(),
                              str(tmp_path / "raft.snapshot"))


def record_offset(data: bytes, number: int) -> int:
    offset = pysyncobj_journal.FIRST_RECORD_OFFSET
    for _ in range(number - 1):
        offset += struct.unpack_from("<I", data, offset)[0] + 8
    return offset


def test_records_round_trip_and_verify(tmp_path):
    path, journal = journal_at(tmp_path)
    journal._destroy()
    assert verify_journal(path) == len(ENTRIES)
    reopened = reopen(tmp_path)
    assert [reopened[position] for position in range(len(reopened))] == ENTRIES
    reopened._destroy()


@pytest.mark.parametrize("where, expected", [
    (lambda offset: offset + 4 + 20 + 5, "record 3 at offset {offset} (log index 3) fails its "
                                         "checksum"),
    (lambda offset: offset + 4 + 3, "record 3 at offset {offset} (log index "),
    (lambda offset: offset + 1, "record 3 at offset {offset} has"),
])
def test_a_flipped_byte_is_named_by_file_and_record(tmp_path, where, expected):
    path, journal = journal_at(tmp_path)
    journal._destroy()
    data = bytearray(open(path, "rb").read())
    offset = record_offset(data, 3)
    data[where(offset)] ^= 0x10
    open(path, "wb").write(bytes(data))
    with pytest.raises(CorruptJournalError) as refused:
        reopen(tmp_path)
    message = str(refused.value)
    assert message.startswith(f"raft journal {path} is unreadable: ")
    assert expected.format(offset=offset) in message


def test_compaction_and_truncation_keep_checksummed_records(tmp_path):
    path, journal = journal_at(tmp_path)
    journal.deleteEntriesTo(3)      # compaction: the first three are in a snapshot
    journal.deleteEntriesFrom(4)    # a conflicting tail cut by a new leader
    journal.add(b"replacement", 8, 2)
    journal.sync()
    journal._destroy()
    assert verify_journal(path) == 5
    reopened = reopen(tmp_path)
    assert [reopened[position] for position in range(len(reopened))] == [
        *ENTRIES[3:7], (b"replacement", 8, 2)]
    reopened._destroy()


def test_out_of_order_records_are_refused(tmp_path):
    path, journal = journal_at(tmp_path, [(b"a", 1, 1), (b"b", 3, 1)])
    journal._destroy()
    with pytest.raises(CorruptJournalError, match="holds log index 3 after 1"):
        verify_journal(path)


def test_journal_without_checksums_is_accepted_only_when_empty(tmp_path):
    path = str(tmp_path / "raft.journal")
    plain = pysyncobj_journal.FileJournal(path)
    plain._destroy()
    assert struct.unpack_from("<I", open(path, "rb").read(), FORMAT_OFFSET)[0] == \
        PYSYNCOBJ_JOURNAL_FORMAT
    upgraded = reopen(tmp_path)     # empty: taken over, records get checksums from now on
    upgraded.add(b"x", 1, 1)
    upgraded._destroy()
    assert verify_journal(path) == 1
    (tmp_path / "raft.journal").unlink()
    (tmp_path / "raft.journal.meta").unlink(missing_ok=True)
    plain = pysyncobj_journal.FileJournal(path)
    plain.add(b"unchecked", 1, 1)
    plain._destroy()
    with pytest.raises(CorruptJournalError, match="unknown journal format 0x1"):
        reopen(tmp_path)


def test_a_cut_header_and_a_wild_end_offset_are_refused(tmp_path):
    path, journal = journal_at(tmp_path)
    journal._destroy()
    data = open(path, "rb").read()
    open(path, "wb").write(data[:20])
    with pytest.raises(CorruptJournalError, match="header is cut short"):
        verify_journal(path)
    wild = bytearray(data)
    struct.pack_into("<I", wild, pysyncobj_journal.LAST_RECORD_OFFSET_OFFSET, 2**31)
    open(path, "wb").write(bytes(wild))
    with pytest.raises(CorruptJournalError, match="outside the file"):
        verify_journal(path)
