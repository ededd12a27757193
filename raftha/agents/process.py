"""Run one agent process with a deadline, bounded output capture and process-group kill.

Role: the only place in raftha.agents that spawns processes. Each agent runs in its own
session (start_new_session), so its process group id equals its pid; on timeout the whole
group gets SIGTERM and, after a grace period (or as soon as the leader is gone), SIGKILL, so
helpers such as `sleep` that an agent left running die with it.

Invariants: the caller never blocks longer than timeout + grace + drain; stdout keeps at most
`stdout_limit_bytes` from the start (meta-data needs the beginning), stderr keeps its last
`stderr_limit_bytes`; the last `ocf-exit-reason:` line is found over the whole stderr stream,
not only the retained tail; pipes inherited by daemons the agent started do not hold us: after
the agent exits we drain for `drain_ms` and close.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass

EXIT_REASON_PREFIX = "ocf-exit-reason:"
_MAX_LINE_BYTES = 64 * 1024
_POLL_INTERVAL_S = 0.05


@dataclass(frozen=True)
class ProcessOutcome:
    """What happened to one process run."""

    returncode: int | None      # None when it could not be spawned
    stdout: bytes
    stderr_tail: bytes
    exit_reason: str
    timed_out: bool
    duration_ms: int
    pid: int
    spawn_error: str            # non-empty when the process could not be started
    stdout_truncated: bool


class _StreamCollector:
    """Keeps a bounded head or tail of one stream and scans complete lines for exit reasons."""

    def __init__(self, limit_bytes: int, keep_head: bool, scan_exit_reason: bool) -> None:
        self.limit_bytes = limit_bytes
        self.keep_head = keep_head
        self.scan_exit_reason = scan_exit_reason
        self.data = bytearray()
        self.truncated = False
        self.partial_line = bytearray()
        self.exit_reason = ""

    def feed(self, chunk: bytes) -> None:
        if self.keep_head:
            room = self.limit_bytes - len(self.data)
            if room > 0:
                self.data += chunk[:room]
            if len(chunk) > max(room, 0):
                self.truncated = True
        else:
            self.data += chunk
            if len(self.data) > self.limit_bytes:
                del self.data[: len(self.data) - self.limit_bytes]
                self.truncated = True
        if self.scan_exit_reason:
            self._scan(chunk)

    def _scan(self, chunk: bytes) -> None:
        self.partial_line += chunk
        *lines, rest = self.partial_line.split(b"\n")
        for line in lines:
            self._consider(line)
        # A runaway line without newline must not grow without bound.
        self.partial_line = bytearray(rest[-_MAX_LINE_BYTES:])

    def _consider(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace").strip()
        if text.startswith(EXIT_REASON_PREFIX):
            self.exit_reason = text[len(EXIT_REASON_PREFIX):].strip()

    def finish(self) -> None:
        if self.scan_exit_reason and self.partial_line:
            self._consider(bytes(self.partial_line))
            self.partial_line = bytearray()


def kill_process_group(process_group_id: int, signal_number: int) -> bool:
    """Signal a whole process group; False if it no longer exists."""
    try:
        os.killpg(process_group_id, signal_number)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return False


def process_group_exists(process_group_id: int) -> bool:
    """True while any process of the group is alive (zombies included)."""
    return kill_process_group(process_group_id, 0)


def run_process(
    argv: list[str],
    *,
    environment: dict[str, str],
    timeout_ms: int,
    kill_grace_ms: int = 2000,
    drain_ms: int = 200,
    stdout_limit_bytes: int = 1024 * 1024,
    stderr_limit_bytes: int = 64 * 1024,
    working_directory: str = "/",
) -> ProcessOutcome:
    """Run argv to completion or until the deadline; never raises for agent behaviour."""
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            argv,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
            cwd=working_directory,
        )
    except OSError as error:
        return ProcessOutcome(None, b"", b"", "", False, _elapsed_ms(started), 0,
                              f"cannot execute {argv[0]}: {error.strerror or error}", False)
    return supervise_process(process, started, timeout_ms=timeout_ms,
                             kill_grace_ms=kill_grace_ms, drain_ms=drain_ms,
                             stdout_limit_bytes=stdout_limit_bytes,
                             stderr_limit_bytes=stderr_limit_bytes)


def supervise_process(
    process: subprocess.Popen[bytes],
    started: float,
    *,
    timeout_ms: int,
    kill_grace_ms: int = 2000,
    drain_ms: int = 200,
    stdout_limit_bytes: int = 1024 * 1024,
    stderr_limit_bytes: int = 64 * 1024,
) -> ProcessOutcome:
    """Collect the output of a process already started in its own session (stdout and
    stderr piped; stdin already written and closed, or not piped), enforcing the deadline
    `started + timeout_ms` as run_process does. A process started ahead of need (a fence
    agent waiting on its stdin) is supervised from the moment it is given its input."""
    stdout = _StreamCollector(stdout_limit_bytes, keep_head=True, scan_exit_reason=False)
    stderr = _StreamCollector(stderr_limit_bytes, keep_head=False, scan_exit_reason=True)
    timed_out = False
    try:
        timed_out = _supervise(process, stdout, stderr, started, timeout_ms, kill_grace_ms,
                               drain_ms)
    finally:
        if process.poll() is None:
            # Only reached on an unexpected error in supervision: never leave it behind.
            kill_process_group(process.pid, signal.SIGKILL)
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    stdout.finish()
    stderr.finish()
    return ProcessOutcome(
        returncode=process.returncode,
        stdout=bytes(stdout.data),
        stderr_tail=bytes(stderr.data),
        exit_reason=stderr.exit_reason,
        timed_out=timed_out,
        duration_ms=_elapsed_ms(started),
        pid=process.pid,
        spawn_error="",
        stdout_truncated=stdout.truncated,
    )


def _supervise(
    process: subprocess.Popen[bytes],
    stdout: _StreamCollector,
    stderr: _StreamCollector,
    started: float,
    timeout_ms: int,
    kill_grace_ms: int,
    drain_ms: int,
) -> bool:
    """Pump output until exit (or kill on deadline); returns whether it timed out."""
    deadline = started + max(timeout_ms, 0) / 1000.0
    kill_deadline: float | None = None
    exited_at: float | None = None
    timed_out = False
    selector = selectors.DefaultSelector()
    collectors = {}
    for stream, collector in ((process.stdout, stdout), (process.stderr, stderr)):
        assert stream is not None
        os.set_blocking(stream.fileno(), False)
        selector.register(stream.fileno(), selectors.EVENT_READ)
        collectors[stream.fileno()] = collector
    # A pidfd turns "the process exited" into a selector event; without one, poll at 50 ms.
    exit_descriptor = _open_pidfd(process.pid)
    if exit_descriptor is not None:
        selector.register(exit_descriptor, selectors.EVENT_READ)
    poll_cap_s = 1.0 if exit_descriptor is not None else _POLL_INTERVAL_S
    try:
        while True:
            now = time.monotonic()
            if process.poll() is not None:
                if exited_at is None:
                    exited_at = now
                    if exit_descriptor is not None:
                        selector.unregister(exit_descriptor)
                    if timed_out:
                        # The leader is gone; take whatever it left in its group with it.
                        kill_process_group(process.pid, signal.SIGKILL)
                if not collectors or now >= exited_at + drain_ms / 1000.0:
                    break
                wait_s = exited_at + drain_ms / 1000.0 - now
            elif not timed_out and now >= deadline:
                timed_out = True
                kill_process_group(process.pid, signal.SIGTERM)
                kill_deadline = now + max(kill_grace_ms, 0) / 1000.0
                continue
            elif timed_out and kill_deadline is not None and now >= kill_deadline:
                kill_process_group(process.pid, signal.SIGKILL)
                kill_deadline = None
                continue
            elif timed_out:
                wait_s = kill_deadline - now if kill_deadline is not None else _POLL_INTERVAL_S
            else:
                wait_s = deadline - now
            if not collectors and exit_descriptor is None:
                # Nothing to select on: wait for the exit itself.
                try:
                    process.wait(timeout=max(0.0, min(wait_s, _POLL_INTERVAL_S)))
                except subprocess.TimeoutExpired:
                    pass
                continue
            for key, _events in selector.select(timeout=max(0.0, min(wait_s, poll_cap_s))):
                if key.fd == exit_descriptor:
                    continue   # the exit is picked up by poll() at the top of the loop
                _read_available(key.fd, collectors, selector)
        return timed_out
    finally:
        selector.close()
        if exit_descriptor is not None:
            os.close(exit_descriptor)


def _open_pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when pid exits (Linux >= 5.3), else None."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return opener(pid)
    except OSError:
        return None


def _read_available(fd: int, collectors: dict, selector: selectors.BaseSelector) -> None:
    """Read what is there; on EOF stop watching the stream."""
    try:
        chunk = os.read(fd, 65536)
    except BlockingIOError:
        return
    except OSError:
        chunk = b""
    if chunk:
        collectors[fd].feed(chunk)
        return
    selector.unregister(fd)
    del collectors[fd]


def _elapsed_ms(started: float) -> int:
    return int(round((time.monotonic() - started) * 1000))
