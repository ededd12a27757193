"""Helpers shared by the real-process tests: a running sandbox for the length of a test,
polling with a deadline, running the CLI in a child process, and asking a sandbox whether
every node reports one state hash."""

from __future__ import annotations

import contextlib
import os
import pathlib
import subprocess
import sys
import time
from collections.abc import Iterator

from raftha.sandbox import Sandbox

SANDBOX_READY_TIMEOUT_S = 90


@contextlib.contextmanager
def running_sandbox(directory: pathlib.Path, node_count: int, **options) -> Iterator[Sandbox]:
    """A sandbox of `node_count` real daemons, up until the block ends; then every process
    is stopped, and the block fails if any is left running."""
    sandbox = Sandbox(directory)
    try:
        sandbox.up(node_count, timeout_s=SANDBOX_READY_TIMEOUT_S, **options)
        yield sandbox
    finally:
        sandbox.down()
        assert sandbox.running() == []


def wait_until(predicate, timeout_s: float, what: str, period_s: float = 0.1):
    """The predicate's first truthy value, or AssertionError naming `what` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(period_s)


def run_cli(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "raftha.cli", *args], capture_output=True,
                          text=True, timeout=timeout_s, env=dict(os.environ),
                          stdin=subprocess.DEVNULL)


def converged(sandbox: Sandbox, names: list[str]) -> tuple[int, str] | None:
    """(index, hash) when every named node reports the same state hash, else None."""
    answers = {(answer["index"], answer["hash"])
               for answer in (sandbox.call(name, "state_hash") for name in names)}
    return answers.pop() if len(answers) == 1 else None
