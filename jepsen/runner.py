"""One harness run: hosts up, cluster started, workload and nemesis under a seeded schedule,
final heal, recovery wait, final reads, collection, checking, reports, hosts down.

Phases (times from the schedule): warm-up -> fault phase (`time_s`) -> final heal ->
recovery (`recovery_s`) -> final calls -> collect -> check -> report. The hosts are torn down
in `finally`, whatever happened.
"""

from __future__ import annotations

import json
import pathlib
import platform
import random
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field

from jepsen import checkers, report, schedule, store
from jepsen.adapter import ClusterAdapter
from jepsen.client import CliClient, WorkerPool
from jepsen.fence import FenceController, read_fence_log
from jepsen.history import HistoryRecorder, wall_ms
from jepsen.hosts import HostSet, cleanup_stale
from jepsen.nemesis import Nemesis, run_schedule

LEADER_SAMPLE_PERIOD_S = 0.5


@dataclass
class RunOptions:
    nodes: int = 3
    time_s: float = 30.0
    families: list[str] = field(default_factory=lambda: ["partition"])
    seed: int = 0
    out: pathlib.Path = pathlib.Path("jepsen-runs/latest")
    quick: bool = False
    replay: pathlib.Path | None = None
    client_pause_s: tuple[float, float] = (0.1, 0.4)
    workers: int | None = None


def prepare_schedule(options: RunOptions, node_names: list[str]) -> dict:
    if options.replay is not None:
        planned = schedule.load_schedule(options.replay)
        if len(planned["nodes"]) != len(node_names):
            raise ValueError(f"replayed schedule has {len(planned['nodes'])} nodes; "
                             f"--nodes {len(node_names)} given")
        return planned
    timing = schedule.QUICK_TIMING if options.quick else schedule.STANDARD_TIMING
    return schedule.plan(options.seed, node_names, options.time_s, options.families, timing)


class LeaderSampler:
    """Samples adapter.leader() periodically (for the timeline's leader strip)."""

    def __init__(self, adapter: ClusterAdapter) -> None:
        self.adapter = adapter
        self.samples: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="jepsen-leader", daemon=True)

    def _loop(self) -> None:
        previous: object = object()
        while not self._stop.is_set():
            try:
                leader = self.adapter.leader()
            except Exception:  # noqa: BLE001 - a sampling failure is just "unknown"
                leader = None
            if leader != previous:
                self.samples.append({"time_ms": wall_ms(), "leader": leader})
                previous = leader
            self._stop.wait(LEADER_SAMPLE_PERIOD_S)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def versions() -> dict:
    return {"python": platform.python_version(), "kernel": platform.release()}


def print_flushed(message: str) -> None:
    """Progress lines reach a pipe at once (a supervisor may wait for them)."""
    print(message, flush=True)


def execute(options: RunOptions, adapter: ClusterAdapter, log=None) -> dict:
    """Run everything and return results.json's content (also written under options.out)."""
    log = log or print_flushed
    out = pathlib.Path(options.out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"output directory {out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    removed = cleanup_stale()
    if removed:
        log(f"jepsen: removed leftovers of dead runs: {' '.join(removed)}")
    node_names = [f"n{index}" for index in range(1, options.nodes + 1)]
    planned = prepare_schedule(options, node_names)
    seed = int(planned["seed"])
    log(f"jepsen: seed {seed}, {options.nodes} nodes, {len(planned['ops'])} faults planned, "
        f"out {out}")
    store.write_json(out / "schedule.json", planned)
    hosts = HostSet(options.nodes)
    recorder = HistoryRecorder(out / "history.jsonl")
    start_ms = wall_ms()
    counts: dict = {}
    leader_sampler = LeaderSampler(adapter)
    fence: FenceController | None = None
    try:
        hosts.setup()
        log(f"jepsen: hosts {hosts.prefix} up: "
            + ", ".join(f"{node}={hosts.address(node)}" for node in hosts.nodes))
        fence = FenceController(
            out / "fence.sock", out / "fence.jsonl", hosts.nodes,
            power_off=lambda node: hosts.hosts[node].cgroup.kill_all(),
            power_on=adapter.start_node,
            is_running=lambda node: bool(hosts.hosts[node].cgroup.pids()))
        fence.start()
        adapter.fence_socket = fence.socket_path
        adapter.start(hosts, out)
        leader_sampler.start()
        counts = _drive(options, planned, hosts, adapter, recorder, seed, fence)
        for call in adapter.final_calls():
            CliClient(recorder, "final").perform(call)
        collected = adapter.collect()
        # The observation ends here: stopping the cluster stops its resources, and the
        # recovery checker asks for resources running until the end of the observed run.
        observed_end_ms = wall_ms()
    finally:
        leader_sampler.stop()
        if fence is not None:
            fence.stop()
        try:
            adapter.stop()
        finally:
            hosts.teardown()
            recorder.close()
    harness_fences = [{**record, "source": "harness"}
                      for record in read_fence_log(out / "fence.jsonl")]
    _store_ledger(collected.ledger_files, out / "ledger")
    store.write_json(out / "collected.json", {"final_logs": collected.final_logs,
                                              "state_hashes": collected.state_hashes,
                                              "fence_history": collected.fence_history
                                              + harness_fences,
                                              "final_status": collected.final_status})
    (out / "leader.jsonl").write_text("".join(json.dumps(sample) + "\n"
                                              for sample in leader_sampler.samples))
    _write_resolved_schedule(out, planned, recorder.ops())
    meta = {"seed": seed, "nodes": node_names, "adapter": adapter.name,
            "checkers": list(adapter.checkers), "params": adapter.params,
            "start_ms": start_ms, "end_ms": observed_end_ms, "prefix": hosts.prefix,
            "nemesis": planned.get("families"), "versions": versions(),
            "replay_of": str(options.replay) if options.replay else None}
    store.write_json(out / "run.json", meta)
    return check_directory(out, counts=counts, log=log)


def _drive(options: RunOptions, planned: dict, hosts: HostSet, adapter: ClusterAdapter,
           recorder: HistoryRecorder, seed: int, fence: FenceController | None) -> dict:
    """Workload and nemesis through the fault phase, final heal, recovery wait."""
    worker_count = options.workers or len(hosts.nodes)
    worker_rngs = [random.Random(seed * 1_000 + index) for index in range(worker_count)]
    pause_rng = random.Random(seed + 7)
    pool = WorkerPool(recorder, worker_count,
                      lambda index, process: adapter.next_call(worker_rngs[index], process),
                      lambda: pause_rng.uniform(*options.client_pause_s))
    nemesis = Nemesis(hosts, adapter, recorder, fence)
    stop = threading.Event()
    started = time.monotonic()
    fault_end = started + float(planned["warmup_s"]) + float(planned["time_s"])
    pool.start()
    thread = threading.Thread(
        target=run_schedule, args=(nemesis, planned, started, stop, lambda *_: None),
        name="jepsen-nemesis", daemon=True)
    thread.start()
    try:
        while thread.is_alive() and time.monotonic() < fault_end + 60:
            thread.join(timeout=0.2)
        remaining = fault_end - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
    finally:
        stop.set()
        thread.join(timeout=30)
        nemesis.heal_all()
    time.sleep(float(planned.get("recovery_s", 10)))
    pool.stop()
    return pool.totals()


def _store_ledger(files: list[pathlib.Path], target: pathlib.Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for path in files:
        destination = target / pathlib.Path(path).name
        if pathlib.Path(path).resolve() != destination.resolve():
            shutil.copyfile(path, destination)


def _write_resolved_schedule(out: pathlib.Path, planned: dict, ops: list[dict]) -> None:
    """Write each op's resolved targets back into schedule.json (the replay input)."""
    by_index: dict[int, dict] = {}
    for op in ops:
        value = op.get("value")
        if op["process"] == "nemesis" and op["type"] == "info" and isinstance(value, dict) \
                and value.get("phase") == "fault" and value.get("schedule_index") is not None:
            resolved = {"targets": value.get("targets", [])}
            if value.get("grudge"):
                resolved["grudge"] = value["grudge"]
            by_index[int(value["schedule_index"])] = resolved
    for op in planned["ops"]:
        if op["index"] in by_index:
            op["resolved"] = by_index[op["index"]]
    store.write_json(out / "schedule.json", planned)


def check_directory(run_dir: pathlib.Path, counts: dict | None = None, log=None) -> dict:
    """(Re-)check a stored run and (re-)write results.json, timeline.html/png, summary."""
    log = log or print_flushed
    run_dir = pathlib.Path(run_dir)
    run, meta = store.load_run(run_dir)
    names = meta.get("checkers") or list(checkers.CHECKERS)
    results = report.build_results(run, names, meta.get("seed"),
                                   {"nodes": list(run.nodes), "adapter": meta.get("adapter")})
    leader_samples = list(run.leader_samples)
    png = report.timeline_png(run, run_dir / "timeline.png", leader_samples)
    results["artefacts"] = {"history": "history.jsonl", "timeline_html": "timeline.html",
                            "timeline_png": "timeline.png" if png else None,
                            "schedule": "schedule.json"}
    store.write_json(run_dir / "results.json", results)
    (run_dir / "timeline.html").write_text(report.timeline_html(run, results, leader_samples))
    if counts is None:
        counts = checkers.check_stats(run).get("by_f", {})
        counts = {f"{f}.{kind}": value for f, kinds in counts.items()
                  for kind, value in kinds.items()}
    summary = report.summary_table(results, counts)
    (run_dir / "summary.txt").write_text(summary + "\n")
    log(summary)
    if not png:
        print("jepsen: matplotlib not importable; timeline.png skipped", file=sys.stderr)
    return results


def exit_status(results: dict) -> int:
    """0 valid, 1 invalid, 2 unknown (a harness error exits 2 as well)."""
    valid = results.get("valid")
    if valid is True:
        return 0
    if valid is False:
        return 1
    return 2
