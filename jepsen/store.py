"""Run directory: what a run writes, and how `check DIR` reads it back.

DIR/
  run.json          {"seed", "nodes", "adapter", "checkers", "params", "start_ms", "end_ms",
                     "prefix", "nemesis", "versions"}
  schedule.json     the seeded plan, with resolved targets written back (input of --replay)
  history.jsonl     client and nemesis records (jepsen.history format)
  ledger/*.log      "<wall_ms> <node> <resource_id>" lines
  collected.json    {"final_logs", "state_hashes", "fence_history"} from the adapter
  results.json      {"valid", "checkers", "failover_s", "seed"} (DESIGN §8)
  timeline.html, timeline.png, summary.txt, logs/
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

from jepsen import checkers, history


def write_json(path: pathlib.Path, data: Any) -> None:
    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")
    temporary.replace(path)


def read_json(path: pathlib.Path, default: Any = None) -> Any:
    try:
        return json.loads(pathlib.Path(path).read_text())
    except FileNotFoundError:
        return default
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error


def read_json_lines(path: pathlib.Path) -> list[dict]:
    """JSON objects, one per line; a missing file is empty, a torn line is skipped."""
    if not pathlib.Path(path).exists():
        return []
    records = []
    for line in pathlib.Path(path).read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def read_ledger(paths: list[pathlib.Path]) -> list[checkers.LedgerTick]:
    ticks: list[checkers.LedgerTick] = []
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as handle:
            ticks.extend(checkers.parse_ledger_lines(handle))
    ticks.sort(key=lambda tick: tick.wall_ms)
    return ticks


def load_run(run_dir: pathlib.Path) -> tuple[checkers.RunData, dict]:
    """RunData and run.json metadata of a stored run; raises ValueError if not a run dir."""
    run_dir = pathlib.Path(run_dir)
    history_path = run_dir / "history.jsonl"
    if not history_path.exists():
        raise ValueError(f"{run_dir} is not a run directory (no history.jsonl)")
    meta = read_json(run_dir / "run.json", {}) or {}
    collected = read_json(run_dir / "collected.json", {}) or {}
    params = dict(meta.get("params", {}))
    if meta.get("end_ms") is not None:
        params.setdefault("end_ms", meta["end_ms"])
    run = checkers.RunData(
        history=tuple(history.load_history(history_path)),
        ledger=tuple(read_ledger(sorted((run_dir / "ledger").glob("*.log")))),
        final_logs=collected.get("final_logs", {}),
        state_hashes=collected.get("state_hashes", {}),
        fence_history=tuple(collected.get("fence_history", [])),
        params=params,
        nodes=tuple(meta.get("nodes", [])),
        leader_samples=tuple(read_json_lines(run_dir / "leader.jsonl")),
    )
    return run, meta
