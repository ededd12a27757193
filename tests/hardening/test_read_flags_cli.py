"""The CLI's read options reach the daemon: `property show` and `configure show` read
consistently unless --local is given; `status` is the local view unless --consistent."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import raftha.cli.configure as configure_module
import raftha.cli.property as property_module
import raftha.cli.status as status_module
from raftha.cli import main


@pytest.fixture
def calls(monkeypatch):
    seen: list[tuple[str, dict]] = []

    def fake_call(socket_path, op, **args):
        seen.append((op, args))
        if op == "configure_show":
            return {"text": "", "configuration": {}, "index": 0}
        if op == "status":
            return {"cluster": {}}
        return {"properties": {}, "index": 1}

    for module in (property_module, configure_module, status_module):
        monkeypatch.setattr(module, "call", fake_call)
    return seen


@pytest.mark.parametrize("argv, op, expected", [
    (["property", "show"], "property_show", {}),
    (["property", "show", "--local"], "property_show", {"consistent": False}),
    (["configure", "show", "--committed"], "configure_show", {}),
    (["configure", "show", "--committed", "--local"], "configure_show",
     {"consistent": False}),
    (["status", "--output", "json"], "status", {}),
    (["status", "--output", "json", "--consistent"], "status", {"consistent": True}),
])
def test_read_options_reach_the_daemon(calls, argv, op, expected):
    result = CliRunner().invoke(main, [*argv, "--socket", "/nonexistent.sock"])
    assert result.exit_code == 0, result.output
    assert (op, expected) in calls
