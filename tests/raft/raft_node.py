"""One RaftLog member in its own process, driven by JSON lines on stdin, answering on stdout.

Used by the real-process Raft tests and by tests/bench/bench_raft.py. The state machine is a
trivial msgpack list of (index, entry) pairs; it records every apply call so a test can see
an entry applied twice. Each request line is {"id": N, "cmd": ..., ...}; each answer line is
{"id": N, ...}. The process exits on stdin EOF, on {"cmd": "exit"}, or after --max-life-s.

Faults for tests:
  --poison TEXT            apply_entry raises (after recording) when the entry equals TEXT
  --raise-in-delivery      the proposal answer hand-off raises after storing the answer
  --fail-tick-after-s S    after S seconds every Raft tick raises (the node must fail-stop)
  --stall-compaction       the first snapshot is written but the journal is never truncated
                           and no later snapshot replaces it: the on-disk state of a crash
                           between the two steps of a compaction
Diagnostics:
  --trace-truncation       log every cut of the journal's tail; "DIVERGED" marks an applied
                           entry replaced by one of another term (a Raft safety violation)
Benchmark baseline:
  --no-fsync               journal syncs do nothing (measures what durability costs)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pathlib
import statistics
import sys
import threading
import time

import msgpack

from raftha.raft.contract import ProposeOutcome, RaftSettings
from raftha.raft.log import RaftLog


class RecordingStateMachine:
    """Keeps applied entries; counts apply calls per index."""

    def __init__(self, poison: bytes | None) -> None:
        self.entries: list[tuple[int, bytes]] = []
        self.apply_calls: dict[int, int] = {}
        self.restores = 0
        self.poison = poison
        self.lock = threading.Lock()

    def apply_entry(self, index: int, entry: bytes) -> None:
        with self.lock:
            self.apply_calls[index] = self.apply_calls.get(index, 0) + 1
            self.entries.append((index, entry))
        if self.poison is not None and entry == self.poison:
            raise RuntimeError("poisoned entry")

    def snapshot_bytes(self) -> bytes:
        with self.lock:
            return msgpack.packb([[index, entry] for index, entry in self.entries])

    def restore_snapshot(self, data: bytes) -> None:
        with self.lock:
            self.entries = [(index, entry) for index, entry in msgpack.unpackb(data)]
            self.restores += 1


def install_raising_delivery() -> None:
    from raftha.raft import outcome

    original = outcome.PendingProposal.deliver

    def deliver_then_raise(self, result, code):  # noqa: ANN001
        original(self, result, code)
        raise RuntimeError("answer hand-off failed")

    outcome.PendingProposal.deliver = deliver_then_raise


def install_truncation_trace(machine: RecordingStateMachine) -> None:
    from raftha.raft.durability import DurableFileJournal

    removed_terms: dict[int, int] = {}
    original_delete = DurableFileJournal.deleteEntriesFrom
    original_add = DurableFileJournal.add

    def delete_from(journal, position: int) -> None:  # noqa: ANN001
        removed = [journal[i] for i in range(position, len(journal))]
        with machine.lock:
            applied = max(machine.apply_calls, default=0)
        if removed:
            logging.getLogger("trace").warning(
                "truncation of %d entries from index %d (terms %s), last applied entry %d",
                len(removed), removed[0][1], sorted({term for _, _, term in removed}), applied)
            for _, index, term in removed:
                if index <= applied:
                    removed_terms[index] = term
        original_delete(journal, position)

    def add(journal, command: bytes, index: int, term: int) -> None:  # noqa: ANN001
        old_term = removed_terms.pop(index, None)
        if old_term is not None and old_term != term:
            logging.getLogger("trace").error(
                "DIVERGED: applied index %d had term %d, replaced by term %d", index, old_term,
                term)
        original_add(journal, command, index, term)

    DurableFileJournal.deleteEntriesFrom = delete_from
    DurableFileJournal.add = add


def install_stalled_compaction() -> None:
    from raftha.raft import log as log_module
    from raftha.raft.durability import DurableFileJournal

    DurableFileJournal.deleteEntriesTo = lambda journal, position: None
    make_serializer = log_module.make_serializer

    def make_first_only(machine):  # noqa: ANN001, ANN202
        serialize = make_serializer(machine)
        written = []

        def serialize_once(path: str, raft_data: object) -> None:
            if written:
                raise RuntimeError("later snapshots are stalled")
            serialize(path, raft_data)
            written.append(path)

        return serialize_once

    log_module.make_serializer = make_first_only


def break_ticks(log: RaftLog) -> None:
    def raising_tick(*_arguments: object) -> None:
        raise RuntimeError("injected tick failure")

    log._node.doTick = raising_tick


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    if not sorted_values:
        return None
    position = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[position]


class Server:
    def __init__(self, log: RaftLog, machine: RecordingStateMachine) -> None:
        self.log = log
        self.machine = machine
        self.write_lock = threading.Lock()

    def emit(self, message: dict) -> None:
        with self.write_lock:
            sys.stdout.write(json.dumps(message) + "\n")
            sys.stdout.flush()

    def answer(self, request: dict) -> None:
        """Handle one request on its own thread so slow proposals do not block queries."""
        try:
            reply = self.handle(request)
        except Exception as error:
            reply = {"error": repr(error)}
        reply["id"] = request.get("id")
        self.emit(reply)

    def handle(self, request: dict) -> dict:
        command = request.get("cmd")
        if command == "propose":
            result = self.log.propose(request["entry"].encode(), int(request.get("timeout_ms",
                                                                                  2000)))
            return {"outcome": result.outcome.name, "index": result.index,
                    "reason": result.reason}
        if command == "status":
            return {"status": self.log.status().__dict__}
        if command == "applied":
            with self.machine.lock:
                return {"entries": [[index, entry.decode(errors="replace")]
                                    for index, entry in self.machine.entries],
                        "apply_calls": {str(k): v for k, v in self.machine.apply_calls.items()},
                        "restores": self.machine.restores}
        if command == "metrics":
            return {"metrics": self.log.metrics()}
        if command in ("add_member", "remove_member"):
            method = getattr(self.log, command)
            result = method(request["address"], int(request.get("timeout_ms", 3000)))
            return {"outcome": result.outcome.name, "reason": result.reason}
        if command == "bench":
            return self.bench(int(request["n"]), int(request.get("size", 200)),
                              int(request.get("timeout_ms", 2000)),
                              int(request.get("threads", 1)))
        return {"error": f"unknown command {command!r}"}

    def bench(self, count: int, size: int, timeout_ms: int, threads: int) -> dict:
        """`threads` workers propose `count` entries in all, each waiting for its answer."""
        latencies: list[float] = []
        outcomes: dict[str, int] = {}
        lock = threading.Lock()

        def worker(worker_number: int) -> None:
            for number in range(worker_number, count, threads):
                entry = (f"bench-{os.getpid()}-{number}-".encode() + b"x" * size)[:size]
                before = time.perf_counter()
                result = self.log.propose(entry, timeout_ms)
                with lock:
                    if result.outcome is ProposeOutcome.COMMITTED:
                        latencies.append(time.perf_counter() - before)
                    outcomes[result.outcome.name] = outcomes.get(result.outcome.name, 0) + 1

        started = time.perf_counter()
        workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        elapsed = time.perf_counter() - started
        latencies.sort()
        return {"outcomes": outcomes, "elapsed_s": elapsed,
                "ops_per_s": len(latencies) / elapsed if elapsed else None,
                "p50_ms": (percentile(latencies, 0.5) or 0) * 1e3,
                "p99_ms": (percentile(latencies, 0.99) or 0) * 1e3,
                "mean_ms": statistics.fmean(latencies) * 1e3 if latencies else None}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--self", dest="self_address", required=True)
    parser.add_argument("--peers", nargs="*", default=[])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--authkey-hex", required=True)
    parser.add_argument("--poison", default=None)
    parser.add_argument("--raise-in-delivery", action="store_true")
    parser.add_argument("--fail-tick-after-s", type=float, default=None)
    parser.add_argument("--no-fsync", action="store_true")
    parser.add_argument("--stall-compaction", action="store_true")
    parser.add_argument("--trace-truncation", action="store_true")
    parser.add_argument("--compaction-entries", type=int, default=5000)
    parser.add_argument("--max-life-s", type=float, default=300.0)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    threading.Timer(arguments.max_life_s, lambda: os._exit(3)).start()
    if arguments.raise_in_delivery:
        install_raising_delivery()
    if arguments.stall_compaction:
        install_stalled_compaction()
    if arguments.no_fsync:
        from raftha.raft.durability import DurableFileJournal

        DurableFileJournal.flush = lambda self: None
    settings = RaftSettings(
        self_address=arguments.self_address,
        peer_addresses=tuple(arguments.peers),
        data_dir=pathlib.Path(arguments.data_dir),
        authkey=bytes.fromhex(arguments.authkey_hex),
        compaction_min_entries=arguments.compaction_entries,
    )
    machine = RecordingStateMachine(arguments.poison.encode() if arguments.poison else None)
    log = RaftLog(settings, machine)
    if arguments.trace_truncation:
        install_truncation_trace(machine)
    log.start()
    if arguments.fail_tick_after_s is not None:
        threading.Timer(arguments.fail_tick_after_s, break_ticks, args=(log,)).start()
    server = Server(log, machine)
    server.emit({"id": 0, "started": True, "pid": os.getpid()})
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        if request.get("cmd") == "exit":
            break
        threading.Thread(target=server.answer, args=(request,), daemon=True).start()
    log.stop()
    os._exit(0)


if __name__ == "__main__":
    main()
