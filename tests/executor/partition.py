"""Cut one sandbox node's Raft traffic on loopback with nftables, and heal it.

pysyncobj opens one TCP connection per pair of nodes, from the node with the larger address
string to the smaller. So the node with the smallest address only ever talks on its own
listening port: dropping every loopback packet to or from that port cuts it off from the
others in both directions, while their own links (and every Unix control socket) stay up.

Each cut is a table of its own (`inet raftha_cut_<port>`), deleted on `heal`: nothing else
on the host is touched.
"""

from __future__ import annotations

import shutil
import subprocess

NFT_TIMEOUT_S = 10


def nft_available() -> bool:
    if shutil.which("nft") is None:
        return False
    try:
        return subprocess.run(["nft", "list", "tables"], capture_output=True,
                              timeout=NFT_TIMEOUT_S).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def smallest_address_node(addresses: dict[str, str]) -> str:
    """The node whose links all arrive on its own port (see the module docstring)."""
    return min(addresses, key=lambda name: addresses[name])


def table_name(port: int) -> str:
    return f"raftha_cut_{port}"


def cut(port: int) -> None:
    """Drop every loopback TCP packet to or from `port`."""
    script = (f"add table inet {table_name(port)}\n"
              f"add chain inet {table_name(port)} output "
              "{ type filter hook output priority 0 ; policy accept ; }\n"
              f"add rule inet {table_name(port)} output tcp dport {port} drop\n"
              f"add rule inet {table_name(port)} output tcp sport {port} drop\n")
    completed = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True,
                               text=True, timeout=NFT_TIMEOUT_S)
    if completed.returncode != 0:
        raise RuntimeError(f"nft refused the cut of port {port}: {completed.stderr.strip()}")


def heal(port: int) -> None:
    """Remove the cut (no error when it is not there)."""
    subprocess.run(["nft", "delete", "table", "inet", table_name(port)], capture_output=True,
                   timeout=NFT_TIMEOUT_S)
