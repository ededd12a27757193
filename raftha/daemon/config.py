"""Node configuration: the TOML file `raftha node run --config FILE` reads, and its writer.

    [node]
    name = "node1"
    raft_address = "127.0.0.1:7001"
    data_dir = "node1/data"              # relative paths are relative to the file
    control_socket = "node1/control.sock"
    socket_mode = "0666"                 # every request is authorised (raftha.daemon.acl)
    authkey_file = "authkey"

    [cluster]
    name = "demo"
    id = "<32 hex digits>"               # makes the ClusterCreated event id the same everywhere
    peers = ["node2=127.0.0.1:7002", "node3=127.0.0.1:7003"]
    initial_nodes = ["node1=127.0.0.1:7001", "node2=...", "node3=..."]   # empty after join

    [timing]                              # all optional
    node_lost_timeout_ms = 600            # at least 550 (see MIN_NODE_LOST_TIMEOUT_MS)
    node_return_timeout_ms = 200
    propose_timeout_ms = 5000
    election_timeout_min_ms = 300 ...     # passed to the Raft layer, as are the other
                                          # RaftSettings timings and compaction_min_entries

    [security]                            # optional
    admin_group = "haclient"              # members may do everything, as root may

Invariants: loading validates everything and raises `ConfigError` with a one-line reason
naming the field; the authkey file must hold exactly 32 bytes (raw, or 64 hex digits) and
must not be readable by group or others.
"""

from __future__ import annotations

import os
import pathlib
import re
import stat
import tomllib
from dataclasses import dataclass, field

AUTHKEY_BYTES = 32
MAX_SOCKET_PATH_BYTES = 107
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
RAFT_TIMING_FIELDS = (
    "election_timeout_min_ms", "election_timeout_max_ms", "heartbeat_period_ms",
    "leader_fallback_timeout_ms", "connection_timeout_ms", "peer_ping_period_ms",
    "compaction_min_entries", "compaction_min_time_ms",
)


class ConfigError(ValueError):
    """A configuration problem; the message is a one-line reason."""


# A link that drops is retried every 500 ms (raftha.raft.engine CONNECTION_RETRY_SECONDS):
# a node must stay unreachable for longer than one retry (plus a margin for the handshake)
# before it is called lost, or a single dropped connection would get a live node fenced.
# The timeout is not part of the lease/watchdog timing rule W >= (1+p)*((L+WD)/(1-p)+K):
# the recovery wait W counts from the committed fence request, which only follows the
# committed NodeLost, so a shorter loss timeout never shortens W.
MIN_NODE_LOST_TIMEOUT_MS = 550


@dataclass(frozen=True)
class NodeTiming:
    node_lost_timeout_ms: int = 600
    node_return_timeout_ms: int = 200
    propose_timeout_ms: int = 5000
    leader_duty_period_ms: int = 100
    raft: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class NodeConfig:
    path: pathlib.Path
    node_name: str
    raft_address: str
    data_dir: pathlib.Path
    control_socket: pathlib.Path
    socket_mode: int
    authkey_file: pathlib.Path
    cluster_name: str
    cluster_id: str
    peers: tuple[tuple[str, str], ...]          # (name, address) of the other members
    initial_nodes: tuple[tuple[str, str], ...]  # (name, address); empty for a joined node
    timing: NodeTiming = field(default_factory=NodeTiming)
    admin_group: str = ""                       # its members are admins of the control API

    @property
    def peer_addresses(self) -> tuple[str, ...]:
        return tuple(address for _, address in self.peers)

    def name_of_address(self, address: str) -> str | None:
        if address == self.raft_address:
            return self.node_name
        for name, peer_address in (*self.peers, *self.initial_nodes):
            if peer_address == address:
                return name
        return None


def parse_member(text: str, field_name: str) -> tuple[str, str]:
    """"NAME=HOST:PORT" -> (name, address), or ConfigError naming the field."""
    if not isinstance(text, str) or "=" not in text:
        raise ConfigError(f"{field_name}: expected NAME=HOST:PORT, got {text!r}")
    name, address = text.split("=", 1)
    check_name(name, field_name)
    check_address(address, field_name)
    return name, address


def check_name(name: str, field_name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ConfigError(f"{field_name}: {name!r} is not a valid name "
                          "(letters, digits, '_', '.', '-'; at most 64)")
    return name


def check_address(address: str, field_name: str) -> str:
    host, _, port = address.rpartition(":") if isinstance(address, str) else ("", "", "")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{field_name}: {address!r} is not HOST:PORT")
    return address


def check_socket_path(path: pathlib.Path) -> pathlib.Path:
    if len(os.fsencode(str(path))) > MAX_SOCKET_PATH_BYTES:
        raise ConfigError(f"control socket path is longer than {MAX_SOCKET_PATH_BYTES} bytes: "
                          f"{path}")
    return path


def load_node_config(path: str | os.PathLike[str]) -> NodeConfig:
    config_path = pathlib.Path(path).resolve()
    try:
        data = tomllib.loads(config_path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {config_path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read config file {config_path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {config_path} is not valid TOML: {error}") from None
    return config_from_data(data, config_path)


def section(data: dict, name: str, required: bool = True) -> dict:
    value = data.get(name, {} if not required else None)
    if not isinstance(value, dict):
        raise ConfigError(f"config lacks the [{name}] table")
    return value


def require(table: dict, key: str, kind: type, where: str):
    value = table.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"[{where}] {key} must be a {kind.__name__}")
    return value


def config_from_data(data: dict, config_path: pathlib.Path) -> NodeConfig:
    base = config_path.parent
    node = section(data, "node")
    cluster = section(data, "cluster")
    timing_table = section(data, "timing", required=False)
    node_name = check_name(require(node, "name", str, "node"), "[node] name")
    raft_address = check_address(require(node, "raft_address", str, "node"),
                                 "[node] raft_address")
    security = section(data, "security", required=False)
    admin_group = security.get("admin_group", "")
    if not isinstance(admin_group, str) or admin_group and not NAME_PATTERN.match(admin_group):
        raise ConfigError("[security] admin_group must be a group name")
    unknown_security = sorted(set(security) - {"admin_group"})
    if unknown_security:
        raise ConfigError(f"[security] unknown setting {unknown_security[0]!r}")
    socket_mode_text = node.get("socket_mode", "0666")
    if not isinstance(socket_mode_text, str) or not re.fullmatch(r"0?[0-7]{3}",
                                                                 socket_mode_text):
        raise ConfigError("[node] socket_mode must be an octal string like \"0600\"")
    peers = tuple(parse_member(item, "[cluster] peers")
                  for item in require(cluster, "peers", list, "cluster"))
    initial_nodes = tuple(parse_member(item, "[cluster] initial_nodes")
                          for item in require(cluster | {"initial_nodes": cluster.get(
                              "initial_nodes", [])}, "initial_nodes", list, "cluster"))
    if any(address == raft_address for _, address in peers):
        raise ConfigError("[cluster] peers must not contain this node's raft_address")
    cluster_id = require(cluster, "id", str, "cluster")
    if not re.fullmatch(r"[0-9a-f]{32}", cluster_id):
        raise ConfigError("[cluster] id must be 32 lowercase hex digits")
    return NodeConfig(
        path=config_path,
        node_name=node_name,
        raft_address=raft_address,
        data_dir=base / require(node, "data_dir", str, "node"),
        control_socket=check_socket_path(base / require(node, "control_socket", str, "node")),
        socket_mode=int(socket_mode_text, 8),
        authkey_file=base / require(node, "authkey_file", str, "node"),
        cluster_name=check_name(require(cluster, "name", str, "cluster"), "[cluster] name"),
        cluster_id=cluster_id,
        peers=peers,
        initial_nodes=initial_nodes,
        timing=timing_from_table(timing_table),
        admin_group=admin_group,
    )


def timing_from_table(table: dict) -> NodeTiming:
    values: dict[str, int] = {}
    raft: list[tuple[str, int]] = []
    known = set(NodeTiming.__dataclass_fields__) - {"raft"}
    for key, value in table.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"[timing] {key} must be a positive integer")
        if key in known:
            values[key] = value
        elif key in RAFT_TIMING_FIELDS:
            raft.append((key, value))
        else:
            raise ConfigError(f"[timing] unknown setting {key!r}")
    timing = NodeTiming(**values, raft=tuple(sorted(raft)))
    if timing.node_lost_timeout_ms < MIN_NODE_LOST_TIMEOUT_MS:
        raise ConfigError(f"[timing] node_lost_timeout_ms must be at least "
                          f"{MIN_NODE_LOST_TIMEOUT_MS} (a dropped link is retried every "
                          f"500 ms), not {timing.node_lost_timeout_ms}")
    return timing


def read_authkey(path: pathlib.Path) -> bytes:
    """The 32-byte cluster key; refuses a file that group or others can read."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read authkey file {path}: {error.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"authkey file {path} must not be accessible by group or others "
                          "(chmod 600)")
    text = data.strip()
    if len(text) == 2 * AUTHKEY_BYTES and re.fullmatch(rb"[0-9a-fA-F]+", text):
        return bytes.fromhex(text.decode())
    if len(data) == AUTHKEY_BYTES:
        return data
    raise ConfigError(f"authkey file {path} must hold {AUTHKEY_BYTES} bytes "
                      f"(or {2 * AUTHKEY_BYTES} hex digits)")


def toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(toml_string(value) for value in values) + "]"


def render_node_config(
    *, node_name: str, raft_address: str, data_dir: str, control_socket: str,
    authkey_file: str, cluster_name: str, cluster_id: str,
    peers: list[tuple[str, str]], initial_nodes: list[tuple[str, str]],
    timing: dict[str, int] | None = None, socket_mode: str = "0666",
) -> str:
    """The TOML text of one node's configuration (tomllib only reads, so we write it)."""
    lines = [
        "# raftha node configuration",
        "[node]",
        f"name = {toml_string(node_name)}",
        f"raft_address = {toml_string(raft_address)}",
        f"data_dir = {toml_string(data_dir)}",
        f"control_socket = {toml_string(control_socket)}",
        f"socket_mode = {toml_string(socket_mode)}",
        f"authkey_file = {toml_string(authkey_file)}",
        "",
        "[cluster]",
        f"name = {toml_string(cluster_name)}",
        f"id = {toml_string(cluster_id)}",
        f"peers = {toml_list([f'{name}={address}' for name, address in peers])}",
        f"initial_nodes = {toml_list([f'{name}={address}' for name, address in initial_nodes])}",
        "",
        "[timing]",
    ]
    lines.extend(f"{key} = {value}" for key, value in sorted((timing or {}).items()))
    return "\n".join(lines) + "\n"
