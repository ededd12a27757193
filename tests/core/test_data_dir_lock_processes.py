"""Real processes: one node daemon per data directory. A second `raftha node run` on a
data directory in use exits at once with a one-line error naming the lock file and the
running daemon's pid; once the first daemon stops, the directory can be used again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from sandbox_support import running_sandbox

from raftha.daemon.config import load_node_config
from raftha.daemon.node import LOCK_FILE_NAME, NodeStartError, lock_data_dir

SECOND_START_TIMEOUT_S = 60   # generous: the machine is shared; the refusal itself is at once


@pytest.fixture
def single(tmp_path):
    with running_sandbox(tmp_path / "sandbox", 1) as sandbox:
        yield sandbox


def run_second_daemon(config_path: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "raftha.cli", "node", "run", "--config",
                             config_path], capture_output=True, text=True,
                            timeout=SECOND_START_TIMEOUT_S, start_new_session=True)
    return result, time.monotonic() - started


def test_a_second_daemon_on_the_same_data_dir_exits_naming_the_lock_and_its_holder(single):
    node = single.node("node1")
    data_dir = load_node_config(node.config_path).data_dir
    holder_pid = single.pids["node1"]
    result, elapsed_s = run_second_daemon(node.config_path)
    print(f"second daemon refused in {elapsed_s:.2f} s")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1
    assert len(lines) == 1, result.stderr
    assert str(data_dir / LOCK_FILE_NAME) in lines[0]
    assert f"pid {holder_pid}" in lines[0]
    # The running daemon is untouched and still answers.
    assert single.is_running("node1")
    assert single.call("node1", "state_hash")["hash"]


def test_the_data_dir_is_usable_again_after_a_clean_stop(single):
    node = single.node("node1")
    first_pid = single.pids["node1"]
    single.stop("node1")
    single.start("node1")
    assert single.pids["node1"] != first_pid
    assert single.is_running("node1")
    lock_text = (load_node_config(node.config_path).data_dir / LOCK_FILE_NAME).read_text()
    assert lock_text.strip() == str(single.pids["node1"])


def test_a_lock_file_left_by_a_dead_daemon_does_not_block_a_start(tmp_path):
    (tmp_path / LOCK_FILE_NAME).write_text("999999999\n")
    descriptor = lock_data_dir(tmp_path)
    try:
        assert (tmp_path / LOCK_FILE_NAME).read_text() == f"{os.getpid()}\n"
        # Held now: a second taker (another open file) is refused, naming this pid.
        with pytest.raises(NodeStartError, match=f"locked by pid {os.getpid()}$"):
            lock_data_dir(tmp_path)
    finally:
        os.close(descriptor)
    os.close(lock_data_dir(tmp_path))   # released with the descriptor
