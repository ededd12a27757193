"""Fuzzing every decoder and parser that reads outside input: each answers bad input with its
own clear error type (never another exception, never a hang) and applies nothing half-way.

The default run tries a short burst per target (CI); `pytest -m slow tests/security` runs
the long ones. Both print `fuzz TARGET: N inputs tried` (see with `-s`).
"""

from __future__ import annotations

import json
import pathlib
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import msgpack
import pytest
from hypothesis import strategies as st

from raftha.agents.metadata import MetadataError, parse_metadata
from raftha.agents.process import _StreamCollector
from raftha.cib import CibError, parse_cib
from raftha.crmsh import (
    CrmSyntaxError,
    load_configuration,
    parse_configuration,
    render_configuration,
)
from raftha.daemon.config import ConfigError, config_from_data, load_node_config
from raftha.model.config import Configuration
from raftha.model.events import BODY_VALIDATORS, EventError, decode_event, encode_event, make_event
from raftha.model.reducer import REJECTED, apply_with_outcome, replay
from raftha.model.state import StateError, decode_snapshot, encode_snapshot
from raftha.raft.snapshot import SnapshotError
from raftha.raft.snapshot import decode_snapshot as decode_raft_snapshot
from raftha.raft.snapshot import encode_snapshot as encode_raft_snapshot
from tests.security.fuzz_support import (
    JSON_VALUES,
    LONG_EXAMPLES,
    PLAIN_VALUES,
    SHORT_EXAMPLES,
    mutated,
    mutated_text,
    run_fuzz,
)

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
CIB_DIRECTORY = REPOSITORY / "tests" / "pacemaker-cases" / "xml"
METADATA_DIRECTORY = pathlib.Path("/usr/lib/ocf/resource.d/heartbeat")


# --------------------------------------------------------------------------- corpora

@cache
def cib_corpus() -> list[str]:
    files = sorted(CIB_DIRECTORY.glob("*.xml"), key=lambda path: path.stat().st_size)
    return [path.read_text() for path in files[:40]]


@cache
def configurations() -> list[Configuration]:
    found = []
    for text in cib_corpus():
        try:
            found.append(parse_cib(text)[0])
        except CibError:
            continue
    return found


@cache
def crm_corpus() -> list[str]:
    return [render_configuration(configuration) for configuration in configurations()[:20]]


def event(kind: str, body: dict, number: int) -> bytes:
    return encode_event(make_event(number.to_bytes(16, "big"), kind, "n1", "root",
                                   1_700_000_000_000 + number, body))


VALID_BODIES: dict[str, dict] = {
    "ClusterCreated": {"name": "fuzz", "nodes": [{"name": "n1", "address": "127.0.0.1:1"},
                                                  {"name": "n2", "address": "127.0.0.1:2"}]},
    "NodeJoined": {"name": "n3", "address": "127.0.0.1:3"},
    "NodeLeft": {"name": "n2"},
    "NodeLost": {"name": "n2"},
    "ClusterPropertySet": {"name": "batch-limit", "value": "5"},
    "ClusterPropertyUnset": {"name": "batch-limit"},
    "NodeAttributeSet": {"node": "n1", "name": "standby", "value": "on"},
    "NodeAttributeUnset": {"node": "n1", "name": "standby"},
    "OperationCompleted": {"node": "n1", "resource": "A", "agent": "ocf:heartbeat:Dummy",
                           "operation": "start", "interval_ms": 0, "rc": 0, "op_status": 0,
                           "target_rc": None, "exit_reason": "", "duration_ms": 5},
    "ResourceCleanedUp": {"resource": "A", "node": None},
}


@cache
def base_state():
    """A created cluster with a real configuration, the state every fuzzed event meets."""
    configuration = parse_configuration("primitive A ocf:heartbeat:Dummy\n"
                                        "location l1 A 100: n1\n")
    entries = [event("ClusterCreated", VALID_BODIES["ClusterCreated"], 1),
               event("ConfigurationLoaded", {"configuration": configuration.to_dict(),
                                             "base_index": 0, "mode": "replace"}, 2)]
    return replay(enumerate(entries, start=1))


@cache
def event_corpus() -> list[bytes]:
    entries = [event(kind, body, number) for number, (kind, body)
               in enumerate(VALID_BODIES.items(), start=10)]
    for number, configuration in enumerate(configurations()[:8], start=100):
        entries.append(event("ConfigurationLoaded", {
            "configuration": configuration.to_dict(), "base_index": 2, "mode": "update"},
            number))
    return entries


TRACKED_FIELDS = ("nodes", "properties", "configuration_bytes", "operation_histories",
                  "transient_attributes", "fencing_bytes", "name")


# --------------------------------------------------------------------------- checks

def check_event(entry: bytes) -> None:
    try:
        decode_event(entry)
    except EventError:
        pass
    state = base_state()
    changed, outcome = apply_with_outcome(state, state.last_index + 1, entry)
    assert not outcome.reason.startswith("internal error"), outcome.reason
    assert "\n" not in outcome.reason
    if outcome.status == REJECTED:  # nothing half-applied
        for name in TRACKED_FIELDS:
            assert getattr(changed, name) == getattr(state, name), name


def structured_event(draw_kind: str, overrides: dict, removed: list[str],
                     configuration_edit: Any) -> bytes:
    body = dict(VALID_BODIES.get(draw_kind, {}))
    if draw_kind == "ConfigurationLoaded":
        plain = configurations()[0].to_dict() if configurations() else {}
        plain = json.loads(json.dumps(plain))
        if isinstance(plain, dict) and plain:
            key = sorted(plain)[hash(str(configuration_edit)) % len(plain)]
            plain[key] = configuration_edit
        body = {"configuration": plain, "base_index": 2, "mode": "update"}
    for key in removed:
        body.pop(key, None)
    body.update(overrides)
    envelope = {"v": 1, "id": b"\x07" * 16, "kind": draw_kind, "origin": "n1",
                "user": "root", "ts_ms": 1_700_000_000_999, "body": body}
    return msgpack.packb(envelope, use_bin_type=True)


def deeply_edited_configuration(choices: list[int], value: Any, number: int) -> bytes:
    """A loaded configuration with one value somewhere deep inside replaced."""
    corpus = configurations()
    plain = json.loads(json.dumps(corpus[number % len(corpus)].to_dict()))
    parent, key = None, None
    node: Any = plain
    for choice in choices:
        if isinstance(node, dict) and node:
            parent, key = node, sorted(node)[choice % len(node)]
        elif isinstance(node, list) and node:
            parent, key = node, choice % len(node)
        else:
            break
        node = parent[key]
    if parent is not None:
        parent[key] = value
    envelope = {"v": 1, "id": b"\x08" * 16, "kind": "ConfigurationLoaded", "origin": "n1",
                "user": "root", "ts_ms": 1_700_000_000_999,
                "body": {"configuration": plain, "base_index": 2, "mode": "update"}}
    return msgpack.packb(envelope, use_bin_type=True)


EVENT_INPUTS = st.one_of(
    st.builds(deeply_edited_configuration, st.lists(st.integers(0, 1000), min_size=1,
                                                    max_size=8), PLAIN_VALUES,
              st.integers(0, 100)),
    st.binary(max_size=300),
    mutated(event_corpus()),
    st.builds(structured_event, st.sampled_from(sorted(BODY_VALIDATORS)),
              st.dictionaries(st.sampled_from(["name", "value", "node", "nodes", "address",
                                               "resource", "rc", "interval_ms", "mode",
                                               "base_index", "configuration", "x"]),
                              PLAIN_VALUES, max_size=3),
              st.lists(st.sampled_from(["name", "value", "node", "resource", "mode"]),
                       max_size=2),
              PLAIN_VALUES),
)


def one_line_refusal(decode: Callable[[Any], object],
                     error_type: type[Exception]) -> Callable[[Any], None]:
    """A check that `decode` accepts its input or refuses it with an `error_type` of one
    line; any other exception escapes and fails the run."""
    def check(data: Any) -> None:
        try:
            decode(data)
        except error_type as error:
            assert "\n" not in str(error)
    return check


check_state_snapshot = one_line_refusal(decode_snapshot, StateError)
check_raft_snapshot = one_line_refusal(decode_raft_snapshot, SnapshotError)


@cache
def snapshot_corpus() -> list[bytes]:
    return [encode_snapshot(base_state())]


@cache
def raft_snapshot_corpus() -> list[bytes]:
    return [encode_raft_snapshot(encode_snapshot(base_state()), (b"x", 5, 1), (b"y", 4, 1),
                                 ["127.0.0.1:1", "127.0.0.1:2"])]


def raft_snapshot_with_valid_checksum(inner: Any) -> bytes:
    """A body whose checksum is right but whose content is not (anyone can compute sha256)."""
    import hashlib
    body = msgpack.packb(inner, use_bin_type=True)
    return msgpack.packb({"format": msgpack.unpackb(raft_snapshot_corpus()[0])["format"],
                          "sha256": hashlib.sha256(body).digest(), "body": body},
                         use_bin_type=True)


@cache
def node_config_text() -> str:
    return """[node]
name = "node1"
raft_address = "127.0.0.1:7001"
data_dir = "node1/data"
control_socket = "node1/control.sock"
socket_mode = "0666"
authkey_file = "authkey"

[cluster]
name = "demo"
id = "0123456789abcdef0123456789abcdef"
peers = ["node2=127.0.0.1:7002"]
initial_nodes = ["node1=127.0.0.1:7001", "node2=127.0.0.1:7002"]

[timing]
propose_timeout_ms = 5000

[security]
admin_group = "haclient"
"""


def check_config_text(text: str) -> None:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return  # load_node_config turns this into ConfigError (tested below)
    check_config_data(data)


check_config_data = one_line_refusal(
    lambda data: config_from_data(data, pathlib.Path("/nonexistent/node.toml")), ConfigError)


def config_variant(overrides: dict) -> dict:
    data = tomllib.loads(node_config_text())
    for (table, key), value in overrides.items():
        data.setdefault(table, {}) if isinstance(data.get(table, {}), dict) else None
        if isinstance(data.get(table), dict):
            data[table][key] = value
        else:
            data[table] = value
    return data


CONFIG_KEYS = st.tuples(st.sampled_from(["node", "cluster", "timing", "security", "x"]),
                        st.sampled_from(["name", "raft_address", "data_dir", "socket_mode",
                                         "control_socket", "authkey_file", "id", "peers",
                                         "initial_nodes", "admin_group", "propose_timeout_ms",
                                         "election_timeout_min_ms"]))
CONFIG_INPUTS = st.one_of(
    mutated_text([node_config_text()]).map(lambda text: ("text", text)),
    st.dictionaries(CONFIG_KEYS, JSON_VALUES, min_size=1, max_size=3).map(
        lambda overrides: ("data", config_variant(overrides))),
)


def check_config(item: tuple[str, Any]) -> None:
    kind, value = item
    if kind == "text":
        check_config_text(value)
    else:
        check_config_data(value)


def check_crm(text: str) -> None:
    try:
        parsed = parse_configuration(text)
    except CrmSyntaxError as error:
        assert "\n" not in str(error)
        return
    for mode in ("update", "replace"):
        try:
            load_configuration(parsed, text, mode)
        except (CrmSyntaxError, ValueError) as error:
            assert "\n" not in str(error)


CRM_WORDS = ["primitive", "group", "clone", "ms", "location", "colocation", "order",
             "property", "rsc_defaults", "op_defaults", "node", "params", "meta", "op",
             "rule", "inf:", "-inf:", "100:", "Mandatory:", "A", "B", "n1", "(", ")", "[",
             "]", "\\\n", "\n", "start", "monitor", "interval=10s", "#uname", "eq", "and",
             "or", "date", "defined", "ocf:heartbeat:Dummy", "stonith:fence_dummy", "\"",
             "role=Promoted", "tag", "template", "fencing_topology", "$id=x", "@x"]
CRM_INPUTS = st.one_of(
    mutated_text(crm_corpus() or ["primitive A ocf:heartbeat:Dummy\n"]),
    st.lists(st.sampled_from(CRM_WORDS), max_size=40).map(" ".join),
    st.text(max_size=200),
)


check_cib = one_line_refusal(parse_cib, CibError)


CIB_INPUTS = st.one_of(mutated_text(cib_corpus()), st.text(max_size=300))


check_metadata = one_line_refusal(parse_metadata, MetadataError)


@cache
def metadata_corpus() -> list[str]:
    fixture = REPOSITORY / "tests" / "agents" / "fixtures"
    texts = []
    for path in sorted(fixture.rglob("*.xml"))[:10]:
        texts.append(path.read_text(errors="replace"))
    if not texts:
        texts.append('<?xml version="1.0"?>\n<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">'
                     '<resource-agent name="Dummy" version="1.0"><parameters><parameter '
                     'name="state" unique="1"><content type="string" default="x"/>'
                     '</parameter></parameters><actions><action name="start" timeout="20s"/>'
                     '<action name="monitor" timeout="20s" interval="10s"/></actions>'
                     '</resource-agent>')
    return texts


METADATA_INPUTS = st.one_of(mutated_text(metadata_corpus()), st.text(max_size=200))


def check_exit_reason(chunks: list[bytes]) -> None:
    collector = _StreamCollector(4096, keep_head=False, scan_exit_reason=True)
    for chunk in chunks:
        collector.feed(chunk)
    collector.finish()
    assert isinstance(collector.exit_reason, str)
    assert "\n" not in collector.exit_reason
    assert len(collector.exit_reason.encode()) <= 3 * 64 * 1024
    assert len(collector.data) <= 4096


EXIT_REASON_INPUTS = st.lists(
    st.one_of(st.binary(max_size=200),
              st.builds(lambda text: f"ocf-exit-reason:{text}\n".encode("utf-8", "replace"),
                        st.text(max_size=80)),
              st.just(b"ocf-exit-reason:" + b"x" * 70_000)),
    max_size=12)


# --------------------------------------------------------------------------- the API

@dataclass
class ApiTarget:
    api: Any
    machine: Any


def check_api(target: ApiTarget, request: Any) -> None:
    before = target.machine.state
    response = target.api.handle(request, "fuzz")
    assert isinstance(response, dict) and isinstance(response.get("ok"), bool)
    if not response["ok"]:
        error = response["error"]
        assert isinstance(error, str) and "\n" not in error
        assert not error.startswith("internal error"), (request, error)
        after = target.machine.state
        for name in ("properties", "configuration_bytes", "nodes", "transient_attributes"):
            assert getattr(after, name) == getattr(before, name), (request, name)
    json.dumps(response)  # the transport must be able to send it


API_OPERATIONS = ["ping", "status", "state_hash", "raft_status", "property_set",
                  "property_unset", "property_show", "history", "rejections", "metrics",
                  "configure_load", "configure_show", "resource_move", "resource_ban",
                  "resource_clear", "resource_meta", "resource_cleanup", "node_attribute_set",
                  "node_attribute_unset", "cluster_info", "attribute_query",
                  "attribute_update", "node_list", "resource_failcount", "configure_verify",
                  "cib_export", "explain", "why_moved", "acl_grant", "acl_revoke", "acl_show",
                  "nope"]
API_ARGUMENT_NAMES = ["name", "value", "node", "resource", "lifetime", "text", "mode",
                      "base_index", "limit", "since", "at", "consistent", "target", "role",
                      "xml", "x"]
API_REQUESTS = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries({"op": st.sampled_from(API_OPERATIONS),
                           "args": st.dictionaries(st.sampled_from(API_ARGUMENT_NAMES),
                                                   JSON_VALUES, max_size=3)}),
    st.fixed_dictionaries({"op": JSON_VALUES, "args": JSON_VALUES}),
)


# --------------------------------------------------------------------------- the tests

TARGETS = {
    "event-envelope-and-apply": (EVENT_INPUTS, check_event),
    "state-snapshot": (st.one_of(st.binary(max_size=300), mutated(snapshot_corpus())),
                       check_state_snapshot),
    "raft-snapshot": (st.one_of(st.binary(max_size=300), mutated(raft_snapshot_corpus()),
                                PLAIN_VALUES.map(raft_snapshot_with_valid_checksum)),
                      check_raft_snapshot),
    "node-config-toml": (CONFIG_INPUTS, check_config),
    "crm-syntax": (CRM_INPUTS, check_crm),
    "cib-xml": (CIB_INPUTS, check_cib),
    "agent-metadata-xml": (METADATA_INPUTS, check_metadata),
    "agent-exit-reason": (EXIT_REASON_INPUTS, check_exit_reason),
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_short(name):
    strategy, check = TARGETS[name]
    assert run_fuzz(name, strategy, check, SHORT_EXAMPLES) >= SHORT_EXAMPLES // 2


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_long(name):
    strategy, check = TARGETS[name]
    assert run_fuzz(name, strategy, check, LONG_EXAMPLES) >= LONG_EXAMPLES // 2


def test_fuzz_api_requests_short(fake_nodes):
    node = fake_nodes["n1"]
    target = ApiTarget(node.api, node.machine)
    assert run_fuzz("api-request", API_REQUESTS, lambda request: check_api(target, request),
                    SHORT_EXAMPLES) >= SHORT_EXAMPLES // 2


@pytest.mark.slow
def test_fuzz_api_requests_long(fake_nodes):
    node = fake_nodes["n1"]
    target = ApiTarget(node.api, node.machine)
    assert run_fuzz("api-request", API_REQUESTS, lambda request: check_api(target, request),
                    LONG_EXAMPLES) >= LONG_EXAMPLES // 2


def test_config_file_errors_are_config_errors(tmp_path):
    path = tmp_path / "node.toml"
    for text in ("[node\n", "\x00", "name = 'x'\n[node]\nname = 1\n"):
        path.write_text(text)
        with pytest.raises(ConfigError):
            load_node_config(path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_node_config(path)


# --------------------------------------------------------------------------- hostile XML

BILLION_LAUGHS = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
                  + "".join(f'<!ENTITY lol{level} "{("&lol" + str(level - 1) + ";") * 10}">\n'
                            for level in range(2, 10)).replace("&lol1;", "&lol;")
                  + ']>\n<{root}>&lol9;</{root}>')
EXTERNAL_ENTITY = ('<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY secret SYSTEM '
                   '"file:///etc/passwd">]>\n<{root}>&secret;</{root}>')
EXTERNAL_DTD = ('<?xml version="1.0"?>\n<!DOCTYPE x SYSTEM "http://127.0.0.1:9/evil.dtd">\n'
                '<{root}/>')


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD])
def test_cib_refuses_entities_and_doctypes(document):
    with pytest.raises(CibError, match="DTD or entity"):
        parse_cib(document.format(root="cib"))


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_agent_metadata_never_expands_entities(document):
    with pytest.raises(MetadataError) as refused:
        parse_metadata(document.format(root="resource-agent"))
    assert "root:" not in str(refused.value) and "\n" not in str(refused.value)


def test_agent_metadata_with_an_external_dtd_reads_no_file():
    parsed = parse_metadata(EXTERNAL_DTD.format(root="resource-agent").replace(
        "/>", ' name="x" version="1"/>'))
    assert parsed.name == "x"


# --------------------------------------------------------------------------- the live socket

def raw_exchange(path: str, payload: bytes, timeout_s: float = 30.0) -> list[dict]:
    """Sends raw bytes on a fresh connection, closes the write side, reads every answer."""
    import socket
    import threading
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(timeout_s)
    def send() -> None:
        try:  # the daemon may answer and hang up before it has read everything
            connection.sendall(payload)
            connection.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    connection.connect(path)
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass  # the daemon hung up with our unread bytes queued: its answer came first
    finally:
        sender.join(timeout_s)
        connection.close()
    return [json.loads(line) for line in received.splitlines()]


def test_socket_answers_malformed_lines_with_errors_and_keeps_serving(served):
    node, path = served
    before = node.machine.state
    answers = raw_exchange(path, b"".join([
        b"not json\n", b"\xff\xfe\x00garbage\n", b"[]\n", b"{}\n", b'{"op": 5}\n',
        b'{"op": "property_set", "args": []}\n',
        b'{"op": "property_set", "args": {"name": ["x"], "value": {}}}\n',
        b'{"op": "status", "args": {"at": -1}}\n',
        b'{"op": "history", "args": {"limit": 1e309}}\n',
        b'{"op": "ping"}\n']))
    assert [answer["ok"] for answer in answers] == [False] * 9 + [True]
    assert [answer["error"] for answer in answers[:9]] == [
        "request is not valid JSON", "request is not valid JSON",
        "request must be a JSON object with a string 'op'",
        "request must be a JSON object with a string 'op'",
        "request must be a JSON object with a string 'op'",
        "'args' must be a JSON object",
        "argument 'name' must be a string",
        "argument 'at' must be an integer from 0 to 4611686018427387904",
        "argument 'limit' must be an integer from 1 to 100000"]
    assert node.machine.state.properties == before.properties


def test_socket_refuses_a_huge_line_and_deep_nesting_without_harm(served):
    node, path = served
    huge = raw_exchange(path, b'{"op": "ping", "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}\n')
    assert huge == [{"ok": False, "error": "request longer than 1048576 bytes"}]
    deep = raw_exchange(path, b"[" * 200_000 + b"]" * 200_000 + b"\n")
    assert len(deep) == 1 and deep[0]["ok"] is False
    assert raw_exchange(path, b'{"op": "ping"}\n')[0]["ok"] is True
    assert node.machine.state.property("batch-limit") is None
