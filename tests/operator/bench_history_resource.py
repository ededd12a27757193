"""Benchmark: how long `history --resource` takes to find the configuration loads that
changed one resource in a long history journal; prints the numbers and the load average.

Run: PYTHONPATH=. python3 tests/operator/bench_history_resource.py [loads] [operations-per-load]
(a script, not a test). Each load carries the whole configuration (100 primitives, 100
location constraints) with one primitive changed; operation results sit between loads, as
in a running cluster.
"""

from __future__ import annotations

import os
import sys
import time

from raftha.crmsh import parse_configuration
from raftha.daemon.api import loads_changing
from raftha.daemon.history import ENTRY, Record
from raftha.model.events import encode_event, make_event
from raftha.model.reducer import APPLIED

RESOURCE_COUNT = 100


def configuration_text(changed: int, interval_s: int) -> str:
    lines = []
    for number in range(RESOURCE_COUNT):
        interval = interval_s if number == changed else 10
        lines.append(f"primitive R{number} ocf:heartbeat:Dummy op monitor interval={interval}s")
        lines.append(f"location prefer-R{number} R{number} 100: node1")
    return "\n".join(lines) + "\n"


def entry(index: int, kind: str, body: dict) -> Record:
    event = make_event(index.to_bytes(16, "big"), kind, "node1", "root", index, body)
    return Record(ENTRY, index, encode_event(event), APPLIED, "")


def journal(loads: int, operations_per_load: int) -> list[Record]:
    records: list[Record] = []
    for number in range(loads):
        text = configuration_text(number % RESOURCE_COUNT, number + 11)
        records.append(entry(len(records) + 1, "ConfigurationLoaded", {
            "configuration": parse_configuration(text).to_dict(), "base_index": 0,
            "mode": "replace"}))
        for _ in range(operations_per_load):
            records.append(entry(len(records) + 1, "OperationCompleted", {
                "node": "node1", "resource": "R1", "agent": "ocf:heartbeat:Dummy",
                "operation": "monitor", "interval_ms": 10_000, "rc": 0, "op_status": 0,
                "target_rc": None, "exit_reason": "", "duration_ms": 3}))
    return records


def main() -> None:
    loads = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    operations_per_load = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    records = journal(loads, operations_per_load)
    started = time.perf_counter()
    found = loads_changing(records, "R7")
    elapsed_s = time.perf_counter() - started
    print(f"{len(records)} entries, {loads} loads: {elapsed_s * 1000:.0f} ms "
          f"({elapsed_s / loads * 1e6:.0f} us per load); {len(found)} loads changed R7; "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
