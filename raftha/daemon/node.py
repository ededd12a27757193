"""The node daemon: `raftha node run --config FILE`.

Wires the pieces of one node together and runs until SIGTERM/SIGINT:
    RaftLog (replicated log) -> ReducerStateMachine (pure reducer + history journal)
    Proposer (retrying writes) <- ControlServer (Unix socket API) and LeaderDuties

Invariants: the Control API starts only after the Raft log, and stops first, so no request
ever reaches a half-built node; a start failure is a one-line error and exit status 1;
shutdown is bounded (every stop call has a timeout); one daemon per data directory (an
exclusive flock on DATA_DIR/LOCK_FILE_NAME, held for the life of the process, taken before
anything in the directory is read or written).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from raftha.daemon.api import ControlApi, ControlServer
from raftha.daemon.config import ConfigError, NodeConfig, load_node_config, read_authkey
from raftha.daemon.executor import ExecutorConfigError, build_executor
from raftha.daemon.fencing_duties import FencingDuties
from raftha.daemon.history import HistoryJournal
from raftha.daemon.leader import LeaderDuties
from raftha.daemon.machine import ReducerStateMachine
from raftha.daemon.proposer import ProposalError, Proposer
from raftha.raft.contract import RaftSettings

LOG = logging.getLogger("raftha.node")
STOP_ANNOUNCE_TIMEOUT_MS = 1500
LOCK_FILE_NAME = "raftha.lock"   # in the data directory: one daemon per directory
OS_THREAD_NAME_BYTES = 15  # Linux keeps 16 bytes, the terminating NUL included


def name_os_threads() -> int:
    """Give the daemon's long-lived threads their names at the OS level, so `top -H`,
    `ps -L` and /proc/PID/task/TID/comm tell raft-tick from executor. Best effort (Linux,
    glibc); the main thread keeps the process name. Returns how many threads were named."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        set_name = libc.pthread_setname_np
    except (OSError, AttributeError):
        return 0
    set_name.argtypes = [ctypes.c_ulong, ctypes.c_char_p]
    named = 0
    for thread in threading.enumerate():
        if thread is threading.main_thread() or thread.ident is None:
            continue
        name = thread.name.encode("ascii", "replace")[:OS_THREAD_NAME_BYTES]
        if set_name(thread.ident, name) == 0:
            named += 1
    return named


class NodeStartError(Exception):
    """The node cannot start; the message is a one-line reason."""

    def __init__(self, message: str, damaged_data: bool = False) -> None:
        super().__init__(message)
        self.damaged_data = damaged_data  # `raftha node resync` can rebuild it


def lock_data_dir(data_dir: Path) -> int:
    """Takes the data directory's exclusive lock and writes this process's pid into the
    lock file; returns the open descriptor (the lock lasts while it stays open, and the
    descriptor is not inherited by agents). A directory locked by another daemon is a
    NodeStartError naming the lock file and the holder's pid."""
    path = data_dir / LOCK_FILE_NAME
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise NodeStartError(f"cannot open lock file {path}: {error.strerror}") from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(descriptor)
        raise NodeStartError(f"data directory {data_dir} is in use: {path} is locked by "
                             f"pid {holder}") from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
    return descriptor


def raft_settings(config: NodeConfig, authkey: bytes) -> RaftSettings:
    try:
        return RaftSettings(
            self_address=config.raft_address,
            peer_addresses=config.peer_addresses,
            data_dir=config.data_dir / "raft",
            authkey=authkey,
            **dict(config.timing.raft),
        )
    except ValueError as error:
        raise NodeStartError(f"invalid raft settings: {error}") from None


class NodeDaemon:
    def __init__(self, config: NodeConfig, raft_factory=None) -> None:
        self.config = config
        self.stopped = threading.Event()
        config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.lock_descriptor = lock_data_dir(config.data_dir)
        authkey = read_authkey(config.authkey_file)
        self.history = HistoryJournal(config.data_dir)
        self.machine = ReducerStateMachine(self.history)
        settings = raft_settings(config, authkey)
        if raft_factory is None:
            from raftha.raft.log import RaftLog
            raft_factory = RaftLog
        self.raft = raft_factory(settings, self.machine)
        self.raft.watch_status(self.machine.note_raft_status_change)
        self.proposer = Proposer(self.raft, self.machine, config.node_name)
        self.api = ControlApi(config, self.raft, self.machine, self.proposer, self.history)
        self.duties = LeaderDuties(config, self.raft, self.machine, self.proposer)
        self.fencing = FencingDuties(config, self.raft, self.machine, self.proposer)
        try:
            self.executor = build_executor(config, self.machine, self.proposer, self.raft)
        except ExecutorConfigError as error:
            raise ConfigError(str(error)) from None
        self.api.executor = self.executor
        self.fencing.executor = self.executor
        self.server: ControlServer | None = None

    def start(self) -> None:
        try:
            self.raft.start()
        except RuntimeError as error:
            # The raft layer names an unreadable journal or meta file so.
            raise NodeStartError(str(error), damaged_data="unreadable" in str(error)) from None
        try:
            self.server = ControlServer(str(self.config.control_socket), self.config.socket_mode,
                                        self.api)
        except (OSError, RuntimeError) as error:
            self.raft.stop()
            raise NodeStartError(f"cannot open control socket {self.config.control_socket}: "
                                 f"{error}") from None
        self.server.start()
        self.duties.start()
        self.fencing.start()
        if self.executor is not None:
            self.executor.start()
        name_os_threads()
        LOG.info("node %s running: raft %s, socket %s", self.config.node_name,
                 self.config.raft_address, self.config.control_socket)

    def stop(self) -> None:
        """A clean stop: the duties stop first (a leader must not re-announce itself), the
        node records NodeStopped so the cluster knows it left on purpose (not lost: no
        fencing needed), then the API, Raft and the history close. The executor stops first:
        it stops this node's resources and records that while the node still has a quorum."""
        if self.executor is not None:
            self.executor.stop()
        self.duties.stop()
        self.fencing.stop()
        self.announce_stop()
        if self.server is not None:
            self.server.stop()
        self.raft.stop()
        self.history.close()
        os.close(self.lock_descriptor)   # releases the data directory's lock
        self.stopped.set()

    def announce_stop(self) -> None:
        state = self.machine.state
        record = state.node(self.config.node_name)
        if record is None or not self.raft.status().has_quorum:
            return
        try:
            self.proposer.propose("NodeStopped", {"name": self.config.node_name}, user="",
                                  timeout_ms=STOP_ANNOUNCE_TIMEOUT_MS)
        except ProposalError as error:
            LOG.info("could not record the clean stop: %s", error)


def run_node(config_path: str) -> int:
    """Runs one node in the foreground; returns the process exit status."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        config = load_node_config(config_path)
        daemon = NodeDaemon(config)
        daemon.start()
    except (ConfigError, NodeStartError) as error:
        sys.stderr.write(f"raftha: {error}\n")
        if isinstance(error, NodeStartError) and error.damaged_data:
            sys.stderr.write(f"raftha: to rebuild this node from the cluster: raftha node "
                             f"resync --config {config_path}\n")
        return 1
    stop_requested = threading.Event()

    def request_stop(signal_number: int, frame: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    while not stop_requested.wait(1.0):
        pass
    LOG.info("node %s stopping", config.node_name)
    daemon.stop()
    return 0
