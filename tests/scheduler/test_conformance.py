"""Agreement with Pacemaker's scheduler regression corpus must not drop below the floor.

The floor (tests/scheduler/conformance_floor.txt) only ever rises. Run the full report with
`python -m raftha.scheduler.conformance tests/pacemaker-cases` (add -v for whole diffs).
"""

from pathlib import Path

from raftha.cli.simulate import load_corpus
from raftha.scheduler.conformance import compare_placement, run_corpus

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent / "pacemaker-cases"
# A fixed "now" far after every recorded failure, so results never depend on the clock.
FIXED_NOW = 1_900_000_000


def test_agreement_is_at_least_the_committed_floor():
    floor = float((HERE / "conformance_floor.txt").read_text().strip())
    cases, index_text = load_corpus(CORPUS)
    assert len(cases) >= 390
    report = run_corpus(cases, index_text, now=FIXED_NOW)
    failing = ", ".join(result.name for result in report.failing())
    assert report.agreement >= floor, f"agreement {report.agreement:.3f} < {floor}: {failing}"


def test_comparison_detects_a_wrong_node_and_fencing():
    expected = {"resources": {"a": {"node": "n1", "role": "Started"}}, "fenced": ["n2"]}
    assert compare_placement(expected, {"resources": {"a": {"node": "n1", "role": "Started"}},
                                        "fenced": ["n2"]}) == []
    wrong = compare_placement(expected, {"resources": {"a": {"node": "n2", "role": "Started"}},
                                         "fenced": []})
    assert len(wrong) == 2


def test_anonymous_clones_compare_as_multisets():
    expected = {"resources": {
        "c:0": {"node": "n1", "role": "Started", "clone": "cl", "anonymous_instance": True},
        "c:1": {"node": "n2", "role": "Started", "clone": "cl", "anonymous_instance": True}},
        "fenced": []}
    swapped = {"resources": {"c:0": {"node": "n2", "role": "Started"},
                             "c:1": {"node": "n1", "role": "Started"}}, "fenced": []}
    assert compare_placement(expected, swapped) == []
    missing = {"resources": {"c:0": {"node": "n2", "role": "Started"}}, "fenced": []}
    assert compare_placement(expected, missing) != []
