"""A daemon's pieces over the in-process fake Raft layer, for unit tests of the API and the
leader duties: the real API, state machine, proposer and history journal per node."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator, Sequence

from raftha.daemon.api import ControlApi
from raftha.daemon.bootstrap import init_cluster
from raftha.daemon.client import ApiError
from raftha.daemon.config import load_node_config
from raftha.daemon.history import HistoryJournal
from raftha.daemon.leader import LeaderDuties
from raftha.daemon.machine import ReducerStateMachine
from raftha.daemon.proposer import Proposer
from raftha.raft.fake import FakeRaftCluster


class FakeNode:
    """One fake node: configuration, fake raft log, state machine, proposer, API, duties."""

    def __init__(self, cluster: FakeRaftCluster, config, directory: pathlib.Path) -> None:
        self.config = config
        self.history = HistoryJournal(directory)
        self.machine = ReducerStateMachine(self.history, on_fatal=self.fatal)
        self.raft = cluster.make_log(config.raft_address, self.machine)
        self.raft.watch_status(self.machine.note_raft_status_change)
        self.proposer = Proposer(self.raft, self.machine, config.node_name,
                                 no_quorum_grace_ms=100)
        self.api = ControlApi(config, self.raft, self.machine, self.proposer, self.history)
        self.duties = LeaderDuties(config, self.raft, self.machine, self.proposer)

    def fatal(self) -> None:
        raise AssertionError("the state machine hit a fatal error")

    def call(self, op: str, user: str = "alice", **args):
        response = self.api.handle({"op": op, "args": args}, user)
        if not response["ok"]:
            raise ApiError(response["error"])
        return response["result"]


def started_fake_nodes(directory: pathlib.Path, cluster_name: str,
                       addresses: Sequence[str]) -> Iterator[tuple[FakeRaftCluster,
                                                                   dict[str, FakeNode]]]:
    """A created cluster of fake nodes, every member online; stopped when resumed."""
    members = [(f"n{number}", address) for number, address in enumerate(addresses, start=1)]
    written = init_cluster(directory / "cluster", cluster_name, members)
    cluster = FakeRaftCluster(tuple(addresses))
    nodes = {}
    for files in written:
        data = directory / files.name
        data.mkdir()
        nodes[files.name] = FakeNode(cluster, load_node_config(files.config_path), data)
    for node in nodes.values():
        node.raft.start()
    leader = next(node for node in nodes.values() if node.raft.status().is_leader)
    leader.duties.step(0.0)  # proposes ClusterCreated
    leader.duties.step(0.0)  # the leader itself comes online at once
    leader.duties.step(10.0)  # connected peers come online after the return debounce
    try:
        yield cluster, nodes
    finally:
        for node in nodes.values():
            node.raft.stop()
            node.history.close()
