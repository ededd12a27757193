"""Property tests: the scheduler is deterministic and keeps its basic promises on random
small clusters (no placement on an unusable node, bans and mandatory anti-colocations hold,
the plain-data round trip of the model changes nothing)."""

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from raftha.model.config import (
    ColocationConstraint,
    Configuration,
    LocationConstraint,
    Node,
    Primitive,
)
from raftha.model.status import ClusterStatus, OperationRecord, ResourceHistory, online_node
from raftha.scheduler import plan

NODE_NAMES = ["node1", "node2", "node3", "node4"]
SCORES = ["-INFINITY", "-50", "0", "10", "100", "INFINITY"]


@st.composite
def clusters(draw):
    node_count = draw(st.integers(1, 4))
    names = NODE_NAMES[:node_count]
    resource_count = draw(st.integers(1, 5))
    resources = []
    running: dict[str, list[str]] = {name: [] for name in names}
    for index in range(resource_count):
        stickiness = draw(st.sampled_from(["0", "1", "100"]))
        resources.append(Primitive(f"rsc{index}", "ocf", "Dummy", provider="pacemaker",
                                   meta=(("resource-stickiness", stickiness),)))
        where = draw(st.sampled_from([None, *names]))
        if where is not None:
            running[where].append(f"rsc{index}")
    constraints = []
    for index in range(draw(st.integers(0, 4))):
        constraints.append(LocationConstraint(
            f"loc{index}", resource=f"rsc{draw(st.integers(0, resource_count - 1))}",
            node=draw(st.sampled_from(names)), score=draw(st.sampled_from(SCORES))))
    for index in range(draw(st.integers(0, 2))):
        first, second = draw(st.integers(0, resource_count - 1)), draw(
            st.integers(0, resource_count - 1))
        if first != second:
            constraints.append(ColocationConstraint(
                f"col{index}", draw(st.sampled_from(SCORES)), resource=f"rsc{first}",
                with_resource=f"rsc{second}"))
    standby = draw(st.sampled_from([None, *names]))
    nodes = []
    for name in names:
        histories = tuple(
            ResourceHistory(rsc, "ocf", "pacemaker", "Dummy",
                            operations=(OperationRecord("start", call_id=1, rc=0, target_rc=0),))
            for rsc in running[name])
        attributes = (("standby", "on"),) if name == standby else ()
        nodes.append(dataclasses.replace(online_node(name, attributes), histories=histories))
    config = Configuration(properties=(("stonith-enabled", "false"),),
                           nodes=tuple(Node(name, id=name) for name in names),
                           resources=tuple(resources), constraints=tuple(constraints))
    return config, ClusterStatus(have_quorum=True, now=1_700_000_000, nodes=tuple(nodes))


@settings(max_examples=150, deadline=None)
@given(clusters())
def test_plan_is_deterministic_and_survives_the_plain_data_round_trip(cluster):
    config, status = cluster
    first = plan(config, status)
    assert plan(config, status) == first
    again = plan(Configuration.from_dict(config.to_dict()), ClusterStatus.from_dict(
        status.to_dict()))
    assert again == first


def colocated_both_ways(config: Configuration, constraint: ColocationConstraint) -> bool:
    return any(isinstance(other, ColocationConstraint)
               and other.resource == constraint.with_resource
               and other.with_resource == constraint.resource
               for other in config.constraints)


@settings(max_examples=150, deadline=None)
@given(clusters())
def test_placement_respects_availability_bans_and_anti_colocation(cluster):
    config, status = cluster
    result = plan(config, status)
    standby = {node.name for node in status.nodes if ("standby", "on") in node.attributes}
    final = {item.resource: item.final_nodes for item in result.placements}
    for item in result.placements:
        assert len(item.final_nodes) <= 1
        if item.target_node is not None:
            assert item.target_node not in standby
    for constraint in config.constraints:
        if isinstance(constraint, LocationConstraint) and constraint.score == "-INFINITY":
            assert constraint.node not in final[constraint.resource]
        if isinstance(constraint, ColocationConstraint) and constraint.score == "-INFINITY":
            if colocated_both_ways(config, constraint):
                # Pacemaker 2.1.5 does not honour a mandatory anti-colocation whose pair is
                # also colocated the other way (crm_simulate places both on a single node
                # for "rsc2 with rsc0 -INFINITY" plus "rsc0 with rsc2 -50"); we agree.
                continue
            mine, theirs = final[constraint.resource], final[constraint.with_resource]
            assert not (mine and theirs and mine == theirs)
