"""`raftha simulate` and `raftha explain` through click's CliRunner."""

import json
from pathlib import Path

from click.testing import CliRunner

from raftha.cli.simulate import explain_command, simulate_command

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def test_simulate_json_prints_the_compact_final_placement():
    cib = SCENARIOS / "group-leaves-standby-node" / "cib.xml"
    result = CliRunner().invoke(simulate_command, [str(cib), "--output", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"resources", "fenced"}
    assert data["resources"]["ip"] == {"node": "node2", "role": "Started"}
    assert data["resources"]["web"] == {"node": "node2", "role": "Started"}


def test_simulate_text_has_the_three_sections_and_scores():
    cib = SCENARIOS / "lost-node-is-fenced" / "cib.xml"
    result = CliRunner().invoke(simulate_command, [str(cib), "--show-scores"])
    assert result.exit_code == 0, result.output
    for header in ("Current cluster status:", "Transition Summary:", "Revised Cluster Status:",
                   "Allocation scores:"):
        assert header in result.output
    assert "Fence (reboot) node3" in result.output
    assert "app allocation score on node3: 100" in result.output


def test_explain_names_the_deciding_constraint():
    cib = SCENARIOS / "migration-threshold-moves-resource" / "cib.xml"
    result = CliRunner().invoke(explain_command, ["svc", "--cib", str(cib)])
    assert result.exit_code == 0, result.output
    assert "node1" in result.output and "-INFINITY" in result.output
    assert "target: node2" in result.output


def test_bad_input_gives_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text('<!DOCTYPE x [<!ENTITY a "b">]><cib/>')
    result = CliRunner().invoke(simulate_command, [str(bad)])
    assert result.exit_code != 0
    assert "DTD or entity" in result.output
    cib = SCENARIOS / "lost-node-is-fenced" / "cib.xml"
    result = CliRunner().invoke(explain_command, ["nope", "--cib", str(cib)])
    assert result.exit_code != 0 and "no resource" in result.output
