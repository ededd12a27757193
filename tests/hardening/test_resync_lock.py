"""`raftha node resync` refuses while a daemon holds the data directory's lock, and holds
the lock itself while it moves the damaged data aside."""

from __future__ import annotations

import subprocess
import sys

import pytest

from raftha.daemon.bootstrap import init_cluster
from raftha.daemon.config import load_node_config
from raftha.daemon.resync import ResyncError, resync_data

HOLD_LOCK = """
import fcntl, os, sys, time
descriptor = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(descriptor, fcntl.LOCK_EX)
os.pwrite(descriptor, b"%d\\n" % os.getpid(), 0)
print("locked", flush=True)
time.sleep(60)
"""


@pytest.fixture
def config(tmp_path):
    written = init_cluster(tmp_path / "cluster", "unit", [("n1", "127.0.0.1:7301"),
                                                          ("n2", "127.0.0.1:7302"),
                                                          ("n3", "127.0.0.1:7303")])
    node_config = load_node_config(written[0].config_path)
    (node_config.data_dir / "raft").mkdir(parents=True)
    return node_config


def test_resync_refuses_while_another_process_holds_the_lock(config):
    lock_path = config.data_dir / "raftha.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lock_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ResyncError, match=f"is locked by pid {holder.pid}"):
            resync_data(config)
        assert (config.data_dir / "raft").is_dir()  # nothing moved
    finally:
        holder.kill()
        holder.wait(10)
    result = resync_data(config)
    assert result.moved == ("raft",)
    assert not (config.data_dir / "raft").exists()
