"""Command line: `python -m jepsen run|check|cleanup`.

  run      --nodes N --time S --nemesis partition,kill,... --seed N --out DIR
           [--quick] [--replay SCHEDULE|DIR] [--target selftest]
  check    DIR          re-check a stored run (rewrites results.json and the reports)
  cleanup  [--all]      remove namespaces/cgroups of dead runs (--all: of every run)
Exit status: 0 valid, 1 invalid, 2 unknown or a harness error (one-line reason on stderr).
"""

from __future__ import annotations

import argparse
import pathlib
import secrets
import sys

from jepsen import hosts, runner, schedule

TARGETS = ("selftest", "selftest-split-brain", "raftha")


def _adapter(name: str, resources: int = 0, fencing: bool = False):
    from jepsen.adapter import SelfTestCluster
    if name == "raftha":
        from jepsen.raftha_target import RafthaCluster
        return RafthaCluster(resources=resources, fencing=fencing)
    if name == "selftest":
        return SelfTestCluster()
    if name == "selftest-split-brain":
        return SelfTestCluster(shared_resource="st-shared")
    raise ValueError(f"unknown target {name!r}; known: {', '.join(TARGETS)}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jepsen",
                                     description="fault-injection harness for raftha")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a fault-injection test")
    run.add_argument("--nodes", type=int, default=3, help="3..5 nodes")
    run.add_argument("--time", type=float, default=30.0, help="fault phase length (s)")
    run.add_argument("--nemesis", default="partition",
                     help=f"comma list of: {', '.join(schedule.FAMILIES)}, or all")
    run.add_argument("--seed", type=int, default=None, help="default: random, printed")
    run.add_argument("--out", type=pathlib.Path, default=None,
                     help="run directory (default jepsen-runs/<seed>-<random>)")
    run.add_argument("--quick", action="store_true", help="short gaps, faults and recovery")
    run.add_argument("--replay", type=pathlib.Path, default=None,
                     help="schedule.json (or a run directory) to replay")
    run.add_argument("--target", default="selftest", choices=TARGETS,
                     help="cluster under test (selftest: the harness's own trivial target; "
                     "selftest-split-brain: every node runs one shared resource, so the "
                     "run must be judged invalid; raftha: real raftha daemons)")
    run.add_argument("--resources", type=int, default=0,
                     help="raftha target: number of ocf:raftha:Ledger resources to run")
    run.add_argument("--fencing", action="store_true",
                     help="raftha target with --resources: a fence_jepsen device per node "
                     "and stonith-enabled=true")
    check = commands.add_parser("check", help="re-check a stored run directory")
    check.add_argument("dir", type=pathlib.Path)
    cleanup = commands.add_parser("cleanup", help="remove leftovers of interrupted runs")
    cleanup.add_argument("--all", action="store_true",
                         help="also remove runs whose owner process is still alive")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "cleanup":
            removed = hosts.cleanup_stale(include_live=args.all)
            print("removed: " + (" ".join(removed) if removed else "nothing"))
            return 0
        if args.command == "check":
            return runner.exit_status(runner.check_directory(args.dir))
        if not 1 <= args.nodes <= hosts.MAX_NODES:
            raise ValueError(f"--nodes must be within 1..{hosts.MAX_NODES}")
        if args.time <= 0:
            raise ValueError("--time must be positive")
        seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
        out = args.out or pathlib.Path("jepsen-runs") / f"{seed}-{secrets.token_hex(2)}"
        options = runner.RunOptions(nodes=args.nodes, time_s=args.time,
                                    families=schedule.parse_families(args.nemesis),
                                    seed=seed, out=out, quick=args.quick, replay=args.replay)
        hosts.install_signal_teardown()
        if args.resources < 0 or (args.resources and args.target != "raftha"):
            raise ValueError("--resources needs --target raftha and a count >= 0")
        if args.fencing and not args.resources:
            raise ValueError("--fencing needs --target raftha and --resources")
        results = runner.execute(options, _adapter(args.target, args.resources, args.fencing))
        print(f"jepsen: results in {out / 'results.json'}")
        return runner.exit_status(results)
    except (ValueError, RuntimeError, OSError) as error:
        print(f"jepsen: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
