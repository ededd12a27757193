"""Real processes: sandbox clusters of node daemons on loopback, driven through the CLI
and the Control API. Elections, replication, kill -9 failover, full restarts, quorum
loss, membership changes and the OS user recorded in the history.

Timing waits are generous (the machine is shared); measured times are printed, and only
checked against the design targets with several-fold slack.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import time

import pytest
from sandbox_support import wait_until

from raftha.daemon.client import ApiError, ControlClient
from raftha.sandbox import Sandbox, free_loopback_ports

FAILOVER_TARGET_S = 2.0
SLACK = 5




def run_cli(*args: str, socket_path: str | None = None,
            input_text: str = "") -> subprocess.CompletedProcess:
    environment = dict(os.environ)
    if socket_path is not None:
        environment["RAFTHA_SOCKET"] = socket_path
    return subprocess.run([sys.executable, "-m", "raftha.cli", *args], capture_output=True,
                          text=True, timeout=60, env=environment, input=input_text)


def converged_hash(sandbox: Sandbox, names: list[str]) -> str | None:
    """The state hash when every named node has applied the same index, else None."""
    answers = {name: sandbox.call(name, "state_hash") for name in names}
    pairs = {(answer["index"], answer["hash"]) for answer in answers.values()}
    return pairs.pop()[1] if len(pairs) == 1 else None


def make_sandbox(directory, node_count: int) -> Sandbox:
    sandbox = Sandbox(directory)
    sandbox.up(node_count, timeout_s=90)
    return sandbox


def assert_all_stopped(sandbox: Sandbox) -> None:
    assert sandbox.running() == []


@pytest.fixture(scope="module")
def trio(tmp_path_factory):
    sandbox = make_sandbox(tmp_path_factory.mktemp("trio"), 3)
    try:
        yield sandbox
    finally:
        sandbox.down()
        assert_all_stopped(sandbox)


@pytest.fixture
def ready_trio(trio):
    """The three-node sandbox with every node running and online."""
    for name in trio.nodes:
        trio.start(name)
    trio.wait_ready(60)
    return trio


def test_three_nodes_elect_one_leader_and_report_the_documented_json(ready_trio):
    sandbox = ready_trio
    leader = sandbox.leader()
    assert leader in sandbox.nodes
    result = run_cli("status", "--output", "json",
                     socket_path=sandbox.node("node2").socket_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert list(document) == ["cluster", "nodes", "resources"]
    cluster = document["cluster"]
    assert (cluster["name"], cluster["leader"], cluster["quorum"]) == ("sandbox", leader, True)
    assert cluster["commit_index"] >= 1
    assert {name: node["state"] for name, node in document["nodes"].items()} == {
        "node1": "online", "node2": "online", "node3": "online"}
    text = run_cli("status", "--socket", sandbox.node("node3").socket_path)
    assert text.returncode == 0
    assert f"Current leader: {leader} - partition with quorum" in text.stdout
    assert "Online: [ node1 node2 node3 ]" in text.stdout


def test_property_set_on_one_node_is_visible_on_all_with_equal_state_hash(ready_trio):
    sandbox = ready_trio
    result = run_cli("property", "set", "stonith-enabled=false", "cluster-recheck-interval=2min",
                     socket_path=sandbox.node("node1").socket_path)
    assert result.returncode == 0, result.stderr
    for name in sandbox.nodes:
        wait_until(lambda name=name: sandbox.call(name, "property_show")["properties"].get(
            "cluster-recheck-interval") == "2min", 10, f"the property on {name}")
        shown = run_cli("property", "show", "--output", "json",
                        socket_path=sandbox.node(name).socket_path)
        assert json.loads(shown.stdout)["stonith-enabled"] == "false"
    wait_until(lambda: converged_hash(sandbox, list(sandbox.nodes)), 10, "equal state hashes")


def test_configure_load_through_one_node_shows_on_another(ready_trio, tmp_path):
    sandbox = ready_trio
    path = tmp_path / "web.crm"
    path.write_text("primitive web ocf:heartbeat:Dummy op monitor interval=10s\n"
                    "primitive ip ocf:heartbeat:Dummy\n"
                    "colocation web-with-ip inf: web ip\n")
    loaded = run_cli("configure", "load", str(path), socket_path=sandbox.node("node1").socket_path)
    assert loaded.returncode == 0, loaded.stderr
    def shown_on_node3() -> str:
        return run_cli("configure", "show", socket_path=sandbox.node("node3").socket_path).stdout
    text = wait_until(lambda: "colocation web-with-ip inf: web ip" in (out := shown_on_node3())
                      and out, 20, "the configuration on node3")
    assert "primitive web ocf:heartbeat:Dummy" in text
    def resources_on_node2() -> set:
        status = run_cli("status", "--output", "json",
                         socket_path=sandbox.node("node2").socket_path).stdout
        return set(json.loads(status)["resources"])
    wait_until(lambda: resources_on_node2() >= {"web", "ip"}, 20, "the resources on node2")
    from_stdin = run_cli("configure", "load", "-", socket_path=sandbox.node("node2").socket_path,
                         input_text="primitive db ocf:heartbeat:Dummy\n")
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert "3 resources" in from_stdin.stdout


def test_node_standby_and_online_through_the_cli(ready_trio):
    sandbox = ready_trio
    socket_path = sandbox.node("node1").socket_path
    assert run_cli("node", "standby", "node2", socket_path=socket_path).returncode == 0
    text = run_cli("status", socket_path=socket_path).stdout
    assert "Node node2: standby" in text and "Online: [ node1 node3 ]" in text
    assert run_cli("node", "online", "node2", socket_path=socket_path).returncode == 0
    assert "Online: [ node1 node2 node3 ]" in run_cli("status", socket_path=socket_path).stdout
    refused = run_cli("node", "standby", "node9", socket_path=socket_path)
    assert refused.returncode == 1
    assert refused.stderr == "raftha: node 'node9' is not a member of the cluster\n"


def test_bad_input_and_unreachable_nodes_give_one_line_errors(ready_trio, tmp_path):
    sandbox = ready_trio
    refused = run_cli("property", "set", "no-such-option=1",
                      socket_path=sandbox.node("node2").socket_path)
    assert refused.returncode == 1
    assert refused.stderr == "raftha: unknown cluster property 'no-such-option'\n"
    missing = run_cli("status", "--socket", str(tmp_path / "nothing.sock"))
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1 and "is the node running" in missing.stderr


def test_history_shows_the_os_user_who_changed_what(ready_trio):
    sandbox = ready_trio
    socket_path = sandbox.node("node3").socket_path
    # The socket is open to local users; what they may do is their ACL role's business.
    granted = run_cli("acl", "grant", "nobody", "admin", socket_path=socket_path)
    assert granted.returncode == 0, granted.stderr
    nobody = pwd.getpwnam("nobody")
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked child
        try:
            # The test's temporary directories are private to root: enter the node's
            # directory first, then drop privileges and connect by the relative name.
            os.chdir(os.path.dirname(socket_path))
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            with ControlClient(os.path.basename(socket_path), 15_000) as client:
                client.call("property_set", name="batch-limit", value="7")
            os._exit(0)
        except BaseException as error:
            os.write(2, f"child failed: {error}\n".encode())
            os._exit(1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    as_root = run_cli("property", "set", "batch-limit=8", socket_path=socket_path)
    assert as_root.returncode == 0, as_root.stderr
    result = run_cli("history", "--output", "json", socket_path=socket_path)
    events = [event for event in json.loads(result.stdout)
              if event["kind"] == "ClusterPropertySet" and "batch-limit" in event["summary"]]
    assert [(event["user"], event["origin"], event["summary"]) for event in events[-2:]] == [
        ("nobody", "node3", "batch-limit=7"),
        (pwd.getpwuid(os.getuid()).pw_name, "node3", "batch-limit=8")]
    def node2_shows_nobody() -> bool:
        text = run_cli("history", socket_path=sandbox.node("node2").socket_path).stdout
        return any("nobody" in line and "batch-limit=7" in line for line in text.splitlines())
    wait_until(node2_shows_nobody, 20, "the change by nobody in node2's history")


def test_status_at_an_index_shows_the_past(ready_trio):
    sandbox = ready_trio
    first = sandbox.call("node1", "property_set", name="maintenance-mode", value="true")["index"]
    sandbox.call("node1", "property_set", name="maintenance-mode", value="false")
    result = run_cli("status", "--at", str(first), "--output", "json",
                     socket_path=sandbox.node("node1").socket_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cluster"]["properties"]["maintenance-mode"] == "true"


def test_kill_9_of_the_leader_elects_a_new_one_and_writes_continue(ready_trio):
    sandbox = ready_trio
    old_leader = sandbox.leader()
    started = time.monotonic()
    sandbox.kill(old_leader)
    new_leader = wait_until(lambda: (leader := sandbox.leader()) not in (None, old_leader)
                            and leader, FAILOVER_TARGET_S * SLACK, "a new leader", 0.01)
    elapsed_s = time.monotonic() - started
    print(f"failover after kill -9: {elapsed_s:.3f} s ({old_leader} -> {new_leader})")
    assert elapsed_s < FAILOVER_TARGET_S * SLACK
    survivor = next(name for name in sandbox.nodes if name != old_leader)
    result = sandbox.call(survivor, "property_set", name="no-quorum-policy", value="freeze")
    assert result["index"] > 0
    # unclean when fencing is enabled (a lost node), offline when it is not
    wait_until(lambda: sandbox.call(new_leader, "status")["nodes"][old_leader]["state"]
               in ("offline", "unclean"), 20, f"{old_leader} recorded lost")
    sandbox.start(old_leader)
    sandbox.wait_ready(60)
    wait_until(lambda: sandbox.call(old_leader, "property_show")["properties"].get(
        "no-quorum-policy") == "freeze", 20, "the restarted node to catch up")


def test_restarting_every_node_keeps_the_committed_state(ready_trio):
    sandbox = ready_trio
    sandbox.call("node2", "property_set", name="stop-all-resources", value="true")
    # Read back from the node that proposed: it has applied the write; others may lag.
    before = sandbox.call("node2", "property_show")["properties"]
    assert before["stop-all-resources"] == "true"
    history_before = sandbox.call("node2", "history", limit=1000)["events"]
    sandbox.down()
    assert_all_stopped(sandbox)
    sandbox.up(3, timeout_s=90)
    for name in sandbox.nodes:
        wait_until(lambda name=name: sandbox.call(name, "property_show")["properties"] == before,
                   20, f"{name} to restore the committed properties")
    history_after = sandbox.call("node3", "history", limit=1000)["events"]
    assert history_after[:len(history_before)] == history_before
    wait_until(lambda: converged_hash(sandbox, list(sandbox.nodes)), 20, "equal state hashes")


def test_a_node_joins_and_leaves_through_the_cli(ready_trio):
    sandbox = ready_trio
    directory = sandbox.directory
    port = free_loopback_ports(1)[0]
    joined = run_cli("cluster", "join", f"node4=127.0.0.1:{port}", "--dir", str(directory),
                     socket_path=sandbox.node("node1").socket_path)
    assert joined.returncode == 0, joined.stderr
    config_path = directory / "node4" / "node.toml"
    log = open(directory / "node4" / "node.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "raftha.cli", "node", "run", "--config",
                                str(config_path)], stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        wait_until(lambda: all(sandbox.call(name, "status")["nodes"].get("node4", {}).get("state")
                               == "online" for name in sandbox.nodes), 60, "node4 online")
        with ControlClient(directory / "node4" / "control.sock", 10_000) as client:
            wait_until(lambda: client.call("status")["cluster"]["name"] == "sandbox", 30,
                       "node4 to replicate the log")
        removed = run_cli("cluster", "remove", "node4",
                          socket_path=sandbox.node("node2").socket_path)
        assert removed.returncode == 0, removed.stderr
        wait_until(lambda: "node4" not in sandbox.call("node3", "status")["nodes"], 20,
                   "node4 removed")
    finally:
        os.killpg(process.pid, 9)
        process.wait(10)
        log.close()
    sandbox.call("node1", "property_set", name="batch-limit", value="9")


def test_five_nodes_survive_two_losses_and_refuse_writes_after_three(tmp_path):
    sandbox = make_sandbox(tmp_path / "five", 5)
    try:
        leader = sandbox.leader()
        followers = [name for name in sandbox.nodes if name != leader]
        for name in (leader, followers[0]):
            sandbox.kill(name)
        reader = followers[1]
        wait_until(lambda: sandbox.call(reader, "status")["cluster"]["leader"] not in
                   (None, leader), 20, "a new leader among the three")
        assert sandbox.call(reader, "status")["cluster"]["quorum"] is True
        sandbox.call(reader, "property_set", name="stonith-enabled", value="false")
        for name in followers[1:]:  # every survivor has applied it before the next loss
            wait_until(lambda name=name: sandbox.call(name, "property_show")["properties"].get(
                "stonith-enabled") == "false", 20, f"the write applied on {name}")
        sandbox.kill(followers[1])
        survivor = followers[2]
        wait_until(lambda: sandbox.call(survivor, "status")["cluster"]["quorum"] is False, 20,
                   "the survivors to notice the lost quorum")
        status = run_cli("status", "--output", "json",
                         socket_path=sandbox.node(survivor).socket_path)
        assert status.returncode == 0
        assert json.loads(status.stdout)["cluster"]["properties"]["stonith-enabled"] == "false"
        text = run_cli("status", socket_path=sandbox.node(survivor).socket_path).stdout
        assert "partition WITHOUT quorum" in text
        # The third loss cannot be committed without a quorum: the view says so.
        unreachable_line = next(line for line in text.splitlines()
                                if line.startswith(f"  * Unreachable from {survivor}: ["))
        assert followers[1] in unreachable_line.split()
        refused = run_cli("property", "set", "stonith-enabled=true",
                          socket_path=sandbox.node(survivor).socket_path)
        assert refused.returncode == 1
        assert refused.stderr.startswith("raftha: no quorum: this node reaches 2 of 5 members")
        assert refused.stderr.count("\n") == 1
        with pytest.raises(ApiError, match="^no quorum"):
            sandbox.call(followers[3], "property_set", name="stonith-enabled", value="true")
    finally:
        sandbox.down()
        assert_all_stopped(sandbox)


def test_sandbox_cli_up_kill_start_down(tmp_path):
    directory = str(tmp_path / "cli")
    up = run_cli("sandbox", "up", "--nodes", "3", "--dir", directory)
    try:
        assert up.returncode == 0, up.stderr
        lines = up.stdout.splitlines()
        assert [line.split()[0] for line in lines] == ["node1", "node2", "node3"]
        for line in lines:
            name, socket_path, address = line.split()
            assert socket_path.endswith(f"{name}/control.sock")
            assert address.startswith("127.0.0.1:")
        killed = run_cli("sandbox", "kill", "node2", "--dir", directory)
        assert killed.returncode == 0, killed.stderr
        status = run_cli("sandbox", "status", "--dir", directory)
        assert "node2" in status.stdout and [line.endswith("stopped") for line in
                                              status.stdout.splitlines()] == [False, True, False]
        started = run_cli("sandbox", "start", "node2", "--dir", directory)
        assert started.returncode == 0, started.stderr
        unknown = run_cli("sandbox", "kill", "node9", "--dir", directory)
        assert unknown.returncode == 1 and "no node 'node9'" in unknown.stderr
    finally:
        down = run_cli("sandbox", "down", "--dir", directory)
    assert down.returncode == 0, down.stderr
    assert Sandbox(directory).running() == []


def test_demo_walks_through_failover_and_cleans_up():
    result = run_cli("demo")
    assert result.returncode == 0, result.stderr
    assert "new leader:" in result.stdout
    assert "stonith-enabled=false" in result.stdout
    assert "no-quorum-policy=stop committed" in result.stdout


def test_a_node_far_behind_catches_up_from_a_snapshot_with_equal_state(tmp_path):
    sandbox = Sandbox(tmp_path / "compact")
    sandbox.up(3, timeout_s=90, timing={"compaction_min_entries": 40})
    try:
        leader = sandbox.leader()
        laggard = next(name for name in sandbox.nodes if name != leader)
        with sandbox.client(leader) as client:
            for number in range(60):
                client.call("property_set", name="batch-limit", value=str(number))
        sandbox.kill(laggard)
        with sandbox.client(leader) as client:
            first_missed = client.call("property_set", name="batch-limit", value="1000")["index"]
            for number in range(150):
                client.call("property_set", name="node-action-limit", value=str(number))
        sandbox.start(laggard)
        names = list(sandbox.nodes)
        wait_until(lambda: converged_hash(sandbox, names), 60, "equal state on all nodes")
        assert sandbox.call(laggard, "property_show")["properties"]["node-action-limit"] == "149"
        # The laggard's own history has a hole where it installed the leader's snapshot
        # (when the leader had compacted its log); other nodes rebuild that index.
        past = sandbox.call(leader, "status", at=first_missed)
        assert past["cluster"]["properties"]["batch-limit"] == "1000"
        try:
            laggard_past = sandbox.call(laggard, "status", at=first_missed)
        except ApiError as error:
            assert "never saw indexes" in str(error)
        else:
            assert laggard_past["cluster"]["properties"]["batch-limit"] == "1000"
        sandbox.down()
        sandbox.up(3, timeout_s=90)
        wait_until(lambda: converged_hash(sandbox, names), 60, "equal state after restart")
        assert sandbox.call(laggard, "property_show")["properties"]["node-action-limit"] == "149"
    finally:
        sandbox.down()
        assert_all_stopped(sandbox)
