"""Fencing benchmark (a script, not a test): prints how long fencing steps take here.

    python3 tests/fencing/bench_fencing.py [--rounds N] [--skip-sandbox]

- fence_dummy off through the runner (process start + agent + stdin protocol);
- watchdog kill margin K: from the missed pet deadline to every registered group and the
  daemon being gone (the K of the timing rule W >= (1+p)*((L+WD)/(1-p)+K));
- fence_raftha_sandbox off, on, and the time until the node is back online in a 3-node
  sandbox.
Everything started is stopped before exit.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from raftha.daemon.fencer import (  # noqa: E402
    FenceRunner,
    WatchdogClient,
    execute_fencing,
    start_watchdog,
)
from raftha.model.fencing import FenceDevice  # noqa: E402
from raftha.sandbox import Sandbox  # noqa: E402


def summary(values_ms: list[float]) -> str:
    ordered = sorted(values_ms)
    return (f"median {statistics.median(ordered):.0f} ms, min {ordered[0]:.0f} ms, "
            f"max {ordered[-1]:.0f} ms (n={len(ordered)})")


def live_group_members(pgids: set[int]) -> list[int]:
    """Live (non-zombie) members of the groups: zombies hold nothing, and how fast init
    reaps them is not the watchdog's doing."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = pathlib.Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if len(fields) > 2 and int(fields[2]) in pgids and fields[0] != "Z":
            found.append(int(entry))
    return found


def bench_fence_dummy(rounds: int, workdir: pathlib.Path) -> None:
    runner = FenceRunner()
    device = FenceDevice("fd", "fence_dummy",
                         params=(("status_file", str(workdir / "dummy.status")),),
                         host_list=("node1",))
    runner.metadata("fence_dummy")   # warm the meta-data cache
    durations = []
    for _ in range(rounds):
        (workdir / "dummy.status").write_text("on")
        started = time.monotonic()
        outcome = execute_fencing("node1", "off", [device], [], runner, timeout_ms=30_000)
        durations.append((time.monotonic() - started) * 1000)
        assert outcome.ok, outcome.explanation
    print(f"fence_dummy off request: {summary(durations)}")


def bench_watchdog(rounds: int, workdir: pathlib.Path, timeout_ms: int = 500) -> None:
    margins: list[float] = []
    lateness: list[float] = []
    for index in range(rounds):
        directory = workdir / f"watchdog{index}"
        daemon = subprocess.Popen(["sleep", "600"], start_new_session=True)
        groups = [subprocess.Popen(["sh", "-c", "sleep 600 & sleep 600 & exec sleep 600"],
                                   start_new_session=True) for _ in range(3)]
        try:
            start_watchdog(directory, timeout_ms, daemon.pid)
            client = WatchdogClient(directory, daemon.pid)
            for group in groups:
                client.registry.add(group.pid, "bench")
            client.pet()
            last_pet = time.monotonic()
            pgids = {group.pid for group in groups}
            while daemon.poll() is None or live_group_members(pgids):
                time.sleep(0.002)
            margins.append((time.monotonic() - last_pet) * 1000 - timeout_ms)
            fired_path = directory / "fired"
            while not (fired_path.exists() and fired_path.read_text().endswith("\n")):
                time.sleep(0.01)
            fired = json.loads((directory / "fired").read_text().splitlines()[-1])
            lateness.append(fired["late_ms"])
        finally:
            for child in (daemon, *groups):
                try:
                    os.killpg(child.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                child.wait()
    print(f"watchdog kill margin K (deadline -> 3 groups + daemon gone): {summary(margins)}")
    print(f"watchdog firing lateness (its own view): {summary(lateness)}")


def bench_sandbox(workdir: pathlib.Path) -> None:
    directory = workdir / "sandbox"
    runner = FenceRunner()
    device = FenceDevice("sf", "fence_raftha_sandbox", params=(("sandbox_dir", str(directory)),))
    try:
        Sandbox(directory).up(3, timeout_s=120)
        started = time.monotonic()
        off = runner.fence_device(device, "node2", "off", timeout_ms=60_000)
        off_ms = (time.monotonic() - started) * 1000
        started = time.monotonic()
        on = runner.fence_device(device, "node2", "on", timeout_ms=120_000)
        on_ms = (time.monotonic() - started) * 1000
        Sandbox(directory).wait_ready(120)
        online_ms = (time.monotonic() - started) * 1000
        assert off.ok and on.ok, (off.reason, on.reason)
        print(f"fence_raftha_sandbox: off {off_ms:.0f} ms, on {on_ms:.0f} ms, "
              f"node back online {online_ms:.0f} ms after on started")
    finally:
        Sandbox(directory).down()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-sandbox", action="store_true")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="raftha-bench-fencing-") as name:
        workdir = pathlib.Path(name)
        bench_fence_dummy(arguments.rounds, workdir)
        bench_watchdog(arguments.rounds, workdir)
        if not arguments.skip_sandbox:
            bench_sandbox(workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
