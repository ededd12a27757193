"""Round trips of the configuration and status models through plain data."""

import dataclasses
import json

import pytest

from raftha.model.config import (
    Clone,
    ColocationConstraint,
    ConfigError,
    Configuration,
    Expression,
    Group,
    LocationConstraint,
    Operation,
    Primitive,
    ResourceSet,
    Rule,
    from_dict,
    pairs_get,
)
from raftha.model.status import ClusterStatus, OperationRecord, ResourceHistory, online_node


def sample_configuration() -> Configuration:
    web = Primitive("web", "ocf", "apache", provider="heartbeat", params=(("port", "80"),),
                    operations=(Operation("monitor", "10s", timeout="20s"),))
    ip = Primitive("ip", "ocf", "IPaddr2", provider="heartbeat")
    rule = Rule(terms=(Expression("#uname", "eq", "node1"),), score="100")
    return Configuration(
        properties=(("stonith-enabled", "false"),),
        resources=(Group("g", (ip, web)),
                   Clone("c", Primitive("d", "ocf", "Dummy", provider="pacemaker"),
                         meta=(("promotable", "true"),), promotable=True)),
        constraints=(LocationConstraint("l1", resource="g", rules=(rule,)),
                     ColocationConstraint("c1", "INFINITY", resource_sets=(
                         ResourceSet(("ip", "web"), sequential=False),))),
    )


def test_configuration_round_trips_through_json():
    config = sample_configuration()
    data = json.loads(json.dumps(config.to_dict()))
    assert Configuration.from_dict(data) == config
    assert config.find_resource("web").params == (("port", "80"),)
    assert [p.id for p in config.all_primitives()] == ["ip", "web", "d"]


def test_status_round_trips():
    record = OperationRecord("start", call_id=3, rc=0, target_rc=0)
    node = online_node("node1")
    history = ResourceHistory("web", operations=(record,))
    node = dataclasses.replace(node, histories=(history,))
    status = ClusterStatus(have_quorum=False, now=100, nodes=(node,))
    assert ClusterStatus.from_dict(json.loads(json.dumps(status.to_dict()))) == status


def test_bad_data_is_refused_with_a_reason():
    with pytest.raises(ConfigError, match="unknown object kind"):
        from_dict({"type": "Nope"})
    with pytest.raises(ConfigError, match="unknown field"):
        from_dict({"type": "Tag", "id": "t", "references": [], "extra": 1})


def test_pairs_get_last_wins():
    assert pairs_get((("a", "1"), ("a", "2")), "a") == "2"
    assert pairs_get((), "a", "x") == "x"
