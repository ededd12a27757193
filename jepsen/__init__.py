"""jepsen: fault-injection harness for raftha (real processes, namespaces, nftables, checkers).

Running (root; Linux with iproute2, nftables and cgroups):
    python -m jepsen run --nodes 3 --time 60 --nemesis partition,kill,pause --seed 1 \\
        --out DIR [--quick] [--replay DIR/schedule.json] [--target raftha|selftest]
    python -m jepsen check DIR      # re-check a stored run, rewrite results and reports
    python -m jepsen cleanup [--all] # remove leftovers of interrupted runs
Exit status 0 valid, 1 invalid, 2 unknown or harness error (one-line reason on stderr).
Nemesis families: partition, loss, kill, kill-node, pause, pause-node, clock, restart-all,
truncate, membership, fence (or "all"); see jepsen.nemesis and jepsen.schedule.
Fencing (jepsen.fence): jepsen/fence_jepsen is a standard stdin key=value fence agent that
powers a node off/on through the run's controller socket (DIR/fence.sock).

Hosts (jepsen.hosts): each node is a network namespace "<prefix>-nX" with eth0 =
10.231.0.X/24, joined by veth pairs to a bridge inside a private hub namespace
"<prefix>-hub"; the root namespace gets nothing. Every node's processes live in the cgroup
<cgroup2 mount>/<prefix>/nX (freeze, power-off). The prefix is "rj" + 6 random hex digits per
run; an owner file /run/raftha-jepsen/<prefix>.json lets `cleanup` remove only runs whose
owner died. Teardown runs on context exit, at interpreter exit and on SIGINT/SIGTERM/SIGHUP.

Run directory (jepsen.store): run.json, schedule.json (with resolved targets, the --replay
input), history.jsonl, ledger/*.log, collected.json, results.json, timeline.html,
timeline.png (when matplotlib is importable), summary.txt, logs/.

History records (jepsen.history): {"time_ms", "process", "type": invoke|ok|fail|info, "f",
"value"}; fault ops are process "nemesis" with resolved targets and affected nodes.
results.json: {"valid": true|false|"unknown", "checkers": {NAME: {"valid", ...}},
"failover_s": {"p50", "p99", "n"}, "seed", "not_checked": [...]}.

Cluster-under-test adapter (jepsen.adapter.ClusterAdapter): start(hosts, run_dir),
start_node(node), daemon_pids(node), leader(), data_files(node), clock_file(node),
add_member(node), remove_member(node), next_call(rng, process) -> ClientCall,
final_calls(), collect() -> Collected(ledger_files, final_logs, state_hashes,
fence_history), stop(); attributes name, checkers, params. Implementations:
jepsen.raftha_target.RafthaCluster (real raftha daemons) and jepsen.adapter.SelfTestCluster
(the harness's own trivial target, not a model of raftha).

Clock hook (jepsen.clockhook): a node process started with
RAFTHA_CLOCK_OFFSET_FILE=<path> reads that file (JSON {"offset_ms": number, "rate":
number}, re-read at most every 100 ms, replaced atomically by the harness; missing or bad
file = no fault). Wall clock = real + offset_ms; the monotonic clock used for leases and
timeouts advances at `rate` x real time, integrated so it never goes backwards; healing
writes offset 0, rate 1. clockhook.HookedClock is the reference reader.

Ledger (checkers (a), (e), (f)): lines "<wall_ms> <node> <resource_id>" appended every
100 ms by each running instance of a resource, files under run_dir/ledger/.
"""
