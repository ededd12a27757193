#!/usr/bin/env python3
"""Benchmark: what operation digests, clone notifications and live migration cost the plan.

Role: build a cluster where every resource runs and its history records parameter digests
(R primitives on N nodes, every 10th parameter changed since, plus one notify=true clone
with allow-migrate primitives), then time `raftha.scheduler.plan` as it is and with the
parameter-change, notification and migration steps replaced by no-ops, in the same process.
Prints the best of --repeat alternated runs of each, the difference, and the load average.

Usage: bench_parameter_changes.py [--sizes 300x8,1000x16,3000x32] [--repeat 5]
This is a script that prints numbers, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from raftha.crmsh import parse_configuration  # noqa: E402
from raftha.model.status import (  # noqa: E402
    ClusterStatus,
    NodeStatus,
    OperationRecord,
    ResourceHistory,
    online_node,
)
from raftha.scheduler import engine as engine_module  # noqa: E402
from raftha.scheduler import plan  # noqa: E402
from raftha.scheduler import planner as planner_module  # noqa: E402
from raftha.scheduler.digests import configured_parameters, record_digests  # noqa: E402


def configuration_text(resources: int, nodes: int) -> str:
    lines = [f"node node{index}" for index in range(1, nodes + 1)]
    lines.append("property stonith-enabled=false")
    lines.append("rsc_defaults resource-stickiness=100")
    for index in range(resources):
        lines.append(f"primitive r{index} ocf:pacemaker:Dummy params state=/run/r{index} "
                     f"fake={index} meta allow-migrate=true op monitor interval=10s")
    lines.append("primitive c ocf:pacemaker:Stateful op monitor interval=10s")
    lines.append("clone c-clone c meta notify=true")
    return "\n".join(lines) + "\n"


def recorded(configuration, primitive_id: str, call_id: int, changed: bool) -> ResourceHistory:
    primitive = next(item for item in configuration.all_primitives() if item.id == primitive_id)
    params = dict(primitive.params)
    if changed:
        params["fake"] = "old"
    start = record_digests(configured_parameters(configuration, primitive, params, "start", 0),
                           0, ["state"])
    monitor = record_digests(configured_parameters(configuration, primitive, params,
                                                   "monitor", 10_000), 10_000, None)
    records = (
        OperationRecord(operation="start", call_id=call_id, rc=0, target_rc=0,
                        id=f"{primitive_id}_last_0", op_digest=start.op_digest,
                        op_restart_digest=start.op_restart_digest,
                        op_force_restart=start.op_force_restart,
                        parameter_digests=start.parameter_digests),
        OperationRecord(operation="monitor", call_id=call_id + 1, rc=0, target_rc=0,
                        interval_ms=10_000, id=f"{primitive_id}_monitor_10000",
                        op_digest=monitor.op_digest,
                        parameter_digests=monitor.parameter_digests),
    )
    return ResourceHistory(primitive_id, "ocf", "pacemaker", "Dummy", records)


def cluster_status(configuration, resources: int, nodes: int) -> ClusterStatus:
    per_node: dict[str, list[ResourceHistory]] = {f"node{n}": [] for n in range(1, nodes + 1)}
    for index in range(resources):
        node = f"node{index % nodes + 1}"
        per_node[node].append(recorded(configuration, f"r{index}", 10 + 2 * index,
                                       changed=index % 10 == 0))
    for number, node in enumerate(per_node):
        per_node[node].append(ResourceHistory("c", "ocf", "pacemaker", "Stateful", (
            OperationRecord(operation="start", call_id=5 + number, rc=0, target_rc=0,
                            id="c_last_0"),)))
    return ClusterStatus(now=1000, nodes=tuple(
        NodeStatus(**{**online_node(name).__dict__, "histories": tuple(histories)})
        for name, histories in per_node.items()))


def best_time_s(configuration, status, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        began = time.perf_counter()
        result = plan(configuration, status)
        best = min(best, time.perf_counter() - began)
    return best, result


def without_new_steps():
    """Replaces the parameter-change, notification and migration steps by no-ops."""
    saved = (engine_module.plan_parameter_changes, engine_module.failures_with_changed_parameters,
             engine_module.dangling_migrations, planner_module.migrate_actions,
             planner_module.add_notifications)
    engine_module.plan_parameter_changes = lambda engine: None
    engine_module.failures_with_changed_parameters = lambda engine: set()
    engine_module.dangling_migrations = lambda status: set()
    planner_module.migrate_actions = lambda engine, primitive, actions: actions
    planner_module.add_notifications = lambda result, configuration, status: result
    return saved


def restore(saved) -> None:
    (engine_module.plan_parameter_changes, engine_module.failures_with_changed_parameters,
     engine_module.dangling_migrations, planner_module.migrate_actions,
     planner_module.add_notifications) = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="300x8,1000x16,3000x32")
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()
    print(f"{'resources x nodes':>18} {'plan ms':>9} {'without ms':>11} {'added ms':>9} "
          f"{'restarts':>9} {'reloads':>8} {'notify':>7}  load average")
    for size in arguments.sizes.split(","):
        resources, nodes = (int(part) for part in size.split("x"))
        configuration = parse_configuration(configuration_text(resources, nodes))
        status = cluster_status(configuration, resources, nodes)
        with_steps = without = float("inf")
        result = None
        for _ in range(arguments.repeat):  # alternated, so both see the same machine load
            took, result = best_time_s(configuration, status, 1)
            with_steps = min(with_steps, took)
            saved = without_new_steps()
            try:
                without = min(without, best_time_s(configuration, status, 1)[0])
            finally:
                restore(saved)
        counts = {verb: sum(1 for action in result.actions if action.verb == verb)
                  for verb in ("stop", "reload", "notify")}
        load = " ".join(f"{value:.2f}" for value in os.getloadavg())
        print(f"{size:>18} {with_steps * 1000:9.1f} {without * 1000:11.1f} "
              f"{(with_steps - without) * 1000:9.1f} {counts['stop']:>9} "
              f"{counts['reload']:>8} {counts['notify']:>7}  {load}")


if __name__ == "__main__":
    main()
