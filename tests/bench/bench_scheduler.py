#!/usr/bin/env python3
"""Scheduler benchmark: raftha (parse + plan) against Pacemaker's `crm_simulate -R`.

Role: for each size (resources x nodes) generate one synthetic CIB with gen_cib.py, then
run, side by side on the same file,
  - raftha: a child Python process doing raftha.cib.parse_cib + raftha.scheduler.plan,
  - Pacemaker 2.1.5: `crm_simulate -R -x FILE` (-R/--run: unpack the CIB, run the
    scheduler and print the transition it computes, without simulating its execution),
and print a table of wall time, peak resident memory and the ratios.

Each run is its own child process so its peak memory is its own: os.wait4() returns the
rusage of exactly that child (ru_maxrss, KiB on Linux). raftha's child also reports the
in-process time of parsing and planning, separately from interpreter start-up and imports.
Times are the best of --repeat runs (crm_simulate runs --pacemaker-repeat times, default
once, since it takes minutes on the biggest size); peak memory is the largest seen.

Usage:
  bench_scheduler.py [--sizes 1000x16,3000x32,10000x64] [--repeat N] [--pacemaker-repeat N]
                     [--skip-pacemaker] [--skip-raftha] [--pacemaker-cache FILE]
                     [--profile] [--timeout-s S] [--seed N]
                     [--pacemaker-memory-limit-mb MB] [--raftha-source DIR]
  --raftha-source measures another revision, e.g. one exported with
  `git archive REV raftha | tar -x -C DIR`.
  --pacemaker-cache reuses crm_simulate numbers measured earlier on an identical CIB (by
  SHA-256), marked "(cached)", so the slowest runs need not be repeated.
  --profile runs raftha under cProfile once per size and prints the hottest functions.
This is a script that prints numbers, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCH_DIRECTORY = Path(__file__).resolve().parent
REPOSITORY = BENCH_DIRECTORY.parent.parent
sys.path.insert(0, str(BENCH_DIRECTORY))

from gen_cib import generate_cib  # noqa: E402

DEFAULT_SIZES = "1000x16,3000x32,10000x64"
DEFAULT_TIMEOUT_S = 1800.0
DEFAULT_PACEMAKER_MEMORY_LIMIT_MB = 12288
PROFILE_LINES = 30


@dataclass
class RunResult:
    wall_s: float
    peak_rss_kib: int
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False


@dataclass
class Measurement:
    wall_s: float | None = None
    peak_rss_kib: int | None = None
    parse_s: float | None = None
    plan_s: float | None = None
    detail: str = ""
    error: str | None = None
    timed_out: bool = False  # wall_s is then a lower bound


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """"1000x16,3000x32" -> [(1000, 16), (3000, 32)] (resources x nodes)."""
    sizes = []
    for item in text.split(","):
        resources, separator, nodes = item.strip().partition("x")
        if not separator or not resources.isdigit() or not nodes.isdigit():
            raise argparse.ArgumentTypeError(f"size {item!r} is not RESOURCESxNODES")
        sizes.append((int(resources), int(nodes)))
    return sizes


def run_measured(command: list[str], timeout_s: float, *, cwd: Path,
                 environment: dict[str, str] | None = None,
                 memory_limit_mb: int | None = None) -> RunResult:
    """Run a child in its own process group; wall time and its own peak RSS.

    memory_limit_mb caps the child's address space so a runaway run cannot starve the
    machine (the child then fails to allocate and exits).
    """
    def limit_memory() -> None:
        if memory_limit_mb:
            limit = memory_limit_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    with tempfile.TemporaryFile() as stdout_file, tempfile.TemporaryFile() as stderr_file:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout_file, stderr=stderr_file, cwd=cwd,
                                   env=environment, start_new_session=True,
                                   preexec_fn=limit_memory)
        deadline = started + timeout_s
        timed_out = False
        try:
            while True:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid == process.pid:
                    break
                if time.perf_counter() > deadline:
                    timed_out = True
                    os.killpg(process.pid, 9)
                    pid, status, usage = os.wait4(process.pid, 0)
                    break
                time.sleep(0.05)
        except BaseException:
            try:
                os.killpg(process.pid, 9)
                os.wait4(process.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            raise
        wall_s = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout_file.seek(0)
        stderr_file.seek(0)
        return RunResult(wall_s, usage.ru_maxrss, process.returncode,
                         stdout_file.read().decode(errors="replace"),
                         stderr_file.read().decode(errors="replace"), timed_out)


# ------------------------------------------------------------------ raftha child


def worker(cib_path: str, profile: bool) -> None:
    """Child process body: parse + plan one CIB, print timings as JSON on stdout."""
    import_started = time.perf_counter()
    from raftha.cib import parse_cib
    from raftha.scheduler import plan
    imported = time.perf_counter()
    xml_text = Path(cib_path).read_text(encoding="utf-8")
    profiler = None
    if profile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    parse_started = time.perf_counter()
    configuration, status = parse_cib(xml_text)
    parsed = time.perf_counter()
    result = plan(configuration, status)
    planned = time.perf_counter()
    if profiler is not None:
        import io
        import pstats
        profiler.disable()
        for order in ("tottime", "cumulative"):
            stream = io.StringIO()
            pstats.Stats(profiler, stream=stream).sort_stats(order).print_stats(PROFILE_LINES)
            sys.stderr.write(f"--- raftha profile by {order} ---\n{stream.getvalue()}")
    print(json.dumps({"import_s": imported - import_started, "parse_s": parsed - parse_started,
                      "plan_s": planned - parsed, "summary": plan_summary(result)}))


def plan_summary(result: object) -> str:
    """What the plan decided, in counts, for a sanity column next to crm_simulate's."""
    placements = getattr(result, "placements", ())
    placed = sum(1 for placement in placements if placement.final_nodes)
    starts = sum(1 for action in getattr(result, "actions", ())
                 if action.verb == "start" and action.runnable)
    return f"{placed}/{len(placements)} placed, {starts} starts"


def smallest(current: float | None, new: float) -> float:
    return new if current is None else min(current, new)


def raftha_environment(source: Path) -> dict[str, str]:
    """The worker imports raftha from `source` (a checkout or an exported revision)."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(source), os.environ.get("PYTHONPATH", "")])))


def measure_raftha(cib_path: Path, repeat: int, timeout_s: float,
                   source: Path = REPOSITORY) -> Measurement:
    best = Measurement()
    environment = raftha_environment(source)
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(cib_path)]
    for _ in range(repeat):
        run = run_measured(command, timeout_s, cwd=source, environment=environment)
        if run.timed_out:
            return Measurement(error=f"raftha killed after {timeout_s:.0f} s")
        if run.returncode != 0:
            lines = run.stderr.strip().splitlines() or ["no output"]
            return Measurement(error=f"raftha exited {run.returncode}: {lines[-1]}")
        report = json.loads(run.stdout.strip().splitlines()[-1])
        if best.wall_s is None or run.wall_s < best.wall_s:
            best.wall_s = run.wall_s
        best.parse_s = smallest(best.parse_s, report["parse_s"])
        best.plan_s = smallest(best.plan_s, report["plan_s"])
        best.peak_rss_kib = max(best.peak_rss_kib or 0, run.peak_rss_kib)
        best.detail = report["summary"]
    return best


def profile_raftha(cib_path: Path, timeout_s: float, source: Path = REPOSITORY) -> str:
    environment = raftha_environment(source)
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(cib_path),
               "--worker-profile"]
    run = run_measured(command, timeout_s, cwd=source, environment=environment)
    return run.stderr


# ------------------------------------------------------------------ Pacemaker


def cib_digest(cib_path: Path) -> str:
    return hashlib.sha256(cib_path.read_bytes()).hexdigest()


def load_cache(path: Path | None) -> dict:
    if path is None or not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def measure_pacemaker_cached(cib_path: Path, repeat: int, timeout_s: float,
                             cache_path: Path | None, memory_limit_mb: int) -> Measurement:
    """crm_simulate timings, reused from the cache file for an identical CIB."""
    cache = load_cache(cache_path)
    key = cib_digest(cib_path)
    if key in cache:
        entry = cache[key]
        return Measurement(wall_s=entry["wall_s"], peak_rss_kib=entry["peak_rss_kib"],
                           detail=entry["detail"] + " (cached)",
                           timed_out=entry.get("timed_out", False))
    measured = measure_pacemaker(cib_path, repeat, timeout_s, memory_limit_mb)
    if cache_path is not None and measured.error is None:
        cache[key] = {"wall_s": measured.wall_s, "peak_rss_kib": measured.peak_rss_kib,
                      "detail": measured.detail, "size": cib_path.stem,
                      "timed_out": measured.timed_out}
        cache_path.write_text(json.dumps(cache, indent=1) + "\n", encoding="utf-8")
    return measured


def measure_pacemaker(cib_path: Path, repeat: int, timeout_s: float,
                      memory_limit_mb: int) -> Measurement:
    best = Measurement()
    with tempfile.TemporaryDirectory(prefix="raftha-bench-") as work_directory:
        environment = dict(os.environ, LC_ALL="C", CIB_shadow_dir=work_directory)
        for _ in range(repeat):
            run = run_measured(["crm_simulate", "-R", "-x", str(cib_path)], timeout_s,
                               cwd=Path(work_directory), environment=environment,
                               memory_limit_mb=memory_limit_mb)
            if run.timed_out:
                return Measurement(wall_s=run.wall_s, peak_rss_kib=run.peak_rss_kib,
                                   detail=f"killed after {timeout_s:.0f} s", timed_out=True)
            if run.returncode != 0:
                lines = run.stderr.strip().splitlines() or ["no output"]
                return Measurement(error=f"crm_simulate exited {run.returncode}: {lines[-1]}")
            if best.wall_s is None or run.wall_s < best.wall_s:
                best.wall_s = run.wall_s
            best.peak_rss_kib = max(best.peak_rss_kib or 0, run.peak_rss_kib)
            starts = sum(1 for line in run.stdout.splitlines()
                         if line.strip().startswith("* Start "))
            best.detail = f"{starts} starts"
    return best


# ------------------------------------------------------------------ table


def seconds(value: float | None, lower_bound: bool = False) -> str:
    if value is None:
        return "-"
    return f">{value:.0f}" if lower_bound else f"{value:.3f}"


def megabytes(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.0f}"


def ratio(numerator: float | None, denominator: float | None,
          lower_bound: bool = False) -> str:
    if numerator is None or not denominator:
        return "-"
    return f"{'>' if lower_bound else ''}{numerator / denominator:.1f}x"


HEADER = ("size", "raftha parse s", "raftha plan s", "raftha wall s", "raftha MB",
          "crm_simulate s", "crm_simulate MB", "speed-up", "memory ratio", "raftha plan",
          "crm_simulate")


def table_row(size: str, ours: Measurement, theirs: Measurement) -> tuple[str, ...]:
    return (size, seconds(ours.parse_s), seconds(ours.plan_s), seconds(ours.wall_s),
            megabytes(ours.peak_rss_kib), seconds(theirs.wall_s, theirs.timed_out),
            megabytes(theirs.peak_rss_kib), ratio(theirs.wall_s, ours.wall_s, theirs.timed_out),
            ratio(theirs.peak_rss_kib, ours.peak_rss_kib), ours.error or ours.detail,
            theirs.error or theirs.detail)


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[column]) for row in [HEADER, *rows]) for column in range(len(HEADER))]
    for row in [HEADER, tuple("-" * width for width in widths), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def exit_on_terminate(signal_number: int, _frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C: children are killed and temporary files removed."""
    raise SystemExit(128 + signal_number)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, exit_on_terminate)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes(DEFAULT_SIZES),
                        help=f"comma-separated RESOURCESxNODES (default {DEFAULT_SIZES})")
    parser.add_argument("--repeat", type=int, default=3, help="raftha runs per size (best)")
    parser.add_argument("--pacemaker-repeat", type=int, default=1,
                        help="crm_simulate runs per size (best); it is slow")
    parser.add_argument("--skip-pacemaker", action="store_true")
    parser.add_argument("--skip-raftha", action="store_true")
    parser.add_argument("--pacemaker-cache", type=Path,
                        help="JSON file reusing crm_simulate numbers for identical CIBs")
    parser.add_argument("--profile", action="store_true",
                        help="also profile raftha (cProfile) once per size")
    parser.add_argument("--timeout-s", type=float, default=DEFAULT_TIMEOUT_S,
                        help="limit per child run")
    parser.add_argument("--seed", type=int, default=1, help="gen_cib.py seed")
    parser.add_argument("--pacemaker-memory-limit-mb", type=int,
                        default=DEFAULT_PACEMAKER_MEMORY_LIMIT_MB,
                        help="address-space cap for crm_simulate (protects a shared machine)")
    parser.add_argument("--raftha-source", type=Path, default=REPOSITORY,
                        help="directory raftha is imported from (e.g. an exported revision)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-profile", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.worker:
        worker(arguments.worker, arguments.worker_profile)
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="raftha-bench-cib-") as directory:
        for resources, nodes in arguments.sizes:
            size = f"{resources}x{nodes}"
            cib_path = Path(directory) / f"cib-{size}.xml"
            cib_path.write_text(generate_cib(nodes, resources, arguments.seed),
                                encoding="utf-8")
            ours = Measurement(detail="skipped")
            if not arguments.skip_raftha:
                print(f"[{size}] raftha ...", file=sys.stderr, flush=True)
                ours = measure_raftha(cib_path, arguments.repeat, arguments.timeout_s,
                                      arguments.raftha_source)
            theirs = Measurement(detail="skipped")
            if not arguments.skip_pacemaker:
                print(f"[{size}] crm_simulate -R ...", file=sys.stderr, flush=True)
                theirs = measure_pacemaker_cached(cib_path, arguments.pacemaker_repeat,
                                                  arguments.timeout_s,
                                                  arguments.pacemaker_cache,
                                                  arguments.pacemaker_memory_limit_mb)
            rows.append(table_row(size, ours, theirs))
            if arguments.profile:
                profile = profile_raftha(cib_path, arguments.timeout_s, arguments.raftha_source)
                print(f"[{size}] profile:\n{profile}", file=sys.stderr, flush=True)
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
