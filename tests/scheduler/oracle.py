"""Pacemaker's own scheduler (crm_simulate 2.1.5) as the placement oracle for our scheduler.

Role: run `crm_simulate --output-as=xml -x CIB -S` on a CIB, read the revised cluster status
(the placement after every runnable action of one transition has "succeeded") and the
scheduled fencing, and turn them into the compact expected-placement form shared with the
regression corpus (tests/pacemaker-cases/expected/*.json):

    {"resources": {id: {"node": NAME | None, "role": "Started|Promoted|Unpromoted|Stopped"}},
     "fenced": [node, ...]}

Invariants:
- Instances of globally-unique clones keep Pacemaker's ids (`child:3`, `member:3`).
- Anonymous clone instances have no meaningful number (Pacemaker never prints it), so they
  are named canonically exactly like the corpus extractor does: active instances sorted by
  role (Promoted, Unpromoted, Started) then natural node order, then the stopped ones.
  compare_placements() therefore compares anonymous clones as multisets of (node, role).
- `fenced` holds nodes with a scheduled reboot/off fencing action; unfencing ("on") is not
  fencing and is left out.
- Bundles are out of scope and skipped.
- The simulator runs in a private temporary directory (shadow CIBs land there) with a
  timeout; nothing outside that directory is touched.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping
from pathlib import Path

CRM_SIMULATE = "crm_simulate"
DEFAULT_TIMEOUT_S = 300.0

ROLE_NAMES = {
    "Started": "Started", "Starting": "Started", "Migrating": "Started",
    "Stopping": "Started", "Monitoring": "Started",
    "Stopped": "Stopped",
    "Promoted": "Promoted", "Promoting": "Promoted",
    "Unpromoted": "Unpromoted", "Demoting": "Unpromoted",
    # pre-2.1 spellings, accepted in case an older simulator is used
    "Master": "Promoted", "Slave": "Unpromoted",
}
ROLE_RANK = {"Promoted": 0, "Unpromoted": 1, "Started": 2, "Stopped": 3}
INSTANCE_SUFFIX = re.compile(r"^(?P<base>.+):(?P<number>\d+)$")
FENCE_TASK = re.compile(r"^Fence \((?P<action>\w+)\)")


class OracleError(RuntimeError):
    """crm_simulate failed or printed something we cannot read."""


class InvalidTransition(OracleError):
    """crm_simulate computed a transition graph it could not complete (a 2.1.5 defect seen
    with orderings on cloned groups). Its revised status is then not the placement
    Pacemaker would reach, so such a CIB is outside the oracle's domain."""


INVALID_TRANSITION_MESSAGES = ("An invalid transition was produced", "Transition failed")


def crm_simulate_available() -> bool:
    """True when the Pacemaker simulator is installed."""
    return shutil.which(CRM_SIMULATE) is not None


def natural_key(text: str | None) -> list:
    """Sort key putting node2 before node10."""
    return [int(part) if part.isdigit() else part.lower()
            for part in re.split(r"(\d+)", text or "")]


def run_crm_simulate(cib_xml: str, arguments: Iterable[str] = ("-S",), *,
                     timeout_s: float = DEFAULT_TIMEOUT_S, output_format: str = "xml") -> str:
    """Run crm_simulate --output-as=FORMAT on the given CIB text and return its stdout."""
    with tempfile.TemporaryDirectory(prefix="raftha-oracle-") as work_dir:
        cib_path = Path(work_dir) / "cib.xml"
        cib_path.write_text(cib_xml, encoding="utf-8")
        environment = dict(os.environ, LC_ALL="C", CIB_shadow_dir=work_dir)
        command = [CRM_SIMULATE, f"--output-as={output_format}", "-x", str(cib_path),
                   *arguments]
        try:
            completed = subprocess.run(command, capture_output=True, text=True, cwd=work_dir,
                                       env=environment, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as error:
            raise OracleError(f"crm_simulate timed out after {timeout_s:.0f} s") from error
    if completed.returncode != 0:
        message = _status_message(completed.stdout) or completed.stderr.strip()
        if any(text in message for text in INVALID_TRANSITION_MESSAGES):
            raise InvalidTransition(f"crm_simulate: {message}")
        raise OracleError(f"crm_simulate exited {completed.returncode}: "
                          f"{message.splitlines()[0] if message else 'no message'}")
    return completed.stdout


def _status_message(stdout: str) -> str:
    """The message of the <status> element of a pacemaker-result, if any."""
    try:
        root = ElementTree.fromstring(stdout)
    except ElementTree.ParseError:
        return ""
    status = root.find("status")
    if status is None:
        return ""
    errors = [error.text or "" for error in status.iter("error")]
    return "; ".join([status.get("message", "")] + errors).strip("; ")


def oracle_placement(cib_xml: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> dict:
    """Pacemaker's final placement after one transition, in compact form."""
    return placement_from_result(run_crm_simulate(cib_xml, ("-S",), timeout_s=timeout_s))


def oracle_placement_file(cib_path: str | os.PathLike, *,
                          timeout_s: float = DEFAULT_TIMEOUT_S) -> dict:
    """oracle_placement() for a CIB stored in a file."""
    return oracle_placement(Path(cib_path).read_text(encoding="utf-8"), timeout_s=timeout_s)


def allocation_scores(cib_xml: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[str]:
    """Pacemaker's node scores at assignment time (`crm_simulate -s`), for debugging."""
    text = run_crm_simulate(cib_xml, ("-s",), timeout_s=timeout_s, output_format="text")
    return [line.strip() for line in text.splitlines()
            if "allocation score" in line or "promotion score" in line]


def placement_from_result(result_xml: str) -> dict:
    """Compact placement from the XML that `crm_simulate --output-as=xml -S` printed."""
    try:
        root = ElementTree.fromstring(result_xml)
    except ElementTree.ParseError as error:
        raise OracleError(f"crm_simulate printed unreadable XML: {error}") from error
    resources_element = root.find("revised_cluster_status/resources")
    if resources_element is None:
        raise OracleError("crm_simulate output has no revised cluster status")
    resources: dict[str, dict] = {}
    _collect(resources_element, resources)
    return {"resources": resources, "fenced": _fenced_nodes(root)}


def _fenced_nodes(root: ElementTree.Element) -> list[str]:
    """Nodes with a scheduled reboot/off fencing action (the transition summary)."""
    fenced = set()
    for action in root.iterfind("actions/node_action"):
        match = FENCE_TASK.match(action.get("task", ""))
        if match and match.group("action") != "on":
            fenced.add(action.get("node"))
    for action in root.iterfind("transition/fencing_action"):
        if action.get("op") != "on":
            fenced.add(action.get("target"))
    fenced.discard(None)
    return sorted(fenced, key=natural_key)


def _instance_state(element: ElementTree.Element) -> tuple[str | None, str]:
    """(node, role) of one <resource>: Stopped with no node unless exactly where it runs."""
    nodes = [node.get("name") for node in element.findall("node")]
    role = ROLE_NAMES.get(element.get("role", "Stopped"), "Stopped")
    if role == "Stopped" or not nodes:
        return None, "Stopped"
    if len(nodes) > 1:  # multiply active: no single placement
        return None, role
    return nodes[0], role


def _is_hidden_orphan(element: ElementTree.Element) -> bool:
    """Orphans that are no longer active do not appear in Pacemaker's status."""
    return element.get("orphaned") == "true" and not element.findall("node")


def _collect(parent: ElementTree.Element, resources: dict[str, dict]) -> None:
    for element in parent:
        if element.tag == "resource":
            if not _is_hidden_orphan(element):
                node, role = _instance_state(element)
                resources[element.get("id")] = {"node": node, "role": role}
        elif element.tag == "group":
            _collect(element, resources)
        elif element.tag == "clone":
            if element.get("unique") == "true":
                _collect(element, resources)
            else:
                _collect_anonymous_clone(element, resources)
        # bundles and unknown elements are out of scope


def _collect_anonymous_clone(clone: ElementTree.Element, resources: dict[str, dict]) -> None:
    """Name anonymous instances canonically (see the module docstring)."""
    instances: list[list[tuple[str, str | None, str]]] = []
    for element in clone:
        if element.tag == "resource":
            if _is_hidden_orphan(element):
                continue
            node, role = _instance_state(element)
            instances.append([(_base_id(element.get("id")), node, role)])
        elif element.tag == "group":
            members = [member for member in element.findall("resource")]
            if members and all(_is_hidden_orphan(member) for member in members):
                continue
            instances.append([(_base_id(member.get("id")), *_instance_state(member))
                              for member in members])
    instances.sort(key=_instance_sort_key)
    for number, members in enumerate(instances):
        for base, node, role in members:
            resources[f"{base}:{number}"] = {"node": node, "role": role}


def _instance_sort_key(members: list[tuple[str, str | None, str]]) -> tuple:
    """Active before stopped, by role rank then natural node order; stable otherwise."""
    active = [(ROLE_RANK[role], node) for _, node, role in members if role != "Stopped"]
    if not active:
        return (ROLE_RANK["Stopped"], natural_key(None))
    rank, node = min(active, key=lambda pair: pair[0])
    return (rank, natural_key(node))


def _base_id(resource_id: str | None) -> str:
    match = INSTANCE_SUFFIX.match(resource_id or "")
    return match.group("base") if match else (resource_id or "")


def anonymous_clone_members(cib_xml: str) -> frozenset[str]:
    """Primitive ids living inside anonymous (not globally-unique) clones of a CIB."""
    root = ElementTree.fromstring(cib_xml)
    members = set()
    for tag in ("clone", "master"):
        for clone in root.iter(tag):
            meta = {}
            for nvpair in clone.findall("meta_attributes/nvpair"):
                meta[nvpair.get("name")] = nvpair.get("value", "")
            if meta.get("globally-unique", "false").lower() in ("true", "yes", "1", "on"):
                if not _forced_anonymous(clone):
                    continue
            members.update(primitive.get("id") for primitive in clone.iter("primitive"))
    return frozenset(members)


def _forced_anonymous(clone: ElementTree.Element) -> bool:
    """Agent classes that cannot run unique instances make the clone anonymous."""
    classes = {primitive.get("class") for primitive in clone.iter("primitive")}
    return bool(classes & {"lsb", "systemd", "service", "upstart", "nagios"})


def compare_placements(expected: Mapping, actual: Mapping,
                       anonymous_members: Iterable[str] | None = None) -> list[str]:
    """Differences between two compact placements, one readable line each ([] = equal).

    Ids of anonymous clone instances (`base:N` whose base is in anonymous_members) are
    compared as a multiset of (node, role) per base id. Without anonymous_members every
    `base:N` id is treated as an anonymous instance, which is exact for anonymous clones and
    merely lenient (instance identity ignored) for globally-unique ones.
    """
    anonymous = None if anonymous_members is None else frozenset(anonymous_members)
    expected_plain, expected_multisets = _split(expected.get("resources", {}), anonymous)
    actual_plain, actual_multisets = _split(actual.get("resources", {}), anonymous)
    differences = []
    for resource_id in sorted(expected_plain.keys() | actual_plain.keys(), key=natural_key):
        want = expected_plain.get(resource_id)
        got = actual_plain.get(resource_id)
        if want != got:
            differences.append(f"{resource_id}: expected {_show(want)}, got {_show(got)}")
    for base in sorted(expected_multisets.keys() | actual_multisets.keys(), key=natural_key):
        want = expected_multisets.get(base, collections.Counter())
        got = actual_multisets.get(base, collections.Counter())
        if want != got:
            differences.append(f"{base} (anonymous clone instances): expected "
                               f"{_show_multiset(want)}, got {_show_multiset(got)}")
    expected_fenced = sorted(set(expected.get("fenced", [])), key=natural_key)
    actual_fenced = sorted(set(actual.get("fenced", [])), key=natural_key)
    if expected_fenced != actual_fenced:
        differences.append(f"fenced: expected {expected_fenced}, got {actual_fenced}")
    return differences


def _split(resources: Mapping, anonymous: frozenset[str] | None) -> tuple[dict, dict]:
    plain: dict[str, tuple] = {}
    multisets: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for resource_id, entry in resources.items():
        state = (entry.get("node"), entry.get("role"))
        match = INSTANCE_SUFFIX.match(resource_id)
        if match and (anonymous is None or match.group("base") in anonymous):
            multisets[match.group("base")][state] += 1
        else:
            plain[resource_id] = state
    return plain, dict(multisets)


def _show(state: tuple | None) -> str:
    if state is None:
        return "missing"
    node, role = state
    return f"{role} on {node}" if node else role


def _show_multiset(counter: collections.Counter) -> str:
    items = sorted(counter.items(), key=lambda item: (ROLE_RANK.get(item[0][1], 9),
                                                      natural_key(item[0][0])))
    return "{" + ", ".join(f"{count}x {_show(state)}" for state, count in items) + "}"


def compact(placement: Mapping) -> dict:
    """Reduce a full expected-placement document (corpus JSON) to the compact form."""
    return {"resources": {resource_id: {"node": entry.get("node"), "role": entry.get("role")}
                          for resource_id, entry in placement.get("resources", {}).items()},
            "fenced": list(placement.get("fenced", []))}
