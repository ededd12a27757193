"""Cluster bootstrap files: per-node configuration and the shared 256-bit authkey.

`init_cluster` writes, under one directory:
    DIR/authkey              64 hex digits (32 random bytes), mode 0600
    DIR/NAME/node.toml       one configuration per node (paths relative to the file)
    DIR/NAME/data/           the node's Raft journal, dumps and history
`write_joining_node` writes the configuration of a node that joins a running cluster.

Invariants: nothing is overwritten (an existing node.toml or authkey is an error, so a
typo cannot silently replace a running cluster's key); files holding secrets are created
with mode 0600 from the start (no window where they are world-readable).
"""

from __future__ import annotations

import os
import pathlib
import secrets
from dataclasses import dataclass

from raftha.daemon.config import (
    AUTHKEY_BYTES,
    ConfigError,
    check_address,
    check_name,
    check_socket_path,
    render_node_config,
)

CONFIG_FILE_NAME = "node.toml"
AUTHKEY_FILE_NAME = "authkey"
SOCKET_FILE_NAME = "control.sock"


@dataclass(frozen=True)
class NodeFiles:
    name: str
    address: str
    config_path: pathlib.Path
    socket_path: pathlib.Path


def write_private_file(path: pathlib.Path, data: bytes) -> None:
    """Creates `path` with mode 0600; refuses to overwrite."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path} already exists; refusing to overwrite it") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_authkey(path: pathlib.Path) -> None:
    write_private_file(path, secrets.token_bytes(AUTHKEY_BYTES).hex().encode() + b"\n")


def node_paths(directory: pathlib.Path, name: str) -> tuple[pathlib.Path, pathlib.Path]:
    node_directory = directory / name
    return node_directory / CONFIG_FILE_NAME, node_directory / SOCKET_FILE_NAME


def check_members(members: list[tuple[str, str]]) -> None:
    if not members:
        raise ConfigError("a cluster needs at least one --node NAME=HOST:PORT")
    for name, address in members:
        check_name(name, "--node")
        check_address(address, "--node")
    names = [name for name, _ in members]
    addresses = [address for _, address in members]
    if len(set(names)) != len(names):
        raise ConfigError("node names must be unique")
    if len(set(addresses)) != len(addresses):
        raise ConfigError("node addresses must be unique")


def write_node(
    directory: pathlib.Path, name: str, address: str, cluster_name: str, cluster_id: str,
    peers: list[tuple[str, str]], initial_nodes: list[tuple[str, str]],
    authkey_file: pathlib.Path, timing: dict[str, int] | None,
) -> NodeFiles:
    config_path, socket_path = node_paths(directory, name)
    check_socket_path(socket_path.resolve())
    config_path.parent.mkdir(parents=True, exist_ok=True)
    (config_path.parent / "data").mkdir(mode=0o700, exist_ok=True)
    text = render_node_config(
        node_name=name, raft_address=address, data_dir="data",
        control_socket=SOCKET_FILE_NAME,
        authkey_file=os.path.relpath(authkey_file.resolve(), config_path.parent.resolve()),
        cluster_name=cluster_name, cluster_id=cluster_id, peers=peers,
        initial_nodes=initial_nodes, timing=timing,
    )
    write_private_file(config_path, text.encode())
    return NodeFiles(name, address, config_path, socket_path)


def init_cluster(
    directory: pathlib.Path, cluster_name: str, members: list[tuple[str, str]],
    timing: dict[str, int] | None = None,
) -> list[NodeFiles]:
    """Writes the authkey and one configuration per member; returns what it wrote."""
    check_name(cluster_name, "--name")
    check_members(members)
    directory.mkdir(parents=True, exist_ok=True)
    for name, _ in members:
        config_path, socket_path = node_paths(directory, name)
        check_socket_path(socket_path.resolve())
        if config_path.exists():
            raise ConfigError(f"{config_path} already exists; refusing to overwrite it")
    authkey_file = directory / AUTHKEY_FILE_NAME
    write_authkey(authkey_file)
    cluster_id = secrets.token_hex(16)
    written = []
    for name, address in members:
        peers = [(other, other_address) for other, other_address in members if other != name]
        written.append(write_node(directory, name, address, cluster_name, cluster_id, peers,
                                  list(members), authkey_file, timing))
    return written


def write_joining_node(
    directory: pathlib.Path, name: str, address: str, cluster_name: str, cluster_id: str,
    members: list[tuple[str, str]], authkey_file: pathlib.Path,
    timing: dict[str, int] | None = None,
) -> NodeFiles:
    """Configuration for a new member: its peers are the current members."""
    check_name(name, "NAME")
    check_address(address, "HOST:PORT")
    if any(member == name for member, _ in members):
        raise ConfigError(f"node {name!r} is already a member")
    if any(member_address == address for _, member_address in members):
        raise ConfigError(f"address {address} is already used by a member")
    if not authkey_file.exists():
        raise ConfigError(f"authkey file {authkey_file} does not exist")
    return write_node(directory, name, address, cluster_name, cluster_id, list(members), [],
                      authkey_file, timing)
