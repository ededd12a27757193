#!/usr/bin/env python3
"""Generate a synthetic Pacemaker CIB (config + empty status) for scheduler benchmarks.

usage: gen_cib.py NODES RESOURCES [--seed N] > cib.xml
Shapes: primitives with a recurring monitor, every 10th in a 3-member group, a location
preference per resource, a colocation+order chain for every 20th pair, stickiness 100.
"""

import random
import sys
from xml.sax.saxutils import quoteattr

CIB_OPEN = ('<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" '
            'num_updates="0" admin_epoch="0" have-quorum="1">')


def _primitive(resource_id: str) -> str:
    return (f'<primitive id="{resource_id}" class="ocf" provider="heartbeat" type="Dummy">'
            f'<operations><op id="{resource_id}-mon" name="monitor" interval="10s"/>'
            "</operations></primitive>")


def generate_cib(node_count: int, resource_count: int, seed: int = 1) -> str:
    """The CIB text; the same arguments always give the same text."""
    generator = random.Random(seed)
    node_names = [f"node{index}" for index in range(1, node_count + 1)]
    lines = [CIB_OPEN,
             '<configuration><crm_config><cluster_property_set id="cib-bootstrap-options">',
             '<nvpair id="o1" name="stonith-enabled" value="false"/>',
             "</cluster_property_set></crm_config><nodes>"]
    for index, name in enumerate(node_names, 1):
        lines.append(f'<node id="{index}" uname={quoteattr(name)}/>')
    lines.append("</nodes><resources>")
    top_level = []
    index = 0
    while index < resource_count:
        if index % 10 == 0 and index + 3 <= resource_count:
            group_id = f"grp{index}"
            lines.append(f'<group id="{group_id}">')
            for offset in range(3):
                lines.append(_primitive(f"r{index + offset}"))
            lines.append("</group>")
            top_level.append(group_id)
            index += 3
        else:
            resource_id = f"r{index}"
            lines.append(_primitive(resource_id))
            top_level.append(resource_id)
            index += 1
    lines.append("</resources><constraints>")
    for position, resource_id in enumerate(top_level):
        node = generator.choice(node_names)
        lines.append(f'<rsc_location id="loc-{resource_id}" rsc="{resource_id}" node="{node}" '
                     f'score="{generator.randint(1, 200)}"/>')
        if position % 20 == 1:
            previous = top_level[position - 1]
            lines.append(f'<rsc_colocation id="col-{resource_id}" rsc="{resource_id}" '
                         f'with-rsc="{previous}" score="INFINITY"/>')
            lines.append(f'<rsc_order id="ord-{resource_id}" first="{previous}" '
                         f'then="{resource_id}" kind="Mandatory"/>')
    lines.append('</constraints><rsc_defaults><meta_attributes id="rd">'
                 '<nvpair id="rd-st" name="resource-stickiness" value="100"/>'
                 "</meta_attributes></rsc_defaults>")
    lines.append("</configuration><status>")
    for index, name in enumerate(node_names, 1):
        lines.append(f'<node_state id="{index}" uname="{name}" in_ccm="true" crmd="online" '
                     'join="member" expected="member"/>')
    lines.append("</status></cib>")
    return "\n".join(lines) + "\n"


def main() -> None:
    arguments = [argument for argument in sys.argv[1:] if not argument.startswith("--")]
    node_count, resource_count = int(arguments[0]), int(arguments[1])
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 1
    sys.stdout.write(generate_cib(node_count, resource_count, seed))


if __name__ == "__main__":
    main()
