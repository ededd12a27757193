"""The resource failover part of `raftha demo`: a web page that survives losing its node.

Configures the WebDemo agent (agents/ocf/raftha/WebDemo: a page naming the node that serves
it) on the sandbox, reads the page, powers the serving node off (kill -9 of its daemon and of
every process its agents started, and its /run is gone) and reads the page again until
another node serves it, printing how long the failover took. Fencing is disabled here
(stonith-enabled=false): the survivors take over once the leader records the node lost.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import click

from raftha.sandbox import Sandbox, SandboxError, free_loopback_ports

PAGE_TIMEOUT_S = 60.0
FAILOVER_TIMEOUT_S = 60.0
POLL_S = 0.02


def serving_node(url: str) -> str | None:
    """The node named by the page's X-Raftha-Node header, or None if nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=0.5) as response:
            return response.headers.get("X-Raftha-Node")
    except (urllib.error.URLError, OSError):
        return None


def agent_processes(socket_path: str) -> list[int]:
    """Processes the node's agents started (the executor gives them its RAFTHA_SOCKET)."""
    marker = f"RAFTHA_SOCKET={socket_path}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def kill_agent_processes(sandbox: Sandbox, names: list[str] | None = None) -> None:
    for name in names if names is not None else list(sandbox.nodes):
        for pid in agent_processes(sandbox.node(name).socket_path):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def power_off(sandbox: Sandbox, name: str) -> None:
    """A power loss of one sandbox node: its daemon, its resources and its /run go."""
    sandbox.kill(name)
    kill_agent_processes(sandbox, [name])
    shutil.rmtree(Path(sandbox.node(name).config_path).parent / "data" / "run",
                  ignore_errors=True)


def wait_for_page(url: str, other_than: str | None, timeout_s: float) -> tuple[str, float]:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        node = serving_node(url)
        if node is not None and node != other_than:
            return node, time.monotonic() - started
        time.sleep(POLL_S)
    raise SandboxError(f"the page at {url} was not served by another node within "
                       f"{timeout_s:.0f} s")


def run_failover_demo(sandbox: Sandbox, number: int, echo_step, show_command) -> float:
    """One demo step; returns the failover time in seconds."""
    names = [name for name in sandbox.nodes if sandbox.is_running(name)]
    via = names[0]
    port = free_loopback_ports(1)[0]
    url = f"http://127.0.0.1:{port}/"
    echo_step(number, "A web service managed by the cluster; kill -9 the node serving it")
    text = ("property stonith-enabled=false\n"
            f"primitive web ocf:raftha:WebDemo params port={port} op monitor interval=2s\n")
    show_command(f"raftha configure load web.crm   # primitive web ocf:raftha:WebDemo "
                 f"params port={port}")
    sandbox.call(via, "configure_load", text=text, mode="update")
    node, _ = wait_for_page(url, None, PAGE_TIMEOUT_S)
    click.echo(f"    {url} is served by {node}")
    show_command(f"raftha sandbox kill {node}   # and its resources: a power loss")
    power_off(sandbox, node)
    new_node, seconds = wait_for_page(url, node, FAILOVER_TIMEOUT_S)
    click.echo(f"    {url} is now served by {new_node}")
    click.secho(f"    failover took {seconds:.2f} s (kill -9 of {node} -> page served by "
                f"{new_node})", bold=True)
    return seconds
