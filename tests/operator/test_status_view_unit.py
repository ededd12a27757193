"""The status view's node states from the committed state (pure view over the reducer)."""

from __future__ import annotations

import hashlib
import itertools

from raftha.daemon.views import status_view
from raftha.model.events import encode_event, make_event
from raftha.model.reducer import APPLIED, apply_with_outcome
from raftha.model.state import EMPTY_STATE

COUNTER = itertools.count()


def apply_all(events: list[tuple[str, dict]]):
    state = EMPTY_STATE
    for index, (kind, body) in enumerate(events, start=1):
        event_id = hashlib.sha256(f"{kind}{body}{next(COUNTER)}".encode()).digest()[:16]
        state, outcome = apply_with_outcome(
            state, index, encode_event(make_event(event_id, kind, "n1", "", 1000, body)))
        assert outcome.status == APPLIED, (kind, outcome)
    return state


def cluster_events() -> list[tuple[str, dict]]:
    nodes = [{"name": f"n{number}", "address": f"127.0.0.1:700{number}"}
             for number in (1, 2, 3)]
    return [("ClusterCreated", {"name": "demo", "nodes": nodes}),
            *[("NodeReturned", {"name": f"n{number}"}) for number in (1, 2, 3)]]


def node_states(state) -> dict[str, str]:
    nodes = status_view(state, None, "n1", {})["nodes"]
    return {name: view["state"] for name, view in nodes.items()}


def test_standby_until_reboot_shows_standby():
    state = apply_all([*cluster_events(),
                       ("TransientAttributeSet", {"node": "n2", "name": "standby",
                                                  "value": "on"})])
    assert node_states(state) == {"n1": "online", "n2": "standby", "n3": "online"}


def test_transient_attribute_overrides_the_configured_one():
    state = apply_all([*cluster_events(),
                       ("NodeAttributeSet", {"node": "n2", "name": "standby", "value": "on"}),
                       ("TransientAttributeSet", {"node": "n2", "name": "standby",
                                                  "value": "off"})])
    assert node_states(state)["n2"] == "online"
