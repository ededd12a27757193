"""Seeded fault schedule: planned entirely before the cluster starts, written as
schedule.json, replayable with --replay.

One `random.Random(seed)` decides every family, target rule, node order, duration and gap.
Targets that depend on the running cluster (the leader) stay rules until applied; the
resolved targets are written back into the schedule after the run (key "resolved"), and a
replay uses them instead of resolving again. A seed reproduces the schedule, not the
outcome: the system under test has its own threads and timing.

Schedule document:
    {"version": 1, "seed": int, "nodes": [names], "time_s": float, "warmup_s": float,
     "recovery_s": float, "families": [...],
     "ops": [{"index": int, "at_ms": int (from run start), "family": str, "rule": str,
              "duration_ms": int, "order": [node names shuffled], "params": {...},
              "overlaps": bool (starts while the previous fault holds),
              "resolved": {...} (after the run)}]}
"""

from __future__ import annotations

import json
import pathlib
import random
from collections.abc import Sequence
from dataclasses import dataclass

FAMILIES: dict[str, tuple[str, ...]] = {
    "partition": ("random-halves", "isolate-random", "isolate-leader", "majorities-ring",
                  "bridge"),
    "loss": ("random", "all"),
    "kill": ("random", "leader"),
    "kill-node": ("random", "leader"),
    "pause": ("random", "leader"),
    "pause-node": ("random", "leader"),
    "clock": ("random", "leader"),
    "restart-all": ("all",),
    "truncate": ("random",),
    "membership": ("non-leader", "random"),
    "fence": ("fail", "hang"),
}
NEMESIS_ALIASES = {"all": tuple(FAMILIES)}
SCHEDULE_VERSION = 1


@dataclass(frozen=True)
class Timing:
    gap_s: tuple[float, float]
    fault_s: tuple[float, float]
    warmup_s: float
    recovery_s: float
    overlap_probability: float = 0.2  # a second fault starts while the previous one holds


STANDARD_TIMING = Timing(gap_s=(2.0, 5.0), fault_s=(3.0, 10.0), warmup_s=5.0, recovery_s=15.0)
QUICK_TIMING = Timing(gap_s=(0.8, 1.5), fault_s=(1.5, 3.0), warmup_s=1.5, recovery_s=3.0)


def parse_families(text: str) -> list[str]:
    """"partition,kill" -> ["partition", "kill"]; "all" expands; unknown names are refused."""
    families: list[str] = []
    for name in (part.strip() for part in text.split(",") if part.strip()):
        expanded = NEMESIS_ALIASES.get(name, (name,))
        for family in expanded:
            if family not in FAMILIES:
                raise ValueError(f"unknown nemesis {family!r}; known: "
                                 f"{', '.join(FAMILIES)} or all")
            if family not in families:
                families.append(family)
    return families


def _op_params(family: str, rng: random.Random) -> dict:
    if family == "loss":
        return {"percent": rng.choice((10, 30, 50))}
    if family == "clock":
        magnitude_ms = round(1.5 ** rng.randint(6, 26))
        return {"offset_ms": magnitude_ms * rng.choice((-1, 1)),
                "rate": rng.choice((1.0, 1.0, 0.99, 1.01))}
    if family == "truncate":
        return {"bytes": rng.choice((1, 7, 64, 512)), "mode": rng.choice(("truncate", "zero")),
                "file_choice": rng.randrange(1000)}
    return {}


def plan(seed: int, nodes: Sequence[str], time_s: float, families: Sequence[str],
         timing: Timing) -> dict:
    """The whole schedule for one run, decided by `seed` alone."""
    if not families:
        raise ValueError("at least one nemesis family is needed")
    rng = random.Random(seed)
    ops: list[dict] = []
    clock_ms = int(timing.warmup_s * 1000)
    end_ms = int((timing.warmup_s + time_s) * 1000)
    while True:
        overlap = bool(ops) and rng.random() < timing.overlap_probability
        if overlap:
            # Start inside the previous fault: bugs come from combinations of faults.
            previous = ops[-1]
            at_ms = previous["at_ms"] + int(previous["duration_ms"] * rng.uniform(0.2, 0.8))
        else:
            at_ms = clock_ms + int(rng.uniform(*timing.gap_s) * 1000)
        family = rng.choice(list(families))
        duration_ms = int(rng.uniform(*timing.fault_s) * 1000)
        if at_ms + duration_ms > end_ms:
            break
        order = list(nodes)
        rng.shuffle(order)
        ops.append({"index": len(ops), "at_ms": at_ms, "family": family,
                    "rule": rng.choice(FAMILIES[family]), "duration_ms": duration_ms,
                    "order": order, "params": _op_params(family, rng), "overlaps": overlap})
        clock_ms = max(clock_ms, at_ms + duration_ms)
    return {"version": SCHEDULE_VERSION, "seed": seed, "nodes": list(nodes),
            "time_s": time_s, "warmup_s": timing.warmup_s, "recovery_s": timing.recovery_s,
            "families": list(families), "ops": ops}


def write_schedule(path: pathlib.Path, schedule: dict) -> None:
    pathlib.Path(path).write_text(json.dumps(schedule, indent=1, sort_keys=True) + "\n")


def load_schedule(path: pathlib.Path) -> dict:
    """Read and validate a schedule file (from a run directory or a schedule path)."""
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / "schedule.json"
    try:
        schedule = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read schedule {path}: {error}") from error
    if not isinstance(schedule, dict) or schedule.get("version") != SCHEDULE_VERSION:
        raise ValueError(f"{path} is not a version-{SCHEDULE_VERSION} schedule")
    for key in ("seed", "nodes", "time_s", "ops"):
        if key not in schedule:
            raise ValueError(f"schedule {path} lacks {key!r}")
    for op in schedule["ops"]:
        if op.get("family") not in FAMILIES:
            raise ValueError(f"schedule {path} has unknown family {op.get('family')!r}")
    return schedule
