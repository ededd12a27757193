"""A stonith resource's operations, as the executor runs them (real fence agents)."""

from __future__ import annotations

from pathlib import Path

from raftha.daemon.fencer import FenceRunner, stonith_resource_operation
from raftha.model.config import Primitive

FENCE_DUMMY = Path("/usr/sbin/fence_dummy")


def primitive(agent: str, **params: str) -> Primitive:
    return Primitive(id="fd", agent_class="stonith", agent_type=agent,
                     params=tuple(params.items()))


def test_start_stop_register_and_monitor_runs_the_agent(tmp_path):
    runner = FenceRunner()
    device = primitive("fence_dummy", status_file=str(tmp_path / "status"))
    assert stonith_resource_operation(device, "start", runner) == (0, "")
    assert stonith_resource_operation(device, "monitor", runner, 20_000)[0] == 0
    assert stonith_resource_operation(device, "stop", runner) == (0, "")


def test_missing_agent_and_bad_parameters_are_reported():
    runner = FenceRunner()
    rc, reason = stonith_resource_operation(primitive("fence_nonexistent"), "start", runner)
    assert rc == 5 and "not installed" in reason
    rc, reason = stonith_resource_operation(
        primitive("fence_dummy", pcmk_host_check="sometimes"), "start", runner)
    assert rc == 6 and "pcmk_host_check" in reason
