"""Fixtures for the security tests: a fake-Raft cluster served on a real Unix socket, a
way to call it as another OS user (a forked child that drops to that user), and a real
three-node sandbox for the process tests."""

from __future__ import annotations

import json
import os
import pathlib
import pwd

import pytest

from raftha.daemon.api import ControlApi, ControlServer
from raftha.daemon.bootstrap import init_cluster
from raftha.daemon.client import ApiError, ControlClient
from raftha.daemon.config import load_node_config
from raftha.daemon.history import HistoryJournal
from raftha.daemon.leader import LeaderDuties
from raftha.daemon.machine import ReducerStateMachine
from raftha.daemon.proposer import Proposer
from raftha.raft.fake import FakeRaftCluster
from raftha.sandbox import Sandbox

ADDRESSES = ("127.0.0.1:7201", "127.0.0.1:7202", "127.0.0.1:7203")
CHILD_TIMEOUT_MS = 20_000


class FakeNode:
    """A node over the fake Raft layer: the real API, state machine and proposer."""

    def __init__(self, cluster: FakeRaftCluster, config, directory: pathlib.Path) -> None:
        self.config = config
        self.history = HistoryJournal(directory)
        self.machine = ReducerStateMachine(self.history, on_fatal=self.fatal)
        self.raft = cluster.make_log(config.raft_address, self.machine)
        self.proposer = Proposer(self.raft, self.machine, config.node_name,
                                 no_quorum_grace_ms=100)
        self.api = ControlApi(config, self.raft, self.machine, self.proposer, self.history)
        self.duties = LeaderDuties(config, self.raft, self.machine, self.proposer)

    def fatal(self) -> None:
        raise AssertionError("the state machine hit a fatal error")


@pytest.fixture
def fake_nodes(tmp_path):
    members = [(f"n{number}", address) for number, address in enumerate(ADDRESSES, start=1)]
    written = init_cluster(tmp_path / "cluster", "sec", members)
    cluster = FakeRaftCluster(ADDRESSES)
    nodes = {}
    for files in written:
        config = load_node_config(files.config_path)
        data = tmp_path / files.name
        data.mkdir()
        nodes[files.name] = FakeNode(cluster, config, data)
    for node in nodes.values():
        node.raft.start()
    leader = next(node for node in nodes.values() if node.raft.status().is_leader)
    leader.duties.step(0.0)
    leader.duties.step(0.0)
    leader.duties.step(10.0)
    try:
        yield nodes
    finally:
        for node in nodes.values():
            node.raft.stop()
            node.history.close()


@pytest.fixture
def served(fake_nodes, tmp_path):
    """(node, socket path): n1's API on a real socket with the default mode (0666)."""
    node = fake_nodes["n1"]
    socket_directory = tmp_path / "socket"
    socket_directory.mkdir()
    path = str(socket_directory / "api.sock")
    server = ControlServer(path, node.config.socket_mode, node.api)
    server.start()
    try:
        yield node, path
    finally:
        server.stop()


@pytest.fixture
def trio(tmp_path):
    """A running three-node sandbox of real processes, stopped (every process) afterwards."""
    sandbox = Sandbox(tmp_path / "sandbox")
    try:
        sandbox.up(3, timeout_s=90)
        yield sandbox
    finally:
        sandbox.down()
        assert sandbox.running() == []


def call_as(user: str, socket_path: str, calls: list[tuple[str, dict]]) -> list[dict]:
    """Runs `calls` over the socket in a child process that became `user`; returns one
    {"ok", "result"|"error"} per call."""
    account = pwd.getpwnam(user)
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked child
        try:
            os.close(reader)
            # The test's directories are private to root: enter first, then drop privileges.
            os.chdir(os.path.dirname(socket_path))
            os.setgroups([])
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
            answers = []
            with ControlClient(os.path.basename(socket_path), CHILD_TIMEOUT_MS) as client:
                for op, args in calls:
                    try:
                        answers.append({"ok": True, "result": client.call(op, **args)})
                    except ApiError as error:
                        answers.append({"ok": False, "error": str(error)})
            os.write(writer, json.dumps(answers).encode())
            os._exit(0)
        except BaseException as error:
            os.write(2, f"child failed: {error!r}\n".encode())
            os._exit(1)
    os.close(writer)
    chunks = []
    while chunk := os.read(reader, 65536):
        chunks.append(chunk)
    os.close(reader)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return json.loads(b"".join(chunks))
