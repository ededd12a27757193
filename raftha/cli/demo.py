"""`raftha demo`: a guided walkthrough on a temporary 3-node sandbox.

Starts the cluster, shows its status, writes a property through one node and reads it on
another, kills the leader with kill -9, shows the new leader and that writes still work,
then stops everything and removes the temporary directory (also on Ctrl-C or failure).
"""

from __future__ import annotations

import shutil
import tempfile
import time

import click

from raftha.cli.common import fail
from raftha.cli.demo_failover import kill_agent_processes, run_failover_demo
from raftha.cli.status import render_status
from raftha.daemon.client import ApiError
from raftha.sandbox import Sandbox, SandboxError

NEW_LEADER_TIMEOUT_S = 30.0


def step(number: int, text: str) -> None:
    click.echo("")
    click.secho(f"[{number}] {text}", bold=True)


def show_command(text: str) -> None:
    click.secho(f"    $ {text}", fg="cyan")


def wait_for_new_leader(sandbox: Sandbox, old_leader: str) -> tuple[str, float]:
    started = time.monotonic()
    while time.monotonic() - started < NEW_LEADER_TIMEOUT_S:
        leader = sandbox.leader()
        if leader is not None and leader != old_leader:
            return leader, time.monotonic() - started
        time.sleep(0.02)
    raise SandboxError(f"no new leader within {NEW_LEADER_TIMEOUT_S:.0f} s")


@click.command("demo")
@click.option("--keep", is_flag=True, help="Keep the sandbox directory afterwards.")
def demo_command(keep: bool) -> None:
    """A guided tour: a real 3-node cluster, replication, and leader failover."""
    directory = tempfile.mkdtemp(prefix="raftha-demo-")
    sandbox = Sandbox(directory)
    try:
        run_demo(sandbox, directory)
    except (SandboxError, ApiError) as error:
        fail(f"demo failed: {error}")
    finally:
        sandbox.down()
        kill_agent_processes(sandbox)  # whatever a resource agent left behind
        if keep:
            click.echo(f"\nsandbox files kept in {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


def run_demo(sandbox: Sandbox, directory: str) -> None:
    step(1, "Start three node daemons on loopback and wait for a leader and quorum")
    show_command(f"raftha sandbox up --nodes 3 --dir {directory}")
    sandbox.up(3)
    for line in sandbox.describe():
        click.echo(f"    {line}")
    names = list(sandbox.nodes)

    step(2, "Ask any node for the cluster status (crm_mon style)")
    show_command(f"raftha status --socket {sandbox.node(names[0]).socket_path}")
    click.echo(render_status(sandbox.call(names[0], "status")))

    step(3, f"Set a property through {names[0]} and read it on {names[2]}")
    show_command(f"raftha property set stonith-enabled=false --socket .../{names[0]}/...")
    result = sandbox.call(names[0], "property_set", name="stonith-enabled", value="false")
    click.echo(f"    committed at log index {result['index']}")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        properties = sandbox.call(names[2], "property_show")["properties"]
        if properties.get("stonith-enabled") == "false":
            break
        time.sleep(0.05)
    show_command(f"raftha property show --socket .../{names[2]}/...")
    for name, value in sorted(properties.items()):
        click.echo(f"    {name}={value}")
    hashes = {name: sandbox.call(name, "state_hash")["hash"][:16] for name in names}
    click.echo(f"    state hash on every node: {hashes}")

    step(4, "Kill the leader with kill -9")
    leader = sandbox.leader()
    show_command(f"raftha sandbox kill {leader} --dir {directory}")
    sandbox.kill(leader)
    new_leader, seconds = wait_for_new_leader(sandbox, leader)
    click.echo(f"    new leader: {new_leader} (elected {seconds:.2f} s after the kill)")

    step(5, "Writes still work with two of three nodes")
    survivor = new_leader
    result = sandbox.call(survivor, "property_set", name="no-quorum-policy", value="stop")
    click.echo(f"    no-quorum-policy=stop committed at index {result['index']}")
    click.echo(f"    (the leader records {leader} offline once it has been unreachable for "
               "node_lost_timeout_ms)")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if sandbox.call(survivor, "status")["nodes"][leader]["state"] in ("offline", "unclean"):
            break
        time.sleep(0.1)
    click.echo(render_status(sandbox.call(survivor, "status")))

    step(6, "Bring the killed node back; it catches up from the log")
    show_command(f"raftha sandbox start {leader} --dir {directory}")
    sandbox.start(leader)
    sandbox.wait_ready()
    properties = sandbox.call(leader, "property_show")["properties"]
    click.echo(f"    {leader} sees: " + " ".join(f"{k}={v}" for k, v in sorted(properties.items())))

    step(7, "Who changed what: the replicated history")
    show_command("raftha history")
    for event in sandbox.call(survivor, "history")["events"]:
        if event["kind"] in ("ClusterCreated", "ClusterPropertySet"):
            click.echo(f"    #{event['index']} {event['user'] or 'raftha'}@{event['origin']} "
                       f"{event['kind']}: {event['summary']}")

    run_failover_demo(sandbox, 8, step, show_command)

    step(9, "Stop everything")
    show_command(f"raftha sandbox down --dir {directory}")
