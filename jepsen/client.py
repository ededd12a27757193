"""Workload clients: run one CLI call and record invoke, then exactly one of ok/fail/info.

Outcome rules (Jepsen's three-way distinction, never collapsed):
- exit status 0                          -> ok   (value may be refined from stdout)
- exit status in the call's `fail_codes`  -> fail (the command definitely did not happen)
- any other exit status, a timeout, or a failure to start the command -> info (unknown:
  it may take effect later or never). After an info the worker's logical process is
  considered crashed and the next op uses a fresh process name.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jepsen.history import HistoryRecorder

OUTPUT_TAIL_CHARS = 400


@dataclass(frozen=True)
class ClientCall:
    """One operation: what to record (f, value) and the command that performs it."""

    f: str
    value: Any
    argv: Sequence[str]
    timeout_s: float = 5.0
    fail_codes: frozenset[int] = frozenset()
    parse_ok: Callable[[str, Any], Any] | None = None  # (stdout, value) -> completion value
    node: str | None = None


@dataclass
class CliClient:
    """A logical process that performs calls and records them."""

    recorder: HistoryRecorder
    worker: str
    generation: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {"ok": 0, "fail": 0, "info": 0})

    @property
    def process(self) -> str:
        return self.worker if self.generation == 0 else f"{self.worker}.{self.generation}"

    def perform(self, call: ClientCall) -> dict:
        """Invoke, run, complete; returns the completion record."""
        process = self.process
        invoke_value = call.value if call.node is None else _with_node(call.value, call.node)
        self.recorder.record(process, "invoke", call.f, invoke_value)
        started = time.monotonic()
        op_type, value = self._run(call, invoke_value)
        if isinstance(value, dict):
            value = {**value, "latency_ms": int((time.monotonic() - started) * 1000)}
        completion = self.recorder.record(process, op_type, call.f, value)
        self.counts[op_type] += 1
        if op_type == "info":
            self.generation += 1
        return completion

    def _run(self, call: ClientCall, value: Any) -> tuple[str, Any]:
        try:
            completed = subprocess.run(list(call.argv), capture_output=True, text=True,
                                       timeout=call.timeout_s, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return "info", _annotate(value, error=f"timed out after {call.timeout_s}s")
        except OSError as error:
            return "info", _annotate(value, error=f"could not start: {error}")
        if completed.returncode == 0:
            if call.parse_ok is None:
                return "ok", value
            try:
                return "ok", call.parse_ok(completed.stdout, value)
            except (ValueError, KeyError, TypeError) as error:
                return "info", _annotate(value, error=f"unparsable answer: {error}")
        reason = (completed.stderr or completed.stdout).strip()[-OUTPUT_TAIL_CHARS:]
        kind = "fail" if completed.returncode in call.fail_codes else "info"
        return kind, _annotate(value, error=reason, exit=completed.returncode)


def _with_node(value: Any, node: str) -> Any:
    if isinstance(value, dict):
        return {**value, "node": node}
    return {"arg": value, "node": node}


def _annotate(value: Any, **extra: Any) -> Any:
    base = value if isinstance(value, dict) else {"arg": value}
    return {**base, **extra}


class WorkerPool:
    """N client workers that keep calling `next_call` until stopped."""

    def __init__(self, recorder: HistoryRecorder, workers: int,
                 next_call: Callable[[int, str], ClientCall | None],
                 pause_s: Callable[[], float]) -> None:
        self._clients = [CliClient(recorder, f"c{index + 1}") for index in range(workers)]
        self._next_call = next_call
        self._pause_s = pause_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for index, client in enumerate(self._clients):
            thread = threading.Thread(target=self._loop, args=(index, client),
                                      name=f"jepsen-{client.worker}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _loop(self, index: int, client: CliClient) -> None:
        while not self._stop.is_set():
            call = self._next_call(index, client.process)
            if call is not None:
                client.perform(call)
            self._stop.wait(self._pause_s())

    def stop(self, join_timeout_s: float = 30.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=join_timeout_s)

    def totals(self) -> dict[str, int]:
        totals = {"ok": 0, "fail": 0, "info": 0}
        for client in self._clients:
            for kind, count in client.counts.items():
                totals[kind] += count
        return totals
