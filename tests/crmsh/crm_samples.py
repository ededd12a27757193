"""Shared crm configure samples and model helpers for the crm-language tests.

Role: the Clusters from Scratch configuration in crm syntax, and `comparable()`, which blanks
the few ids crm syntax cannot name (rule expressions, nested rules, fencing levels), so the
CIB-based round trips compare everything else exactly.
"""

from __future__ import annotations

import dataclasses

from raftha.model.config import (
    DateExpression,
    Expression,
    FencingLevel,
    OperationExpression,
    ResourceExpression,
    Rule,
)

CLUSTERS_FROM_SCRATCH = r"""
# Clusters from Scratch, the active/passive web server (crm syntax)
node 1: pcmk-1
node 2: pcmk-2
primitive ipmi-fencing stonith:fence_ipmilan \
    params pcmk_host_list="pcmk-1 pcmk-2" ipaddr=10.0.0.1 login=testuser passwd=acd123 \
    op monitor interval=60s
primitive ClusterIP ocf:heartbeat:IPaddr2 \
    params ip=192.168.122.120 cidr_netmask=24 \
    op monitor interval=30s
primitive WebSite ocf:heartbeat:apache \
    params configfile=/etc/httpd/conf/httpd.conf \
        statusurl="http://localhost/server-status" \
    op monitor interval=1min
colocation website-with-ip inf: WebSite ClusterIP
order apache-after-ip Mandatory: ClusterIP WebSite
location prefer-pcmk-2 WebSite 50: pcmk-2
location cli-prefer-WebSite WebSite role=Started inf: pcmk-1
property cib-bootstrap-options: \
    stonith-enabled=true \
    no-quorum-policy=ignore \
    cluster-name=mycluster
rsc_defaults rsc-options: \
    resource-stickiness=100
op_defaults op-options: \
    timeout=240s
"""


def rebuild(value, adjust):
    """`value` (a model object, a tuple or a plain value) rebuilt bottom-up:
    `adjust(original, changes)` may alter the rebuilt fields of each object in place."""
    if isinstance(value, tuple):
        return tuple(rebuild(item, adjust) for item in value)
    if not dataclasses.is_dataclass(value):
        return value
    changes = {item.name: rebuild(getattr(value, item.name), adjust)
               for item in dataclasses.fields(value)}
    adjust(value, changes)
    return dataclasses.replace(value, **changes)


def _blank(value, changes) -> None:
    if isinstance(value, (Expression, DateExpression, ResourceExpression,
                          OperationExpression, FencingLevel)):
        changes["id"] = ""
    if isinstance(value, Rule):
        if len(value.terms) <= 1:
            changes["boolean_op"] = "and"
        changes["terms"] = tuple(
            dataclasses.replace(term, id="", score=None) if isinstance(term, Rule) else term
            for term in changes["terms"])


def comparable(configuration):
    """The configuration with the ids crm syntax cannot carry blanked (see module doc);
    nested rules also lose their score, which Pacemaker ignores, and one-term rules their
    boolean operator, which means nothing there."""
    return rebuild(configuration, _blank)
