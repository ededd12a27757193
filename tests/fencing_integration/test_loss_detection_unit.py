"""Loss detection when the leader itself dies (fake Raft layer, real reducer and duties): the
new leader times the old one's loss from when it saw the link drop, not from its election;
links never seen up and the return of a node still follow the old timing."""

from __future__ import annotations

import pytest

from raftha.daemon.bootstrap import init_cluster
from raftha.daemon.config import load_node_config
from raftha.daemon.leader import LeaderDuties
from raftha.daemon.machine import ReducerStateMachine
from raftha.daemon.proposer import Proposer
from raftha.raft.fake import FakeRaftCluster

ADDRESSES = ("127.0.0.1:7301", "127.0.0.1:7302", "127.0.0.1:7303")


class Node:
    def __init__(self, cluster: FakeRaftCluster, config) -> None:
        self.name = config.node_name
        self.config = config
        self.machine = ReducerStateMachine(None)
        self.raft = cluster.make_log(config.raft_address, self.machine)
        self.proposer = Proposer(self.raft, self.machine, self.name, no_quorum_grace_ms=100)
        self.duties = LeaderDuties(config, self.raft, self.machine, self.proposer)

    def state_of(self, name: str) -> str:
        return self.machine.state.node(name).state


@pytest.fixture
def cluster(tmp_path):
    members = [(f"n{number}", address) for number, address in enumerate(ADDRESSES, start=1)]
    written = init_cluster(tmp_path / "cluster", "unit", members)
    fake = FakeRaftCluster(ADDRESSES)
    nodes = {files.name: Node(fake, load_node_config(files.config_path)) for files in written}
    for node in nodes.values():
        node.raft.start()
    assert nodes["n1"].raft.status().is_leader
    for moment in (0.0, 0.0, 10.0):
        nodes["n1"].duties.step(moment)
    assert {nodes["n1"].state_of(name) for name in nodes} == {"online"}
    yield fake, nodes
    for node in nodes.values():
        node.raft.stop()


def step_all(nodes: dict, moment: float) -> None:
    for node in nodes.values():
        node.duties.step(moment)


def test_the_new_leader_times_the_old_leaders_loss_from_the_drop(cluster):
    fake, nodes = cluster
    step_all(nodes, 20.0)                    # every node sees its links up
    fake.set_leader(ADDRESSES[2])            # (the fake elects at once; n3 stands in for
    fake.disconnect(ADDRESSES[0])            # the leaderless moment after n1's death)
    nodes["n2"].duties.step(20.1)            # n2, following, sees the link drop at 20.1
    fake.set_leader(ADDRESSES[1])            # n2 is elected at 20.5
    nodes["n2"].duties.step(20.5)
    assert nodes["n2"].state_of("n1") == "online"
    nodes["n2"].duties.step(20.75)           # 650 ms after the drop (timeout 600 ms)
    assert nodes["n2"].state_of("n1") == "offline"


def test_a_link_never_seen_up_is_timed_from_the_election(cluster):
    fake, nodes = cluster
    late = LeaderDuties(nodes["n2"].config, nodes["n2"].raft, nodes["n2"].machine,
                        nodes["n2"].proposer)  # a restarted n2: it never saw n1 connected
    fake.disconnect(ADDRESSES[0])
    late.step(20.0)                          # first step as leader: timer starts now
    late.step(20.5)
    assert nodes["n2"].state_of("n1") == "online"
    late.step(20.7)
    assert nodes["n2"].state_of("n1") == "offline"


def test_a_node_that_came_back_before_the_election_returns(cluster):
    fake, nodes = cluster
    step_all(nodes, 20.0)
    fake.disconnect(ADDRESSES[2])            # n3 lost under leader n1
    step_all(nodes, 20.1)
    step_all(nodes, 21.0)
    assert nodes["n1"].state_of("n3") == "offline"
    fake.reconnect(ADDRESSES[2])
    step_all(nodes, 21.1)                    # n3 back; then the leader changes
    fake.set_leader(ADDRESSES[1])
    step_all(nodes, 21.2)
    step_all(nodes, 21.5)                    # after the 200 ms return debounce
    assert nodes["n2"].state_of("n3") == "online"
