"""Network faults: grudges (who drops whom) and their nftables rendering.

A grudge maps each node to the set of nodes whose packets it drops. Grudges are always made
symmetric: a one-way drop on a TCP link stalls it both ways anyway (ACKs are lost).
Partition shapes follow Jepsen: random halves, isolate one node, bridge, majorities ring.

Rules live in one nftables table per node, inside the node's network namespace, named by the
run prefix; deleting the namespace deletes the table. Every change re-renders the whole
table in one `nft -f` transaction, so a node's rules are never half-applied.

The grudge functions are pure (randomness comes in as a `random.Random`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

Grudge = dict[str, frozenset[str]]


def complete_grudge(components: Sequence[Iterable[str]]) -> Grudge:
    """Every node drops every node outside its own component."""
    groups = [frozenset(component) for component in components]
    everyone = frozenset().union(*groups) if groups else frozenset()
    return {node: everyone - group for group in groups for node in group}


def isolate_grudge(nodes: Sequence[str], target: str) -> Grudge:
    if target not in nodes:
        raise ValueError(f"cannot isolate {target!r}: not one of {list(nodes)}")
    return complete_grudge([[target], [node for node in nodes if node != target]])


def halves_grudge(nodes: Sequence[str], rng: random.Random | None = None) -> Grudge:
    """Two halves, the smaller first (Jepsen's partition-random-halves when shuffled)."""
    ordered = list(nodes)
    if rng is not None:
        rng.shuffle(ordered)
    cut = len(ordered) // 2
    return complete_grudge([ordered[:cut], ordered[cut:]])


def bridge_grudge(nodes: Sequence[str], rng: random.Random | None = None) -> Grudge:
    """Two halves joined by one bridge node that sees, and is seen by, everyone."""
    ordered = list(nodes)
    if rng is not None:
        rng.shuffle(ordered)
    if len(ordered) < 3:
        raise ValueError("a bridge partition needs at least 3 nodes")
    cut = len(ordered) // 2
    left, bridge, right = ordered[:cut], ordered[cut], ordered[cut + 1:]
    grudge = {node: frozenset(right) for node in left}
    grudge.update({node: frozenset(left) for node in right})
    grudge[bridge] = frozenset()
    return grudge


def majorities_ring_grudge(nodes: Sequence[str], rng: random.Random | None = None) -> Grudge:
    """Each node keeps itself and its ring neighbours (a majority for up to 5 nodes) and drops
    the rest, so no two nodes see the same majority. With 3 nodes every node still sees both
    others, so the grudge is empty there (the shape needs at least 4 nodes to bite)."""
    ordered = list(nodes)
    if rng is not None:
        rng.shuffle(ordered)
    size = len(ordered)
    grudge: Grudge = {}
    for index, node in enumerate(ordered):
        keep = {node, ordered[(index - 1) % size], ordered[(index + 1) % size]}
        grudge[node] = frozenset(ordered) - keep
    return grudge


def symmetric(grudge: Mapping[str, Iterable[str]]) -> Grudge:
    """Add the reverse of every drop."""
    result: dict[str, set[str]] = {node: set(peers) for node, peers in grudge.items()}
    for node, peers in grudge.items():
        for peer in peers:
            result.setdefault(peer, set()).add(node)
    return {node: frozenset(peers) for node, peers in result.items()}


def reachable_sets(nodes: Sequence[str], grudge: Mapping[str, Iterable[str]]) -> dict[str, set]:
    """Nodes each node still talks to directly (itself included)."""
    return {node: {peer for peer in nodes if peer == node or peer not in grudge.get(node, ())}
            for node in nodes}


def minority_nodes(nodes: Sequence[str], grudge: Mapping[str, Iterable[str]]) -> list[str]:
    """Nodes that can reach no majority directly: the ones a partition cuts off."""
    majority = len(nodes) // 2 + 1
    return sorted(node for node, peers in reachable_sets(nodes, grudge).items()
                  if len(peers) < majority)


@dataclass(frozen=True)
class NodeRules:
    """What one node's packet filter does: drop these peer addresses, lose P% of the rest."""

    drop_addresses: frozenset[str] = frozenset()
    loss_percent: int = 0

    @property
    def empty(self) -> bool:
        return not self.drop_addresses and self.loss_percent == 0


def render_nft(table: str, interface: str, rules: NodeRules) -> str:
    """An nft script that atomically replaces `inet <table>` with the given rules."""
    if not 0 <= rules.loss_percent <= 100:
        raise ValueError(f"loss percent must be within 0..100, got {rules.loss_percent}")
    lines = [f"table inet {table}", f"delete table inet {table}", f"table inet {table} {{"]
    for chain, direction, hook in (("input", "saddr", "iifname"),
                                   ("output", "daddr", "oifname")):
        lines.append(f"  chain {chain} {{")
        lines.append(f"    type filter hook {chain} priority 0; policy accept;")
        if rules.drop_addresses:
            addresses = ", ".join(sorted(rules.drop_addresses))
            lines.append(f'    {hook} "{interface}" ip {direction} {{ {addresses} }} drop')
        if rules.loss_percent == 100 and chain == "input":
            # numgen's range is 0..99, so total loss is a plain drop.
            lines.append(f'    {hook} "{interface}" drop comment "loss 100"')
        elif rules.loss_percent and chain == "input":
            lines.append(f'    {hook} "{interface}" numgen random mod 100 < '
                         f"{rules.loss_percent} drop")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_nft_delete(table: str) -> str:
    return f"table inet {table}\ndelete table inet {table}\n"
