"""The daemon's one source of time: every wall-clock and monotonic reading goes through here.

- `SystemClock` reads the machine's clocks.
- `HookedClock` obeys a clock-fault file named by RAFTHA_CLOCK_OFFSET_FILE (the fault
  harness writes it): JSON {"offset_ms": N, "rate": R}, both optional (0 and 1.0), re-read
  at most every 100 ms; a missing, empty or unparsable file means no fault and a rate outside
  0.1..10 is clamped. Wall clock = real wall clock + offset. Monotonic clock = real time
  integrated at `rate`, piecewise, so it never goes backwards when the rate changes; the
  offset never applies to it.
- `FakeClock` is the twin for tests: time moves only when the test says so.

`process_clock()` is the clock the daemon uses, chosen once from the environment;
`use_clock()` swaps it (tests). The module functions `wall_ms()`, `wall_s()` and
`monotonic()` read it, so call sites stay one-word edits of `time.time()`/`time.monotonic()`.

Invariants: readings never raise (a file error is "no fault"); `monotonic()` never decreases
for one clock object; event timestamps (`ts_ms`) are wall-clock data only; leases, timeouts
and failure detection use the monotonic clock.
"""

from __future__ import annotations

import json
import os
import pathlib
import threading
import time
from collections.abc import Callable
from typing import Protocol

ENVIRONMENT_VARIABLE = "RAFTHA_CLOCK_OFFSET_FILE"
REREAD_PERIOD_NS = 100 * 1_000_000
RATE_MIN, RATE_MAX = 0.1, 10.0
MAX_CLOCK_FILE_BYTES = 4096


class Clock(Protocol):
    def wall_ms(self) -> int:
        """Milliseconds since the epoch (UTC), as the node believes it."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (no meaning across nodes)."""
        ...


class SystemClock:
    def wall_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        return time.monotonic()


def parse_clock_fault(text: str) -> tuple[float, float]:
    """(offset_ms, rate) from the fault file's text; no fault for anything unusable."""
    try:
        data = json.loads(text) if text.strip() else {}
        if not isinstance(data, dict):
            return 0.0, 1.0
        offset_ms = float(data.get("offset_ms", 0))
        rate = float(data.get("rate", 1.0))
    except (ValueError, TypeError):
        return 0.0, 1.0
    if offset_ms != offset_ms or rate != rate:  # NaN: treat as no fault
        return 0.0, 1.0
    return offset_ms, min(max(rate, RATE_MIN), RATE_MAX)


def read_clock_fault(path: pathlib.Path) -> tuple[float, float]:
    try:
        with path.open("rb") as handle:
            return parse_clock_fault(handle.read(MAX_CLOCK_FILE_BYTES).decode("utf-8",
                                                                              "replace"))
    except OSError:
        return 0.0, 1.0


class HookedClock:
    """The system clock shifted and sped up as the clock-fault file says."""

    def __init__(self, path: pathlib.Path,
                 real_monotonic_ns: Callable[[], int] = time.monotonic_ns,
                 real_wall_ns: Callable[[], int] = time.time_ns) -> None:
        self.path = path
        self.real_monotonic_ns = real_monotonic_ns
        self.real_wall_ns = real_wall_ns
        self.lock = threading.Lock()
        self.offset_ms = 0.0
        self.rate = 1.0
        self.next_read_ns = 0
        self.anchor_real_ns = real_monotonic_ns()
        self.anchor_virtual_ns = float(self.anchor_real_ns)
        self.last_monotonic_ns = 0

    def refresh(self, now_ns: int) -> None:
        if now_ns < self.next_read_ns:
            return
        self.next_read_ns = now_ns + REREAD_PERIOD_NS
        offset_ms, rate = read_clock_fault(self.path)
        if rate != self.rate:
            # Re-anchor: the virtual clock is continuous across a change of rate.
            self.anchor_virtual_ns += (now_ns - self.anchor_real_ns) * self.rate
            self.anchor_real_ns = now_ns
            self.rate = rate
        self.offset_ms = offset_ms

    def monotonic(self) -> float:
        with self.lock:
            now_ns = self.real_monotonic_ns()
            self.refresh(now_ns)
            virtual_ns = int(self.anchor_virtual_ns + (now_ns - self.anchor_real_ns) * self.rate)
            self.last_monotonic_ns = max(self.last_monotonic_ns, virtual_ns)
            return self.last_monotonic_ns / 1e9

    def wall_ms(self) -> int:
        with self.lock:
            self.refresh(self.real_monotonic_ns())
            return int(self.real_wall_ns() // 1_000_000 + self.offset_ms)


class FakeClock:
    """A clock that moves only by `advance` / `set_wall_ms` (tests)."""

    def __init__(self, wall_ms: int = 1_700_000_000_000, monotonic_s: float = 1000.0) -> None:
        self.lock = threading.Lock()
        self.current_wall_ms = wall_ms
        self.current_monotonic_s = monotonic_s

    def wall_ms(self) -> int:
        with self.lock:
            return self.current_wall_ms

    def monotonic(self) -> float:
        with self.lock:
            return self.current_monotonic_s

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock advances by a non-negative number of seconds")
        with self.lock:
            self.current_monotonic_s += seconds
            self.current_wall_ms += int(seconds * 1000)

    def set_wall_ms(self, wall_ms: int) -> None:
        """Steps the wall clock (either way), as an NTP step would; monotonic is unchanged."""
        with self.lock:
            self.current_wall_ms = wall_ms


def clock_from_environment(environment: dict[str, str] | None = None) -> Clock:
    path = (os.environ if environment is None else environment).get(ENVIRONMENT_VARIABLE)
    return HookedClock(pathlib.Path(path)) if path else SystemClock()


_process_clock: list[Clock] = []
_process_clock_lock = threading.Lock()


def process_clock() -> Clock:
    with _process_clock_lock:
        if not _process_clock:
            _process_clock.append(clock_from_environment())
        return _process_clock[0]


def use_clock(clock: Clock | None) -> None:
    """Makes `clock` the daemon's clock (None: choose again from the environment)."""
    with _process_clock_lock:
        _process_clock.clear()
        if clock is not None:
            _process_clock.append(clock)


def wall_ms() -> int:
    return process_clock().wall_ms()


def wall_s() -> int:
    return process_clock().wall_ms() // 1000


def monotonic() -> float:
    return process_clock().monotonic()
