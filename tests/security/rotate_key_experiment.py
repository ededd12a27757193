"""Experiment (a script, not a test): can the Raft library's cluster key change on a running
cluster without losing quorum? Three pysyncobj 0.3.17 nodes on loopback swap their frame
sealer live, one node at a time, through three phases while writes keep committing:

    accept   MultiFernet([old, new])   seal with the old key, open frames of either
    switch   MultiFernet([new, old])   seal with the new key, open frames of either
    finish   Fernet(new)               only the new key

Prints the writes committed and failed per phase, the Raft terms (an election would raise
them) and whether a node that only knows the old key still finds a leader afterwards.

    python3 tests/security/rotate_key_experiment.py   (from the repository root)
"""

from __future__ import annotations

import socket
import time

from cryptography.fernet import MultiFernet

from raftha.raft.library import SyncObj, SyncObjConf, pysyncobj_syncobj, replicated

getEncryptor = pysyncobj_syncobj.getEncryptor  # noqa: N816 - the library's name

OLD_KEY = b"o" * 32
NEW_KEY = b"n" * 32
WRITES_PER_STEP = 10
LEADER_TIMEOUT_S = 20.0
WRITE_TIMEOUT_S = 3.0


def free_addresses(count: int) -> list[str]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for item in sockets:
            item.bind(("127.0.0.1", 0))
        return [f"127.0.0.1:{item.getsockname()[1]}" for item in sockets]
    finally:
        for item in sockets:
            item.close()


class Counter(SyncObj):
    def __init__(self, address: str, others: list[str], key: bytes) -> None:
        conf = SyncObjConf(password=key, appendEntriesUseBatch=False, raftMinTimeout=0.3,
                           raftMaxTimeout=0.6, appendEntriesPeriod=0.05,
                           connectionTimeout=2.0, commandsWaitLeader=False)
        super().__init__(address, others, conf)
        self.value = 0

    @replicated
    def increment(self) -> int:
        self.value += 1
        return self.value


def use_keys(node: SyncObj, keys: list[bytes]) -> None:
    """Seal with keys[0], open frames sealed with any of them; live connections included.
    (Raced against the tick thread here; a product would do it on the tick thread.)"""
    sealer = (MultiFernet([getEncryptor(key) for key in keys]) if len(keys) > 1
              else getEncryptor(keys[0]))
    node._SyncObj__encryptor = sealer
    transport = node._SyncObj__transport
    for connection in [*transport._connections.values(), *transport._unknownConnections]:
        if connection.encryptor is not None:
            connection.encryptor = sealer


def main() -> None:
    addresses = free_addresses(3)
    nodes = [Counter(address, [other for other in addresses if other != address], OLD_KEY)
             for address in addresses]
    stranger = None
    try:
        deadline = time.monotonic() + LEADER_TIMEOUT_S
        while not any(node._isLeader() for node in nodes):
            if time.monotonic() > deadline:
                raise SystemExit("no leader elected")
            time.sleep(0.05)
        counts = {"committed": 0, "failed": 0}

        def write(count: int) -> None:
            for _ in range(count):
                try:
                    nodes[counts["committed"] % 3].increment(sync=True,
                                                             timeout=WRITE_TIMEOUT_S)
                    counts["committed"] += 1
                except Exception:  # noqa: BLE001 - an experiment counts every failure
                    counts["failed"] += 1

        write(WRITES_PER_STEP)
        for phase, keys in (("accept", [OLD_KEY, NEW_KEY]), ("switch", [NEW_KEY, OLD_KEY]),
                            ("finish", [NEW_KEY])):
            for node in nodes:  # a rolling change, one node at a time
                use_keys(node, keys)
                write(WRITES_PER_STEP)
            print(f"{phase}: committed {counts['committed']} failed {counts['failed']} "
                  f"values {[node.value for node in nodes]} "
                  f"terms {[node._getTerm() for node in nodes]}")
        stranger = Counter(free_addresses(1)[0], addresses, OLD_KEY)
        time.sleep(2.0)
        print(f"a node with the old key finds leader: {stranger._getLeader()}")
    finally:
        for node in [*nodes, *([stranger] if stranger else [])]:
            node.destroy()


if __name__ == "__main__":
    main()
