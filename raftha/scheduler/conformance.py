"""Conformance against Pacemaker's scheduler regression corpus.

Role: compare our final placement with the expected placement extracted from Pacemaker's
own results: plain primitives, group members and unique clone instances by (node, role);
anonymous clone instances as a multiset of (node, role) per clone; and the set of fenced
nodes. Report agreement per feature group (index.tsv "features" column) and overall.

Invariant: the comparison functions are pure (they take texts and dicts). Reading the case
directory happens at the edge: `python -m raftha.scheduler.conformance DIR` delegates the
file reading to `raftha.cli.simulate.load_corpus`.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from raftha.scheduler.simulate import final_placement_from_cib


@dataclass(frozen=True)
class CaseResult:
    name: str
    passed: bool
    features: tuple[str, ...]
    differences: tuple[str, ...] = ()
    error: str = ""


@dataclass
class Report:
    results: list[CaseResult] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(1 for result in self.results if result.passed)

    @property
    def agreement(self) -> float:
        return self.passed / len(self.results) if self.results else 0.0

    def by_feature(self) -> dict[str, tuple[int, int]]:
        groups: dict[str, list[int]] = {}
        for result in self.results:
            for feature in result.features:
                counts = groups.setdefault(feature, [0, 0])
                counts[1] += 1
                counts[0] += int(result.passed)
        return {name: (value[0], value[1]) for name, value in sorted(groups.items())}

    def failing(self) -> list[CaseResult]:
        return [result for result in self.results if not result.passed]

    def render(self) -> str:
        lines = ["feature group                      passed/total  agreement"]
        for feature, (passed, total) in self.by_feature().items():
            lines.append(f"{feature:<34} {passed:>6}/{total:<6} {100.0 * passed / total:6.1f}%")
        lines.append(f"{'OVERALL':<34} {self.passed:>6}/{len(self.results):<6} "
                     f"{100.0 * self.agreement:6.1f}%")
        return "\n".join(lines)


def _entry_key(entry: dict[str, Any]) -> tuple:
    nodes = entry.get("nodes")
    role = entry.get("role") or "Stopped"
    node = entry.get("node")
    if node is None and not nodes:
        role = "Stopped"
    return (node, role, tuple(sorted(nodes)) if nodes else ())


def compare_placement(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Differences between an expected corpus JSON and our compact output ([] = agree)."""
    differences: list[str] = []
    expected_resources = expected.get("resources", {})
    actual_resources = actual.get("resources", {})
    anonymous_expected: dict[str, Counter] = {}
    anonymous_actual: dict[str, Counter] = {}
    anonymous_ids = set()
    for resource_id, entry in expected_resources.items():
        if entry.get("anonymous_instance") and entry.get("clone"):
            base = resource_id.rsplit(":", 1)[0]
            key = f"{entry['clone']}/{base}"
            anonymous_expected.setdefault(key, Counter())[_entry_key(entry)] += 1
            anonymous_ids.add(resource_id)
            anonymous_ids.add(base)
    clone_of_base = {key.split("/", 1)[1]: key for key in anonymous_expected}
    for resource_id, entry in actual_resources.items():
        base = resource_id.rsplit(":", 1)[0]
        if base in clone_of_base and resource_id not in expected_resources or (
                resource_id in anonymous_ids and base in clone_of_base):
            anonymous_actual.setdefault(clone_of_base[base], Counter())[_entry_key(entry)] += 1
    stopped = (None, "Stopped", ())
    for key in sorted(set(anonymous_expected) | set(anonymous_actual)):
        want = +Counter({k: v for k, v in anonymous_expected.get(key, Counter()).items()
                         if k != stopped})
        have = +Counter({k: v for k, v in anonymous_actual.get(key, Counter()).items()
                         if k != stopped})
        if want != have:
            differences.append(f"{key}: expected {sorted(want.elements(), key=str)} "
                               f"got {sorted(have.elements(), key=str)}")
    for resource_id, entry in expected_resources.items():
        if resource_id in anonymous_ids or entry.get("bundle"):
            continue
        got = actual_resources.get(resource_id, {"node": None, "role": "Stopped"})
        if _entry_key(entry) != _entry_key(got):
            differences.append(f"{resource_id}: expected {_entry_key(entry)} "
                               f"got {_entry_key(got)}")
    for resource_id, entry in actual_resources.items():
        base = resource_id.rsplit(":", 1)[0]
        if resource_id in expected_resources or base in clone_of_base:
            continue
        if _entry_key(entry) != stopped:
            differences.append(f"{resource_id}: unexpected {_entry_key(entry)}")
    if sorted(expected.get("fenced", [])) != sorted(actual.get("fenced", [])):
        differences.append(f"fenced: expected {sorted(expected.get('fenced', []))} "
                           f"got {sorted(actual.get('fenced', []))}")
    return differences


def run_case(name: str, xml_text: str, expected_text: str, features: tuple[str, ...],
             now: int | None) -> CaseResult:
    expected = json.loads(expected_text)
    try:
        actual = final_placement_from_cib(xml_text, now=now)
    except Exception as error:  # a crash is a failed case, reported with its reason
        return CaseResult(name, False, features, error=f"{type(error).__name__}: {error}")
    differences = compare_placement(expected, actual)
    return CaseResult(name, not differences, features, tuple(differences))


def parse_index(index_text: str) -> dict[str, dict[str, str]]:
    lines = index_text.splitlines()
    header = lines[0].split("\t")
    rows = {}
    for line in lines[1:]:
        if not line.strip():
            continue
        values = line.split("\t")
        row = dict(zip(header, values + [""] * (len(header) - len(values)), strict=False))
        rows[row["name"]] = row
    return rows


def date_argument_seconds(extra_args: str) -> int | None:
    """The "now" of crm_simulate's -t argument, if the case has one."""
    from raftha.scheduler.rules import parse_iso_date

    parts = extra_args.split()
    for index, part in enumerate(parts):
        if part in ("-t", "--set-datetime") and index + 1 < len(parts):
            value = " ".join(parts[index + 1:]).strip("'\"")
            return parse_iso_date(value)
    return None


def run_corpus(cases: dict[str, tuple[str, str]], index_text: str, now: int) -> Report:
    """cases: name -> (xml text, expected json text). `now` is used when a case has no
    execution-date or -t argument."""
    index = parse_index(index_text)
    report = Report()
    for name in sorted(cases):
        xml_text, expected_text = cases[name]
        row = index.get(name, {})
        features = tuple(f for f in row.get("features", "").split(",") if f)
        case_now = date_argument_seconds(row.get("extra_args", "")) or now
        report.results.append(run_case(name, xml_text, expected_text, features, case_now))
    return report


if __name__ == "__main__":
    from raftha.cli.simulate import conformance_main

    conformance_main()
