"""Per-node process groups: one cgroup per netns node, so a whole node can be frozen, thawed
and powered off (every process killed) at once.

cgroup v2 is used when a cgroup2 hierarchy is mounted (at /sys/fs/cgroup or, on hybrid hosts,
/sys/fs/cgroup/unified): `cgroup.freeze` and `cgroup.kill`. Otherwise the v1 freezer
hierarchy (`freezer.state`, SIGKILL of every task). All groups of one run live under one
directory named by the run prefix, so cleanup can find and remove them by name.

Invariant: `remove()` leaves no process and no directory behind; it kills, thaws and waits
until the group is empty before rmdir.
"""

from __future__ import annotations

import os
import pathlib
import signal
import time

CGROUP_ROOT = pathlib.Path("/sys/fs/cgroup")
EMPTY_WAIT_MS = 5_000


def cgroup2_mount() -> pathlib.Path | None:
    """The cgroup2 mount point whose children support cgroup.freeze, if any."""
    try:
        mounts = pathlib.Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    for line in mounts:
        fields = line.split()
        if len(fields) >= 3 and fields[2] == "cgroup2":
            return pathlib.Path(fields[1])
    return None


def freezer_v1_mount() -> pathlib.Path | None:
    candidate = CGROUP_ROOT / "freezer"
    return candidate if (candidate / "tasks").exists() else None


def backend_root() -> tuple[str, pathlib.Path]:
    """("v2", mount) or ("v1", freezer mount); raises when neither exists."""
    mount = cgroup2_mount()
    if mount is not None:
        return "v2", mount
    freezer = freezer_v1_mount()
    if freezer is not None:
        return "v1", freezer
    raise RuntimeError("no cgroup2 hierarchy and no v1 freezer hierarchy is mounted")


def _read_pids(path: pathlib.Path) -> list[int]:
    try:
        return [int(line) for line in path.read_text().split()]
    except (OSError, ValueError):
        return []


class NodeCgroup:
    """The cgroup holding every process of one netns node."""

    def __init__(self, kind: str, path: pathlib.Path) -> None:
        self.kind = kind
        self.path = path

    @property
    def procs_file(self) -> pathlib.Path:
        return self.path / ("cgroup.procs" if self.kind == "v2" else "tasks")

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    def pids(self) -> list[int]:
        return _read_pids(self.procs_file)

    def add_pid(self, pid: int) -> None:
        self.procs_file.write_text(f"{pid}\n")

    def freeze(self) -> None:
        if self.kind == "v2":
            (self.path / "cgroup.freeze").write_text("1\n")
        else:
            (self.path / "freezer.state").write_text("FROZEN\n")

    def thaw(self) -> None:
        if self.kind == "v2":
            (self.path / "cgroup.freeze").write_text("0\n")
        else:
            (self.path / "freezer.state").write_text("THAWED\n")

    def is_frozen(self) -> bool:
        if self.kind == "v2":
            events = (self.path / "cgroup.events").read_text()
            return "frozen 1" in events
        return (self.path / "freezer.state").read_text().strip() == "FROZEN"

    def kill_all(self, wait_ms: int = EMPTY_WAIT_MS) -> bool:
        """Power-off: SIGKILL every process (frozen ones too); True once the group is empty."""
        if not self.path.exists():
            return True
        if self.kind == "v2" and (self.path / "cgroup.kill").exists():
            (self.path / "cgroup.kill").write_text("1\n")
        else:
            self.freeze()
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.thaw()
        return self.wait_empty(wait_ms)

    def wait_empty(self, wait_ms: int) -> bool:
        deadline = time.monotonic() + wait_ms / 1000.0
        while self.pids():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def remove(self) -> None:
        if not self.path.exists():
            return
        self.kill_all()
        try:
            self.thaw()
        except OSError:
            pass
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"cgroup {self.path} could not be removed (still busy)")


class RunCgroups:
    """The cgroup directory of one run (named by its prefix) with one child per node."""

    def __init__(self, prefix: str) -> None:
        self.kind, mount = backend_root()
        self.root = mount / prefix
        self.nodes: dict[str, NodeCgroup] = {}

    def create_node(self, node: str) -> NodeCgroup:
        self.root.mkdir(exist_ok=True)
        group = NodeCgroup(self.kind, self.root / node)
        group.create()
        self.nodes[node] = group
        return group

    def remove(self) -> None:
        remove_cgroup_tree(self.kind, self.root)


def remove_cgroup_tree(kind: str, root: pathlib.Path) -> None:
    """Kill and remove every child group of `root`, then `root` itself."""
    if not root.exists():
        return
    for child in sorted(path for path in root.iterdir() if path.is_dir()):
        NodeCgroup(kind, child).remove()
    NodeCgroup(kind, root).remove()


def stale_cgroup_roots(is_ours) -> list[tuple[str, pathlib.Path]]:
    """Every run directory (v2 and v1) whose name `is_ours(name)` accepts."""
    found: list[tuple[str, pathlib.Path]] = []
    for kind, mount in (("v2", cgroup2_mount()), ("v1", freezer_v1_mount())):
        if mount is None or not mount.exists():
            continue
        for path in sorted(mount.iterdir()):
            if path.is_dir() and is_ours(path.name):
                found.append((kind, path))
    return found
