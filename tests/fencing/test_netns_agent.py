"""fence_raftha_netns against a real network namespace and cgroup (needs root): off kills
every process in the namespace and in the cgroup, status follows, on runs the restart hook."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import pytest

from raftha.model.fencing import FenceDevice

pytestmark = pytest.mark.root


def cgroup2_mount() -> Path | None:
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] == "cgroup2":
            return Path(fields[1])
    return None


def namespace_pids(namespace: str) -> list[int]:
    output = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True,
                            text=True, timeout=30).stdout
    return [int(word) for word in output.split() if word.isdigit()]


def cgroup_members(cgroup: Path) -> list[int]:
    return [int(word) for word in (cgroup / "cgroup.procs").read_text().split()]


def live(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def netns_node():
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, cgroups)")
    prefix = f"rf{secrets.token_hex(3)}-"
    namespace = prefix + "n1"
    mount = cgroup2_mount()
    cgroup_root = mount / prefix.rstrip("-") if mount else None
    spawned: list[subprocess.Popen] = []
    subprocess.run(["ip", "netns", "add", namespace], check=True, timeout=30)
    try:
        if cgroup_root is not None:
            (cgroup_root / "n1").mkdir(parents=True)
        yield prefix, namespace, cgroup_root, spawned
    finally:
        for pid in namespace_pids(namespace):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if cgroup_root is not None and (cgroup_root / "n1").exists():
            kill_file = cgroup_root / "n1" / "cgroup.kill"
            if kill_file.exists():
                kill_file.write_text("1\n")
        for child in spawned:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.wait()
        subprocess.run(["ip", "netns", "delete", namespace], timeout=30)
        if cgroup_root is not None:
            for path in (cgroup_root / "n1", cgroup_root):
                for _ in range(100):
                    try:
                        path.rmdir()
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.05)


def test_off_status_on_of_a_namespace_node(runner, netns_node):
    prefix, namespace, cgroup_root, spawned = netns_node
    in_namespace = subprocess.Popen(
        ["ip", "netns", "exec", namespace, "sh", "-c", "sleep 600 & exec sleep 600"],
        start_new_session=True)
    spawned.append(in_namespace)
    params = [("netns_prefix", prefix),
              ("on_command", "ip netns exec {netns} setsid sleep 600 "
                             "</dev/null >/dev/null 2>&1 &")]
    in_cgroup = None
    if cgroup_root is not None:
        params.append(("cgroup_root", str(cgroup_root)))
        procs = cgroup_root / "n1" / "cgroup.procs"
        # outside the namespace but inside the node's cgroup: off must kill it too
        in_cgroup = subprocess.Popen(
            ["sh", "-c", f'echo $$ > "{procs}" && exec sh -c "sleep 600 & exec sleep 600"'],
            start_new_session=True)
        spawned.append(in_cgroup)
    device = FenceDevice("netns-fence", "fence_raftha_netns", params=tuple(params))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (len(namespace_pids(namespace)) < 2 or (
            in_cgroup is not None and len(cgroup_members(cgroup_root / "n1")) < 2)):
        time.sleep(0.05)
    if in_cgroup is not None:
        assert in_cgroup.pid in cgroup_members(cgroup_root / "n1")

    assert runner.status(device, "n1", 30_000).rc == 0
    assert runner.check_host(device, "n1", 30_000).can_fence
    assert not runner.check_host(device, "n7", 30_000).can_fence
    assert runner.fence_device(device, "n1", "off", timeout_ms=60_000).ok
    in_namespace.wait(timeout=30)
    if in_cgroup is not None:
        in_cgroup.wait(timeout=30)
    assert not [pid for pid in namespace_pids(namespace) if live(pid)]
    if cgroup_root is not None:
        remaining = (cgroup_root / "n1" / "cgroup.procs").read_text().split()
        assert not [pid for pid in remaining if live(int(pid))]
    assert runner.status(device, "n1", 30_000).rc == 2

    assert runner.fence_device(device, "n1", "on", timeout_ms=60_000).ok
    assert runner.status(device, "n1", 30_000).rc == 0
    assert [pid for pid in namespace_pids(namespace) if live(pid)]
    assert runner.status(device, "n9", 30_000).rc == 1   # unknown node: cannot tell


def test_on_without_hook_fails_with_a_reason(runner, netns_node):
    prefix, _namespace, _cgroup_root, _spawned = netns_node
    device = FenceDevice("netns-fence", "fence_raftha_netns", params=(("netns_prefix", prefix),))
    result = runner.fence_device(device, "n1", "on", timeout_ms=30_000)
    assert result.result == "failed" and "no on_command configured" in result.reason
