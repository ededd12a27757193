"""Move and ban constraints with a lifetime, as `crm resource move RSC NODE LIFETIME` makes
them (pure).

A lifetime-limited constraint has Pacemaker's shape: `cli-prefer-RSC` (or
`cli-ban-RSC-on-NODE`) with one rule `#uname eq NODE and date lt END`, so the scheduler stops
honouring it once the committed time (the newest committed event's timestamp) passes END,
and an exported CIB means the same to Pacemaker. The leader commits a clock tick when an END
is due and then removes the expired constraint from the configuration (`without_expired`),
so a move never pins a resource after its lifetime.

Invariants: pure; times are seconds since the epoch (UTC); END is written as ISO 8601 UTC
("2026-11-25 03:00:00Z"); functions return new configurations and never raise on
configurations without lifetimes.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import replace

from raftha.model.config import (
    Configuration,
    DateExpression,
    Expression,
    LocationConstraint,
    Rule,
)
from raftha.model.config_edits import ban_id, prefer_id, require_resource, with_location

_DURATION = re.compile(
    r"^P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_SHORT_DURATION = re.compile(r"^(?P<value>\d+)\s*(?P<unit>s|sec|m|min|h|hr|d)?$")
_SHORT_UNITS_S = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600,
                  "d": 86400}
MAX_LIFETIME_S = 366 * 86400


class LifetimeError(ValueError):
    """A lifetime that cannot be read; the message is one line."""


def parse_lifetime_s(text: str) -> int:
    """Seconds of a lifetime: ISO 8601 ("PT1H", "P1DT30M" as crm_resource takes it) or a
    number with a unit ("90s", "10m", "2h", "1d"; bare numbers are seconds)."""
    value = text.strip()
    short = _SHORT_DURATION.match(value.lower())
    if short:
        seconds = int(short["value"]) * _SHORT_UNITS_S[short["unit"] or ""]
    else:
        match = _DURATION.match(value.upper())
        if not match or not any(match.groupdict().values()):
            raise LifetimeError(f"lifetime {text!r} is not a duration (examples: PT1H, 90s, "
                                "10m, 2h)")
        parts = {key: int(number or 0) for key, number in match.groupdict().items()}
        seconds = (parts["days"] * 86400 + parts["hours"] * 3600 + parts["minutes"] * 60
                   + parts["seconds"])
    if not 0 < seconds <= MAX_LIFETIME_S:
        raise LifetimeError(f"lifetime {text!r} must be between 1 second and 366 days")
    return seconds


def iso_utc(seconds: int) -> str:
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + "Z"


def lifetime_rule(rule_id: str, node: str, score: str, end_s: int) -> Rule:
    """`#uname eq NODE and date lt END`, with the ids the crm syntax reader gives it (so
    the constraint round-trips through `configure show`)."""
    return Rule(
        terms=(Expression(attribute="#uname", operation="eq", value=node,
                          id=f"{rule_id}-expression"),
               DateExpression(operation="lt", end=iso_utc(end_s),
                              id=f"{rule_id}-expression-0")),
        boolean_op="and", score=score, id=rule_id)


def move_until(configuration: Configuration, resource_id: str, node: str,
               end_s: int) -> Configuration:
    """`crm resource move RSC NODE LIFETIME`: cli-prefer-RSC, INFINITY on NODE until END."""
    require_resource(configuration, resource_id)
    constraint_id = prefer_id(resource_id)
    return with_location(configuration, LocationConstraint(
        id=constraint_id, resource=resource_id, role="Started",
        rules=(lifetime_rule(f"{constraint_id}-rule", node, "INFINITY", end_s),)))


def ban_until(configuration: Configuration, resource_id: str, node: str,
              end_s: int) -> Configuration:
    """`crm resource ban RSC NODE LIFETIME`: cli-ban-RSC-on-NODE, -INFINITY until END."""
    require_resource(configuration, resource_id)
    constraint_id = ban_id(resource_id, node)
    return with_location(configuration, LocationConstraint(
        id=constraint_id, resource=resource_id, role="Started",
        rules=(lifetime_rule(f"{constraint_id}-rule", node, "-INFINITY", end_s),)))


def lifetime_end_s(constraint: object) -> int | None:
    """END of a cli-* location constraint with a lifetime rule; None for any other."""
    if not isinstance(constraint, LocationConstraint) or not constraint.id.startswith("cli-"):
        return None
    if len(constraint.rules) != 1:
        return None
    ends = [term.end for term in constraint.rules[0].terms
            if isinstance(term, DateExpression) and term.operation == "lt" and term.end]
    if len(ends) != 1:
        return None
    return parse_utc(ends[0])


def parse_utc(text: str) -> int | None:
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})Z?", text.strip())
    if not match:
        return None
    moment = datetime.datetime(*(int(part) for part in match.groups()))
    return int((moment - datetime.datetime(1970, 1, 1)).total_seconds())


def lifetimes(configuration: Configuration) -> dict[str, int]:
    """constraint id -> END for every lifetime-limited move or ban."""
    found = {}
    for constraint in configuration.constraints:
        end = lifetime_end_s(constraint)
        if end is not None:
            found[constraint.id] = end
    return found


def next_expiry_s(configuration: Configuration) -> int | None:
    ends = lifetimes(configuration).values()
    return min(ends) if ends else None


def expired(configuration: Configuration, now_s: int) -> list[str]:
    """Ids of lifetime constraints whose END the time `now_s` has reached."""
    return sorted(constraint_id for constraint_id, end in lifetimes(configuration).items()
                  if now_s >= end)


def without_expired(configuration: Configuration, now_s: int) -> Configuration:
    gone = set(expired(configuration, now_s))
    return replace(configuration, constraints=tuple(
        constraint for constraint in configuration.constraints if constraint.id not in gone))
