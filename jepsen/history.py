"""History recording: one JSON object per line, appended by many threads.

Record format (shared contract with the checkers and the report):
    {"time_ms": int, "process": str, "type": "invoke"|"ok"|"fail"|"info", "f": str,
     "value": any}
`time_ms` is the host wall clock in milliseconds (every netns "node" shares the host kernel,
so one clock orders all records). Fault operations use process "nemesis".

Invariants:
- Each line is written with one `write()` under a lock and flushed, so a run that is killed
  leaves a readable prefix (a torn last line is skipped by `load_history`).
- An `invoke` is followed by exactly one completion for the same process; a process whose
  op ended `info` is considered crashed and the caller must use a fresh process name.
"""

from __future__ import annotations

import json
import pathlib
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

OP_TYPES = ("invoke", "ok", "fail", "info")
NEMESIS_PROCESS = "nemesis"


def wall_ms() -> int:
    """Host wall clock in milliseconds: the one clock of every record and ledger line."""
    return time.time_ns() // 1_000_000


def make_op(time_ms: int, process: str, op_type: str, f: str, value: Any = None) -> dict:
    """Build one history record, refusing unknown op types."""
    if op_type not in OP_TYPES:
        raise ValueError(f"history op type must be one of {OP_TYPES}, got {op_type!r}")
    return {"time_ms": int(time_ms), "process": str(process), "type": op_type, "f": str(f),
            "value": value}


class HistoryRecorder:
    """Thread-safe appender of history records to a JSON-lines file (and memory)."""

    def __init__(self, path: pathlib.Path, clock_ms: Callable[[], int] = wall_ms) -> None:
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock_ms = clock_ms
        self._lock = threading.Lock()
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._ops: list[dict] = []

    def record(self, process: str, op_type: str, f: str, value: Any = None,
               time_ms: int | None = None) -> dict:
        """Append one record stamped now (or at `time_ms`) and return it."""
        with self._lock:
            stamp = self._clock_ms() if time_ms is None else time_ms
            op = make_op(stamp, process, op_type, f, value)
            line = json.dumps(op, sort_keys=True, default=str)
            if self._file.closed:
                raise RuntimeError(f"history {self.path} is closed")
            self._file.write(line + "\n")
            self._file.flush()
            self._ops.append(op)
            return op

    def ops(self) -> list[dict]:
        """A snapshot copy of every record written so far."""
        with self._lock:
            return list(self._ops)

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()

    def __enter__(self) -> HistoryRecorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def parse_history_lines(lines: Iterable[str]) -> list[dict]:
    """Parse JSON lines into records; a torn or invalid line is skipped (a killed run)."""
    ops: list[dict] = []
    for line in lines:
        text = line.strip()
        if not text:
            continue
        try:
            op = json.loads(text)
        except json.JSONDecodeError:
            continue
        if isinstance(op, dict) and op.get("type") in OP_TYPES and "time_ms" in op:
            ops.append(op)
    return ops


def load_history(path: pathlib.Path) -> list[dict]:
    """Read a history file written by `HistoryRecorder`."""
    with open(path, encoding="utf-8") as handle:
        return parse_history_lines(handle)


def nemesis_ops(history: Iterable[dict]) -> list[dict]:
    return [op for op in history if op.get("process") == NEMESIS_PROCESS]


def client_ops(history: Iterable[dict]) -> list[dict]:
    return [op for op in history if op.get("process") != NEMESIS_PROCESS]


def pair_operations(history: Iterable[dict]) -> list[tuple[dict, dict | None]]:
    """Pair each client invoke with its completion (None if the run ended first)."""
    pending: dict[str, dict] = {}
    pairs: list[tuple[dict, dict | None]] = []
    index_of: dict[int, int] = {}
    for op in client_ops(history):
        process = op["process"]
        if op["type"] == "invoke":
            pending[process] = op
            index_of[id(op)] = len(pairs)
            pairs.append((op, None))
        elif process in pending:
            invoke = pending.pop(process)
            pairs[index_of[id(invoke)]] = (invoke, op)
    return pairs
