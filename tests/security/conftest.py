"""Fixtures for the security tests: a fake-Raft cluster served on a real Unix socket, a
way to call it as another OS user (a forked child that drops to that user), and a real
three-node sandbox for the process tests."""

from __future__ import annotations

import json
import os
import pwd

import pytest
from fake_daemon import started_fake_nodes

from raftha.daemon.api import ControlServer
from raftha.daemon.client import ApiError, ControlClient
from raftha.sandbox import Sandbox

ADDRESSES = ("127.0.0.1:7201", "127.0.0.1:7202", "127.0.0.1:7203")
CHILD_TIMEOUT_MS = 20_000


@pytest.fixture
def fake_nodes(tmp_path):
    yield from (nodes for _cluster, nodes in started_fake_nodes(tmp_path, "sec", ADDRESSES))


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
