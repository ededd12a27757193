"""The clock hook contract between the harness and a node process under test.

libfaketime cannot be used on a threaded Python daemon (threading timeouts hang or
time.sleep fails), so clock faults go through the product's own clock module:

    RAFTHA_CLOCK_OFFSET_FILE=<path>   environment variable given to the node process

- The file holds one JSON object: {"offset_ms": <number>, "rate": <number>}. Both keys are
  optional (defaults 0 and 1.0). A missing, empty or unparsable file means "no fault"
  (offset 0, rate 1.0); a rate outside 0.1..10 is clamped.
- The harness replaces the file atomically (write to a temporary file, then rename), so a
  reader never sees a torn write. Changes take effect within `REREAD_PERIOD_MS` (100 ms).
- Wall clock: `wall_ms() = real_wall_ms + offset_ms`.
- Monotonic clock (leases, timeouts, failure detection): advances at `rate` times real
  time. It is integrated piecewise, so it never goes backwards when the rate changes; the
  offset never applies to it (a monotonic clock's offset is meaningless across nodes).
- Healing writes {"offset_ms": 0, "rate": 1.0}.

`HookedClock` is the reference reader (the daemon's clock module must behave the same);
`write_clock_file` is what the clock nemesis calls.
"""

from __future__ import annotations

import json
import os
import pathlib
import threading
import time
from collections.abc import Callable

ENVIRONMENT_VARIABLE = "RAFTHA_CLOCK_OFFSET_FILE"
REREAD_PERIOD_MS = 100
RATE_MIN, RATE_MAX = 0.1, 10.0


def parse_clock_file(text: str) -> tuple[float, float]:
    """(offset_ms, rate) from the file's text; defaults for anything unusable."""
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        return 0.0, 1.0
    if not isinstance(data, dict):
        return 0.0, 1.0
    try:
        offset_ms = float(data.get("offset_ms", 0))
        rate = float(data.get("rate", 1.0))
    except (TypeError, ValueError):
        return 0.0, 1.0
    return offset_ms, min(max(rate, RATE_MIN), RATE_MAX)


def write_clock_file(path: pathlib.Path, offset_ms: float = 0, rate: float = 1.0) -> None:
    """Atomically replace the hook file (temporary file + rename)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"offset_ms": offset_ms, "rate": rate}))
    os.replace(temporary, path)


def read_offset_ms(environment: dict | None = None) -> float:
    """The offset the hook file currently asks for (0 without a hook)."""
    path = (environment if environment is not None else os.environ).get(ENVIRONMENT_VARIABLE)
    if not path:
        return 0.0
    try:
        return parse_clock_file(pathlib.Path(path).read_text())[0]
    except OSError:
        return 0.0


class HookedClock:
    """Reference implementation of the product-side reader of the hook file."""

    def __init__(self, path: pathlib.Path | None,
                 real_monotonic_ns: Callable[[], int] = time.monotonic_ns,
                 real_wall_ns: Callable[[], int] = time.time_ns) -> None:
        self._path = path
        self._real_monotonic_ns = real_monotonic_ns
        self._real_wall_ns = real_wall_ns
        self._lock = threading.Lock()
        self._offset_ms = 0.0
        self._rate = 1.0
        self._next_read_ns = 0
        self._anchor_real_ns = real_monotonic_ns()
        self._anchor_virtual_ns = float(self._anchor_real_ns)

    def _refresh(self, now_ns: int) -> None:
        if self._path is None or now_ns < self._next_read_ns:
            return
        self._next_read_ns = now_ns + REREAD_PERIOD_MS * 1_000_000
        try:
            offset_ms, rate = parse_clock_file(pathlib.Path(self._path).read_text())
        except OSError:
            offset_ms, rate = 0.0, 1.0
        if rate != self._rate:
            # Re-anchor so the virtual monotonic clock is continuous across rate changes.
            self._anchor_virtual_ns += (now_ns - self._anchor_real_ns) * self._rate
            self._anchor_real_ns = now_ns
            self._rate = rate
        self._offset_ms = offset_ms

    def monotonic_ns(self) -> int:
        with self._lock:
            now_ns = self._real_monotonic_ns()
            self._refresh(now_ns)
            return int(self._anchor_virtual_ns + (now_ns - self._anchor_real_ns) * self._rate)

    def wall_ms(self) -> int:
        with self._lock:
            self._refresh(self._real_monotonic_ns())
            return int(self._real_wall_ns() // 1_000_000 + self._offset_ms)
