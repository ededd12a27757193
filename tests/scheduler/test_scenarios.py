"""Golden transcripts: our own scenarios (config + status in, placement + scores out).

Each directory under tests/scheduler/scenarios/ holds `cib.xml` (configuration and status)
and `expected.json` (final placement, fencing, and every instance's node scores). The
expected files were checked against Pacemaker 2.1.5's `crm_simulate -x cib.xml -S`.

To regenerate after an intended behaviour change, review the diff afterwards:
    RAFTHA_REWRITE_GOLDEN=1 python3 -m pytest -q tests/scheduler/test_scenarios.py
"""

import json
import os
from pathlib import Path

import pytest

from raftha.cib import parse_cib
from raftha.scheduler import plan
from raftha.scheduler.simulate import compact_placement

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
REWRITE = os.environ.get("RAFTHA_REWRITE_GOLDEN") == "1"


def transcript(cib_text: str) -> dict:
    config, status = parse_cib(cib_text)
    result = plan(config, status)
    out = compact_placement(result)
    out["scores"] = {item.resource: dict(item.scores) for item in result.explanations}
    out["targets"] = {item.resource: item.chosen for item in result.explanations}
    return out


@pytest.mark.parametrize("scenario", sorted(p.name for p in SCENARIOS.iterdir() if p.is_dir()))
def test_scenario_matches_golden_transcript(scenario: str):
    directory = SCENARIOS / scenario
    actual = transcript((directory / "cib.xml").read_text())
    expected_path = directory / "expected.json"
    if REWRITE or not expected_path.exists():
        expected_path.write_text(json.dumps(actual, indent=1, sort_keys=True) + "\n")
    expected = json.loads(expected_path.read_text())
    assert actual == expected


def test_plan_is_deterministic_and_pure_data():
    text = (SCENARIOS / "lost-node-is-fenced" / "cib.xml").read_text()
    config, status = parse_cib(text)
    first, second = plan(config, status), plan(config, status)
    assert first == second
    json.dumps(first.to_dict())
    assert first.fenced == ("node3",)
    fence = [action for action in first.actions if action.verb == "fence"]
    assert fence and fence[0].node == "node3"


def test_plan_orders_fencing_before_recovery():
    text = (SCENARIOS / "lost-node-is-fenced" / "cib.xml").read_text()
    result = plan(*parse_cib(text))
    orderings = set(result.orderings)
    assert ("fence:node3", "stop:app:node3") in orderings
    assert ("stop:app:node3", "start:app:node2") in orderings
    stop = next(action for action in result.actions if action.key == "stop:app:node3")
    assert stop.reason == "implied by fencing"


def test_plan_marks_blocked_starts_with_a_reason():
    text = (SCENARIOS / "no-quorum-stops-everything" / "cib.xml").read_text()
    result = plan(*parse_cib(text))
    blocked = {action.key for action in result.blocked_actions()}
    assert any(key.startswith("start:b:") for key in blocked)
    assert result.placement("a").final_nodes == ()
    explanation = result.explanation("b")
    assert explanation is not None and explanation.chosen is not None
